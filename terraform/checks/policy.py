#!/usr/bin/env python3
"""Meridian's own policies for the AWS layer, read from the Terraform source (python-hcl2).

The AWS modules cannot be planned offline, so these rules are checked on the text: what a
security group rule opens, to whom, on which port, and how the instances and the
delegation records are declared. Values are resolved as far as the source allows
(literals, and `var.x.y` through a variable's default); anything left unresolved counts
against a rule wherever the rule is about not opening something.

Policies (one output line each, `PASS  policy: NAME` or `FAIL  policy: NAME`, the
problems indented under a failure):

  dns-open                 every region module opens 53/udp and 53/tcp to 0.0.0.0/0 and ::/0,
                           on its own security group, with rules that always exist
  ssh-never-world          no rule opens port 22 to the world (any rule kind, any module):
                           sources are literals that are not the world, or one address
                           each of a validated `admin_cidrs`; no tfvars file or module call
                           passes the world as admin_cidrs
  status-never-world       no rule opens the status port to the world: sources are single
                           hosts (/32, /128)
  world-only-dns-http-pmtu what is open to the world is DNS, the HTTP port and the ICMP
                           messages path MTU discovery needs, nothing else
  instances-use-module-sg  every aws_instance is in exactly its module's security group
  imdsv2                   every aws_instance requires IMDSv2 tokens
  encrypted-root           every aws_instance has an encrypted root volume (and any other
                           volume encrypted too)
  one-ns-set-per-zone      the example creates exactly one NS record set per zone and name
                           (Route 53 holds one set per name and type), and every record's
                           type is a literal
  aws-provider-pinned      every directory using AWS resources requires hashicorp/aws with
                           a version constraint that has an upper bound

`--self-test FIXTURES` runs every policy on each fixture (a folder whose main.tf names, in
its header, the policy it breaks and words of the problem expected) and passes only when
that policy fails on it with that problem; every policy needs at least one fixture. A
policy that cannot fail is caught there.

Usage:
  policy.py --module DIR [--module DIR ...] --example DIR [--example DIR ...]
  policy.py --self-test FIXTURES_DIR
Exit status 1 when any line is a FAIL.
"""

from __future__ import annotations

import argparse
import ipaddress
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import hcl2

# The ports a Meridian node serves when the source does not say otherwise.
DEFAULT_PORTS = {"dns": 53, "http": 80, "status": 8053}
SSH_PORT = 22


class Expr(str):
    """An expression (or a template) that is not a plain literal, as its source text."""


@dataclass
class Rule:
    """One security group rule, whatever kind of resource declared it."""

    where: str
    direction: str
    protocol: object
    from_port: object
    to_port: object
    sources: list
    for_each: object = None
    count: object = None
    group: object = None


@dataclass
class Directory:
    """The Terraform files of one folder, normalised."""

    path: Path
    role: str
    resources: dict = field(default_factory=dict)
    data: dict = field(default_factory=dict)
    variables: dict = field(default_factory=dict)
    modules: dict = field(default_factory=dict)
    terraform: list = field(default_factory=list)
    tfvars: dict = field(default_factory=dict)


# ---------------------------------------------------------------------------------------
# Reading


def unquote(text: str) -> str:
    return text[1:-1].replace('\\"', '"').replace("\\\\", "\\")


def normalise(value):
    """python-hcl2's output with quotes, `${}` and bookkeeping keys turned into values."""
    if isinstance(value, dict):
        return {
            unquote(key) if key.startswith('"') else key: normalise(item)
            for key, item in value.items()
            if not key.startswith("__")
        }
    if isinstance(value, list):
        return [normalise(item) for item in value]
    if isinstance(value, str):
        if len(value) >= 2 and value.startswith('"') and value.endswith('"') and "${" not in value:
            return unquote(value)
        if value.startswith("${") and value.endswith("}"):
            return Expr(value[2:-1])
        return Expr(value)
    return value


def load_directory(path: Path, role: str) -> Directory:
    directory = Directory(path=path, role=role)
    for file in sorted(path.glob("*.tf")):
        with file.open() as handle:
            parsed = normalise(hcl2.load(handle))
        for block in parsed.get("resource", []):
            for kind, named in block.items():
                directory.resources.setdefault(kind, {}).update(named)
        for block in parsed.get("data", []):
            for kind, named in block.items():
                directory.data.setdefault(kind, {}).update(named)
        for block in parsed.get("variable", []):
            directory.variables.update(block)
        for block in parsed.get("module", []):
            directory.modules.update(block)
        directory.terraform.extend(parsed.get("terraform", []))
    for file in sorted(list(path.glob("*.tfvars")) + list(path.glob("*.tfvars.example"))):
        with file.open() as handle:
            directory.tfvars[file.name] = normalise(hcl2.load(handle))
    return directory


# ---------------------------------------------------------------------------------------
# Values


def first_block(body: dict, name: str):
    blocks = body.get(name)
    if isinstance(blocks, list) and blocks and isinstance(blocks[0], dict):
        return blocks[0]
    return None


def resolve(value, directory: Directory):
    """A literal as is; `var.a.b...` through the variable's default; else the Expr."""
    if not isinstance(value, Expr):
        return value
    match = re.fullmatch(r"var\.([A-Za-z_][\w-]*)((?:\.[A-Za-z_][\w-]*)*)", value.strip())
    if not match:
        return value
    variable = directory.variables.get(match.group(1))
    if not variable or "default" not in variable:
        return value
    current = variable["default"]
    for attribute in filter(None, match.group(2).split(".")):
        if not isinstance(current, dict) or attribute not in current:
            return value
        current = current[attribute]
    return current


def port(directory: Directory, name: str) -> int:
    """The node's port `name` as this directory's `ports` variable sets it by default."""
    value = resolve(Expr(f"var.ports.{name}"), directory)
    return value if isinstance(value, int) else DEFAULT_PORTS[name]


PROTOCOLS = {"-1": "all", "all": "all", "6": "tcp", "17": "udp", "1": "icmp", "58": "icmpv6"}


def protocol_of(value) -> object:
    if isinstance(value, Expr):
        return value
    text = str(value).lower()
    return PROTOCOLS.get(text, text)


def covers(rule: Rule, protocol: str, number: int, directory: Directory) -> bool:
    """Whether the rule may admit `protocol` traffic to port `number` (unknown: yes)."""
    rule_protocol = protocol_of(resolve(rule.protocol, directory))
    if isinstance(rule_protocol, Expr) or rule_protocol == "all":
        return True
    if rule_protocol != protocol:
        return False
    low = resolve(rule.from_port, directory)
    high = resolve(rule.to_port, directory)
    if low is None and high is None:
        return True
    if not isinstance(low, int) or not isinstance(high, int):
        return True
    if low == -1 and high == -1:
        return True
    return low <= number <= high


def is_world(source) -> bool:
    """A literal network of prefix length 0, in any spelling."""
    if isinstance(source, Expr) or not isinstance(source, str):
        return False
    try:
        return ipaddress.ip_network(source, strict=False).prefixlen == 0
    except ValueError:
        return False


def listed(value) -> list:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def rules_of(directory: Directory) -> list[Rule]:
    rules = []
    for kind, direction in (
        ("aws_vpc_security_group_ingress_rule", "ingress"),
        ("aws_vpc_security_group_egress_rule", "egress"),
    ):
        for name, body in directory.resources.get(kind, {}).items():
            sources = listed(body.get("cidr_ipv4")) + listed(body.get("cidr_ipv6"))
            rules.append(
                Rule(
                    where=f"{directory.path}: {kind}.{name}",
                    direction=direction,
                    protocol=body.get("ip_protocol"),
                    from_port=body.get("from_port"),
                    to_port=body.get("to_port"),
                    sources=sources,
                    for_each=body.get("for_each"),
                    count=body.get("count"),
                    group=body.get("security_group_id"),
                )
            )
    for name, body in directory.resources.get("aws_security_group_rule", {}).items():
        rules.append(
            Rule(
                where=f"{directory.path}: aws_security_group_rule.{name}",
                direction=resolve(body.get("type"), directory),
                protocol=body.get("protocol"),
                from_port=body.get("from_port"),
                to_port=body.get("to_port"),
                sources=listed(body.get("cidr_blocks")) + listed(body.get("ipv6_cidr_blocks")),
                for_each=body.get("for_each"),
                count=body.get("count"),
                group=body.get("security_group_id"),
            )
        )
    for name, body in directory.resources.get("aws_security_group", {}).items():
        for direction in ("ingress", "egress"):
            for index, block in enumerate(listed(body.get(direction))):
                if not isinstance(block, dict):
                    continue
                rules.append(
                    Rule(
                        where=f"{directory.path}: aws_security_group.{name} {direction}[{index}]",
                        direction=direction,
                        protocol=block.get("protocol"),
                        from_port=block.get("from_port"),
                        to_port=block.get("to_port"),
                        sources=listed(block.get("cidr_blocks")) + listed(block.get("ipv6_cidr_blocks")),
                        group=Expr(f"aws_security_group.{name}.id"),
                    )
                )
    return rules


def own_groups(directory: Directory) -> set[str]:
    return {f"aws_security_group.{name}.id" for name in directory.resources.get("aws_security_group", {})}


def instances(directories: list[Directory]):
    for directory in directories:
        for name, body in directory.resources.get("aws_instance", {}).items():
            yield directory, f"{directory.path}: aws_instance.{name}", body


# ---------------------------------------------------------------------------------------
# Policies: each returns its problems, an empty list when it holds.


def dns_open(directories: list[Directory]) -> list[str]:
    problems = []
    modules = [d for d in directories if d.role == "module" and d.resources.get("aws_security_group")]
    if not modules:
        return ["no module with a security group to check"]
    for directory in modules:
        dns = port(directory, "dns")
        if dns != 53:
            problems.append(f"{directory.path}: the DNS port is {dns}, not 53")
        groups = own_groups(directory)
        for protocol in ("udp", "tcp"):
            for world in ("0.0.0.0/0", "::/0"):
                found = any(
                    rule.direction == "ingress"
                    and rule.for_each is None
                    and rule.count is None
                    and str(rule.group).strip() in groups
                    and protocol_of(resolve(rule.protocol, directory)) == protocol
                    and resolve(rule.from_port, directory) == 53
                    and resolve(rule.to_port, directory) == 53
                    and world in rule.sources
                    for rule in rules_of(directory)
                )
                if not found:
                    problems.append(
                        f"{directory.path}: no unconditional rule of its own security group opens 53/{protocol} to {world}"
                    )
    return problems


def ssh_never_world(directories: list[Directory]) -> list[str]:
    problems = []
    for directory in directories:
        for rule in rules_of(directory):
            if rule.direction != "ingress" or not covers(rule, "tcp", SSH_PORT, directory):
                continue
            for source in rule.sources:
                if isinstance(source, Expr):
                    problem = unvalidated_admin_source(rule, source, directory)
                    if problem:
                        problems.append(f"{rule.where}: port 22 {problem}")
                elif is_world(source):
                    problems.append(f"{rule.where}: port 22 open to {source}")
        for file, values in directory.tfvars.items():
            for source in listed(values.get("admin_cidrs")):
                if is_world(source):
                    problems.append(f"{directory.path}/{file}: admin_cidrs includes {source}")
        for name, body in directory.modules.items():
            for source in listed(body.get("admin_cidrs")):
                if is_world(source):
                    problems.append(f"{directory.path}: module.{name} gets admin_cidrs {source}")
    return problems


def unvalidated_admin_source(rule: Rule, source: Expr, directory: Directory) -> str | None:
    """Why an expression source of an SSH rule is not one validated admin network, if so."""
    if source.strip() not in ("each.value", "each.key"):
        return f"admits {source!r}, not one address of admin_cidrs"
    references = set(re.findall(r"var\.([A-Za-z_][\w-]*)", str(rule.for_each or "")))
    if references != {"admin_cidrs"}:
        return f"takes its sources from {rule.for_each!r}, not from var.admin_cidrs alone"
    variable = directory.variables.get("admin_cidrs", {})
    if not listed(variable.get("validation")):
        return "admits var.admin_cidrs, which has no validation"
    return None


HOST_SUFFIX = re.compile(r"\}/(\d+)")


def status_never_world(directories: list[Directory]) -> list[str]:
    problems = []
    for directory in directories:
        status = port(directory, "status")
        for rule in rules_of(directory):
            if rule.direction != "ingress" or not covers(rule, "tcp", status, directory):
                continue
            for source in rule.sources:
                if isinstance(source, Expr):
                    suffixes = HOST_SUFFIX.findall(source)
                    if not suffixes or any(suffix not in ("32", "128") for suffix in suffixes):
                        problems.append(
                            f"{rule.where}: status port {status} admits {source!r}, not a single host (/32 or /128)"
                        )
                elif is_world(source):
                    problems.append(f"{rule.where}: status port {status} open to {source}")
    return problems


def world_only_dns_http_pmtu(directories: list[Directory]) -> list[str]:
    problems = []
    for directory in directories:
        dns, http = port(directory, "dns"), port(directory, "http")
        allowed = {
            ("udp", dns, dns),
            ("tcp", dns, dns),
            ("tcp", http, http),
            ("icmp", 3, 4),
            ("icmpv6", 2, 0),
        }
        for rule in rules_of(directory):
            if rule.direction != "ingress" or not any(is_world(source) for source in rule.sources):
                continue
            opened = (
                protocol_of(resolve(rule.protocol, directory)),
                resolve(rule.from_port, directory),
                resolve(rule.to_port, directory),
            )
            if opened not in allowed:
                protocol, low, high = opened
                problems.append(f"{rule.where}: opens {protocol} {low}-{high} to the world")
    return problems


def instances_use_module_sg(directories: list[Directory]) -> list[str]:
    problems = []
    found = False
    for directory, where, body in instances(directories):
        found = True
        groups = body.get("vpc_security_group_ids")
        own = own_groups(directory)
        if not isinstance(groups, list) or len(groups) != 1 or str(groups[0]).strip() not in own:
            problems.append(f"{where}: vpc_security_group_ids is {groups!r}, not [its module's security group]")
        if "security_groups" in body:
            problems.append(f"{where}: sets security_groups")
        if "network_interface" in body:
            problems.append(f"{where}: attaches its own network interface")
    if not found:
        problems.append("no aws_instance to check")
    return problems


def imdsv2(directories: list[Directory]) -> list[str]:
    problems = []
    found = False
    for directory, where, body in instances(directories):
        found = True
        options = first_block(body, "metadata_options") or {}
        if resolve(options.get("http_tokens"), directory) != "required":
            problems.append(f"{where}: metadata_options.http_tokens is {options.get('http_tokens')!r}, not \"required\"")
    if not found:
        problems.append("no aws_instance to check")
    return problems


def encrypted_root(directories: list[Directory]) -> list[str]:
    problems = []
    found = False
    for directory, where, body in instances(directories):
        found = True
        root = first_block(body, "root_block_device")
        if root is None or resolve(root.get("encrypted"), directory) is not True:
            problems.append(f"{where}: root_block_device is not encrypted = true")
        for index, volume in enumerate(listed(body.get("ebs_block_device"))):
            if not isinstance(volume, dict) or resolve(volume.get("encrypted"), directory) is not True:
                problems.append(f"{where}: ebs_block_device[{index}] is not encrypted = true")
    for directory in directories:
        for name, body in directory.resources.get("aws_ebs_volume", {}).items():
            if resolve(body.get("encrypted"), directory) is not True:
                problems.append(f"{directory.path}: aws_ebs_volume.{name} is not encrypted = true")
    if not found:
        problems.append("no aws_instance to check")
    return problems


AT_MOST_ONE = re.compile(r"^(?:[01]|.+\?\s*0\s*:\s*1|.+\?\s*1\s*:\s*0)$", re.S)


def one_ns_set_per_zone(directories: list[Directory]) -> list[str]:
    problems = []
    for directory in directories:
        sets: dict[tuple[str, str], list[str]] = {}
        for name, body in directory.resources.get("aws_route53_record", {}).items():
            where = f"{directory.path}: aws_route53_record.{name}"
            kind = body.get("type")
            if isinstance(kind, Expr):
                problems.append(f"{where}: type is {kind!r}, not a literal (it could be NS)")
                continue
            if str(kind).upper() != "NS":
                continue
            if "for_each" in body:
                problems.append(f"{where}: an NS record set made per for_each element (one per zone and name)")
            count = body.get("count")
            if count is not None and not AT_MOST_ONE.match(str(count).strip()):
                problems.append(f"{where}: count {count!r} may make more than one NS record set")
            zone = (str(body.get("zone_id")).strip(), str(body.get("name")).strip())
            sets.setdefault(zone, []).append(name)
        for (zone_id, record_name), names in sets.items():
            if len(names) > 1:
                problems.append(
                    f"{directory.path}: {len(names)} NS record sets for {record_name} in zone {zone_id}: {', '.join(names)}"
                )
        if directory.role == "example" and not sets:
            problems.append(f"{directory.path}: no NS record set for the delegation")
    return problems


UPPER_BOUND = re.compile(r"<|~>")


def aws_provider_pinned(directories: list[Directory]) -> list[str]:
    problems = []
    for directory in directories:
        uses_aws = any(kind.startswith("aws_") for kind in list(directory.resources) + list(directory.data))
        if not uses_aws:
            continue
        requirement = None
        for block in directory.terraform:
            for providers in listed(block.get("required_providers")):
                if isinstance(providers, dict) and "aws" in providers:
                    requirement = providers["aws"]
        if not isinstance(requirement, dict):
            problems.append(f"{directory.path}: no required_providers.aws")
            continue
        if requirement.get("source") != "hashicorp/aws":
            problems.append(f"{directory.path}: aws provider source is {requirement.get('source')!r}")
        version = requirement.get("version")
        if not isinstance(version, str) or not UPPER_BOUND.search(version):
            problems.append(f"{directory.path}: aws provider version {version!r} has no upper bound")
    return problems


POLICIES = {
    "dns-open": dns_open,
    "ssh-never-world": ssh_never_world,
    "status-never-world": status_never_world,
    "world-only-dns-http-pmtu": world_only_dns_http_pmtu,
    "instances-use-module-sg": instances_use_module_sg,
    "imdsv2": imdsv2,
    "encrypted-root": encrypted_root,
    "one-ns-set-per-zone": one_ns_set_per_zone,
    "aws-provider-pinned": aws_provider_pinned,
}


# ---------------------------------------------------------------------------------------
# Running


def check(directories: list[Directory]) -> bool:
    ok = True
    for name, policy in POLICIES.items():
        problems = policy(directories)
        if problems:
            ok = False
            print(f"FAIL  policy: {name}")
            for problem in problems:
                print(f"        {problem}")
        else:
            print(f"PASS  policy: {name}")
    return ok


HEADER = re.compile(r"^#\s*(policy|role|expect):\s*(.+?)\s*$", re.M)


def self_test(fixtures: Path) -> bool:
    ok = True
    covered = set()
    folders = sorted(path for path in fixtures.iterdir() if (path / "main.tf").is_file())
    for folder in folders:
        header = dict(HEADER.findall((folder / "main.tf").read_text()))
        policy, expected, role = header.get("policy"), header.get("expect"), header.get("role", "module")
        label = f"policy self-test: {folder.name}"
        if policy not in POLICIES or not expected:
            print(f"FAIL  {label}: its main.tf must name a known policy and the expected problem")
            ok = False
            continue
        covered.add(policy)
        try:
            problems = POLICIES[policy]([load_directory(folder, role)])
        except Exception as error:  # a fixture the parser or a policy chokes on
            print(f"FAIL  {label}: {type(error).__name__}: {error}")
            ok = False
            continue
        if any(expected in problem for problem in problems):
            print(f"PASS  {label}: {policy} catches it")
        else:
            ok = False
            print(f"FAIL  {label}: {policy} did not report {expected!r}")
            for problem in problems:
                print(f"        (reported: {problem})")
    for policy in POLICIES:
        if policy not in covered:
            ok = False
            print(f"FAIL  policy self-test: {policy} has no fixture that it must catch")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", default=[], type=Path)
    parser.add_argument("--example", action="append", default=[], type=Path)
    parser.add_argument("--self-test", type=Path)
    args = parser.parse_args()
    if args.self_test:
        return 0 if self_test(args.self_test) else 1
    if not args.module or not args.example:
        parser.error("give at least one --module and one --example (or --self-test)")
    directories = [load_directory(path, "module") for path in args.module]
    directories += [load_directory(path, "example") for path in args.example]
    return 0 if check(directories) else 1


if __name__ == "__main__":
    sys.exit(main())
