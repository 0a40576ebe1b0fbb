#!/usr/bin/env bash
# End-to-end checks with real clients against the real binary: `meridian demo` on loopback
# from the shipped config and embedded database, queried with dig, kdig, curl, and through
# unbound as a recursive resolver (with ECS forwarding). Prints `e2e: N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/meridian}
DNS_PORT=${E2E_DNS_PORT:-15353}
HTTP_PORT=${E2E_HTTP_PORT:-18080}
STATUS_PORT=${E2E_STATUS_PORT:-18053}
WORK=$(mktemp -d)
passed=0
failed=0
pids=()

cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

check() { # check NAME COMMAND... : passes when the command succeeds
    local name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
        echo "PASS  $name"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        sed 's/^/      /' "$WORK/out" | head -20
    fi
}

q() { dig @127.0.1.1 -p "$DNS_PORT" +time=2 +tries=1 "$@"; }

# contains PATTERN... -- COMMAND...: every extended regex matches some line of the output.
# A single PATTERN may be given without the `--`.
contains() {
    local patterns=()
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do patterns+=("$1"); shift; done
    if [ $# -eq 0 ]; then set -- "${patterns[@]:1}"; patterns=("${patterns[0]}"); else shift; fi
    local output pattern
    output=$("$@" 2>&1)
    echo "$output"
    for pattern in "${patterns[@]}"; do
        grep -Eq -- "$pattern" <<<"$output" || { echo "missing: $pattern"; return 1; }
    done
}

# The demo runs on a copy of the shipped config, so that the reload checks can edit it.
mkdir -p "$WORK/conf"
cp -r meridian.toml regions "$WORK/conf/"
"$BIN" demo --config "$WORK/conf/meridian.toml" --geo-db "$PWD/geo-data/dbip-city-lite-coarse.mmdb" \
    --dns-port "$DNS_PORT" --http-port "$HTTP_PORT" --status-port "$STATUS_PORT" >"$WORK/demo.log" 2>&1 &
pids+=($!)
DEMO=$!
started=no
for _ in $(seq 1 50); do
    if q +short gtm.test SOA 2>/dev/null | grep -q .; then started=yes; break; fi
    sleep 0.2
done
check "demo started and answers" test "$started" = yes
[ "$started" = yes ] || { echo "demo log (tail):"; tail -15 "$WORK/demo.log"; }

check "demo prints what to try" contains "dig @127\.0\.[0-9]\.1 -p $DNS_PORT www\.gtm\.test\. A \+subnet=" cat "$WORK/demo.log"
check "London client -> eu-west, aa, ECS echoed" contains "flags: qr aa" "CLIENT-SUBNET: 81\.2\.69\.0/24/" "IN\s+A\s+127\.0\.2\.1$" -- q www.gtm.test A +subnet=81.2.69.142/24
check "London answer is eu-west's address" contains "^www\.gtm\.test\.\s+30\s+IN\s+A\s+127\.0\.2\.1$" q www.gtm.test A +subnet=81.2.69.142/24 +noall +answer
check "ECS scope is set and not longer than the source" contains "CLIENT-SUBNET: 81\.2\.69\.0/24/(1?[0-9]|2[0-4])$" q www.gtm.test A +subnet=81.2.69.142/24
check "US client -> us-east" contains "^127\.0\.1\.1$" q +short www.gtm.test A +subnet=216.160.83.0/24
check "Australian client -> ap-southeast" contains "^127\.0\.3\.1$" q +short www.gtm.test A +subnet=1.128.0.0/16
check "every region's server gives the same answer" contains "^127\.0\.2\.1$" dig @127.0.3.1 -p "$DNS_PORT" +short www.gtm.test A +subnet=81.2.69.0/24
check "unknown name: NXDOMAIN with the SOA" contains "status: NXDOMAIN" "flags: qr aa" "^gtm\.test\.\s+30\s+IN\s+SOA" -- q nope.gtm.test A
check "known name, other type: NODATA with the SOA" contains "status: NOERROR" "ANSWER: 0, AUTHORITY: 1" "IN\s+SOA" -- q www.gtm.test MX
check "outside the zone: REFUSED" contains "status: REFUSED" q example.com A
check "same answer over TCP" contains "^127\.0\.2\.1$" q +tcp +short www.gtm.test A +subnet=81.2.69.142/24
check "apex SOA" contains "^ns1\.gtm\.test\. hostmaster\.gtm\.test\. 2026112101 " q +short gtm.test SOA
check "apex NS with glue" contains "ns3\.gtm\.test\.\s+3600\s+IN\s+A\s+127\.0\.3\.1" q gtm.test NS
check "CNAME into a steered name" contains "^www\.gtm\.test\.$" q +short app.gtm.test A
check "kdig agrees (EDNS, ECS)" contains "^127\.0\.2\.1$" kdig @127.0.1.1 -p "$DNS_PORT" +short +subnet=81.2.69.0/24 www.gtm.test A
check "kdig over TCP" contains "status: NOERROR" kdig @127.0.1.1 -p "$DNS_PORT" +tcp www.gtm.test A
check "BADVERS for EDNS version 1" contains "status: BADVERS" q +edns=1 +noednsneg www.gtm.test A
check "dig's client cookie gets a server cookie (RFC 7873)" contains "; COOKIE: [0-9a-f]{48} \(good\)" q www.gtm.test A
check "HTTP through eu-west's proxy reaches one of its backends" contains "^region=eu-west backend=eu-west-[0-2]$" curl -s --max-time 3 "http://127.0.2.1:$HTTP_PORT/"
check "the backend sees forwarding headers, not hop-by-hop ones" contains "^x-forwarded-for: 127\.0\.0\.1$" "^via: 1\.1 meridian$" "^forwarded: for=127\.0\.0\.1;proto=http$" -- \
    curl -s --max-time 3 -H "Connection: x-secret" -H "x-secret: 1" "http://127.0.2.1:$HTTP_PORT/echo"
check "hop-by-hop headers stay at the proxy" bash -c "! curl -s --max-time 3 -H 'Connection: x-secret' -H 'x-secret: 1' http://127.0.2.1:$HTTP_PORT/echo | grep -qi '^x-secret'"
sticky_backend() { curl -s --max-time 3 -b "$WORK/jar" -c "$WORK/jar" "http://127.0.3.1:$HTTP_PORT/" | sed -n 's/.*backend=//p'; }
first=$(sticky_backend)
check "ap-southeast sets a signed, HttpOnly sticky cookie" contains "#HttpOnly_127\.0\.3\.1.*meridian_backend.$first\.[0-9a-f]{32}$" cat "$WORK/jar"
same=yes; for _ in 1 2 3 4 5 6; do [ "$(sticky_backend)" = "$first" ] || same=no; done
check "the sticky cookie keeps a client on $first" test "$same" = yes
# Chaos: stop an eu-west backend while a client loop runs; every GET must still succeed.
chaos() { curl -s --max-time 3 -X POST "http://127.0.1.1:$STATUS_PORT/demo/backends/eu-west/$1/$2"; }
check "chaos control stops a backend" contains '"running":false' chaos 0 stop
bad=0; ok=0
for i in $(seq 1 60); do
    code=$(curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://127.0.2.1:$HTTP_PORT/")
    if [ "$code" = 200 ]; then ok=$((ok + 1)); else bad=$((bad + 1)); fi
    [ "$i" = 20 ] && chaos 1 stop >/dev/null
    [ "$i" = 40 ] && chaos 1 start >/dev/null
done
check "60 GETs while eu-west backends stop and start: zero failed ($ok ok)" test "$bad" -eq 0
chaos 2 stop >/dev/null; chaos 1 stop >/dev/null
healthz_code() { curl -s -o /dev/null --max-time 3 -w '%{http_code}' "http://127.0.2.1:$STATUS_PORT/healthz"; }
within() { # within SECONDS EXPECTED COMMAND...: the command prints EXPECTED within SECONDS
    local end=$((SECONDS + $1)) expected=$2; shift 2
    while [ $SECONDS -le $end ]; do [ "$("$@")" = "$expected" ] && return 0; sleep 0.1; done
    return 1
}
healthy_backends() { curl -s --max-time 3 "http://127.0.2.1:$STATUS_PORT/healthz" | sed -n 's/.*"healthy_backends":\([0-9]*\).*/\1/p'; }
check "every eu-west backend stopped: its /healthz says 503" within 5 503 healthz_code
check "... and counts no healthy backend within 3 s" within 3 0 healthy_backends
check "the unhealthy /healthz names the reason" contains '"status":"unhealthy"' 'below the 50% threshold' -- curl -s --max-time 3 "http://127.0.2.1:$STATUS_PORT/healthz"
check "its proxy spills to the nearest region, us-east" contains "^region=us-east backend=us-east-[0-2]$" curl -s --max-time 3 "http://127.0.2.1:$HTTP_PORT/"
check "a request spilled already is not spilled again: a clean 503" contains "^503 Service Unavailable$" curl -s --max-time 3 -H "Meridian-Spillover: test" "http://127.0.2.1:$HTTP_PORT/"
chaos 0 start >/dev/null; chaos 1 start >/dev/null; chaos 2 start >/dev/null
check "backends restarted: /healthz back to 200" within 5 200 healthz_code
# /metrics read by the Prometheus project's own parser (prometheus_client): well-formed, and
# the health and proxy families are there (counters lose their _total in its family names).
metrics_parse() {
    curl -s --max-time 3 "http://127.0.1.1:$STATUS_PORT/metrics" | python3 -c '
import sys
from prometheus_client.parser import text_string_to_metric_families
families = list(text_string_to_metric_families(sys.stdin.read()))
names = {family.name for family in families}
need = {"meridian_build_info", "meridian_health_probes", "meridian_health_probe_duration_seconds",
        "meridian_health_region_up", "meridian_health_events", "meridian_proxy_requests",
        "meridian_proxy_request_duration_seconds", "meridian_proxy_spilled",
        "meridian_dns_queries", "meridian_dns_steered_answers", "meridian_dns_answer_duration_seconds"}
missing = sorted(need - names)
samples = [s for f in families for s in f.samples]
# The London queries above were answered with eu-west, over UDP, as A NOERROR.
london = sum(s.value for s in samples if s.name == "meridian_dns_queries_total"
             and s.labels == {"protocol": "udp", "qtype": "A", "rcode": "NOERROR", "region": "eu-west"})
timed = sum(s.value for s in samples if s.name == "meridian_dns_answer_duration_seconds_count")
print(len(names), "families; missing:", missing, "; udp A NOERROR eu-west:", london, "; answers timed:", timed)
sys.exit(1 if missing or london < 2 or timed < london else 0)'
}
check "/metrics parses with prometheus_client: health, proxy and DNS families, DNS queries counted" metrics_parse
grafana_uses_exported() {
    curl -s --max-time 3 "http://127.0.1.1:$STATUS_PORT/metrics" >"$WORK/metrics.txt"
    python3 tools/grafana/check.py --metrics "$WORK/metrics.txt"
}
check "every metric the Grafana dashboard queries is exported by the running node" grafana_uses_exported
# eu-west said it was unhealthy: it gets London back only after a hold-down of healthy
# reports (10 s, as after a down vote), and answers keep the short transition TTL until the
# verdict has settled. The checks below need the settled state.
london_ttl() { q +noall +answer www.gtm.test A +subnet=81.2.69.0/24 | awk 'NR == 1 { print $5, $2 }'; }
check "London back on eu-west after the hold-down, with the full TTL (within 40 s)" within 40 "127.0.2.1 30" london_ttl
# A reload that removes a backend: no request reaches it afterwards, none fails.
cp "$WORK/conf/regions/eu-west.toml" "$WORK/eu-west.toml.orig"
# Drop the [[proxy.backend]] block whose id is eu-west-2 (up to the next blank line).
awk 'prev == "[[proxy.backend]]" && $0 == "id = \"eu-west-2\"" { skip = 1; held = "" }
     { if (held != "") print held; held = "" }
     skip && $0 == "" { skip = 0; next }
     skip { next }
     $0 == "[[proxy.backend]]" { held = $0; prev = $0; next }
     { print; prev = $0 }
     END { if (held != "") print held }' "$WORK/eu-west.toml.orig" >"$WORK/conf/regions/eu-west.toml"
kill -HUP "$DEMO"
total_backends() { curl -s --max-time 3 "http://127.0.2.1:$STATUS_PORT/healthz" | sed -n 's/.*"total_backends":\([0-9]*\).*/\1/p'; }
check "a reload removes eu-west-2 from the proxy" within 5 2 total_backends
removed=0; bad=0
for _ in $(seq 1 30); do
    body=$(curl -s --max-time 3 -w ' %{http_code}' "http://127.0.2.1:$HTTP_PORT/")
    case "$body" in *eu-west-2*) removed=$((removed + 1)) ;; esac
    case "$body" in *' 200') ;; *) bad=$((bad + 1)) ;; esac
done
check "30 GETs after the reload: none on the removed backend, none failed" test "$removed" -eq 0 -a "$bad" -eq 0
cp "$WORK/eu-west.toml.orig" "$WORK/conf/regions/eu-west.toml"
kill -HUP "$DEMO"
check "a reload puts it back" within 5 3 total_backends
check "explain tells the same story" contains "chosen     eu-west" "$BIN" explain --client 81.2.69.142 www.gtm.test
check "explain with a subnet prints the scope the server sends" contains "chosen     eu-west" "ecs scope  /[0-9]+ " -- "$BIN" explain --client 81.2.69.0/24 www.gtm.test
check "explain: a static record does not depend on location (scope 0)" contains "ecs scope  /0 " "$BIN" explain --client 81.2.69.0/24 gtm.test MX

# The status listener and live reload.
check "demo prints every region's status URL" contains "http://127\.0\.1\.1:$STATUS_PORT/healthz" "http://127\.0\.2\.1:$STATUS_PORT/healthz" "http://127\.0\.3\.1:$STATUS_PORT/healthz" -- cat "$WORK/demo.log"
hash=$("$BIN" check-config "$WORK/conf/meridian.toml" --geo-db "$PWD/geo-data/dbip-city-lite-coarse.mmdb" | sed -n 's/^  config hash //p')
check "check-config prints the content hash" test -n "$hash"
check "/healthz answers JSON with the config hash" contains "\"config_hash\":\"$hash\"" "\"region\":\"us-east\"" -- curl -s --max-time 3 "http://127.0.1.1:$STATUS_PORT/healthz"

ttl_of() { q +noall +answer www.gtm.test A +subnet=81.2.69.0/24 | awk '{print $2}' | head -1; }
set_ttl() { sed -i "/^\[answer\]/,/^\[/ s/^ttl = .*/ttl = $1/" "$WORK/conf/meridian.toml"; }
within_a_second() { # within_a_second TTL: the steered answer's TTL becomes TTL within 1 s
    for _ in $(seq 1 10); do
        [ "$(ttl_of)" = "$1" ] && return 0
        sleep 0.1
    done
    echo "TTL is $(ttl_of), expected $1"
    return 1
}
set_ttl 45
kill -HUP "$DEMO"
check "SIGHUP: the new TTL is answered within a second" within_a_second 45
cp "$WORK/conf/meridian.toml" "$WORK/good.toml"
echo "this is not [valid toml" >>"$WORK/conf/meridian.toml"
kill -HUP "$DEMO"
sleep 0.5
check "SIGHUP with a broken config: the old answers continue" test "$(ttl_of)" = 45
check "the refused reload is logged with the file" contains "reload refused.*meridian\.toml" cat "$WORK/demo.log"
cp "$WORK/good.toml" "$WORK/conf/meridian.toml"

# A steady query loop across 20 reloads: every query answered.
(
    answered=0 unanswered=0
    end=$((SECONDS + 30))
    while [ ! -e "$WORK/stop-loop" ] && [ $SECONDS -lt $end ]; do
        if q +short www.gtm.test A +subnet=81.2.69.0/24 | grep -q '^127\.0\.2\.1$'; then
            answered=$((answered + 1))
        else
            unanswered=$((unanswered + 1))
        fi
    done
    echo "$answered $unanswered" >"$WORK/loop.out"
) &
loop=$!
for i in $(seq 1 20); do
    set_ttl $((50 + i))
    kill -HUP "$DEMO"
    sleep 0.15
done
touch "$WORK/stop-loop"
wait "$loop"
read -r answered unanswered <"$WORK/loop.out"
echo "reload loop: $answered answered, $unanswered unanswered"
check "20 reloads under a query loop: zero unanswered ($answered answered)" test "$answered" -gt 20 -a "$unanswered" -eq 0
check "after the reloads the last TTL is answered" within_a_second 70
token=$(sed -n 's/^Admin token of this demo: //p' "$WORK/demo.log")
set_ttl 33
check "meridian reload --node applies the change" contains '"outcome":"applied"' "$BIN" reload --node "http://127.0.1.1:$STATUS_PORT" --token "$token"
refused_without_token() {
    ! env -u MERIDIAN_ADMIN_TOKEN "$BIN" reload --node "http://127.0.1.1:$STATUS_PORT" >"$WORK/reload.out" 2>&1 &&
        grep -q "401" "$WORK/reload.out"
}
check "reload without the token: 401 and a non-zero exit" refused_without_token

# unbound as the recursive resolver in front of Meridian, forwarding the client's subnet.
UNBOUND_PORT=$((DNS_PORT + 1))
cat >"$WORK/unbound.conf" <<CONF
server:
    interface: 127.0.0.1@$UNBOUND_PORT
    port: $UNBOUND_PORT
    do-daemonize: no
    use-syslog: no
    logfile: ""
    verbosity: 1
    username: ""
    chroot: ""
    directory: "$WORK"
    pidfile: "$WORK/unbound.pid"
    do-not-query-localhost: no
    access-control: 127.0.0.0/8 allow
    module-config: "subnetcache iterator"
    send-client-subnet: 127.0.1.1
    client-subnet-always-forward: yes
    max-client-subnet-ipv4: 24
    domain-insecure: "gtm.test"
    local-zone: "gtm.test." transparent
stub-zone:
    name: "gtm.test"
    stub-addr: 127.0.1.1@$DNS_PORT
    stub-first: no
CONF
unbound -c "$WORK/unbound.conf" >"$WORK/unbound.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
    dig @127.0.0.1 -p "$UNBOUND_PORT" +time=1 +tries=1 +short gtm.test SOA >/dev/null 2>&1 && break
    sleep 0.2
done
check "unbound resolves through Meridian" contains "^127\.0\.[123]\.1$" dig @127.0.0.1 -p "$UNBOUND_PORT" +time=3 +tries=1 +short www.gtm.test A
check "unbound forwards the client subnet: London -> eu-west" contains "^127\.0\.2\.1$" dig @127.0.0.1 -p "$UNBOUND_PORT" +time=3 +tries=1 +short www.gtm.test A +subnet=81.2.69.0/24
check "unbound caches by scope: Australia -> ap-southeast" contains "^127\.0\.3\.1$" dig @127.0.0.1 -p "$UNBOUND_PORT" +time=3 +tries=1 +short www.gtm.test A +subnet=1.128.0.0/16
check "unbound passes NXDOMAIN on" contains "status: NXDOMAIN" dig @127.0.0.1 -p "$UNBOUND_PORT" +time=3 +tries=1 nope.gtm.test A

# Clean shutdown on SIGINT: only meaningful if the demo was running until now.
alive=no
kill -0 "$DEMO" 2>/dev/null && alive=yes
kill -INT "$DEMO"
stopped=no
for _ in $(seq 1 50); do
    if ! kill -0 "$DEMO" 2>/dev/null; then stopped=yes; break; fi
    sleep 0.1
done
status=1
[ "$stopped" = yes ] && { wait "$DEMO"; status=$?; }
check "demo stops cleanly on Ctrl-C (was running, exit 0)" test "$started$alive$stopped$status" = yesyesyes0

# One region's node as a service runs it: `meridian run`, JSON logs, SIGHUP, SIGTERM.
RUN_DNS=127.0.0.1:$((DNS_PORT + 10))
RUN_STATUS=127.0.0.1:$((STATUS_PORT + 10))
"$BIN" run --config "$WORK/conf/meridian.toml" --geo-db "$PWD/geo-data/dbip-city-lite-coarse.mmdb" --region eu-west \
    --dns-listen "$RUN_DNS" --http-listen "127.0.0.1:$((HTTP_PORT + 10))" --status-listen "$RUN_STATUS" \
    --node-name e2e-node --log-format json >"$WORK/run.log" 2>&1 &
RUN=$!
pids+=($RUN)
run_started=no
for _ in $(seq 1 50); do
    if curl -s --max-time 1 "http://$RUN_STATUS/healthz" | grep -q '"node":"e2e-node"'; then run_started=yes; break; fi
    sleep 0.2
done
check "meridian run: /healthz names the node and region" test "$run_started" = yes
check "meridian run: the start line is JSON with the config hash and listeners" contains '^\{.*"message":"node starting".*"config_hash":"[0-9a-f]{12}".*"dns":"\[127\.0\.0\.1:' cat "$WORK/run.log"
set_ttl 24
kill -HUP "$RUN"
run_ttl() { dig @127.0.0.1 -p "${RUN_DNS##*:}" +time=2 +tries=1 +noall +answer www.gtm.test A +subnet=81.2.69.0/24 | awk '{print $2}' | head -1; }
run_reloaded() {
    for _ in $(seq 1 10); do
        [ "$(run_ttl)" = 24 ] && return 0
        sleep 0.1
    done
    echo "TTL is $(run_ttl)"
    return 1
}
check "meridian run: SIGHUP reloads within a second" run_reloaded
check "meridian run: the reload is logged as JSON" contains '"message":"reload applied".*"trigger":"SIGHUP"|"trigger":"SIGHUP".*"message":"reload applied"' cat "$WORK/run.log"
kill -TERM "$RUN"
run_status=timeout
for _ in $(seq 1 50); do
    if ! kill -0 "$RUN" 2>/dev/null; then wait "$RUN"; run_status=$?; break; fi
    sleep 0.1
done
check "meridian run: SIGTERM stops it with exit 0" test "$run_started$run_status" = yes0

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
