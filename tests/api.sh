#!/usr/bin/env bash
# The status listener's API against its OpenAPI document (src/dashboard/openapi.json), with a
# real tool: schemathesis (pinned, from PyPI) fetches the document from a running
# `meridian demo` and sends it generated requests, the admin actions included (with the
# demo's admin token), checking every response: no 5xx, documented status, content type,
# headers and schema, 401 without the token, 405 with `Allow` for other methods. Prints
# `api: N passed, M failed` (operations), and exits non-zero on any failure, and when
# schemathesis did not run or checked fewer operations than the document has.
#
# The demo runs on a copy of the shipped config, so the drains, undrains and force-ups
# schemathesis sends land in a temporary state folder and die with the demo: nothing is
# left for the next run or the other scripts.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/meridian}
SCHEMATHESIS_VERSION=4.32.5
DNS_PORT=${API_DNS_PORT:-1053}
HTTP_PORT=${API_HTTP_PORT:-8080}
STATUS_PORT=${API_STATUS_PORT:-8053}
# Test cases per operation and phase, the seed (fixed, so a run can be repeated; any
# integer, or `random`), and the bound on the whole schemathesis run, in seconds.
MAX_EXAMPLES=${API_MAX_EXAMPLES:-100}
SEED=${API_SEED:-20261201}
TIME_LIMIT=${API_TIME_LIMIT:-150}
BASE=http://127.0.1.1:$STATUS_PORT
DOCUMENT_URL=$BASE/api/v1/openapi.json
# The event streams never end: schemathesis would wait on them until its request timeout.
# The integration tests read them (tests/integration/status.rs, dashboard.rs, openapi.rs:
# events arrive, a snapshot has the documented shape, a stream ends with its node).
EXCLUDED_PATHS=(/api/v1/events/stream /api/v1/dashboard/stream)
TOKEN=api-check-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
WORK=$(mktemp -d)
DEMO=

cleanup() {
    [ -n "$DEMO" ] && kill "$DEMO" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

# A failure outside schemathesis's checks: says why, and counts as one failed check.
abort() {
    echo "api: $*"
    echo "api: 0 passed, 1 failed"
    exit 1
}

# The same, about the demo: with the end of its log.
abort_demo() {
    sed 's/^/      /' "$WORK/demo.log" | tail -20
    abort "$@"
}

installed=$(python3 -c 'from importlib.metadata import version; print(version("schemathesis"))' 2>/dev/null)
if [ "$installed" != "$SCHEMATHESIS_VERSION" ]; then
    echo "installing schemathesis $SCHEMATHESIS_VERSION (found: ${installed:-none})"
    python3 -m pip install --quiet "schemathesis==$SCHEMATHESIS_VERSION" 2>/dev/null ||
        python3 -m pip install --quiet --break-system-packages "schemathesis==$SCHEMATHESIS_VERSION" ||
        abort "cannot install schemathesis $SCHEMATHESIS_VERSION"
fi
version=$(python3 -m schemathesis.cli --version 2>&1 | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+$')
[ "$version" = "$SCHEMATHESIS_VERSION" ] || abort "schemathesis $SCHEMATHESIS_VERSION wanted, ${version:-none} runs"

mkdir -p "$WORK/conf"
cp -r meridian.toml regions "$WORK/conf/"
MERIDIAN_ADMIN_TOKEN=$TOKEN "$BIN" demo --config "$WORK/conf/meridian.toml" \
    --geo-db "$PWD/geo-data/dbip-city-lite-coarse.mmdb" \
    --dns-port "$DNS_PORT" --http-port "$HTTP_PORT" --status-port "$STATUS_PORT" >"$WORK/demo.log" 2>&1 &
DEMO=$!
# Ours, running, and serving the document: a reload with our token is only accepted by it
# (another demo on these ports would refuse the token, and ours would have exited).
ready=no
for _ in $(seq 1 50); do
    kill -0 "$DEMO" 2>/dev/null || break
    if curl -sf --max-time 1 -o /dev/null "$DOCUMENT_URL" &&
        [ "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' -X POST -H "Authorization: Bearer $TOKEN" "$BASE/-/reload")" = 200 ]; then
        ready=yes
        break
    fi
    sleep 0.2
done
[ "$ready" = yes ] || abort_demo "the demo did not start, or another node answers on $BASE"

# The operations schemathesis must check: every one the served document has, but the streams
# and the document's own (schemathesis never tests the URL it read the document from; the
# integration tests do).
expected=$(curl -s --max-time 2 "$DOCUMENT_URL" | python3 -c '
import json, sys
methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
paths = json.load(sys.stdin)["paths"]
print(sum(1 for path, item in paths.items() if path not in sys.argv[1:] for m in item if m in methods))
' "${EXCLUDED_PATHS[@]}" "${DOCUMENT_URL#"$BASE"}") || abort "cannot read $DOCUMENT_URL"
[ "$expected" -gt 0 ] || abort "the document has no operations"

# Run from the work folder: schemathesis keeps nothing in the repository. Every check but
# one: negative_data_rejection wants each request outside the document's parameter schemas
# refused, but `name` and `type` of /api/v1/explain are documented as the usual subset of
# what the DNS library reads (it also takes an empty name, `*` labels, `\` escapes and any
# letter case), so valid queries would count as failures. Negative cases are still sent,
# and their answers checked like every other.
# /healthz answers 503 by design when the region's healthy backend capacity is below its
# threshold (schemathesis drains backends, all of them at times): documented, so not a
# server error there. Anywhere else a 5xx is.
cat >"$WORK/schemathesis.toml" <<'TOML'
[[operations]]
include-path = "/healthz"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]
TOML
excluded=()
for path in "${EXCLUDED_PATHS[@]}"; do excluded+=(--exclude-path "$path"); done
seed=(--seed "$SEED")
[ "$SEED" = random ] && seed=()
(
    cd "$WORK" &&
        timeout --kill-after=10 "$TIME_LIMIT" python3 -m schemathesis.cli --no-color --config-file "$WORK/schemathesis.toml" run "$DOCUMENT_URL" \
            --checks all \
            --exclude-checks negative_data_rejection \
            "${excluded[@]}" \
            --header "Authorization: Bearer $TOKEN" \
            --max-examples "$MAX_EXAMPLES" \
            "${seed[@]}" \
            --workers 1 \
            --request-timeout 10 \
            --generation-database none \
            --report json --report-json-path "$WORK/report.json"
)
status=$?
[ "$status" -eq 124 ] && abort "schemathesis did not finish within ${TIME_LIMIT} s"
[ -s "$WORK/report.json" ] || abort "schemathesis wrote no report (exit $status)"

# The node must have lived through it.
kill -0 "$DEMO" 2>/dev/null || abort_demo "the demo exited during the run"
curl -sf --max-time 2 -o /dev/null "$BASE/api/v1/regions" || abort_demo "the demo no longer answers"
# The admin actions were carried out, not only refused: the node's timeline has the operator
# changes set through it.
actions=$(curl -s --max-time 2 "$BASE/api/v1/events" | grep -o '"reason":"set through this node' | wc -l)
echo "api: $actions operator changes applied through the API"
[ "$actions" -gt 0 ] || abort "no admin action was applied: is the token sent?"

# The figures, from schemathesis's own report; fewer operations than expected, no test case,
# or an incomplete run fail like a failed check.
python3 - "$WORK/report.json" "$expected" "$status" <<'PY'
import json, sys

report = json.load(open(sys.argv[1]))
expected, status = int(sys.argv[2]), int(sys.argv[3])
operations = report["operations"]
tested = operations["tested"]
cases = report["test_cases"]["generated"]
failing = {op for failure in report["failures"] for op in failure["operations"]}
for failure in report["failures"]:
    print(f"api: {failure['code']} {failure['title']}: {', '.join(failure['operations'])}")
problems = []
if tested != expected:
    problems.append(f"{tested} operations tested, the document has {expected}")
if cases == 0:
    problems.append("no test case generated")
if not report["complete"]:
    problems.append(f"run incomplete ({report['stop_reason']})")
if report["errors"] or operations["errored"]:
    problems.append(f"{len(report['errors']) or operations['errored']} errors")
if status != 0 or report["exit_code"] != 0:
    problems.append(f"schemathesis exited {status}")
for problem in problems:
    print(f"api: {problem}")
failed = len(failing) + (1 if problems and not failing else 0)
print(
    f"api: schemathesis {report['schemathesis_version']}, seed {report['seed']}: "
    f"{tested} operations checked, {len(failing)} failed; {cases} test cases "
    f"in {report['running_time']:.1f} s"
)
print(f"api: {tested - len(failing)} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
