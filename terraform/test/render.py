#!/usr/bin/env python3
"""Writes the render module's outputs (`terraform output -json`) out as files.

usage: render.py OUTPUTS_JSON DIR

DIR gets the config as a node reads it (meridian.toml, regions/<name>.toml), the records for
the parent zone (delegation_records.json), the node list (nodes.json), and each node's user
data as written (cloud-init/<node>.yaml) and as cloud-init reads it (cloud-init/<node>.json).
The same outputs always give the same bytes, so DIR can be compared with the golden copy.
"""

import json
import pathlib
import sys


def write(path: pathlib.Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def as_json(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True) + "\n"


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    outputs = json.loads(pathlib.Path(sys.argv[1]).read_text(encoding="utf-8"))
    out = pathlib.Path(sys.argv[2])
    values = {name: output["value"] for name, output in outputs.items()}
    for relative, content in values["files"].items():
        write(out / relative, content)
    write(out / "delegation_records.json", as_json(values["delegation_records"]))
    write(out / "nodes.json", as_json(values["nodes"]))
    for node, user_data in values["cloud_init"].items():
        write(out / "cloud-init" / f"{node}.yaml", user_data)
        write(out / "cloud-init" / f"{node}.json", as_json(values["cloud_config"][node]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
