#!/usr/bin/env python3
"""Check dist/grafana-dashboard.json: panels are wired up and name only known metrics.

Every panel except a row must have a datasource and at least one target with a
non-empty `expr`. Every metric named in a target's `expr` or in a template
variable's query must be one that Meridian exports: it must be in METRICS below,
or be a histogram's `_bucket`, `_sum` or `_count` series. A renamed metric then
fails here instead of leaving an empty panel.

Python 3 standard library only. Usage: check.py [dashboard.json]
Prints `grafana: N panels, 0 unknown metrics` and exits 0, or lists the
problems and exits 1.
"""

import json
import pathlib
import re
import sys

# Metric names the dashboard may use, with their kind. Keep this in step with
# the metrics that src/ registers.
METRICS = {
    # DNS
    "meridian_dns_queries_total": "counter",
    "meridian_dns_steered_answers_total": "counter",
    "meridian_dns_answer_duration_seconds": "histogram",
    # Health
    "meridian_health_region_up": "gauge",
    "meridian_health_probes_total": "counter",
    "meridian_health_probe_duration_seconds": "histogram",
    "meridian_health_isolated": "gauge",
    "meridian_health_events_total": "counter",
    # Proxy
    "meridian_proxy_requests_total": "counter",
    "meridian_proxy_request_duration_seconds": "histogram",
    "meridian_proxy_retries_total": "counter",
    "meridian_proxy_ejections_total": "counter",
    "meridian_proxy_backend_healthy": "gauge",
    "meridian_proxy_rate_limited_total": "counter",
    "meridian_proxy_no_backend_total": "counter",
    "meridian_proxy_spilled_total": "counter",
    # Operations
    "meridian_config_reloads_total": "counter",
    "meridian_build_info": "gauge",
}

HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")

# PromQL words that look like names but are not metrics.
PROMQL_WORDS = {
    # aggregation operators and their modifiers
    "sum", "min", "max", "avg", "count", "stddev", "stdvar", "topk", "bottomk",
    "quantile", "count_values", "group", "by", "without",
    # binary operators and vector matching
    "and", "or", "unless", "on", "ignoring", "group_left", "group_right", "bool",
    "offset", "atan2",
    # functions
    "rate", "irate", "increase", "delta", "idelta", "deriv", "predict_linear",
    "histogram_quantile", "histogram_count", "histogram_sum", "histogram_fraction",
    "abs", "ceil", "floor", "round", "exp", "ln", "log2", "log10", "sqrt",
    "clamp", "clamp_min", "clamp_max", "changes", "resets", "absent",
    "absent_over_time", "avg_over_time", "min_over_time", "max_over_time",
    "sum_over_time", "count_over_time", "last_over_time", "quantile_over_time",
    "present_over_time", "label_replace", "label_join", "scalar", "vector",
    "sort", "sort_desc", "time", "timestamp",
    # Grafana's variable query function
    "label_values",
    "inf", "nan",
}

NAME = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")


def metric_names(expr):
    """The metric names an expression selects.

    Label matchers `{...}`, ranges `[...]`, string literals, grouping lists
    `by (...)` / `on (...)` and Grafana variables are removed first, so what
    is left that looks like a name and is no PromQL word is a metric.
    """
    text = re.sub(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'', '""', expr)
    text = re.sub(r"\{[^}]*\}", "{}", text)
    text = re.sub(r"\[[^\]]*\]", "[]", text)
    text = re.sub(
        r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", r"\1", text
    )
    text = re.sub(r"\$\{?\w+\}?", "", text)
    # Numbers such as 0.99, 1e3 or 5m must not leave a name behind.
    text = re.sub(r"\b\d[\w.]*", "", text)
    # In label_values(metric, label) only the first argument is a metric.
    text = re.sub(r"label_values\s*\(\s*([^,)]*)(,[^)]*)?\)", r"label_values(\1)", text)
    return {name for name in NAME.findall(text) if name not in PROMQL_WORDS}


def known(name):
    if name in METRICS:
        return True
    for suffix in HISTOGRAM_SUFFIXES:
        base = name[: -len(suffix)]
        if name.endswith(suffix) and METRICS.get(base) == "histogram":
            return True
    return False


def all_panels(panels):
    """Panels in order, including those nested in collapsed rows."""
    for panel in panels:
        yield panel
        yield from all_panels(panel.get("panels", []))


def check(dashboard):
    """(number of panels checked, problems, unknown metric names)."""
    problems = []
    unknown = set()
    checked = 0
    ids = set()
    for panel in all_panels(dashboard.get("panels", [])):
        title = panel.get("title", f"panel {panel.get('id')}")
        if panel.get("id") in ids:
            problems.append(f"{title}: duplicate panel id {panel.get('id')}")
        ids.add(panel.get("id"))
        if panel.get("type") == "row":
            continue
        checked += 1
        if not panel.get("datasource"):
            problems.append(f"{title}: no datasource")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{title}: no targets")
        for target in targets:
            expr = (target.get("expr") or "").strip()
            if not expr:
                problems.append(f"{title}: target {target.get('refId')} has no expr")
            for name in sorted(metric_names(expr)):
                if not known(name):
                    unknown.add(name)
                    problems.append(f"{title}: unknown metric {name} in {expr!r}")
    for variable in dashboard.get("templating", {}).get("list", []):
        if variable.get("type") != "query":
            continue
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query", "")
        for name in sorted(metric_names(query or "")):
            if not known(name):
                unknown.add(name)
                problems.append(f"variable {variable.get('name')}: unknown metric {name}")
    return checked, problems, unknown


def exported(exposition):
    """Metric kinds by name from the `# TYPE` lines of a real /metrics exposition."""
    kinds = {}
    for line in exposition.splitlines():
        parts = line.split()
        if len(parts) == 4 and parts[:2] == ["#", "TYPE"]:
            kinds[parts[2]] = parts[3]
    return kinds


def main(argv):
    # --metrics FILE: check against what a running node exports instead of the list above.
    if argv[:1] == ["--metrics"] and len(argv) >= 2:
        with open(argv[1], encoding="utf-8") as file:
            kinds = exported(file.read())
        if not kinds:
            print(f"grafana: no metrics in {argv[1]}", file=sys.stderr)
            return 1
        METRICS.clear()
        METRICS.update(kinds)
        argv = argv[2:]
    default = pathlib.Path(__file__).resolve().parents[2] / "dist" / "grafana-dashboard.json"
    path = pathlib.Path(argv[0]) if argv else default
    with open(path, encoding="utf-8") as file:
        dashboard = json.load(file)
    checked, problems, unknown = check(dashboard)
    if checked == 0:
        problems.append("no panels")
    for problem in problems:
        print(f"grafana: {problem}", file=sys.stderr)
    print(f"grafana: {checked} panels, {len(unknown)} unknown metrics")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
