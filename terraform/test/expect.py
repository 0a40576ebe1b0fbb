#!/usr/bin/env python3
"""What the running test nodes should say, from the rendered outputs, compared with what they say.

usage: expect.py answer RENDERED REGION      the A answer for REGION's clients, sorted
       expect.py delegation RENDERED          delegation_records.json as sorted zone lines
       expect.py dig-delegation               the same lines from `dig APEX NS` on stdin
       expect.py gossip RENDERED NODE URL     NODE's status listener at URL: /healthz names
                                              the node and region, the config hash given by
                                              HASH in the environment (if set), and its votes
                                              say every region is up; /api/v1/regions holds
                                              every node's up vote on every region (its own
                                              and the others' as gossiped)
       expect.py backends RENDERED            ID=ADDRESS of every backend, for backends.py

Exits 1 with the difference when a comparison fails.
"""

import json
import os
import pathlib
import re
import sys
import tomllib
import urllib.request


def load(rendered: pathlib.Path, name: str):
    return json.loads((rendered / name).read_text(encoding="utf-8"))


def answer(rendered: pathlib.Path, region: str) -> int:
    nodes = load(rendered, "nodes.json")
    for address in sorted(node["ipv4"] for node in nodes.values() if node["region"] == region):
        print(address)
    return 0


def zone_line(name: str, ttl, record_type: str, value: str) -> str:
    return f"{name.rstrip('.').lower()} {ttl} {record_type} {value.rstrip('.').lower()}"


def delegation(rendered: pathlib.Path) -> int:
    records = load(rendered, "delegation_records.json")
    for line in sorted(zone_line(r["name"], r["ttl"], r["type"], r["value"]) for r in records):
        print(line)
    return 0


def dig_delegation() -> int:
    """NS records of the answer section and A/AAAA records of the additional section."""
    section = None
    lines = []
    for line in sys.stdin:
        heading = re.match(r";; (\w+) SECTION:", line)
        if heading:
            section = heading.group(1)
            continue
        fields = line.split()
        if line.startswith(";") or len(fields) < 5 or fields[2] != "IN":
            continue
        name, ttl, _, record_type, value = fields[:5]
        if (section, record_type) in {("ANSWER", "NS"), ("ADDITIONAL", "A"), ("ADDITIONAL", "AAAA")}:
            lines.append(zone_line(name, ttl, record_type, value))
    for line in sorted(lines):
        print(line)
    return 0


def gossip(rendered: pathlib.Path, node: str, url: str) -> int:
    nodes = load(rendered, "nodes.json")
    regions = sorted({n["region"] for n in nodes.values()})
    with urllib.request.urlopen(f"{url}/healthz", timeout=3) as response:
        health = json.load(response)
    with urllib.request.urlopen(f"{url}/api/v1/regions", timeout=3) as response:
        verdicts = json.load(response)
    problems = []
    if health.get("node") != node or health.get("region") != nodes[node]["region"]:
        problems.append(f"node {health.get('node')} of {health.get('region')}, expected {node} of {nodes[node]['region']}")
    votes = health.get("gossip", {}).get("votes", {})
    for region in regions:
        vote = votes.get(region, {}).get("vote")
        if vote != "up":
            problems.append(f"its vote on {region} is {vote}, expected up")
    voters = sorted(n["region"] for n in nodes.values())
    for verdict in verdicts.get("regions", []):
        if not verdict.get("up") or sorted(verdict.get("up_votes", [])) != voters:
            problems.append(f"{verdict.get('name')}: up={verdict.get('up')}, up votes from {verdict.get('up_votes')}, expected {voters}")
    if sorted(v.get("name") for v in verdicts.get("regions", [])) != regions:
        problems.append(f"/api/v1/regions lists {[v.get('name') for v in verdicts.get('regions', [])]}, expected {regions}")
    expected_hash = os.environ.get("HASH")
    if expected_hash and health.get("config_hash") != expected_hash:
        problems.append(f"config hash {health.get('config_hash')}, expected {expected_hash}")
    for problem in problems:
        print(f"{node}: {problem}")
    return 1 if problems else 0


def backends(rendered: pathlib.Path) -> int:
    for path in sorted((rendered / "regions").glob("*.toml")):
        region = tomllib.loads(path.read_text(encoding="utf-8"))
        for backend in region.get("proxy", {}).get("backend", []):
            print(f"{backend['id']}={backend['address']}")
    return 0


def main() -> int:
    args = sys.argv[1:]
    if args[:1] == ["answer"] and len(args) == 3:
        return answer(pathlib.Path(args[1]), args[2])
    if args[:1] == ["delegation"] and len(args) == 2:
        return delegation(pathlib.Path(args[1]))
    if args == ["dig-delegation"]:
        return dig_delegation()
    if args[:1] == ["gossip"] and len(args) == 4:
        return gossip(pathlib.Path(args[1]), args[2], args[3])
    if args[:1] == ["backends"] and len(args) == 2:
        return backends(pathlib.Path(args[1]))
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
