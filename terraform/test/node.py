#!/usr/bin/env python3
"""One node as its cloud-config sets it up, without a host to boot: checks and systemd's part.

usage: node.py check RENDERED NODE
       node.py exec RENDERED NODE BIN STATE_DIR [EXTRA_ARG...]
       node.py secrets RENDERED NODE
       node.py sockets RENDERED NODE

RENDERED is a directory written by render.py (the golden copy or a fresh rendering).

`check` verifies what the node's cloud-config writes: /etc/meridian holds exactly the
rendered files, at mode 0644; meridian.env (mode 0600) names the node's region and the
secrets; the node's name and listen flags are in node.env (or a script makes that file);
the systemd drop-in replaces ExecStart with dist/meridian.service's own plus those flags;
runcmd runs the installer, which starts the service.

`exec` then starts the node the way systemd would: environment files of dist/meridian.service
and of the drop-in, the drop-in's ExecStart with systemd's variable expansion (`${X}` inside a
word, `$X` alone split into words), STATE_DIRECTORY set, /usr/bin/meridian replaced by BIN and
/etc/meridian/ by RENDERED (whose files `check` has shown to be the ones written there).

`secrets` prints meridian.env's assignments, one a line, for `env` (check-config reads the
secrets from there too); `sockets` prints the DNS, HTTP and status addresses the node binds,
one a line, from its expanded command line.
"""

import json
import os
import pathlib
import re
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
UNIT = REPO / "dist" / "meridian.service"
DROP_IN = "/etc/systemd/system/meridian.service.d/node.conf"
CONFIG_DIR = "/etc/meridian/"


def written_files(rendered: pathlib.Path, node: str) -> tuple:
    """The files the node's cloud-config writes, by path, and the whole cloud-config."""
    config = json.loads((rendered / "cloud-init" / f"{node}.json").read_text(encoding="utf-8"))
    return {entry["path"]: entry for entry in config["write_files"]}, config


def unit_settings(text: str, key: str) -> list:
    """Every value of `key` in a unit file, in order; an empty value resets the list."""
    values = []
    for line in text.splitlines():
        if line.startswith(f"{key}="):
            value = line[len(key) + 1 :].strip()
            values = [] if value == "" else values + [value]
    return values


def parse_env(text: str) -> dict:
    env = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        env[key.strip()] = value.strip()
    return env


def check(rendered: pathlib.Path, node: str) -> list:
    problems = []
    files, config = written_files(rendered, node)
    nodes = json.loads((rendered / "nodes.json").read_text(encoding="utf-8"))
    expected = {
        CONFIG_DIR + path.relative_to(rendered).as_posix(): path.read_text(encoding="utf-8")
        for path in [rendered / "meridian.toml", *sorted((rendered / "regions").glob("*.toml"))]
    }
    for path, content in expected.items():
        entry = files.get(path)
        if entry is None:
            problems.append(f"{path}: not written")
        elif entry["content"] != content:
            problems.append(f"{path}: written content differs from the rendered file")
        elif entry["permissions"] != "0644":
            problems.append(f"{path}: mode {entry['permissions']}, expected 0644 (the service's dynamic user reads it)")
    extra = [p for p in files if p.startswith(CONFIG_DIR) and p.endswith(".toml") and p not in expected]
    problems += [f"{path}: written but not rendered" for path in extra]

    env_file = files.get(CONFIG_DIR + "meridian.env")
    if env_file is None:
        problems.append("meridian.env: not written")
    else:
        if env_file["permissions"] != "0600":
            problems.append(f"meridian.env: mode {env_file['permissions']}, expected 0600")
        env = parse_env(env_file["content"])
        if env.get("MERIDIAN_REGION") != nodes[node]["region"]:
            problems.append(f"meridian.env: MERIDIAN_REGION={env.get('MERIDIAN_REGION')}, expected {nodes[node]['region']}")
        if len(env.get("MERIDIAN_ADMIN_TOKEN", "")) < 16:
            problems.append("meridian.env: MERIDIAN_ADMIN_TOKEN missing or shorter than 16 characters")
        for secret in filter(None, [env.get("MERIDIAN_ADMIN_TOKEN"), env.get("MERIDIAN_COOKIE_KEY")]):
            if any(secret in text for text in expected.values()):
                problems.append("a secret of meridian.env appears in a config file")

    node_env = files.get(CONFIG_DIR + "node.env")
    script = files.get("/usr/local/sbin/meridian-node-env")
    if node_env is not None:
        values = parse_env(node_env["content"])
        if values.get("MERIDIAN_NODE_NAME") != node:
            problems.append(f"node.env: MERIDIAN_NODE_NAME={values.get('MERIDIAN_NODE_NAME')}, expected {node}")
        if "--dns-listen" not in values.get("MERIDIAN_LISTEN", ""):
            problems.append("node.env: MERIDIAN_LISTEN has no --dns-listen")
    elif script is None:
        problems.append("neither node.env nor the script that writes it")

    drop_in = files.get(DROP_IN)
    if drop_in is None:
        problems.append(f"{DROP_IN}: not written")
    else:
        # The drop-in replaces the unit's ExecStart (systemd cannot append to one): it must be
        # the unit's own command plus the node's flags, so a change to dist/meridian.service
        # that the drop-in does not follow is caught here.
        starts = unit_settings(drop_in["content"], "ExecStart")
        [unit_start] = unit_settings(UNIT.read_text(encoding="utf-8"), "ExecStart")
        wanted = unit_start + " --node-name ${MERIDIAN_NODE_NAME} $MERIDIAN_LISTEN"
        if starts != [wanted]:
            problems.append(f"{DROP_IN}: ExecStart must be reset, then be {wanted!r}: {starts}")
        if CONFIG_DIR + "node.env" not in unit_settings(drop_in["content"], "EnvironmentFile"):
            problems.append(f"{DROP_IN}: does not read /etc/meridian/node.env")
    installer = files.get("/usr/local/sbin/meridian-install")
    if installer is None or config.get("runcmd") != [["/usr/local/sbin/meridian-install"]]:
        problems.append("runcmd does not run /usr/local/sbin/meridian-install")
    elif "systemctl restart meridian.service" not in installer["content"]:
        problems.append("the installer does not start meridian.service")
    return problems


def expand(word: str, env: dict) -> list:
    """systemd's expansion of one ExecStart word."""
    whole = re.fullmatch(r"\$([A-Za-z_][A-Za-z0-9_]*)", word)
    if whole:
        return env.get(whole.group(1), "").split()
    return [re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: env.get(m.group(1), ""), word)]


def command(rendered: pathlib.Path, node: str, binary: str, state_dir: str) -> tuple:
    """The node's command line and environment, as systemd would make them."""
    files, _ = written_files(rendered, node)
    drop_in = files[DROP_IN]["content"]
    env = {}
    unit = UNIT.read_text(encoding="utf-8")
    for path in unit_settings(unit, "EnvironmentFile") + unit_settings(drop_in, "EnvironmentFile"):
        optional = path.startswith("-")
        entry = files.get(path.lstrip("-"))
        if entry is None:
            if optional:
                continue
            sys.exit(f"node.py: {path}: the unit needs it and cloud-init does not write it")
        env.update(parse_env(entry["content"]))
    env["STATE_DIRECTORY"] = state_dir
    [exec_start] = unit_settings(drop_in, "ExecStart")
    argv = [part for word in exec_start.split() for part in expand(word, env)]
    if argv[0] != "/usr/bin/meridian":
        sys.exit(f"node.py: ExecStart runs {argv[0]}, not /usr/bin/meridian")
    argv[0] = binary
    base = str(rendered.resolve()) + "/"
    argv = [arg.replace(CONFIG_DIR, base, 1) if arg.startswith(CONFIG_DIR) else arg for arg in argv]
    return argv, env


def sockets(argv: list) -> list:
    """The addresses after --dns-listen, --http-listen and --status-listen, in that order."""
    found = []
    for flag in ["--dns-listen", "--http-listen", "--status-listen"]:
        found += [argv[i + 1] for i, arg in enumerate(argv[:-1]) if arg == flag]
    return found


def main() -> int:
    args = sys.argv[1:]
    if len(args) == 3 and args[0] == "check":
        problems = check(pathlib.Path(args[1]), args[2])
        for problem in problems:
            print(f"{args[2]}: {problem}")
        return 1 if problems else 0
    if len(args) >= 5 and args[0] == "exec":
        argv, env = command(pathlib.Path(args[1]), args[2], args[3], args[4])
        print("node.py: " + " ".join(argv + args[5:]), file=sys.stderr, flush=True)
        os.execve(args[3], argv + args[5:], {**os.environ, **env})
    if len(args) == 3 and args[0] == "secrets":
        files, _ = written_files(pathlib.Path(args[1]), args[2])
        for key, value in parse_env(files[CONFIG_DIR + "meridian.env"]["content"]).items():
            print(f"{key}={value}")
        return 0
    if len(args) == 3 and args[0] == "sockets":
        argv, _ = command(pathlib.Path(args[1]), args[2], "/usr/bin/meridian", "/nonexistent")
        print("\n".join(sockets(argv)))
        return 0
    print(__doc__.strip().splitlines()[2], file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
