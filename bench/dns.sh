#!/usr/bin/env bash
# bench/dns.sh - interleaved DNS throughput benchmark: Meridian vs Knot DNS,
# gdnsd and NSD, all on loopback, all measured with dnsperf.
#
# Every server is started by this script in the background (configs in a temp
# dir, one loopback port each) and stopped by PID on exit.  Runs are
# interleaved (meridian, meridian-ecs, knot, gdnsd, nsd, meridian, ...) so that
# slow drift of the machine (thermal, noisy neighbours) hits all servers alike.
#
# For each server the script reports the median QPS over the rounds, the CPU
# seconds the server process tree consumed during its runs (utime+stime deltas
# from /proc/PID/stat) and the resulting thousands of queries answered per
# server CPU-second, plus the ratio of Meridian to each peer and to the fastest
# peer.
#
# Environment knobs (defaults in brackets):
#   ROUNDS [3]             interleaved rounds
#   SECONDS_PER_RUN [10]   dnsperf -l for every single run
#   CLIENTS [8]            dnsperf -c
#   OUTSTANDING [100]      dnsperf -q
#   DNSPERF_EXTRA []       extra dnsperf arguments (e.g. "-T 2")
#   ONLY []                space separated subset of: meridian knot gdnsd nsd
#   SKIP_MERIDIAN [0]      1 = peers only (no cargo build, no meridian)
#   SKIP_BUILD [0]         1 = don't run `cargo build --release`
#   MERIDIAN_CMD [target/release/meridian run --config meridian.toml
#                 --region us-east --dns-listen 127.0.0.1:$MERIDIAN_PORT]
#                          run from the repo root via `bash -c "exec ..."`
#   MERIDIAN_EXTRA_ARGS [] appended to the default MERIDIAN_CMD, e.g.
#                          "--geo-db tests/data/geo/GeoIP2-City-Test.mmdb"
#   MERIDIAN_PLAIN [1]     run the meridian variant without ECS
#   MERIDIAN_ECS [1]       run the meridian variant with ECS (client subnet)
#   PEERS_ECS [0]          1 = also run every peer with the same ECS option
#   ECS_SUBNET [175.16.199.0/24] IPv4 client subnet sent as ECS (see note below)
#   ECS_OPT [derived from ECS_SUBNET]  raw dnsperf -E value, overrides ECS_SUBNET
#   QNAME [www.gtm.test]   the name queried (type A)
#   MERIDIAN_PORT/KNOT_PORT/GDNSD_PORT/NSD_PORT [5300/5301/5302/5303]
#   READY_TRIES [60]       readiness polls (0.5 s apart, 1 s dig timeout each)
#   STOP_PACKAGED_SERVICES [1]  stop distro knot/gdnsd/nsd services if running
#   KEEP_TMP [0]           1 = keep the temp dir with configs/logs/dnsperf output
#
# Machine note: this is written for a 2-core box on which dnsperf shares the
# cores with the server under test.  Knot, gdnsd and NSD are therefore given 2
# UDP workers/threads/processes each (more than the core count only adds
# contention with the load generator).  Absolute numbers are load-generator
# bound; compare ratios measured in the same run.
#
# ECS note: EDNS Client Subnet (RFC 7871, option code 8) payload is
#   FAMILY(2 bytes) SOURCE-PREFIX(1) SCOPE-PREFIX(1) ADDRESS(ceil(src/8) bytes)
# e.g. 81.2.69.0/24: 0001 18 00 510245 -> "8:00011800510245".  The address MUST
# be truncated to 3 octets for a /24 (RFC 7871 section 6: servers SHOULD answer
# FORMERR to too many/few address octets), so "0001180051024500" is wrong
# (gdnsd indeed answers it with FORMERR).  The default subnet 175.16.199.0/24
# is located (Changchun, CN -> steered to ap-southeast) both in MaxMind's
# GeoIP2-City-Test.mmdb and in real data, so the ECS variant exercises the
# GeoIP lookup + distance steering; 81.2.69.0/24 has no location as a whole
# in the test database and would fall back to steering.default.
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
CLIENTS=${CLIENTS:-8}
OUTSTANDING=${OUTSTANDING:-100}
DNSPERF_EXTRA=${DNSPERF_EXTRA:-}
ONLY=${ONLY:-}
SKIP_MERIDIAN=${SKIP_MERIDIAN:-0}
SKIP_BUILD=${SKIP_BUILD:-0}
MERIDIAN_PLAIN=${MERIDIAN_PLAIN:-1}
MERIDIAN_ECS=${MERIDIAN_ECS:-1}
PEERS_ECS=${PEERS_ECS:-0}
ECS_SUBNET=${ECS_SUBNET:-175.16.199.0/24}
ecs_option() { # a.b.c.d/len -> dnsperf "-E 8:HEX" value (IPv4 only)
    local net=${1%/*} len=${1#*/} i n
    local -a o
    IFS=. read -ra o <<<"$net"
    [[ $1 == */* && ${#o[@]} == 4 && $len =~ ^[0-9]+$ ]] && ((len <= 32)) || return 1
    n=$(((len + 7) / 8))
    printf '8:0001%02X00' "$len"
    for ((i = 0; i < n; i++)); do
        local bits=$((len - 8 * i)) mask=255
        ((bits < 8)) && mask=$(((0xff << (8 - bits)) & 0xff))
        printf '%02X' $((o[i] & mask))
    done
}
if [[ -z ${ECS_OPT:-} ]]; then
    ECS_OPT=$(ecs_option "$ECS_SUBNET") || die "ECS_SUBNET must look like a.b.c.d/len, got '$ECS_SUBNET'"
fi
QNAME=${QNAME:-www.gtm.test}
ADDR=127.0.0.1
MERIDIAN_PORT=${MERIDIAN_PORT:-5300}
KNOT_PORT=${KNOT_PORT:-5301}
GDNSD_PORT=${GDNSD_PORT:-5302}
NSD_PORT=${NSD_PORT:-5303}
MERIDIAN_CMD_SET=${MERIDIAN_CMD:+1}
MERIDIAN_EXTRA_ARGS=${MERIDIAN_EXTRA_ARGS:-}
MERIDIAN_CMD=${MERIDIAN_CMD:-target/release/meridian run --config meridian.toml --region us-east --dns-listen $ADDR:$MERIDIAN_PORT${MERIDIAN_EXTRA_ARGS:+ $MERIDIAN_EXTRA_ARGS}}
READY_TRIES=${READY_TRIES:-60}
STOP_PACKAGED_SERVICES=${STOP_PACKAGED_SERVICES:-1}
KEEP_TMP=${KEEP_TMP:-0}

log() { printf '[dns.sh] %s\n' "$*" >&2; }
die() { printf '[dns.sh] ERROR: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in ROUNDS SECONDS_PER_RUN CLIENTS OUTSTANDING READY_TRIES MERIDIAN_PORT KNOT_PORT GDNSD_PORT NSD_PORT; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
((ROUNDS >= 1)) || die "ROUNDS must be >= 1"
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 600)) || die "SECONDS_PER_RUN must be in 1..600"

# ---------------------------------------------------------------- selection --
ALL_SERVERS=(meridian knot gdnsd nsd)
declare -A WANT=()
for s in "${ALL_SERVERS[@]}"; do WANT[$s]=1; done
if [[ -n $ONLY ]]; then
    for s in "${ALL_SERVERS[@]}"; do WANT[$s]=0; done
    for s in $ONLY; do
        [[ -n ${WANT[$s]+x} ]] || die "ONLY: unknown server '$s' (known: ${ALL_SERVERS[*]})"
        WANT[$s]=1
    done
fi
if [[ $SKIP_MERIDIAN == 1 ]]; then WANT[meridian]=0; fi
if [[ ${WANT[meridian]} == 1 && $MERIDIAN_PLAIN != 1 && $MERIDIAN_ECS != 1 ]]; then
    WANT[meridian]=0
fi
SERVERS=()
for s in "${ALL_SERVERS[@]}"; do [[ ${WANT[$s]} == 1 ]] && SERVERS+=("$s"); done
((${#SERVERS[@]} > 0)) || die "nothing to benchmark (check ONLY / SKIP_MERIDIAN)"

declare -A PORT=([meridian]=$MERIDIAN_PORT [knot]=$KNOT_PORT [gdnsd]=$GDNSD_PORT [nsd]=$NSD_PORT)

# Variants = (name, server, ecs?) in interleaving order.
VARIANTS=()
declare -A V_SERVER=() V_ECS=()
add_variant() { VARIANTS+=("$1"); V_SERVER[$1]=$2; V_ECS[$1]=$3; }
for s in "${SERVERS[@]}"; do
    if [[ $s == meridian ]]; then
        if [[ $MERIDIAN_PLAIN == 1 ]]; then add_variant meridian meridian 0; fi
        if [[ $MERIDIAN_ECS == 1 ]]; then add_variant meridian-ecs meridian 1; fi
    else
        add_variant "$s" "$s" 0
        if [[ $PEERS_ECS == 1 ]]; then add_variant "$s-ecs" "$s" 1; fi
    fi
done

# ------------------------------------------------------------- dependencies --
declare -A BIN_PKG=([dnsperf]=dnsperf [dig]=bind9-dnsutils [knotd]=knot [gdnsd]=gdnsd [nsd]=nsd)
need_bins=(dnsperf dig)
for s in "${SERVERS[@]}"; do
    case $s in knot) need_bins+=(knotd) ;; gdnsd) need_bins+=(gdnsd) ;; nsd) need_bins+=(nsd) ;; esac
done
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing

# Packaged services (which may have been auto-started by apt where no
# policy-rc.d forbids it) listen on port 53 and are not used here; stop them so
# they do not compete for CPU or confuse anyone reading `ps`.
stop_packaged_services() {
    local svc
    for svc in knot gdnsd nsd; do
        if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
            if systemctl is-active --quiet "$svc" 2>/dev/null; then
                log "stopping packaged service $svc (systemctl stop $svc)"
                systemctl stop "$svc" || log "warning: could not stop $svc"
            fi
        elif [[ -x /etc/init.d/$svc ]] && command -v service >/dev/null 2>&1; then
            if service "$svc" status >/dev/null 2>&1; then
                log "stopping packaged service $svc (service $svc stop)"
                service "$svc" stop >/dev/null 2>&1 || log "warning: could not stop $svc"
            fi
        fi
    done
}
if [[ $STOP_PACKAGED_SERVICES == 1 ]]; then stop_packaged_services; fi

# ------------------------------------------------------------ temp + cleanup --
TMP=$(mktemp -d /tmp/meridian-dnsbench.XXXXXX)
declare -A SPID=()
DNSPERF_PID=

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all "$DNSPERF_PID"
    finish_cleanup "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------- zones --
# Same content for every peer: SOA, NS ns1 with glue, static www A.
write_zone() {
    cat >"$1" <<'EOF'
$ORIGIN gtm.test.
$TTL 300
@       IN SOA  ns1.gtm.test. hostmaster.gtm.test. 1 3600 600 86400 300
@       IN NS   ns1.gtm.test.
ns1     IN A    127.0.1.1
www     IN A    127.0.1.1
EOF
}

QUERY_FILE=$TMP/queries.txt
printf '%s A\n' "$QNAME" >"$QUERY_FILE"

# --------------------------------------------------------------- versions --
print_versions() {
    echo "== versions"
    echo "dnsperf: $(dnsperf -h 2>&1 | awk '/^Version/ {print $2; exit}')"
    local s
    for s in "${SERVERS[@]}"; do
        case $s in
        knot) echo "knot:    $(knotd --version 2>&1 | head -n1)" ;;
        gdnsd) echo "gdnsd:   $(gdnsd -V 2>&1 | grep -m1 -i 'version' || true)" ;;
        nsd) echo "nsd:     $(nsd -v 2>&1 | head -n1)" ;;
        meridian)
            local mv rev dirty=""
            mv=$( (target/release/meridian --version 2>/dev/null || true) | head -n1)
            rev=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')
            if [[ -n $(git -C "$REPO_ROOT" status --porcelain 2>/dev/null || true) ]]; then dirty=" +uncommitted changes"; fi
            echo "meridian: ${mv:-(no --version)}, git $rev$dirty"
            ;;
        esac
    done
    echo "kernel:  $(uname -r), cpus: $(nproc), load average before start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ----------------------------------------------------------------- servers --
port_in_use() { # something already answers DNS (or holds the UDP port) there
    local port=$1
    if command -v ss >/dev/null 2>&1 && ss -Hlun "( sport = :$port )" 2>/dev/null | grep -q .; then
        return 0
    fi
    dig +time=1 +tries=1 @"$ADDR" -p "$port" . SOA >/dev/null 2>&1
}

start_bg() { # name logfile cmd...
    local name=$1 logf=$2
    shift 2
    "$@" >"$logf" 2>&1 &
    SPID[$name]=$!
    log "started $name (pid ${SPID[$name]}): $*"
}

start_knot() {
    local d=$TMP/knot
    mkdir -p "$d/db"
    write_zone "$d/gtm.test.zone"
    # No query logging: knot only logs queries via mod-dnstap/mod-queryacl
    # which are not loaded; server log goes to stderr at warning level.
    cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d"
    pidfile: "$d/knot.pid"
    listen: $ADDR@${PORT[knot]}
    # 2 cores shared with dnsperf: 2 UDP workers is the sweet spot.
    udp-workers: 2
    tcp-workers: 1
    background-workers: 1
log:
  - target: stderr
    any: warning
database:
    storage: "$d/db"
zone:
  - domain: gtm.test
    storage: "$d"
    file: "$d/gtm.test.zone"
    zonefile-sync: -1
    journal-content: none
EOF
    start_bg knot "$d/knot.log" knotd -c "$d/knot.conf" -s "$d/knot.sock"
}

start_gdnsd() {
    local d=$TMP/gdnsd
    mkdir -p "$d/zones" "$d/run" "$d/state"
    write_zone "$d/zones/gtm.test"
    # gdnsd has no query logging; 2 UDP threads for 2 cores shared with dnsperf.
    cat >"$d/config" <<EOF
options => {
    listen => [ $ADDR ]
    dns_port => ${PORT[gdnsd]}
    udp_threads => 2
    tcp_threads => 1
    run_dir => "$d/run"
    state_dir => "$d/state"
}
EOF
    gdnsd -c "$d" checkconf >"$d/checkconf.log" 2>&1 || { cat "$d/checkconf.log" >&2; die "gdnsd checkconf failed"; }
    start_bg gdnsd "$d/gdnsd.log" gdnsd -c "$d" start
}

start_nsd() {
    local d=$TMP/nsd
    mkdir -p "$d"
    write_zone "$d/gtm.test.zone"
    # NSD has no query log.  Debian's build enables response rate limiting,
    # which would throttle a benchmark from one source: rrl-ratelimit: 0.
    # server-count 2 (= 2 UDP server processes) for 2 cores shared with dnsperf.
    cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $ADDR@${PORT[nsd]}
    port: ${PORT[nsd]}
    do-ip6: no
    server-count: 2
    reuseport: yes
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zone.list"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    log-only-syslog: no
    verbosity: 0
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: gtm.test
    zonefile: "$d/gtm.test.zone"
EOF
    nsd-checkconf "$d/nsd.conf" >&2 || die "nsd-checkconf failed"
    start_bg nsd "$d/nsd.log" nsd -d -c "$d/nsd.conf"
}

start_meridian() {
    local d=$TMP/meridian
    mkdir -p "$d"
    if [[ $SKIP_BUILD != 1 ]]; then
        log "cargo build --release (in $REPO_ROOT)"
        cargo build --release >&2 || die "cargo build --release failed"
    fi
    if [[ -z ${MERIDIAN_CMD_SET:-} ]]; then
        [[ -x target/release/meridian ]] || die "target/release/meridian not found after build"
        target/release/meridian run --help 2>&1 | grep -q -- '--dns-listen' ||
            die "target/release/meridian does not support 'run --dns-listen' (yet); set MERIDIAN_CMD or SKIP_MERIDIAN=1"
    fi
    # exec so that the PID we track is meridian itself, not a wrapper shell.
    start_bg meridian "$d/meridian.log" bash -c "exec $MERIDIAN_CMD"
}

server_log() {
    case $1 in
    knot) echo "$TMP/knot/knot.log" ;; gdnsd) echo "$TMP/gdnsd/gdnsd.log" ;;
    nsd) echo "$TMP/nsd/nsd.log" ;; meridian) echo "$TMP/meridian/meridian.log" ;;
    esac
}

wait_ready() { # server
    local s=$1 port=${PORT[$1]} pid=${SPID[$1]} i out
    for ((i = 1; i <= READY_TRIES; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "---- last lines of $(server_log "$s")"
            tail -n 30 "$(server_log "$s")" >&2 || true
            die "$s (pid $pid) exited before becoming ready on $ADDR:$port"
        fi
        out=$(dig +short +time=1 +tries=1 @"$ADDR" -p "$port" "$QNAME" A 2>/dev/null || true)
        if grep -Eq '^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+$' <<<"$out"; then
            log "$s ready on $ADDR:$port after $i poll(s): $QNAME A -> $(tr '\n' ' ' <<<"$out")"
            return 0
        fi
        sleep 0.5
    done
    log "---- last lines of $(server_log "$s")"
    tail -n 30 "$(server_log "$s")" >&2 || true
    die "$s did not answer '$QNAME A' on $ADDR:$port after $READY_TRIES polls"
}

# -------------------------------------------------------------- CPU ticks --
CLK_TCK=$(getconf CLK_TCK) # tree_pids, cpu_ticks and machine_ticks come from lib.sh

# ------------------------------------------------------------------ runs --
declare -A R_QPS=() R_CPU=() R_DONE=() R_SENT=() R_WALL=() R_NOERR=()
for v in "${VARIANTS[@]}"; do R_QPS[$v]=""; R_CPU[$v]=0; R_DONE[$v]=0; R_SENT[$v]=0; R_WALL[$v]=0; R_NOERR[$v]=0; done

run_one() { # variant round
    local v=$1 round=$2 s=${V_SERVER[$1]}
    local port=${PORT[$s]} pid=${SPID[$s]} out=$TMP/dnsperf.$v.$round.txt
    local -a args=(-s "$ADDR" -p "$port" -d "$QUERY_FILE" -c "$CLIENTS" -q "$OUTSTANDING" -l "$SECONDS_PER_RUN")
    if [[ ${V_ECS[$v]} == 1 ]]; then args+=(-E "$ECS_OPT"); fi
    # shellcheck disable=SC2206
    if [[ -n $DNSPERF_EXTRA ]]; then args+=($DNSPERF_EXTRA); fi
    kill -0 "$pid" 2>/dev/null || die "$s (pid $pid) died before run $v/$round"
    local t0 t1 m0busy m0total m1busy m1total rc=0
    t0=$(cpu_ticks "$pid")
    read -r m0busy m0total < <(machine_ticks)
    timeout -k 5 $((SECONDS_PER_RUN + 30)) dnsperf "${args[@]}" >"$out" 2>&1 &
    DNSPERF_PID=$!
    wait "$DNSPERF_PID" || rc=$?
    DNSPERF_PID=
    t1=$(cpu_ticks "$pid")
    read -r m1busy m1total < <(machine_ticks)
    if ((rc != 0)); then
        cat "$out" >&2
        die "dnsperf failed (rc=$rc) for $v round $round"
    fi
    kill -0 "$pid" 2>/dev/null || die "$s (pid $pid) died during run $v/$round"
    local qps sent ndone runtime noerr noerr_n rcodes
    qps=$(awk '/Queries per second:/ {print $4}' "$out")
    sent=$(awk '/Queries sent:/ {print $3}' "$out")
    ndone=$(awk '/Queries completed:/ {print $3}' "$out")
    runtime=$(awk '/Run time \(s\):/ {print $4}' "$out")
    rcodes=$(awk -F': *' '/Response codes:/ {print $2}' "$out")
    noerr=$(sed -n 's/.*NOERROR [0-9]* (\([0-9.]*\)%).*/\1/p' "$out")
    noerr_n=$(sed -n 's/.*NOERROR \([0-9]*\) (.*/\1/p' "$out")
    [[ -n $qps && -n $ndone && -n $runtime ]] || { cat "$out" >&2; die "could not parse dnsperf output for $v"; }
    noerr=${noerr:-0}
    local cpu lost pct mbusy
    # busy share of all cores (dnsperf + server + anything else running)
    mbusy=$(awk -v b="$((m1busy - m0busy))" -v t="$((m1total - m0total))" 'BEGIN {printf "%.0f", ((t > 0) ? 100 * b / t : 0)}')
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
    lost=$(awk -v s="$sent" -v d="$ndone" 'BEGIN {printf "%.2f", ((s > 0) ? 100 * (s - d) / s : 0)}')
    pct=$(awk -v c="$cpu" -v w="$runtime" 'BEGIN {printf "%.0f", ((w > 0) ? 100 * c / w : 0)}')
    printf '  round %d/%d  %-13s qps=%10.1f  lost=%5s%%  cpu=%6.2fs (%3s%% of a core; machine %3s%% busy)  rcodes: %s\n' \
        "$round" "$ROUNDS" "$v" "$qps" "$lost" "$cpu" "$pct" "$mbusy" "$rcodes"
    if awk -v n="$noerr" 'BEGIN {exit !(n < 99)}'; then
        log "WARNING: $v answered only ${noerr}% NOERROR ($rcodes) - its QPS is not comparable"
    fi
    R_QPS[$v]+="$qps "
    R_CPU[$v]=$(awk -v a="${R_CPU[$v]}" -v b="$cpu" 'BEGIN {printf "%.2f", a + b}')
    R_DONE[$v]=$((R_DONE[$v] + ndone))
    R_NOERR[$v]=$((R_NOERR[$v] + ${noerr_n:-0}))
    R_SENT[$v]=$((R_SENT[$v] + sent))
    R_WALL[$v]=$(awk -v a="${R_WALL[$v]}" -v b="$runtime" 'BEGIN {printf "%.3f", a + b}')
}

# Peak resident memory (VmHWM) of a server and its child processes (NSD forks workers), MiB.
peak_rss_mib() { tree_mem_mib VmHWM "$1"; }

# ------------------------------------------------------------------- main --
print_versions
echo "== setup: rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN dnsperf -c $CLIENTS -q $OUTSTANDING ${DNSPERF_EXTRA}; query '$QNAME A'; ECS $ECS_SUBNET = dnsperf -E $ECS_OPT"
echo "   order per round: ${VARIANTS[*]}"

for s in "${SERVERS[@]}"; do
    port_in_use "${PORT[$s]}" && die "port ${PORT[$s]} on $ADDR (for $s) is already in use"
    "start_$s"
done
for s in "${SERVERS[@]}"; do wait_ready "$s"; done
if [[ ${WANT[meridian]} == 1 ]]; then echo "meridian command: $MERIDIAN_CMD"; fi
for s in "${SERVERS[@]}"; do # show what each server answers with and without ECS
    printf '   %-9s %s A -> %s | with ECS %s -> %s\n' "$s" "$QNAME" \
        "$(dig +short +time=1 +tries=1 @"$ADDR" -p "${PORT[$s]}" "$QNAME" A 2>/dev/null | tr '\n' ' ')" "$ECS_SUBNET" \
        "$(dig +short +time=1 +tries=1 +subnet="$ECS_SUBNET" @"$ADDR" -p "${PORT[$s]}" "$QNAME" A 2>/dev/null | tr '\n' ' ')"
done

echo "== runs"
for ((r = 1; r <= ROUNDS; r++)); do
    for v in "${VARIANTS[@]}"; do run_one "$v" "$r"; done
done

echo "== results (median QPS over $ROUNDS round(s); cpu = server CPU-seconds summed over its runs; kq/cpu-s = thousand answered queries per server CPU-second)"
declare -A MED=() EFF=()
printf '%-13s %11s %11s %11s %6s %8s %8s %6s %9s %8s\n' server median_qps min_qps max_qps lost% noerr% cpu_s cpu% kq/cpu-s peak_MiB
for v in "${VARIANTS[@]}"; do
    MED[$v]=$(median <<<"${R_QPS[$v]}")
    mn=$(tr ' ' '\n' <<<"${R_QPS[$v]}" | grep . | sort -g | head -n1)
    mx=$(tr ' ' '\n' <<<"${R_QPS[$v]}" | grep . | sort -g | tail -n1)
    EFF[$v]=$(awk -v d="${R_DONE[$v]}" -v c="${R_CPU[$v]}" 'BEGIN {printf "%.1f", ((c > 0) ? d / c / 1000 : 0)}')
    lost=$(awk -v s="${R_SENT[$v]}" -v d="${R_DONE[$v]}" 'BEGIN {printf "%.2f", ((s > 0) ? 100 * (s - d) / s : 0)}')
    okpct=$(awk -v n="${R_NOERR[$v]}" -v d="${R_DONE[$v]}" 'BEGIN {printf "%.1f", ((d > 0) ? 100 * n / d : 0)}')
    cpupct=$(awk -v c="${R_CPU[$v]}" -v w="${R_WALL[$v]}" 'BEGIN {printf "%.0f", ((w > 0) ? 100 * c / w : 0)}')
    rss=$(peak_rss_mib "${SPID[${V_SERVER[$v]}]}")
    printf '%-13s %11.0f %11.0f %11.0f %6s %8s %8s %5s%% %9s %8s\n' "$v" "${MED[$v]}" "$mn" "$mx" "$lost" "$okpct" "${R_CPU[$v]}" "$cpupct" "${EFF[$v]}" "$rss"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
MVARS=() PVARS=()
for v in "${VARIANTS[@]}"; do
    if [[ ${V_SERVER[$v]} == meridian ]]; then MVARS+=("$v"); else PVARS+=("$v"); fi
done
# Fastest peer = highest median QPS among the plain (non-ECS) peer runs.
fastest="" fastest_qps=0
for v in "${PVARS[@]}"; do
    [[ ${V_ECS[$v]} == 1 ]] && continue
    if awk -v a="${MED[$v]}" -v b="$fastest_qps" 'BEGIN {exit !(a > b)}'; then fastest=$v fastest_qps=${MED[$v]}; fi
done
if ((${#PVARS[@]} > 0)); then
    echo "fastest peer: ${fastest:-none} ($(printf '%.0f' "$fastest_qps") qps)"
fi
if ((${#MVARS[@]} > 0 && ${#PVARS[@]} > 0)); then
    echo "== ratios (QPS ratio of medians; cpu-eff ratio of kq/cpu-s)"
    for m in "${MVARS[@]}"; do
        for p in "${PVARS[@]}"; do
            # a plain (no-ECS) meridian run is only compared with plain peer runs
            if [[ ${V_ECS[$m]} == 0 && ${V_ECS[$p]} == 1 ]]; then continue; fi
            echo "$m/$p QPS ratio: $(ratio "${MED[$m]}" "${MED[$p]}")  cpu-eff ratio: $(ratio "${EFF[$m]}" "${EFF[$p]}")"
        done
    done
    for m in "${MVARS[@]}"; do
        [[ -n $fastest ]] || break
        echo "$m/fastest-peer QPS ratio: $(ratio "${MED[$m]}" "$fastest_qps")  ($fastest)"
    done
fi
