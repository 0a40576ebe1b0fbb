#!/usr/bin/env bash
# Cross-region failover end-to-end: three `meridian run` nodes (us-east, eu-west,
# ap-southeast) in a network namespace of their own, from a copy of the shipped config, with
# real backends, real process kills and real partitions (iptables). Kill trials time how
# long the surviving name servers take to move a London client off a killed eu-west; a
# partition between two nodes must cause no false failover; an isolated node keeps its last
# view; a drain survives a restart; a London client that resolves and fetches in a loop while
# every eu-west backend dies sees no failure (proxy spillover, then DNS). Prints
# `failover: N passed, M failed`.
#
# Needs root (ip netns, iptables). Timing goals are printed and compared, never asserted: only
# a trial that does not move within its bound fails. FAILOVER_TRIALS=N changes the number of
# kill trials (10), FAILOVER_PARTITION_SECONDS the partition's length (30), FAILOVER_KEEP=1
# keeps the nodes' logs and state folder.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BIN=$(realpath "${1:-${CARGO_TARGET_DIR:-target}/release/meridian}")
GEO_DB=$PWD/geo-data/dbip-city-lite-coarse.mmdb
TRIALS=${FAILOVER_TRIALS:-10}
# How long a kill trial may take to move both name servers, and the partition's length.
MOVE_BOUND_MS=15000
PARTITION_SECONDS=${FAILOVER_PARTITION_SECONDS:-30}
ISOLATION_SECONDS=20
NS=meridian-fo-$$
TOKEN=failover-admin-token-$$-0123456789
# While eu-west is down, London's clients spill over the next two regions (us-east and
# ap-southeast) by a hash of their subnet: the same one from every name server.
LONDON=81.2.69.0/24       # steered to eu-west (127.0.2.1) while it is up
US=216.160.83.0/24        # steered to us-east (127.0.1.1)
AUSTRALIA=1.128.0.0/16    # steered to ap-southeast (127.0.3.1)
declare -A ADDR=([us-east]=127.0.1.1 [eu-west]=127.0.2.1 [ap-southeast]=127.0.3.1)
REGIONS=(us-east eu-west ap-southeast)
passed=0
failed=0
pids=()
declare -A NODE_PID
START=$SECONDS

if [ ! -x "$BIN" ]; then
    echo "failover: no binary at $BIN"
    echo "failover: 0 passed, 1 failed"
    exit 1
fi
# Not skipped without root: a run that cannot test failover says so and fails.
if [ "$(id -u)" -ne 0 ]; then
    echo "failover: needs root (ip netns, iptables); run it as root, as CI does"
    echo "failover: 0 passed, 1 failed"
    exit 1
fi
missing=()
command -v ip >/dev/null || missing+=(iproute2)
command -v iptables >/dev/null || missing+=(iptables)
command -v dig >/dev/null || missing+=(dnsutils)
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

WORK=$(mktemp -d)
cleanup() {
    local pid
    for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null; done
    for _ in $(seq 1 30); do
        local alive=no
        for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=yes; done
        [ "$alive" = no ] && break
        sleep 0.1
    done
    for pid in "${pids[@]}"; do kill -KILL "$pid" 2>/dev/null; done
    # Everything in the namespace was started here; nothing may outlive it.
    for pid in $(ip netns pids "$NS" 2>/dev/null); do kill -KILL "$pid" 2>/dev/null; done
    wait 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    if [ -n "${FAILOVER_KEEP:-}" ]; then echo "failover: logs and state kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# forget PID: a process reaped here leaves the list, so the cleanup can never signal whatever
# process reuses its id later.
forget() {
    local keep=() pid
    for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || keep+=("$pid"); done
    pids=("${keep[@]}")
}
stage() { printf '\n[%s +%3ds] %s\n' "$(date +%H:%M:%S)" $((SECONDS - START)) "$*"; }
pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { # fail NAME [DETAIL...]
    failed=$((failed + 1))
    echo "FAIL  $1"
    shift
    local line
    for line in "$@"; do echo "      $line"; done
}
check() { # check NAME COMMAND...: passes when the command succeeds
    local name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        # A bounded wait says how long it took.
        pass "$name$(sed -n '1s/^took \(.*\)/ (took \1)/p' "$WORK/out")"
    else
        fail "$name"
        sed 's/^/      /' "$WORK/out" | head -20
    fi
}
summary() {
    echo "failover: $passed passed, $failed failed"
    if [ "$failed" -ne 0 ]; then
        local region
        for region in "${REGIONS[@]}"; do
            [ -f "$WORK/$region.log" ] || continue
            echo "--- last lines of the $region node's log"
            tail -15 "$WORK/$region.log"
        done
    fi
}
fatal() { # fatal NAME: a failure that leaves nothing sensible to test afterwards
    fail "$@"
    echo "failover: stopping here"
    summary
    exit 1
}

in_ns() { ip netns exec "$NS" "$@"; }
now_ms() { local t=$EPOCHREALTIME; echo $((${t/[.,]/} / 1000)); }
seconds_of() { awk -v ms="$1" 'BEGIN { printf "%.2f", ms / 1000 }'; }
# ask SERVER SUBNET: the first address SERVER answers for www.gtm.test A with that ECS
# subnet, or "none" (no answer, or an empty one).
ask() {
    local answer
    # Only address lines: dig +short prints its errors (";; communications error ...") too.
    answer=$(in_ns dig +short +time=1 +tries=1 @"$1" -p 1053 www.gtm.test A +subnet="$2" 2>/dev/null |
        grep -E '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' | head -1)
    echo "${answer:-none}"
}
# api NODE EXPR: EXPR evaluated in Python over NODE's GET /api/v1/regions, with `doc` the
# document and `r` its regions by name; prints "error" when the node does not answer or the
# expression does not apply (a region without a probe yet, say).
api() {
    local body
    body=$(in_ns curl -s --max-time 2 "http://$1:8053/api/v1/regions" 2>/dev/null)
    python3 -c 'import json, sys
try:
    doc = json.loads(sys.argv[2])
    r = {x["name"]: x for x in doc["regions"]}
    print(eval(sys.argv[1]))
except Exception:
    print("error")' "$2" "$body"
}
# events NODE SINCE_MS: NODE's verdict and isolation events since SINCE_MS (wall clock), one a
# line with its time after SINCE_MS, to show why an answer moved.
events() {
    local body
    body=$(in_ns curl -s --max-time 2 "http://$1:8053/api/v1/events" 2>/dev/null)
    python3 -c 'import json, sys
since = int(sys.argv[2])
try:
    events = json.loads(sys.argv[1])["events"]
except Exception:
    print("(no events: the node did not answer)"); sys.exit()
for e in events:
    if e["at_unix_ms"] >= since and e["kind"] in ("verdict", "isolation"):
        print("+{:.2f} s  {} {}: {} -> {} ({})".format(
            (e["at_unix_ms"] - since) / 1000, e["kind"], e["region"], e["from"], e["to"], e["reason"]))' "$body" "$2"
}
# note COUNT MESSAGE: prints the first three of a kind of message, not a flood of them.
note() { [ "$1" -le 3 ] && echo "      $2"; return 0; }
# within SECONDS COMMAND...: the command succeeds within SECONDS (polled every 0.2 s);
# prints how long that took.
within() {
    local bound=$1 started
    shift
    started=$(now_ms)
    while [ $(($(now_ms) - started)) -le $((bound * 1000)) ]; do
        if "$@" >/dev/null 2>&1; then
            echo "took $(seconds_of $(($(now_ms) - started))) s"
            return 0
        fi
        sleep 0.2
    done
    echo "not within $bound s; last try:"
    "$@" 2>&1 | head -10
    return 1
}
all_answer() { # all_answer SUBNET ADDRESS: every name server answers ADDRESS
    local region
    for region in "${REGIONS[@]}"; do
        [ "$(ask "${ADDR[$region]}" "$1")" = "$2" ] || { echo "${ADDR[$region]} answers $(ask "${ADDR[$region]}" "$1")"; return 1; }
    done
}
none_answer() { # none_answer SUBNET ADDRESS: every name server answers, none of them ADDRESS
    local region answer
    for region in "${REGIONS[@]}"; do
        answer=$(ask "${ADDR[$region]}" "$1")
        if [ "$answer" = none ] || [ "$answer" = "$2" ]; then
            echo "${ADDR[$region]} answers $answer"
            return 1
        fi
    done
}
# settled: every node sees every region up, by its own probe and by the verdict, none in
# transition, and is not isolated; and every name server steers London to eu-west. Trials
# start from here: while a region is in transition every node probes at the fast pace,
# which would flatter the next failover's time.
settled() {
    local region verdict
    for region in "${REGIONS[@]}"; do
        verdict=$(api "${ADDR[$region]}" 'not doc["isolated"] and all(x["up"] and not x["in_transition"] and x["probe"] is not None and x["probe"]["status"] == "up" for x in doc["regions"])')
        [ "$verdict" = True ] || { echo "$region: not settled ($verdict)"; return 1; }
    done
    all_answer "$LONDON" 127.0.2.1
}
answers() { # answers SERVER SUBNET ADDRESS: SERVER answers ADDRESS (says what it answered)
    local answer
    answer=$(ask "$1" "$2")
    echo "$1 answers $2 with $answer"
    [ "$answer" = "$3" ]
}
# tally SERVER SUBNET HEALTHY COUNTER WHAT: asks SERVER and counts the answer in `answers`;
# no answer counts in `unanswered`, an answer other than HEALTHY in the global named COUNTER
# (the first three noted as "WHAT at +N s: ...").
tally() {
    local answer
    answer=$(ask "$1" "$2")
    answers=$((answers + 1))
    if [ "$answer" = none ]; then
        unanswered=$((unanswered + 1))
    elif [ "$answer" != "$3" ]; then
        printf -v "$4" '%d' $((${!4} + 1))
        note "${!4}" "$5 at +$((SECONDS - START)) s: $1 answers $2 with $answer"
    fi
}
node_answers() { [ "$(ask "${ADDR[$1]}" "$AUSTRALIA")" != none ]; }

start_node() { # start_node REGION: starts its node and waits (bounded) until it answers DNS
    local region=$1
    if node_answers "$region"; then
        echo "      something still answers DNS on ${ADDR[$region]}"
        return 1
    fi
    # Not through in_ns: `ip netns exec` execs the node, so $! is the node itself, for kill.
    ip netns exec "$NS" "$BIN" run --config "$WORK/conf/meridian.toml" --geo-db "$GEO_DB" \
        --region "$region" --node-name "fo-$region" --udp-sockets 1 --http-workers 1 \
        >>"$WORK/$region.log" 2>&1 &
    NODE_PID[$region]=$!
    pids+=("$!")
    for _ in $(seq 1 100); do
        if ! kill -0 "${NODE_PID[$region]}" 2>/dev/null; then
            wait "${NODE_PID[$region]}" 2>/dev/null
            forget "${NODE_PID[$region]}"
            return 1
        fi
        node_answers "$region" && return 0
        sleep 0.1
    done
    return 1
}
stop_node() { # stop_node REGION SIGNAL
    local pid=${NODE_PID[$1]}
    kill "-$2" "$pid" 2>/dev/null
    for _ in $(seq 1 100); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
    forget "$pid"
}
# cut A B / heal A B: drop everything between two nodes' addresses, both ways, on INPUT
# (by source and destination: a local OUTPUT drop fails sendto with EPERM at once, which is
# not what a lost packet looks like).
cut() {
    in_ns iptables -w -A INPUT -s "${ADDR[$1]}" -d "${ADDR[$2]}" -j DROP &&
        in_ns iptables -w -A INPUT -s "${ADDR[$2]}" -d "${ADDR[$1]}" -j DROP
}
heal() {
    in_ns iptables -w -D INPUT -s "${ADDR[$1]}" -d "${ADDR[$2]}" -j DROP
    in_ns iptables -w -D INPUT -s "${ADDR[$2]}" -d "${ADDR[$1]}" -j DROP
}

stage "setup: namespace $NS, binary $BIN"
if ! ip netns add "$NS"; then
    fatal "ip netns add $NS (needs root and network namespaces)"
fi
in_ns ip link set lo up || fatal "bring up lo in $NS"
check "iptables works inside the namespace" in_ns iptables -w -S INPUT

# The nodes run on a copy of the shipped config, so that their [health] state_dir (and the
# operator state files in it) lives in the temporary folder. The admin token comes from the
# environment, where the README says it belongs.
mkdir -p "$WORK/conf"
cp -r meridian.toml regions "$WORK/conf/"
export MERIDIAN_ADMIN_TOKEN=$TOKEN
# Real backends, not a stripped [proxy]: each region's proxy sends to 127.0.X.1:9000-9002,
# and a region with no backend reports itself unhealthy (503), which would take every region
# down. One small Python server per address and port, all in one process in the namespace.
cat >"$WORK/backends.py" <<'PY'
import http.server, sys, threading

class Backend(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        host, port = self.server.server_address[:2]
        body = f"backend {host}:{port}\n".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

for address in sys.argv[1:]:
    for port in (9000, 9001, 9002):
        server = http.server.ThreadingHTTPServer((address, port), Backend)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
print("backends ready", flush=True)
threading.Event().wait()
PY
# One process per region, so that a region's backends can die together (the client stage).
declare -A BACKEND_PID
start_backends() { # start_backends REGION
    : >"$WORK/backends-$1.log"
    ip netns exec "$NS" python3 "$WORK/backends.py" "${ADDR[$1]}" >"$WORK/backends-$1.log" 2>&1 &
    BACKEND_PID[$1]=$!
    pids+=("$!")
}
backends_ready() { # backends_ready REGION...
    local region
    for region in "$@"; do grep -q "backends ready" "$WORK/backends-$region.log" || return 1; done
}
for region in "${REGIONS[@]}"; do start_backends "$region"; done
check "nine backends listen on 127.0.X.1:9000-9002" within 10 backends_ready "${REGIONS[@]}"

for region in "${REGIONS[@]}"; do
    start_node "$region" || fatal "the $region node starts and answers DNS within 10 s"
done
pass "three nodes started: us-east 127.0.1.1, eu-west 127.0.2.1, ap-southeast 127.0.3.1"
region_healthy() { in_ns curl -sf --max-time 2 "http://$1:8053/healthz" >/dev/null; }
for region in "${REGIONS[@]}"; do
    check "$region reports itself healthy (its backends answer)" within 15 region_healthy "${ADDR[$region]}"
done
check "every node sees every region up and London steered to eu-west" within 30 settled
three_votes() {
    local region
    for region in "${REGIONS[@]}"; do
        [ "$(api "${ADDR[$region]}" 'all(len(x["votes"]) == 3 for x in doc["regions"])')" = True ] || return 1
    done
}
check "gossip works: every node counts three votes for every region" within 10 three_votes
check "a US client is steered to us-east" all_answer "$US" 127.0.1.1
check "an Australian client is steered to ap-southeast" all_answer "$AUSTRALIA" 127.0.3.1

# --- Kill trials -----------------------------------------------------------------------
stage "kill trials: SIGKILL eu-west, time until us-east and ap-southeast both move London ($TRIALS trials)"
times=()
short_ttls=0
for trial in $(seq 1 "$TRIALS"); do
    if ! within 40 settled >"$WORK/out"; then
        fail "trial $trial: settled before the kill" "$(cat "$WORK/out")"
        break
    fi
    killed=$(now_ms)
    kill -KILL "${NODE_PID[eu-west]}"
    wait "${NODE_PID[eu-west]}" 2>/dev/null
    forget "${NODE_PID[eu-west]}"
    moved=""
    rounds=0
    while [ $(($(now_ms) - killed)) -le "$MOVE_BOUND_MS" ] && [ "$rounds" -lt 1000 ]; do
        rounds=$((rounds + 1))
        east=$(ask 127.0.1.1 "$LONDON")
        south=$(ask 127.0.3.1 "$LONDON")
        case "$east,$south" in
        127.0.2.1,* | *,127.0.2.1 | none,* | *,none) sleep 0.05 ;;
        *) moved=$(($(now_ms) - killed)); break ;;
        esac
    done
    if [ -n "$moved" ]; then
        times+=("$moved")
        line="trial $trial: kill -> answers moved in $(seconds_of "$moved") s (us-east says $east, ap-southeast says $south)"
        case "$east" in
        "$south") pass "$line" ;;
        *) fail "$line: the two name servers disagree" ;;
        esac
        # The answer that skips a region in transition lives [answer] transition_ttl (5 s).
        ttl=$(in_ns dig +noall +answer +time=1 +tries=1 @127.0.1.1 -p 1053 www.gtm.test A +subnet="$LONDON" | awk '{ print $2; exit }')
        [ "$ttl" = 5 ] && short_ttls=$((short_ttls + 1))
    else
        fail "trial $trial: answers did not move within $(seconds_of "$MOVE_BOUND_MS") s" "us-east says $east, ap-southeast says $south"
        events 127.0.1.1 "$killed" | sed 's/^/        us-east: /'
    fi
    restarted=$(now_ms)
    if ! start_node eu-west; then
        fail "trial $trial: eu-west restarts and answers DNS within 10 s"
        break
    fi
    if within 40 all_answer "$LONDON" 127.0.2.1 >"$WORK/out"; then
        pass "trial $trial: eu-west restarted; all three answer eu-west again $(seconds_of $(($(now_ms) - restarted))) s after the restart"
    else
        fail "trial $trial: all three answer eu-west again within 40 s of the restart" "$(cat "$WORK/out")"
        break
    fi
done
if ((${#times[@]})); then
    read -r median p99 < <(printf '%s\n' "${times[@]}" | sort -n | awk '
        { v[NR] = $1 }
        END {
            n = NR
            median = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
            rank = int(0.99 * n); if (rank < 0.99 * n) rank++   # nearest rank
            printf "%.1f %.1f\n", median / 1000, v[rank] / 1000
        }')
    echo "failover: trial times (s): $(for t in "${times[@]}"; do printf '%s ' "$(seconds_of "$t")"; done)"
    echo "failover: kill -> answers moved: median $median s, p99 $p99 s (${#times[@]} trials)"
    goal() { awk -v v="$1" -v g="$2" 'BEGIN { print (v <= g) ? "met" : "MISSED" }'; }
    echo "failover: goals (reported, not asserted): median <= 3 s $(goal "$median" 3), p99 <= 5 s $(goal "$p99" 5)"
fi
check "all $TRIALS kill trials completed" test "${#times[@]}" -eq "$TRIALS"
check "the moved answers carry the transition TTL, 5 s ($short_ttls of ${#times[@]} trials)" test "$short_ttls" -eq "${#times[@]}"

# --- Partition between us-east and eu-west ----------------------------------------------
stage "partition: us-east <-> eu-west dropped for $PARTITION_SECONDS s, ap-southeast sees both"
check "settled before the partition" within 40 settled
cut_at=$(now_ms)
if cut us-east eu-west; then
    pass "partition rules in place"
    answers=0 false_failovers=0 unanswered=0 samples=0 east_saw_down=0 west_saw_down=0 verdict_down=0 api_errors=0
    partition_end=$((SECONDS + PARTITION_SECONDS))
    last_sample=0
    while [ $SECONDS -lt $partition_end ]; do
        for region in "${REGIONS[@]}"; do
            for pair in "$LONDON 127.0.2.1" "$US 127.0.1.1"; do
                read -r subnet healthy <<<"$pair"
                tally "${ADDR[$region]}" "$subnet" "$healthy" false_failovers "false failover ($region)"
            done
        done
        # About once a second: what us-east and eu-west say of each other.
        if [ $(($(now_ms) - last_sample)) -ge 1000 ]; then
            last_sample=$(now_ms)
            samples=$((samples + 1))
            read -r probe up < <(api 127.0.1.1 'r["eu-west"]["probe"]["status"] + " " + str(r["eu-west"]["up"])')
            case "$probe $up" in
            error*) api_errors=$((api_errors + 1)) ;;
            *)
                [ "$probe" = down ] && east_saw_down=$((east_saw_down + 1))
                [ "$up" = True ] || verdict_down=$((verdict_down + 1))
                ;;
            esac
            read -r probe up < <(api 127.0.2.1 'r["us-east"]["probe"]["status"] + " " + str(r["us-east"]["up"])')
            case "$probe $up" in
            error*) api_errors=$((api_errors + 1)) ;;
            *)
                [ "$probe" = down ] && west_saw_down=$((west_saw_down + 1))
                [ "$up" = True ] || verdict_down=$((verdict_down + 1))
                ;;
            esac
        fi
        sleep 0.2
    done
    heal us-east eu-west
    echo "failover: partition: $false_failovers false failovers in $answers answers ($unanswered unanswered) over $PARTITION_SECONDS s"
    check "partition: zero false failovers ($answers answers)" test "$false_failovers" -eq 0
    if [ "$false_failovers" -ne 0 ]; then
        for region in "${REGIONS[@]}"; do
            echo "      $region's verdicts since the partition:"
            events "${ADDR[$region]}" "$cut_at" | sed 's/^/        /'
        done
    fi
    check "partition: every query answered" test "$unanswered" -eq 0
    check "partition: us-east's own probe of eu-west went down ($east_saw_down of $samples samples)" test "$east_saw_down" -gt 0
    check "partition: eu-west's own probe of us-east went down ($west_saw_down of $samples samples)" test "$west_saw_down" -gt 0
    check "partition: their verdicts of each other stayed up ($samples samples each)" test "$verdict_down" -eq 0 -a "$samples" -gt 0
    check "partition: their APIs answered every sample" test "$api_errors" -eq 0
else
    fail "partition rules in place"
fi
check "partition healed: everything up and settled again" within 40 settled

# --- Isolation of ap-southeast ------------------------------------------------------------
stage "isolation: ap-southeast cut from both others for $ISOLATION_SECONDS s"
cut_at=$(now_ms)
if cut ap-southeast us-east && cut ap-southeast eu-west; then
    pass "isolation rules in place"
    flips=0 others_flips=0 unanswered=0 answers=0 own_answers=0
    isolated_seen=no down_at_east=no down_at_west=no australia_moved=no
    isolation_end=$((SECONDS + ISOLATION_SECONDS))
    while [ $SECONDS -lt $isolation_end ]; do
        for pair in "$LONDON 127.0.2.1" "$US 127.0.1.1" "$AUSTRALIA 127.0.3.1"; do
            read -r subnet healthy <<<"$pair"
            own_answers=$((own_answers + 1))
            tally 127.0.3.1 "$subnet" "$healthy" flips "ap-southeast flipped"
        done
        for region in us-east eu-west; do
            for pair in "$LONDON 127.0.2.1" "$US 127.0.1.1"; do
                read -r subnet healthy <<<"$pair"
                tally "${ADDR[$region]}" "$subnet" "$healthy" others_flips "$region flipped"
            done
        done
        [ "$(api 127.0.3.1 'doc["isolated"]')" = True ] && isolated_seen=yes
        [ "$(api 127.0.1.1 'r["ap-southeast"]["up"]')" = False ] && down_at_east=yes
        [ "$(api 127.0.2.1 'r["ap-southeast"]["up"]')" = False ] && down_at_west=yes
        if [ "$australia_moved" = no ]; then
            east=$(ask 127.0.1.1 "$AUSTRALIA")
            west=$(ask 127.0.2.1 "$AUSTRALIA")
            case "$east,$west" in
            127.0.3.1,* | *,127.0.3.1 | none,* | *,none) ;;
            *) australia_moved=yes ;;
            esac
        fi
        sleep 0.2
    done
    # Still isolated at the end, not just for a moment.
    check "isolation: ap-southeast's /api/v1/regions says \"isolated\": true" test "$isolated_seen$(api 127.0.3.1 'doc["isolated"]')" = yesTrue
    check "isolation: ap-southeast's answers did not flip (London, US, Australia: $flips of $own_answers answers flipped)" test "$flips" -eq 0
    if [ "$flips" -ne 0 ]; then
        echo "      ap-southeast's verdicts since the cut:"
        events 127.0.3.1 "$cut_at" | sed 's/^/        /'
    fi
    check "isolation: us-east and eu-west kept London and US where they were ($others_flips of $((answers - own_answers)) answers moved)" test "$others_flips" -eq 0
    check "isolation: every query answered" test "$unanswered" -eq 0
    check "isolation: us-east marks ap-southeast down" test "$down_at_east" = yes
    check "isolation: eu-west marks ap-southeast down" test "$down_at_west" = yes
    check "isolation: us-east and eu-west move the Australian client off ap-southeast" test "$australia_moved" = yes
    heal ap-southeast us-east
    heal ap-southeast eu-west
else
    fail "isolation rules in place"
fi
not_isolated() { [ "$(api 127.0.3.1 'doc["isolated"]')" = False ]; }
check "isolation healed: ap-southeast is no longer isolated" within 20 not_isolated
check "isolation healed: the Australian client is back on ap-southeast everywhere" within 40 all_answer "$AUSTRALIA" 127.0.3.1
check "isolation healed: everything up and settled again" within 40 settled

# --- Drain, across a restart --------------------------------------------------------------
stage "drain: eu-west drained through us-east, kept across a restart, undrained through ap-southeast"
operator_of() { # operator_of NODE REGION: that node's operator state of REGION
    api "$1" "(r[\"$2\"][\"operator\"] or {}).get(\"state\", \"none\")"
}
drain_output=$(in_ns "$BIN" region drain eu-west --node http://127.0.1.1:8053 --token "$TOKEN" 2>&1)
drain_status=$?
echo "      $drain_output"
check "meridian region drain eu-west --node http://127.0.1.1:8053: exit 0, drained" \
    test "$drain_status" = 0 -a -n "$(grep -o '"state":"drained"' <<<"$drain_output")"
check "drain: no name server answers London with eu-west" within 10 none_answer "$LONDON" 127.0.2.1
check "drain: the US client stays on us-east" all_answer "$US" 127.0.1.1
drained_everywhere() {
    local region
    for region in "${REGIONS[@]}"; do [ "$(operator_of "${ADDR[$region]}" eu-west)" = drained ] || return 1; done
}
check "drain: every node's API says eu-west is drained" within 10 drained_everywhere
state_file=$WORK/conf/state/operator-eu-west.json
state_says() { # state_says STATE: the state file holds STATE for eu-west (prints the file)
    cat "$state_file"
    python3 -c 'import json, sys
regions = json.load(open(sys.argv[1]))["regions"]
sys.exit(regions.get("eu-west", {}).get("state") != sys.argv[2])' "$state_file" "$1"
}
check "drain: eu-west's node saved it in its state file" within 10 state_says drained
# Restart eu-west cut off from both others, so what it knows of the drain can only come from
# its state file, not from gossip.
stop_node eu-west TERM
if cut eu-west us-east && cut eu-west ap-southeast; then
    # Every answer eu-west gives London from its first one on (a loop started before it is).
    watch=$WORK/restart-answers
    (
        end=$((SECONDS + 20))
        while [ ! -e "$watch.stop" ] && [ $SECONDS -lt $end ]; do ask 127.0.2.1 "$LONDON" >>"$watch"; done
    ) &
    watcher=$!
    pids+=("$watcher")
    restarted=$(now_ms)
    if start_node eu-west; then
        sleep 1
        touch "$watch.stop"
        wait "$watcher"
        forget "$watcher"
        pass "drain: eu-west restarted, cut off from the other nodes"
        never_itself() { # prints what it answered, by count
            grep -v '^none$' "$watch" | sort | uniq -c
            grep -q -v '^none$' "$watch" && ! grep -qx 127.0.2.1 "$watch"
        }
        check "drain: from its first answer on, the restarted eu-west never steered London to itself ($(grep -vc '^none$' "$watch") answers)" never_itself
        check "drain: the restarted eu-west read the drain back (its API)" test "$(operator_of 127.0.2.1 eu-west)" = drained
        # us-east, connected and seeing eu-west drained, gives the answer to expect.
        elsewhere=$(ask 127.0.1.1 "$LONDON")
        check "drain: us-east answers London with another region ($elsewhere)" test "$elsewhere" != none -a "$elsewhere" != 127.0.2.1
        check "drain: the restarted eu-west answers London as us-east does, not with itself" answers 127.0.2.1 "$LONDON" "$elsewhere"
        # By now it has found itself isolated: it keeps the view it started with (the drain
        # applied, every other region up) rather than deciding alone that a region it cannot
        # reach is down.
        sleep 3
        check "drain: ... and 3 s later, isolated, still" answers 127.0.2.1 "$LONDON" "$elsewhere"
        check "drain: the isolated eu-west still answers US clients with us-east" answers 127.0.2.1 "$US" 127.0.1.1
        check "drain: the isolated eu-west still answers Australian clients with ap-southeast" answers 127.0.2.1 "$AUSTRALIA" 127.0.3.1
        check "drain: the restarted eu-west says \"isolated\": true" test "$(api 127.0.2.1 'doc["isolated"]')" = True
        if [ "$(ask 127.0.2.1 "$US")$(ask 127.0.2.1 "$AUSTRALIA")" != 127.0.1.1127.0.3.1 ]; then
            echo "      eu-west's verdicts since its restart:"
            events 127.0.2.1 "$restarted" | sed 's/^/        /'
        fi
    else
        touch "$watch.stop"
        wait "$watcher"
        forget "$watcher"
        fail "drain: eu-west restarts and answers DNS within 10 s"
    fi
    heal eu-west us-east
    heal eu-west ap-southeast
else
    fail "drain: rules cutting eu-west off in place"
fi
undrain_output=$(in_ns "$BIN" region undrain eu-west --node http://127.0.3.1:8053 --token "$TOKEN" 2>&1)
undrain_status=$?
echo "      $undrain_output"
check "meridian region undrain eu-west --node http://127.0.3.1:8053: exit 0" \
    test "$undrain_status" = 0 -a -n "$(grep -o '"state":"none"' <<<"$undrain_output")"
check "undrain: every name server answers London with eu-west again" within 40 all_answer "$LONDON" 127.0.2.1
check "undrain: eu-west's node saved it in its state file" within 10 state_says none
check "undrain: everything up and settled again" within 40 settled

# --- Client-visible: a region's backends die under a client --------------------------------
stage "client: a London client resolves through Meridian and fetches through the proxy it is sent to while every eu-west backend dies"
check "settled before the client loop" within 40 settled
CLIENT_LOG=$WORK/client.log
# One line per request: ms since the start, the name server asked, the address it answered,
# then the backend that answered and the status (or "dns" when no answer came). Bounded: 600
# requests or 20 s, whichever comes first.
client_loop() {
    local i=0 started ns ip reply
    started=$(now_ms)
    while [ "$i" -lt 600 ] && [ $(($(now_ms) - started)) -lt 20000 ]; do
        ns=${ADDR[${REGIONS[$((i % 3))]}]}
        ip=$(ask "$ns" "$LONDON")
        if [ "$ip" = none ]; then
            reply="- dns"
        else
            reply=$(in_ns curl -s --max-time 3 -w ' %{http_code}' "http://$ip:8080/" 2>/dev/null | tr -d '\n' | sed 's/^backend //')
        fi
        echo "$(($(now_ms) - started)) $ns $ip $reply" >>"$CLIENT_LOG"
        i=$((i + 1))
    done
}
: >"$CLIENT_LOG"
client_loop &
client_pid=$!
pids+=("$client_pid")
sleep 4
# Every eu-west backend at once, as a crash of the region's application would.
kill -KILL "${BACKEND_PID[eu-west]}" 2>/dev/null
wait "${BACKEND_PID[eu-west]}" 2>/dev/null
forget "${BACKEND_PID[eu-west]}"
killed_at=$(awk 'END { print $1 }' "$CLIENT_LOG")
wait "$client_pid"
forget "$client_pid"
read -r requests failures spilled moved last_answer < <(awk -v killed="${killed_at:-0}" '
    { n++ }
    $NF != "200" { bad++ }
    # Sent to eu-west by DNS, served by another region: spillover carried it.
    $3 == "127.0.2.1" && $NF == "200" && index($4, "127.0.2.1:") != 1 { spilled++ }
    $1 > killed && $3 != "127.0.2.1" && $3 != "none" { moved++ }
    { last = $3 }
    END { printf "%d %d %d %d %s\n", n, bad, spilled, moved, last }' "$CLIENT_LOG")
echo "      $requests requests; every eu-west backend killed after ${killed_at:-?} ms; $failures failed; $spilled answered eu-west by DNS and served by another region's backends; $moved sent elsewhere by DNS after the kill"
first_moved=$(awk -v killed="${killed_at:-0}" '$1 > killed && $3 != "127.0.2.1" && $3 != "none" { print $1 - killed; exit }' "$CLIENT_LOG")
[ -n "$first_moved" ] && echo "      DNS sent London elsewhere $(seconds_of "$first_moved") s after the kill"
check "client: the loop ran (at least 100 requests)" test "${requests:-0}" -ge 100
check "client: 0 of $requests requests failed while eu-west's backends died" test "${failures:-1}" -eq 0
if [ "${failures:-1}" -ne 0 ]; then grep -v ' 200$' "$CLIENT_LOG" | head -5 | sed 's/^/      /'; fi
check "client: spillover carried the requests DNS still sent to eu-west ($spilled)" test "${spilled:-0}" -gt 0
check "client: DNS moved London off eu-west (last answer $last_answer)" test "${moved:-0}" -gt 0 -a "$last_answer" != 127.0.2.1
start_backends eu-west
check "client: eu-west's backends are back" within 10 backends_ready eu-west
check "client: London is back on eu-west once its hold-down is over" within 40 all_answer "$LONDON" 127.0.2.1
check "client: everything up and settled again" within 60 settled

stage "done"
summary
[ "$failed" -eq 0 ]
