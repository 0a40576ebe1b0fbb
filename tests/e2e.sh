#!/usr/bin/env bash
# End-to-end checks with real clients against the real binary: `meridian demo` on loopback
# from the shipped config and embedded database, queried with dig, kdig, curl, and through
# unbound as a recursive resolver (with ECS forwarding). Prints `e2e: N passed, M failed`.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-target/release/meridian}
DNS_PORT=${E2E_DNS_PORT:-15353}
HTTP_PORT=${E2E_HTTP_PORT:-18080}
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

"$BIN" demo --dns-port "$DNS_PORT" --http-port "$HTTP_PORT" >"$WORK/demo.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 50); do
    q +short gtm.test SOA >/dev/null 2>&1 && break
    sleep 0.2
done

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
check "HTTP page names its region" contains "region=eu-west" curl -s --max-time 3 "http://127.0.2.1:$HTTP_PORT/"
check "explain tells the same story" contains "chosen     eu-west" "$BIN" explain --client 81.2.69.142 www.gtm.test

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

# Clean shutdown on SIGINT.
kill -INT "${pids[0]}"
stopped=no
for _ in $(seq 1 50); do
    if ! kill -0 "${pids[0]}" 2>/dev/null; then stopped=yes; break; fi
    sleep 0.1
done
check "demo stops cleanly on Ctrl-C" test "$stopped" = yes

echo "e2e: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
