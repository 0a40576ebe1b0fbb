#!/usr/bin/env bash
# The dashboard in a real browser: starts `meridian demo` on loopback and drives Debian's
# headless Chromium at it with playwright-core (tests/browser/dashboard.mjs). Installs
# chromium (apt) and playwright-core (npm, pinned in tests/browser/package-lock.json) when
# missing. Screenshots go to $ARTIFACTS (default artifacts/browser). Prints
# `browser: N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/meridian}")
ROOT=$PWD
DNS_PORT=${BROWSER_DNS_PORT:-25353}
HTTP_PORT=${BROWSER_HTTP_PORT:-28080}
STATUS_PORT=${BROWSER_STATUS_PORT:-28053}
export ARTIFACTS=${ARTIFACTS:-$PWD/artifacts/browser}
WORK=$(mktemp -d)
DEMO=

cleanup() {
    [ -n "$DEMO" ] && kill "$DEMO" 2>/dev/null
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

if ! command -v chromium >/dev/null; then
    echo "installing chromium"
    if [ "$(id -u)" -eq 0 ]; then sudo=(); else sudo=(sudo); fi
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
chromium --version
command -v node >/dev/null || { echo "browser: 0 passed, 1 failed (no node)"; exit 1; }
(cd tests/browser && npm ci --no-audit --no-fund --ignore-scripts --silent) || {
    echo "browser: 0 passed, 1 failed (npm ci)"
    exit 1
}

mkdir -p "$WORK/conf" "$ARTIFACTS"
cp -r meridian.toml regions "$WORK/conf/"
# The demo keeps operator state under ./state: a scratch directory, not the checkout.
(cd "$WORK" && exec "$BIN" demo --config "$WORK/conf/meridian.toml" \
    --geo-db "$ROOT/geo-data/dbip-city-lite-coarse.mmdb" \
    --dns-port "$DNS_PORT" --http-port "$HTTP_PORT" --status-port "$STATUS_PORT") >"$WORK/demo.log" 2>&1 &
DEMO=$!
url="http://127.0.1.1:$STATUS_PORT/"
up=no
for _ in $(seq 1 50); do
    if curl -sf --max-time 1 "${url}healthz" >/dev/null; then up=yes; break; fi
    sleep 0.2
done
if [ "$up" != yes ]; then
    echo "the demo did not start:"
    tail -20 "$WORK/demo.log"
    echo "browser: 0 passed, 1 failed"
    exit 1
fi
grep -q "^Dashboard: $url" "$WORK/demo.log" || {
    echo "the demo does not print its dashboard URL $url"
    echo "browser: 0 passed, 1 failed"
    exit 1
}

DASHBOARD_URL=$url timeout 180 node tests/browser/dashboard.mjs
status=$?
ls -l "$ARTIFACTS"
if [ $status -ne 0 ]; then
    echo "demo log (tail):"
    tail -30 "$WORK/demo.log"
fi
exit $status
