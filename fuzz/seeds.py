#!/usr/bin/env python3
"""Writes the committed seed corpora (fuzz/corpus/<target>/seed-*): a few dozen small inputs
per target, each a shape the handler or loader must survive. Run from the repository root;
the output is deterministic, so a rerun changes nothing."""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")


def name(text):
    out = b""
    for label in text.strip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def header(ident=0x1234, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", ident, flags, qd, an, ns, ar)


def question(qname, qtype=1, qclass=1):
    return name(qname) + struct.pack(">HH", qtype, qclass)


def opt(payload=1232, do=False, version=0, options=b""):
    flags = 0x8000 if do else 0
    return b"\0" + struct.pack(">HHBBHH", 41, payload, 0, version, flags, len(options)) + options


def ecs(family, prefix, address, scope=0):
    body = struct.pack(">HBB", family, prefix, scope) + address
    return struct.pack(">HH", 8, len(body)) + body


def query(qname, qtype=1, edns=None, **kw):
    ar = 1 if edns is not None else 0
    return header(ar=ar, **kw) + question(qname, qtype) + (edns or b"")


def datagrams():
    v4 = ecs(1, 24, bytes([81, 2, 69]))
    v6 = ecs(2, 48, bytes.fromhex("2a02d5400000"))
    seeds = {
        "a-plain": query("www.gtm.test"),
        "a-edns": query("www.gtm.test", edns=opt()),
        "a-ecs-v4": query("www.gtm.test", edns=opt(options=v4)),
        "a-ecs-v6": query("www.gtm.test", edns=opt(options=v6)),
        "a-ecs-zero": query("www.gtm.test", edns=opt(options=ecs(1, 0, b""))),
        "a-ecs-host-bits": query("www.gtm.test", edns=opt(options=ecs(1, 20, bytes([81, 2, 69])))),
        "a-ecs-short": query("www.gtm.test", edns=opt(options=struct.pack(">HHH", 8, 2, 1))),
        "a-ecs-twice": query("www.gtm.test", edns=opt(options=v4 + v4)),
        "a-mixed-case": query("WwW.GtM.tEsT"),
        "a-do-small": query("www.gtm.test", edns=opt(payload=100, do=True)),
        "a-edns-v1": query("www.gtm.test", edns=opt(version=1)),
        "a-cookie": query("www.gtm.test", edns=opt(options=struct.pack(">HH", 10, 8) + bytes(8))),
        "aaaa": query("www.gtm.test", 28, edns=opt()),
        "ns-apex": query("gtm.test", 2),
        "ns-apex-upper": query("GTM.TEST", 2, edns=opt()),
        "soa-apex": query("gtm.test", 6, edns=opt()),
        "mx-apex": query("gtm.test", 15),
        "any-apex": query("gtm.test", 255, edns=opt(payload=512)),
        "cname": query("alias.gtm.test", 1, edns=opt()),
        "cname-loop": query("loop1.gtm.test", 1),
        "nxdomain": query("nope.gtm.test", 1, edns=opt()),
        "empty-nonterminal": query("sub.gtm.test", 1),
        "refused": query("example.com", 1),
        "axfr": query("gtm.test", 252),
        "chaos-id-server": header() + question("id.server", 16, 3),
        "https-type": query("app.gtm.test", 65),
        "cd-bit": query("www.gtm.test", flags=0x0110),
        "tc-bit": query("www.gtm.test", flags=0x0300),
        "notify": query("gtm.test", 6, flags=0x2000),
        "response": query("www.gtm.test", flags=0x8100),
        "no-question": header(qd=0),
        "two-questions": header(qd=2) + question("www.gtm.test") + question("app.gtm.test"),
        "fifty-questions": header(qd=50) + question("www.gtm.test") * 50,
        "pointer-c002": bytes.fromhex("000200000001000000000000c00200010001"),
        "pointer-c003": bytes.fromhex("000200000001000000000000c00300010001"),
        "pointer-loop": header() + b"\x03www\xc0\x10\x00\x01\x00\x01",
        "trailing-byte": query("www.gtm.test") + b"\0",
        "counts-lie": header(qd=1, an=3, ar=2) + question("www.gtm.test"),
        "long-name": query(".".join(["a" * 63] * 3 + ["b" * 61]) + ".gtm.test"),
        "short": bytes(11),
        # More labels than hickory's encoder remembers names (64): the SOA is written out.
        "many-labels-nxdomain": query("x." * 70 + "gtm.test", edns=opt(options=v4)),
    }
    return seeds


def streams():
    def frame(message):
        return struct.pack(">H", len(message)) + message

    a = query("www.gtm.test", edns=opt())
    ns = query("gtm.test", 2)
    return {
        "one-whole": b"\xff" + frame(a),
        "one-bytewise": b"\x00" + frame(a),
        "pipelined": b"\x07" + frame(a) + frame(ns) + frame(query("nope.gtm.test")),
        "partial-tail": b"\x03" + frame(a) + frame(ns)[:9],
        "zero-length": b"\x10" + frame(b"") + frame(a),
        "response-frame": b"\x20" + frame(query("www.gtm.test", flags=0x8100)) + frame(a),
        "pointer": b"\x05" + frame(bytes.fromhex("000200000001000000000000c00200010001")),
        "many-questions": b"\x40" + frame(header(qd=50) + question("www.gtm.test") * 50),
        "any-big": b"\x80" + frame(query("gtm.test", 255)),
        "length-only": b"\x01\x01",
    }


def configs():
    path = os.path.join(ROOT, "tests", "data", "config", "meridian.toml")
    with open(path, "rb") as f:
        base = f.read()
    return {
        "test-config": base,
        "unknown-key": base + b"\n[zone.extra]\nfoo = 1\n",
        "bad-apex": base.replace(b'apex = "gtm.test"', b'apex = "gtm..test"'),
        "cname-to-self": base + b'\n[[zone.record]]\nname = "self"\ntype = "CNAME"\nvalue = "self.gtm.test"\n',
        "empty": b"",
        "not-toml": b"[[[",
        "regions-missing": b'regions = "nowhere"\n[zone]\napex = "gtm.test"\n',
    }


def mmdbs():
    geo = os.path.join(ROOT, "tests", "data", "geo")
    with open(os.path.join(geo, "GeoLite2-Country-Test.mmdb"), "rb") as f:
        country = f.read()
    with open(os.path.join(geo, "GeoIP2-City-Test.mmdb"), "rb") as f:
        city = f.read()
    # Root node pointing at itself on both sides (record size 28: 7 bytes).
    cyclic = bytes(7) + city[7:]
    marker = b"\xab\xcd\xefMaxMind.com"
    meta_only = marker + city[city.rindex(marker) + len(marker):]
    return {
        "country": country,
        "city-cyclic-root": cyclic,
        "metadata-only": meta_only,
        "truncated": city[:4096],
        "empty": b"",
    }


def main():
    for target, seeds in [
        ("udp_datagram", datagrams()),
        ("tcp_stream", streams()),
        ("config_text", configs()),
        ("mmdb_bytes", mmdbs()),
    ]:
        directory = os.path.join(CORPUS, target)
        os.makedirs(directory, exist_ok=True)
        for label, data in seeds.items():
            with open(os.path.join(directory, "seed-" + label), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
