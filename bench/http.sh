#!/usr/bin/env bash
# bench/http.sh - interleaved HTTP/1.1 reverse-proxy benchmark: Meridian's regional proxy
# vs nginx and HAProxy in front of the same nginx backend, all on loopback: throughput with
# wrk, p99 latency at a fixed rate, memory per idle client connection, then a backend-kill
# test that counts the errors each proxy lets through.
#
# Usage: bench/http.sh [all|throughput|latency|idle|kill]   (default all: every stage in turn)
#
# Throughput: one nginx backend (1 KiB static body, keep-alive) and three proxies in front
# of it, each on its own 127.0.0.1 port.  Every round runs `wrk -t1 -c64 -d10s --latency`
# against each proxy in turn, the order rotated by one each round, so that drift of the
# machine hits every proxy alike.  Per run: req/s, p50, p99, the proxy's RSS after the run
# (VmRSS summed over its processes) and the CPU seconds its processes used during the run
# (utime+stime deltas from /proc/PID/stat), shown as CPU seconds per 100k requests.  The
# table shows medians; the ratios divide Meridian's median req/s by each peer's.
#
# Latency: examples/http_load.rs (built with the crate) sends requests at a fixed rate over
# 64 keep-alive connections on one thread and measures each latency from the request's
# intended send time, as wrk2 does (wrk2 is not in Debian).  The rate is 70% of the slowest
# proxy's median saturation req/s from the throughput stage (or from a quick wrk pass when
# the stage runs alone), the same for every target, so the figures are comparable.  Every
# round runs it against the backend directly and against each proxy, order rotated.  The
# table shows median p50/p99 and each proxy's p99 added over direct; the ratio divides
# Meridian's added p99 by the best peer's.
#
# Idle: per proxy, http_load opens 2000 keep-alive connections from 127.0.0.2..127.0.0.9
# (Meridian caps connections per source address), one request each, then holds them idle;
# the proxy's RSS delta (VmRSS summed over its processes) divided by the connections gives
# KiB per idle connection.
#
# Kill test: two nginx backends (separate single-process instances) behind a second set of
# proxies.  Per proxy: wrk for 10 s; at 3 s one backend gets SIGKILL, at 6 s it is started
# again.  Reported: non-2xx responses and socket errors as wrk counts them (goal: 0), and
# what each proxy logged meanwhile.
#
# Every process is started by this script (configs in a temp dir, never the packaged
# services) and stopped by PID on exit; the temp dir is removed unless KEEP_TMP=1.  The
# throughput, latency and idle stages share one set of processes, in that order.
#
# Environment knobs (defaults in brackets):
#   ROUNDS [3]               interleaved throughput rounds
#   SECONDS_PER_RUN [10]     wrk -d for every throughput run
#   WARMUP_SECONDS [2]       one unmeasured wrk run per proxy before the first stage (0 = none)
#   CONNECTIONS [64]         wrk -c and http_load --connections (wrk -t is always 1, and
#                            http_load uses one thread: the load generator gets one core)
#   DIRECT [1]               also measure the backend directly, once (throughput round 1)
#   ONLY []                  space separated subset of: meridian nginx haproxy
#   SKIP_BUILD [0]           1 = don't run `cargo build --release`
#   MERIDIAN_BIN [${CARGO_TARGET_DIR:-target}/release/meridian]
#   LOADGEN_BIN [${CARGO_TARGET_DIR:-target}/release/examples/http_load]
#   GEO_DB [geo-data/dbip-city-lite-coarse.mmdb]   passed as --geo-db
#   NGINX_WORKERS [auto]     worker_processes of the nginx proxy
#   HAPROXY_NBTHREAD []      nbthread of HAProxy (empty: its default, one per CPU)
#   LATENCY_SHARE [70]       latency stage rate, % of the slowest proxy's saturation req/s
#   LATENCY_RATE []          a fixed rate in req/s instead (skips the saturation figures)
#   LATENCY_ROUNDS [ROUNDS]  interleaved latency rounds
#   LATENCY_SECONDS [SECONDS_PER_RUN]  measured seconds per latency run
#   LATENCY_WARMUP [1]       seconds at the rate before each latency run's measurement
#   SATURATION_SECONDS [5]   the quick wrk pass per proxy when the latency stage runs alone
#   IDLE_CONNECTIONS [2000]  idle client connections per proxy
#   IDLE_SOURCES [8]         loopback source addresses for them: 127.0.0.2 and on
#   IDLE_SETTLE [1]          seconds before each RSS reading of the idle stage
#   KILL_SECONDS [10] KILL_AT [3] RESTART_AT [6]   kill test timeline (seconds into the run)
#   KILL_ROUNDS [1]          kill tests per proxy
#   SETTLE_TRIES [40]        after a kill test, polls (0.5 s) until every proxy again
#                            reaches both backends; then SETTLE_SECONDS [3] more
#   HAPROXY_RETRY_ON [conn-failure empty-response response-timeout]
#                            HAProxy `retry-on` (its default is conn-failure only)
#   MERIDIAN_RETRIES []      TOML lines for the kill-test region's [proxy.retries], e.g.
#                            "budget_share = 1.0" (empty: Meridian's defaults)
#   MERIDIAN_KILL_LOG [info,meridian::proxy=debug,hickory_server=warn,hickory_proto=warn]
#                            RUST_LOG of the kill-test Meridian
#   BASE_PORT [18000]        ports used: BASE+80 backend, BASE+81/82 kill backends,
#                            BASE+1..3 proxies (meridian, nginx, haproxy), BASE+11..13 the
#                            kill-test proxies, BASE+53/54 and BASE+63/64 Meridian DNS/status
#   READY_TRIES [60]         readiness polls, 0.5 s apart
#   KEEP_TMP [0]             1 = keep the temp dir (configs, logs, raw wrk output)
#
# Fairness: Meridian's proxy runs one worker per core, each a thread with its own
# current_thread tokio runtime and its own SO_REUSEPORT listener, so each peer also gets
# every core: nginx `worker_processes auto` (also listening with reuseport), HAProxy's default
# nbthread.  wrk and http_load share the same 2 cores.  All three balance by least
# outstanding requests, keep backend connections alive and check nothing that the others do
# not (access logs off everywhere).
set -euo pipefail

export PATH="$PATH:/usr/sbin:/sbin"
export LC_ALL=C

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$SCRIPT_DIR/.." && pwd)
cd "$REPO_ROOT"

MODE=${1:-all}
case $MODE in all | throughput | latency | idle | kill) ;; *)
    echo "usage: bench/http.sh [all|throughput|latency|idle|kill]" >&2
    exit 2
    ;;
esac

ROUNDS=${ROUNDS:-3}
SECONDS_PER_RUN=${SECONDS_PER_RUN:-10}
WARMUP_SECONDS=${WARMUP_SECONDS:-2}
CONNECTIONS=${CONNECTIONS:-64}
DIRECT=${DIRECT:-1}
ONLY=${ONLY:-}
SKIP_BUILD=${SKIP_BUILD:-0}
MERIDIAN_BIN=${MERIDIAN_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/meridian}
LOADGEN_BIN=${LOADGEN_BIN:-${CARGO_TARGET_DIR:-$REPO_ROOT/target}/release/examples/http_load}
GEO_DB=${GEO_DB:-$REPO_ROOT/geo-data/dbip-city-lite-coarse.mmdb}
NGINX_WORKERS=${NGINX_WORKERS:-auto}
HAPROXY_NBTHREAD=${HAPROXY_NBTHREAD:-}
LATENCY_SHARE=${LATENCY_SHARE:-70}
LATENCY_RATE=${LATENCY_RATE:-}
LATENCY_ROUNDS=${LATENCY_ROUNDS:-$ROUNDS}
LATENCY_SECONDS=${LATENCY_SECONDS:-$SECONDS_PER_RUN}
LATENCY_WARMUP=${LATENCY_WARMUP:-1}
SATURATION_SECONDS=${SATURATION_SECONDS:-5}
IDLE_CONNECTIONS=${IDLE_CONNECTIONS:-2000}
IDLE_SOURCES=${IDLE_SOURCES:-8}
IDLE_SETTLE=${IDLE_SETTLE:-1}
KILL_SECONDS=${KILL_SECONDS:-10}
KILL_AT=${KILL_AT:-3}
RESTART_AT=${RESTART_AT:-6}
KILL_ROUNDS=${KILL_ROUNDS:-1}
SETTLE_TRIES=${SETTLE_TRIES:-40}
SETTLE_SECONDS=${SETTLE_SECONDS:-3}
HAPROXY_RETRY_ON=${HAPROXY_RETRY_ON:-conn-failure empty-response response-timeout}
MERIDIAN_RETRIES=${MERIDIAN_RETRIES:-}
MERIDIAN_KILL_LOG=${MERIDIAN_KILL_LOG:-info,meridian::proxy=debug,hickory_server=warn,hickory_proto=warn}
BASE_PORT=${BASE_PORT:-18000}
READY_TRIES=${READY_TRIES:-60}
KEEP_TMP=${KEEP_TMP:-0}
ADDR=127.0.0.1

log() { printf '[http.sh] %s\n' "$*" >&2; }
die() {
    printf '[http.sh] ERROR: %s\n' "$*" >&2
    exit 1
}

is_uint() { [[ $1 =~ ^[0-9]+$ ]]; }
for v in ROUNDS SECONDS_PER_RUN WARMUP_SECONDS CONNECTIONS KILL_SECONDS KILL_AT RESTART_AT \
    KILL_ROUNDS SETTLE_TRIES SETTLE_SECONDS BASE_PORT READY_TRIES LATENCY_SHARE LATENCY_ROUNDS \
    LATENCY_SECONDS LATENCY_WARMUP SATURATION_SECONDS IDLE_CONNECTIONS IDLE_SOURCES IDLE_SETTLE; do
    is_uint "${!v}" || die "$v must be a non-negative integer, got '${!v}'"
done
[[ -z $LATENCY_RATE ]] || { is_uint "$LATENCY_RATE" && ((LATENCY_RATE >= 1)); } ||
    die "LATENCY_RATE must be empty or a positive integer, got '$LATENCY_RATE'"
((ROUNDS >= 1 && LATENCY_ROUNDS >= 1)) || die "ROUNDS and LATENCY_ROUNDS must be >= 1"
((SECONDS_PER_RUN >= 1 && SECONDS_PER_RUN <= 600)) || die "SECONDS_PER_RUN must be in 1..600"
((LATENCY_SECONDS >= 1 && LATENCY_SECONDS <= 600)) || die "LATENCY_SECONDS must be in 1..600"
((SATURATION_SECONDS >= 1 && SATURATION_SECONDS <= 600)) || die "SATURATION_SECONDS must be in 1..600"
((LATENCY_SHARE >= 1 && LATENCY_SHARE <= 100)) || die "LATENCY_SHARE must be in 1..100 (%)"
((CONNECTIONS >= 1)) || die "CONNECTIONS must be >= 1"
((IDLE_CONNECTIONS >= 1 && IDLE_SOURCES >= 1 && IDLE_SOURCES <= 250)) ||
    die "need IDLE_CONNECTIONS >= 1 and IDLE_SOURCES in 1..250"
((KILL_AT < RESTART_AT && RESTART_AT < KILL_SECONDS && KILL_SECONDS <= 600)) ||
    die "need KILL_AT < RESTART_AT < KILL_SECONDS <= 600"
((BASE_PORT >= 1024 && BASE_PORT <= 65000)) || die "BASE_PORT must be in 1024..65000"

ALL_PROXIES=(meridian nginx haproxy)
PROXIES=()
if [[ -n $ONLY ]]; then
    for p in $ONLY; do
        [[ " ${ALL_PROXIES[*]} " == *" $p "* ]] || die "ONLY: unknown proxy '$p' (known: ${ALL_PROXIES[*]})"
    done
fi
for p in "${ALL_PROXIES[@]}"; do
    if [[ -z $ONLY || " $ONLY " == *" $p "* ]]; then PROXIES+=("$p"); fi
done
((${#PROXIES[@]} > 0)) || die "nothing to benchmark (check ONLY)"
want() { [[ " ${PROXIES[*]} " == *" $1 "* ]]; }

BACKEND_PORT=$((BASE_PORT + 80))
KILL_BACKEND_PORTS=($((BASE_PORT + 81)) $((BASE_PORT + 82)))
declare -A PORT=([meridian]=$((BASE_PORT + 1)) [nginx]=$((BASE_PORT + 2)) [haproxy]=$((BASE_PORT + 3)))
declare -A KPORT=([meridian]=$((BASE_PORT + 11)) [nginx]=$((BASE_PORT + 12)) [haproxy]=$((BASE_PORT + 13)))
MERIDIAN_DNS_PORT=$((BASE_PORT + 53)) MERIDIAN_STATUS_PORT=$((BASE_PORT + 54))
KMERIDIAN_DNS_PORT=$((BASE_PORT + 63)) KMERIDIAN_STATUS_PORT=$((BASE_PORT + 64))

# ------------------------------------------------------------- dependencies --
declare -A BIN_PKG=([wrk]=wrk [nginx]=nginx [haproxy]=haproxy [curl]=curl)
need_bins=(wrk nginx curl) # nginx is always needed: it is the backend
if want haproxy; then need_bins+=(haproxy); fi
# shellcheck source=bench/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
install_missing

stage() { [[ $MODE == all || $MODE == "$1" ]]; }

# Descriptors: the idle stage holds IDLE_CONNECTIONS client sockets in http_load and as many
# in the proxy under test.  Raise the soft limit to the hard one (children inherit it).
fd_soft=$(ulimit -Sn)
if [[ $fd_soft != unlimited ]]; then
    ulimit -Sn "$(ulimit -Hn)" 2>/dev/null || true
    fd_soft=$(ulimit -Sn)
fi
if stage idle && [[ $fd_soft != unlimited ]] && ((fd_soft < IDLE_CONNECTIONS + 1024)); then
    die "open files limit $fd_soft is too low for IDLE_CONNECTIONS=$IDLE_CONNECTIONS (need $((IDLE_CONNECTIONS + 1024)); raise the hard limit or lower IDLE_CONNECTIONS)"
fi
# Meridian caps a source address at 512 connections per worker (4096 per worker in all).
if stage idle && ((IDLE_CONNECTIONS > 512 * IDLE_SOURCES)); then
    die "IDLE_CONNECTIONS=$IDLE_CONNECTIONS over IDLE_SOURCES=$IDLE_SOURCES addresses passes Meridian's 512 per source: raise IDLE_SOURCES"
fi
IDLE_SOURCE_ARGS=()
for ((i = 2; i < 2 + IDLE_SOURCES; i++)); do IDLE_SOURCE_ARGS+=(--source "127.0.0.$i"); done

# ------------------------------------------------------------ temp + cleanup --
TMP=$(mktemp -d /tmp/meridian-httpbench.XXXXXX)
declare -A SPID=() SLOG=()
LOAD_PID=

stop_one() { # name: TERM, wait up to 5 s, then KILL
    local name=$1 pid=${SPID[$1]:-} i
    [[ -n $pid ]] || return 0
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        if kill -0 "$pid" 2>/dev/null; then
            log "$name (pid $pid) did not exit on TERM, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    wait "$pid" 2>/dev/null || true
    unset "SPID[$name]"
}

cleanup() {
    local rc=$? s
    trap - EXIT INT TERM
    if [[ -n $LOAD_PID ]] && kill -0 "$LOAD_PID" 2>/dev/null; then
        kill -TERM "$LOAD_PID" 2>/dev/null || true
        wait "$LOAD_PID" 2>/dev/null || true
    fi
    for s in "${!SPID[@]}"; do stop_one "$s"; done
    finish_cleanup "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --------------------------------------------------------------- processes --
start_bg() { # name logfile cmd...
    local name=$1 logf=$2
    shift 2
    "$@" >>"$logf" 2>&1 &
    SPID[$name]=$!
    SLOG[$name]=$logf
    log "started $name (pid ${SPID[$name]}): $*"
}

port_in_use() { ss -Hltn "( sport = :$1 )" 2>/dev/null | grep -q .; }

http_code() { # port [path] -> "code size"
    curl -s -o /dev/null --max-time 1 -w '%{http_code} %{size_download}' "http://$ADDR:$1${2:-/}" 2>/dev/null || true
}

wait_ready() { # name port: three 200s with the 1 KiB body in a row
    local name=$1 port=$2 pid=${SPID[$1]} i ok=0 got
    for ((i = 1; i <= READY_TRIES; i++)); do
        if ! kill -0 "$pid" 2>/dev/null; then
            log "---- last lines of ${SLOG[$name]}"
            tail -n 30 "${SLOG[$name]}" >&2 || true
            die "$name (pid $pid) exited before answering on $ADDR:$port"
        fi
        got=$(http_code "$port")
        if [[ $got == "200 1024" ]]; then
            ok=$((ok + 1))
            if ((ok >= 3)); then
                log "$name ready on $ADDR:$port after $i poll(s)"
                return 0
            fi
            continue
        fi
        ok=0
        sleep 0.5
    done
    log "---- last lines of ${SLOG[$name]}"
    tail -n 30 "${SLOG[$name]}" >&2 || true
    die "$name did not answer 200 with a 1024-byte body on $ADDR:$port after $READY_TRIES polls (last: '${got:-nothing}')"
}

# ------------------------------------------------------------------ configs --
# An nginx backend: one process (master_process off, so SIGKILL takes the whole server
# down at once), a 1 KiB body for every path, keep-alive without a request limit.
start_backend() { # name port
    local name=$1 port=$2 d=$TMP/$1
    mkdir -p "$d/www"
    if [[ ! -f $d/www/body.txt ]]; then
        head -c 1023 /dev/zero | tr '\0' 'x' >"$d/www/body.txt"
        echo >>"$d/www/body.txt"
    fi
    cat >"$d/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $d/nginx.pid;
error_log $d/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    open_file_cache max=16;
    open_file_cache_valid 60s;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    server {
        listen $ADDR:$port reuseport backlog=4096;
        root $d/www;
        default_type text/plain;
        location / { try_files /body.txt =404; }
    }
}
EOF
    mkdir -p "$d/tmp"
    nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/error.log" || die "nginx -t failed for $name"
    start_bg "$name" "$d/stderr.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
}

start_nginx_proxy() { # name port backend-port...
    local name=$1 port=$2 d=$TMP/$1 b servers=""
    shift 2
    for b in "$@"; do servers+="        server $ADDR:$b;"$'\n'; done
    mkdir -p "$d/tmp"
    # Defaults kept on purpose: proxy_next_upstream "error timeout" (a GET is retried on
    # the other backend after a connect error or a reset), max_fails=1 fail_timeout=10s.
    cat >"$d/nginx.conf" <<EOF
daemon off;
master_process on;
user root;
worker_processes $NGINX_WORKERS;
pid $d/nginx.pid;
error_log $d/error.log error;
events { worker_connections 4096; }
http {
    access_log off;
    server_tokens off;
    keepalive_timeout 75s;
    keepalive_requests 10000000;
    client_body_temp_path $d/tmp;
    proxy_temp_path $d/tmp;
    fastcgi_temp_path $d/tmp;
    uwsgi_temp_path $d/tmp;
    scgi_temp_path $d/tmp;
    upstream backends {
        least_conn;
$servers        keepalive 64;
        keepalive_requests 10000000;
    }
    server {
        listen $ADDR:$port reuseport backlog=4096;
        location / {
            proxy_pass http://backends;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_connect_timeout 1s;
        }
    }
}
EOF
    nginx -t -q -p "$d" -c "$d/nginx.conf" -e "$d/error.log" || die "nginx -t failed for $name"
    start_bg "$name" "$d/stderr.log" nginx -p "$d" -c "$d/nginx.conf" -e "$d/error.log"
}

start_haproxy() { # name port kill-test? backend-port...
    local name=$1 port=$2 kill_test=$3 d=$TMP/$1 b i=0 servers="" logging="" httplog="" retry=""
    shift 3
    for b in "$@"; do
        servers+="    server b$i $ADDR:$b check inter 1s"$'\n'
        i=$((i + 1))
    done
    if [[ $kill_test == 1 ]]; then
        # Only abnormal requests and server state changes are logged (to stderr).
        logging=$'    log stderr format raw local0 info\n'
        httplog=$'    option httplog\n    option dontlog-normal\n'
        retry="    retries 3
    option redispatch
    retry-on $HAPROXY_RETRY_ON
    default-server observe layer4 error-limit 1 on-error mark-down"
    fi
    mkdir -p "$d"
    cat >"$d/haproxy.cfg" <<EOF
global
    # 2 fds per connection must stay under the hard RLIMIT_NOFILE (20000 here).
    maxconn 8000
${HAPROXY_NBTHREAD:+    nbthread $HAPROXY_NBTHREAD
}$logging
defaults
    mode http
    log global
${httplog}    option http-keep-alive
    http-reuse always
    timeout connect 1s
    timeout client 60s
    timeout server 30s
    timeout http-keep-alive 60s
    timeout http-request 10s

frontend fe
    bind $ADDR:$port
    # Explicit, so that the idle stage's client connections fit whatever a frontend's
    # default is.
    maxconn 8000
    default_backend be

backend be
    balance leastconn
$retry
$servers
EOF
    haproxy -c -q -f "$d/haproxy.cfg" || die "haproxy -c failed for $name"
    start_bg "$name" "$d/haproxy.log" haproxy -db -f "$d/haproxy.cfg"
}

# Meridian: the repo's meridian.toml and region files, copied, with eu-west replaced by a
# region whose [proxy] has the given backends.  Health checks as in regions/eu-west.toml,
# everything else at its default (outlier ejection, retries, budgets).
start_meridian() { # name http-port dns-port status-port rust-log retries-toml backend-port...
    local name=$1 port=$2 dns=$3 status=$4 rust_log=$5 retries=$6 d=$TMP/$1 b i=0
    shift 6
    mkdir -p "$d/regions"
    cp meridian.toml "$d/meridian.toml"
    cp regions/*.toml "$d/regions/"
    cat >"$d/regions/eu-west.toml" <<EOF
# Written by bench/http.sh.
name = "eu-west"
location = { latitude = 53.35, longitude = -6.26 }
ipv4 = ["$ADDR"]
capacity = 100

[listen]
dns = ["$ADDR:$dns"]
http = "$ADDR:$port"
status = "$ADDR:$status"

[proxy]
policy = "least-request"
EOF
    for b in "$@"; do
        printf '\n[[proxy.backend]]\nid = "b%d"\naddress = "%s:%d"\nweight = 1\n' "$i" "$ADDR" "$b" >>"$d/regions/eu-west.toml"
        i=$((i + 1))
    done
    cat >>"$d/regions/eu-west.toml" <<EOF

[proxy.health]
path = "/"
interval_ms = 1000
fast_interval_ms = 250
EOF
    if [[ -n $retries ]]; then printf '\n[proxy.retries]\n%s\n' "$retries" >>"$d/regions/eu-west.toml"; fi
    "$MERIDIAN_BIN" check-config "$d/meridian.toml" --geo-db "$GEO_DB" >"$d/check-config.log" 2>&1 || {
        cat "$d/check-config.log" >&2
        die "meridian check-config refused the generated config ($d)"
    }
    # UDP sockets: 1, DNS is not measured here.
    start_bg "$name" "$d/meridian.log" env RUST_LOG="$rust_log" "$MERIDIAN_BIN" run \
        --config "$d/meridian.toml" --region eu-west --geo-db "$GEO_DB" --udp-sockets 1 --node-name bench
}

# Meridian and the load generator for the latency and idle stages (examples/http_load.rs).
build_meridian() {
    local args=(--release)
    if want meridian; then args+=(--bins); fi
    if stage latency || stage idle; then args+=(--example http_load); fi
    ((${#args[@]} > 1)) || return 0
    if [[ $SKIP_BUILD != 1 ]]; then
        log "cargo build ${args[*]} (in $REPO_ROOT)"
        cargo build "${args[@]}" >&2 || die "cargo build ${args[*]} failed"
    fi
    if want meridian; then
        [[ -x $MERIDIAN_BIN ]] || die "$MERIDIAN_BIN not found (set MERIDIAN_BIN or CARGO_TARGET_DIR)"
    fi
    if stage latency || stage idle; then
        [[ -x $LOADGEN_BIN ]] || die "$LOADGEN_BIN not found (set LOADGEN_BIN or CARGO_TARGET_DIR)"
    fi
}

# -------------------------------------------------------------- measuring --
CLK_TCK=$(getconf CLK_TCK)
tree_pids() { # pid and all its descendants (nginx workers)
    local p=$1 c
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
}
cpu_ticks() { # utime+stime (clock ticks) summed over the process tree, all threads
    local total=0 p s
    local -a fields
    for p in $(tree_pids "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) }
        read -ra fields <<<"$s"
        total=$((total + fields[11] + fields[12])) # fields 14 (utime) and 15 (stime)
    done
    echo "$total"
}
rss_kib() { # VmRSS summed over the process tree, KiB
    local total=0 p kib
    for p in $(tree_pids "$1"); do
        kib=$(awk '/^VmRSS:/ {print $2}' "/proc/$p/status" 2>/dev/null || true)
        total=$((total + ${kib:-0}))
    done
    echo "$total"
}
rss_mib() { awk -v k="$(rss_kib "$1")" 'BEGIN {printf "%.1f", k / 1024}'; }
machine_ticks() { # "busy total" clock ticks of the whole machine
    local -a c
    read -ra c </proc/stat
    local idle=$((c[4] + c[5])) total=0 i
    for ((i = 1; i <= 8 && i < ${#c[@]}; i++)); do total=$((total + c[i])); done
    echo "$((total - idle)) $total"
}

to_ms() { # wrk latency "312.00us" / "1.23ms" / "2.00s" / "1.00m" -> ms
    awk -v v="$1" 'BEGIN {
        n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
        if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
        printf "%.2f", n }'
}

# wrk output -> "reqs rps p50_ms p99_ms non2xx sock_connect sock_read sock_write sock_timeout"
# wrk_result OUT RC PID TARGET WHAT: the parsed fields of a finished wrk run; dies (showing
# wrk's output) when wrk failed, the target died or the output cannot be parsed.
wrk_result() {
    local out=$1 rc=$2 pid=$3 target=$4 what=$5 parsed
    if ((rc != 0)); then
        cat "$out" >&2
        die "wrk failed (rc=$rc) against $target in $what"
    fi
    kill -0 "$pid" 2>/dev/null || die "$target (pid $pid) died during $what"
    parsed=$(parse_wrk "$out") || {
        cat "$out" >&2
        die "could not parse wrk output for $target in $what"
    }
    echo "$parsed"
}

parse_wrk() {
    local f=$1 reqs rps p50 p99 non2xx sock
    reqs=$(awk '/ requests in / {print $1; exit}' "$f")
    rps=$(awk '/^Requests\/sec:/ {print $2; exit}' "$f")
    p50=$(awk '$1 == "50%" || $1 == "50.000%" {print $2; exit}' "$f")
    p99=$(awk '$1 == "99%" || $1 == "99.000%" {print $2; exit}' "$f")
    non2xx=$(awk '/Non-2xx or 3xx responses:/ {print $NF; exit}' "$f")
    sock=$(sed -n 's/.*Socket errors: connect \([0-9]*\), read \([0-9]*\), write \([0-9]*\), timeout \([0-9]*\).*/\1 \2 \3 \4/p' "$f")
    [[ -n $reqs && -n $rps ]] || return 1
    echo "$reqs $rps $(to_ms "${p50:-0us}") $(to_ms "${p99:-0us}") ${non2xx:-0} ${sock:-0 0 0 0}"
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print 0} else if (NR % 2) {print a[(NR + 1) / 2]} else {print (a[NR / 2] + a[NR / 2 + 1]) / 2}}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
kilo() { awk -v a="$1" 'BEGIN {printf "%.1fk", a / 1000}'; }

# ------------------------------------------------------------------ versions --
print_versions() {
    echo "== versions"
    echo "wrk:      $(wrk -v 2>&1 | head -n1)"
    echo "nginx:    $(nginx -v 2>&1 | head -n1)"
    if want haproxy; then echo "haproxy:  $(haproxy -v 2>&1 | head -n1)"; fi
    if want meridian; then
        local rev dirty=""
        rev=$(git -C "$REPO_ROOT" rev-parse --short HEAD 2>/dev/null || echo '(no commit)')
        if [[ -n $(git -C "$REPO_ROOT" status --porcelain --untracked-files=no -- . ':(exclude)bench' 2>/dev/null || true) ]]; then dirty=" +uncommitted changes"; fi
        echo "meridian: $("$MERIDIAN_BIN" --version 2>/dev/null | head -n1), git $rev$dirty ($MERIDIAN_BIN)"
    fi
    echo "kernel:   $(uname -r), cpus: $(nproc), load average before start: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ------------------------------------------------------------- throughput --
declare -A R_RPS=() R_P50=() R_P99=() R_RSS=() R_CPU100K=() R_CPU=() R_REQS=() R_BAD=()

run_wrk() { # out-file port seconds
    local out=$1 port=$2 secs=$3 rc=0
    timeout -k 5 $((secs + 30)) wrk -t1 -c"$CONNECTIONS" -d"${secs}s" --latency "http://$ADDR:$port/" >"$out" 2>&1 &
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    return "$rc"
}

run_one() { # target round
    local t=$1 round=$2 pid port out=$TMP/wrk.$1.$2.txt
    if [[ $t == direct ]]; then
        pid=${SPID[backend]} port=$BACKEND_PORT
    else
        pid=${SPID[$t]} port=${PORT[$t]}
    fi
    kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) died before run $round"
    local c0 c1 m0b m0t m1b m1t rc=0
    c0=$(cpu_ticks "$pid")
    read -r m0b m0t < <(machine_ticks)
    run_wrk "$out" "$port" "$SECONDS_PER_RUN" || rc=$?
    c1=$(cpu_ticks "$pid")
    read -r m1b m1t < <(machine_ticks)
    local parsed reqs rps p50 p99 non2xx sc sr sw st
    parsed=$(wrk_result "$out" "$rc" "$pid" "$t" "run $round")
    read -r reqs rps p50 p99 non2xx sc sr sw st <<<"$parsed"
    local rss cpu per100k cpupct mbusy errs=$((sc + sr + sw + st))
    rss=$(rss_mib "$pid")
    cpu=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" 'BEGIN {printf "%.2f", (b - a) / hz}')
    per100k=$(awk -v c="$cpu" -v n="$reqs" 'BEGIN {printf "%.2f", (n > 0) ? c / n * 100000 : 0}')
    cpupct=$(awk -v c="$cpu" -v s="$SECONDS_PER_RUN" 'BEGIN {printf "%.0f", 100 * c / s}')
    mbusy=$(awk -v b="$((m1b - m0b))" -v t="$((m1t - m0t))" 'BEGIN {printf "%.0f", (t > 0) ? 100 * b / t : 0}')
    printf '  round %d/%d  %-8s %9.0f req/s  p50 %6.2f ms  p99 %6.2f ms  rss %6.1f MiB  cpu %5.2f s = %3s%% of a core, %4.2f s/100k req  (machine %3s%% busy)  non-2xx %s  socket errors %s\n' \
        "$round" "$ROUNDS" "$t" "$rps" "$p50" "$p99" "$rss" "$cpu" "$cpupct" "$per100k" "$mbusy" "$non2xx" "$errs"
    if ((non2xx > 0 || errs > 0)); then
        log "WARNING: $t: $non2xx non-2xx responses, socket errors connect $sc read $sr write $sw timeout $st - its req/s is not comparable"
    fi
    R_RPS[$t]+="$rps " R_P50[$t]+="$p50 " R_P99[$t]+="$p99 " R_RSS[$t]+="$rss " R_CPU100K[$t]+="$per100k "
    R_CPU[$t]+="$cpupct " R_REQS[$t]+="$reqs " R_BAD[$t]=$((${R_BAD[$t]:-0} + non2xx + errs))
}

# The backend and the three proxies of the throughput, latency and idle stages.
start_main() {
    local p
    start_backend backend "$BACKEND_PORT"
    wait_ready backend "$BACKEND_PORT"
    for p in "${PROXIES[@]}"; do
        case $p in
        meridian) start_meridian meridian "${PORT[meridian]}" "$MERIDIAN_DNS_PORT" "$MERIDIAN_STATUS_PORT" "${RUST_LOG:-info,hickory_server=warn,hickory_proto=warn}" "" "$BACKEND_PORT" ;;
        nginx) start_nginx_proxy nginx "${PORT[nginx]}" "$BACKEND_PORT" ;;
        haproxy) start_haproxy haproxy "${PORT[haproxy]}" 0 "$BACKEND_PORT" ;;
        esac
    done
    for p in "${PROXIES[@]}"; do wait_ready "$p" "${PORT[$p]}"; done
    if ((WARMUP_SECONDS > 0)); then
        for p in "${PROXIES[@]}"; do
            run_wrk "$TMP/wrk.$p.warmup.txt" "${PORT[$p]}" "$WARMUP_SECONDS" || die "warm-up wrk against $p failed"
        done
        log "warm-up done (${WARMUP_SECONDS}s per proxy, not measured)"
    fi
}

stop_main() {
    local p
    for p in "${PROXIES[@]}"; do stop_one "$p"; done
    stop_one backend
}

fairness_line() {
    echo "   fairness: every proxy may use every core (Meridian: one worker thread per core, each with its own current_thread runtime and SO_REUSEPORT listener; nginx: worker_processes $NGINX_WORKERS; haproxy: nbthread ${HAPROXY_NBTHREAD:-default = one per CPU}); the load generator (one thread) shares the same $(nproc) cores"
}

# Median saturation req/s per target, from the throughput stage or the quick pass.
declare -A MED=()

throughput() {
    echo "== throughput: wrk -t1 -c$CONNECTIONS -d${SECONDS_PER_RUN}s --latency, $ROUNDS round(s), order rotated each round; 1 KiB body from one nginx backend on $ADDR:$BACKEND_PORT"
    fairness_line
    local r i n=${#PROXIES[@]}
    for ((r = 1; r <= ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do run_one "${PROXIES[$(((i + r - 1) % n))]}" "$r"; done
        if [[ $DIRECT == 1 && $r == 1 ]]; then run_one direct "$r"; fi
    done

    local targets=("${PROXIES[@]}")
    if [[ $DIRECT == 1 ]]; then targets+=(direct); fi
    echo "== throughput results (medians over the rounds; p99 here is at saturation, the latency stage measures it at a fixed rate)"
    printf '%-9s %9s %9s %9s %7s %7s %8s %10s %6s\n' target req/s min max p50_ms p99_ms rss_MiB cpu_s/100k cpu%
    local t
    for t in "${targets[@]}"; do
        MED[$t]=$(median <<<"${R_RPS[$t]}")
        printf '%-9s %9.0f %9.0f %9.0f %7.2f %7.2f %8.1f %10.2f %5.0f%%\n' "$t" "${MED[$t]}" \
            "$(tr ' ' '\n' <<<"${R_RPS[$t]}" | grep . | sort -g | head -n1)" \
            "$(tr ' ' '\n' <<<"${R_RPS[$t]}" | grep . | sort -g | tail -n1)" \
            "$(median <<<"${R_P50[$t]}")" "$(median <<<"${R_P99[$t]}")" "$(median <<<"${R_RSS[$t]}")" \
            "$(median <<<"${R_CPU100K[$t]}")" "$(median <<<"${R_CPU[$t]}")"
        if ((${R_BAD[$t]:-0} > 0)); then echo "          ^ $t had ${R_BAD[$t]} non-2xx responses or socket errors in total"; fi
    done
    echo "   cpu% = the target's processes, % of one core (2 cores = 200%); direct = wrk straight to the backend, round 1 only"
    if want meridian; then
        local best="" best_rps=0 line="" peer
        for peer in nginx haproxy; do
            want "$peer" || continue
            line+="meridian/$peer $(ratio "${MED[meridian]}" "${MED[$peer]}")  "
            if awk -v a="${MED[$peer]}" -v b="$best_rps" 'BEGIN {exit !(a > b)}'; then best=$peer best_rps=${MED[$peer]}; fi
        done
        if [[ -n $best ]]; then
            echo "== ratios (median req/s): ${line}meridian/best $(ratio "${MED[meridian]}" "$best_rps") ($best)"
        fi
    fi
}

# ---------------------------------------------------------------- latency --
declare -A L_P50=() L_P90=() L_P99=() L_P999=() L_MAX=() L_RPS=() L_CPU=() L_BAD=()
LATENCY_AT=0

kv() { # key line -> the value of key=value in line
    awk -v k="$1" '{for (i = 1; i <= NF; i++) {n = index($i, "="); if (n > 1 && substr($i, 1, n - 1) == k) {print substr($i, n + 1); exit}}}' <<<"$2"
}

target_pid_port() { # target -> "pid port"
    if [[ $1 == direct ]]; then echo "${SPID[backend]} $BACKEND_PORT"; else echo "${SPID[$1]} ${PORT[$1]}"; fi
}

run_latency_one() { # target round rate
    local t=$1 round=$2 rate=$3 out=$TMP/load.$1.$2.txt pid port rc=0
    read -r pid port < <(target_pid_port "$t")
    kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) died before latency round $round"
    local c0 c1 w0 w1
    c0=$(cpu_ticks "$pid") w0=$EPOCHREALTIME
    timeout -k 5 $((LATENCY_WARMUP + LATENCY_SECONDS + 30)) "$LOADGEN_BIN" rate --rate "$rate" \
        --connections "$CONNECTIONS" --duration "$LATENCY_SECONDS" --warmup "$LATENCY_WARMUP" \
        "http://$ADDR:$port/" >"$out" 2>&1 &
    LOAD_PID=$!
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    c1=$(cpu_ticks "$pid") w1=$EPOCHREALTIME
    if ((rc != 0)); then
        cat "$out" >&2
        die "http_load failed (rc=$rc) against $t in latency round $round"
    fi
    kill -0 "$pid" 2>/dev/null || die "$t (pid $pid) died during latency round $round"
    local line
    line=$(grep '^rate=' "$out") || {
        cat "$out" >&2
        die "could not parse http_load output for $t"
    }
    local achieved p50 p90 p99 p999 max non2xx errors timeouts missed cpupct
    achieved=$(kv achieved_rps "$line") p50=$(kv p50_ms "$line") p90=$(kv p90_ms "$line")
    p99=$(kv p99_ms "$line") p999=$(kv p999_ms "$line") max=$(kv max_ms "$line")
    non2xx=$(kv non2xx "$line") errors=$(kv errors "$line") timeouts=$(kv timeouts "$line") missed=$(kv missed "$line")
    cpupct=$(awk -v a="$c0" -v b="$c1" -v hz="$CLK_TCK" -v s="$w0" -v e="$w1" 'BEGIN {printf "%.0f", (e > s) ? 100 * (b - a) / hz / (e - s) : 0}')
    printf '  round %d/%d  %-8s %7.0f req/s  p50 %6.3f  p90 %6.3f  p99 %6.3f  p99.9 %6.3f  max %7.3f ms  cpu %3s%% of a core  non-2xx %s  errors %s  timeouts %s  missed %s\n' \
        "$round" "$LATENCY_ROUNDS" "$t" "$achieved" "$p50" "$p90" "$p99" "$p999" "$max" "$cpupct" "$non2xx" "$errors" "$timeouts" "$missed"
    local bad=$((non2xx + errors + timeouts + missed))
    if ((bad > 0)); then
        log "WARNING: $t: non-2xx $non2xx, errors $errors, timeouts $timeouts, missed sends $missed - its latency is not comparable"
        grep -v '^rate=' "$out" | head -n 3 >&2 || true
    fi
    L_P50[$t]+="$p50 " L_P90[$t]+="$p90 " L_P99[$t]+="$p99 " L_P999[$t]+="$p999 " L_MAX[$t]+="$max "
    L_RPS[$t]+="$achieved " L_CPU[$t]+="$cpupct " L_BAD[$t]=$((${L_BAD[$t]:-0} + bad))
}

# Without the throughput stage: one wrk run per proxy for its saturation req/s.
saturation_pass() {
    local p out reqs rps rest
    echo "== saturation pass (for the latency rate): wrk -t1 -c$CONNECTIONS -d${SATURATION_SECONDS}s per proxy"
    for p in "${PROXIES[@]}"; do
        out=$TMP/wrk.$p.saturation.txt
        run_wrk "$out" "${PORT[$p]}" "$SATURATION_SECONDS" || die "saturation wrk against $p failed"
        read -r reqs rps rest < <(parse_wrk "$out") || die "could not parse wrk output for $p"
        MED[$p]=$rps
        printf '  %-8s %9.0f req/s\n' "$p" "$rps"
    done
}

latency() {
    local rate slowest="" p
    if [[ -n $LATENCY_RATE ]]; then
        rate=$LATENCY_RATE
        echo "== latency at a fixed rate: $rate req/s (LATENCY_RATE)"
    else
        local missing=0
        for p in "${PROXIES[@]}"; do [[ -n ${MED[$p]:-} ]] || missing=1; done
        if ((missing)); then saturation_pass; fi
        for p in "${PROXIES[@]}"; do
            if [[ -z $slowest ]] || awk -v a="${MED[$p]}" -v b="${MED[$slowest]}" 'BEGIN {exit !(a < b)}'; then slowest=$p; fi
        done
        rate=$(awk -v m="${MED[$slowest]}" -v s="$LATENCY_SHARE" 'BEGIN {printf "%d", m * s / 100}')
        ((rate >= 1)) || die "latency rate is 0 (saturation req/s of $slowest: ${MED[$slowest]})"
        echo "== latency at a fixed rate: $rate req/s = $LATENCY_SHARE% of the slowest proxy's saturation req/s ($slowest, $(kilo "${MED[$slowest]}"))"
    fi
    LATENCY_AT=$rate
    echo "   examples/http_load: $CONNECTIONS keep-alive connections, one thread, latency from each request's intended send time (corrected for coordinated omission, as wrk2); ${LATENCY_WARMUP}s unmeasured + ${LATENCY_SECONDS}s per run, $LATENCY_ROUNDS round(s), order rotated; direct = straight to the backend"
    fairness_line
    local targets=(direct "${PROXIES[@]}") r i n
    n=${#targets[@]}
    for ((r = 1; r <= LATENCY_ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do run_latency_one "${targets[$(((i + r - 1) % n))]}" "$r" "$rate"; done
    done

    echo "== latency results at $rate req/s (medians over the rounds; max = the highest of any round; added = p99 minus direct's p99)"
    printf '%-9s %9s %7s %7s %7s %8s %8s %10s %6s\n' target req/s p50_ms p90_ms p99_ms p99.9_ms max_ms added_p99 cpu%
    declare -gA ADDED=()
    local t direct_p99 added
    direct_p99=$(median <<<"${L_P99[direct]}")
    for t in "${targets[@]}"; do
        added="-"
        if [[ $t != direct ]]; then
            ADDED[$t]=$(awk -v a="$(median <<<"${L_P99[$t]}")" -v b="$direct_p99" 'BEGIN {printf "%.3f", a - b}')
            added=$(printf '%+.3f' "${ADDED[$t]}")
        fi
        printf '%-9s %9.0f %7.3f %7.3f %7.3f %8.3f %8.3f %10s %5.0f%%\n' "$t" "$(median <<<"${L_RPS[$t]}")" \
            "$(median <<<"${L_P50[$t]}")" "$(median <<<"${L_P90[$t]}")" "$(median <<<"${L_P99[$t]}")" \
            "$(median <<<"${L_P999[$t]}")" "$(tr ' ' '\n' <<<"${L_MAX[$t]}" | grep . | sort -g | tail -n1)" \
            "$added" "$(median <<<"${L_CPU[$t]}")"
        if ((${L_BAD[$t]:-0} > 0)); then echo "          ^ $t had ${L_BAD[$t]} non-2xx responses, errors, timeouts or missed sends in total"; fi
    done
    echo "   cpu% = the target's processes during the run (warm-up included), % of one core"
    if want meridian; then
        local best="" line="" peer verdict
        for peer in nginx haproxy; do
            want "$peer" || continue
            line+="$peer ${ADDED[$peer]} ms  "
            if [[ -z $best ]] || awk -v a="${ADDED[$peer]}" -v b="${ADDED[$best]}" 'BEGIN {exit !(a < b)}'; then best=$peer; fi
        done
        verdict=$(awk -v a="${ADDED[meridian]}" 'BEGIN {print (a <= 1) ? "met" : "NOT met"}')
        echo "== added p99 over direct: meridian ${ADDED[meridian]} ms (goal <= 1 ms: $verdict)  ${line}"
        if [[ -n $best ]]; then
            # A ratio of two differences means little when the peer adds next to nothing.
            echo "== ratio (added p99): meridian/best $(awk -v a="${ADDED[meridian]}" -v b="${ADDED[$best]}" 'BEGIN {if (b >= 0.02) printf "%.2f", a / b; else print "n/a (the best peer adds under 0.02 ms)"}') ($best)"
        fi
    fi
}

# ------------------------------------------------------------------- idle --
declare -A I_KIB=()

idle_one() { # proxy
    local p=$1 pid=${SPID[$1]} port=${PORT[$1]} out=$TMP/idle.$1.txt rc=0 i
    kill -0 "$pid" 2>/dev/null || die "$p (pid $pid) died before its idle test"
    sleep "$IDLE_SETTLE"
    local before after established
    before=$(rss_kib "$pid")
    : >"$out"
    "$LOADGEN_BIN" idle --connections "$IDLE_CONNECTIONS" --hold $((IDLE_SETTLE + 3)) \
        "${IDLE_SOURCE_ARGS[@]}" "http://$ADDR:$port/" >"$out" 2>&1 &
    LOAD_PID=$!
    for ((i = 0; i < 1200; i++)); do
        grep -q '^idle_open=' "$out" && break
        kill -0 "$LOAD_PID" 2>/dev/null || break
        sleep 0.1
    done
    local line
    line=$(grep '^idle_open=' "$out") || {
        wait "$LOAD_PID" || true
        LOAD_PID=
        cat "$out" >&2
        die "http_load idle did not report its connections to $p"
    }
    sleep "$IDLE_SETTLE"
    after=$(rss_kib "$pid")
    established=$(ss -Htn state established "( sport = :$port )" 2>/dev/null | wc -l)
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    ((rc == 0)) || {
        cat "$out" >&2
        die "http_load idle failed (rc=$rc) against $p"
    }
    local open failed still
    open=$(kv idle_open "$line") failed=$(kv failed "$line")
    still=$(kv idle_still_open "$(grep '^idle_still_open=' "$out" || true)")
    ((open > 0)) || die "no idle connection to $p opened ($(grep -v '^idle' "$out" | head -n 1))"
    I_KIB[$p]=$(awk -v a="$before" -v b="$after" -v n="$open" 'BEGIN {printf "%.2f", (b - a) / n}')
    printf '  %-8s rss %7.1f -> %7.1f MiB  = %6.2f KiB per idle connection  (open %d, failed %d, established at the reading %d, still open after %d s %s)\n' \
        "$p" "$(awk -v k="$before" 'BEGIN {print k / 1024}')" "$(awk -v k="$after" 'BEGIN {print k / 1024}')" \
        "${I_KIB[$p]}" "$open" "$failed" "$established" $((IDLE_SETTLE + 3)) "${still:-?}"
    if ((failed > 0)); then
        log "WARNING: $p: $failed of $IDLE_CONNECTIONS idle connections failed:"
        grep -v '^idle' "$out" | head -n 3 >&2 || true
    fi
    if ((established < open)); then
        log "WARNING: $p: only $established of $open connections established when RSS was read"
    fi
}

idle_memory() {
    echo "== idle connections: $IDLE_CONNECTIONS keep-alive client connections per proxy from 127.0.0.2..127.0.0.$((1 + IDLE_SOURCES)), one request each, then idle; KiB per connection = RSS delta (VmRSS summed over the proxy's processes) / connections, read ${IDLE_SETTLE}s after the last one went idle"
    local p
    for p in "${PROXIES[@]}"; do idle_one "$p"; done
    if want meridian; then
        local line="" peer best=""
        for peer in nginx haproxy; do
            want "$peer" || continue
            line+="meridian/$peer $(ratio "${I_KIB[meridian]}" "${I_KIB[$peer]}")  "
            if [[ -z $best ]] || awk -v a="${I_KIB[$peer]}" -v b="${I_KIB[$best]}" 'BEGIN {exit !(a < b)}'; then best=$peer; fi
        done
        if [[ -n $best ]]; then
            echo "== ratios (KiB per idle connection, lower is better): ${line}meridian/best $(ratio "${I_KIB[meridian]}" "${I_KIB[$best]}") ($best)"
        fi
    fi
}

# --------------------------------------------------------------- kill test --
declare -A K_NON2XX=() K_SOCK=() K_REQS=()

# Every proxy reaches both backends again (and Meridian reports both healthy).
settle() {
    local i p n ok
    for ((i = 1; i <= SETTLE_TRIES; i++)); do
        ok=1
        [[ $(http_code "${KILL_BACKEND_PORTS[0]}") == "200 1024" && $(http_code "${KILL_BACKEND_PORTS[1]}") == "200 1024" ]] || ok=0
        if want meridian && ((ok)); then
            grep -q '"healthy_backends":2' <<<"$(curl -s --max-time 1 "http://$ADDR:$KMERIDIAN_STATUS_PORT/healthz" || true)" || ok=0
        fi
        for p in "${PROXIES[@]}"; do
            ((ok)) || break
            for n in 1 2 3 4; do [[ $(http_code "${KPORT[$p]}") == "200 1024" ]] || ok=0; done
        done
        ((ok)) && break
        sleep 0.5
    done
    ((ok)) || log "WARNING: backends/proxies not all healthy again after $SETTLE_TRIES polls"
    sleep "$SETTLE_SECONDS"
}

log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# What a proxy logged during the kill test: counts per kind of message, a few lines.
show_log_excerpt() { # proxy file offset
    local p=$1 f=$2 off=$3 part=$TMP/$1.kill-log.$RANDOM
    tail -c +"$((off + 1))" "$f" >"$part" 2>/dev/null || true
    local lines
    lines=$(wc -l <"$part")
    echo "    $p log during the test: $lines line(s)"
    case $p in
    meridian)
        # "connection closed before message completed" from a client is wrk stopping at its
        # deadline with requests in flight: expected, not an error the proxy caused.
        local msg
        for msg in "backend state changed" "connect failed" "no response" "proxy connection ended with an error"; do
            printf '      %-38s %s\n' "\"$msg\":" "$(grep -c "$msg" "$part" || true)"
        done
        grep -e 'proxy connection ended with an error' "$part" | sed -E 's/^[^ ]+ +//; s/peer=[0-9.:]+ //' | sort | uniq -c | sed 's/^/      | /' || true
        grep -v -e 'connect failed' -e 'no response' -e 'proxy connection ended with an error' "$part" | head -n 12 | sed 's/^/      | /' || true
        grep -e 'connect failed' -e 'no response' "$part" | sed -E 's/^[^ ]+ +//' | sort | uniq -c | sed 's/^/      | /' || true
        grep -e 'connect failed' -e 'no response' "$part" | awk 'NR == 1 {print "      | first: " $1} {last = $1} END {if (NR) print "      | last:  " last}'  || true
        ;;
    nginx)
        sed -E 's/^[0-9\/]+ [0-9:]+ \[[a-z]+\] [0-9#]+: \*[0-9]+ //; s/, client: .*//' "$part" | sort | uniq -c | sort -rn | head -n 8 | sed 's/^/      | /' || true
        ;;
    haproxy)
        # Request lines appear only when abnormal (dontlog-normal): an error, or a retry
        # ("+N" in the retries field).
        grep -E 'Server be/|backend be ' "$part" | grep -v '^\[' | head -n 8 | sed 's/^/      | /' || true
        echo "      request log lines: $(grep -c '"GET ' "$part" || true), of them retried (+N): $(grep -cE ' [0-9]+/[0-9]+/[0-9]+/[0-9]+/\+[0-9]+ ' "$part" || true), status not 200: $(grep '"GET ' "$part" | awk '$6 != 200' | wc -l), termination flags not ----: $(grep '"GET ' "$part" | awk '$10 != "----"' | wc -l)"
        grep '"GET ' "$part" | awk '$6 != 200 || $10 != "----"' | head -n 3 | sed 's/^/      | /' || true
        grep -v -e '"GET ' -e 'Server be/' -e '^\[' "$part" | head -n 3 | sed 's/^/      | other: /' || true
        ;;
    esac
}

kill_one() { # proxy round
    local p=$1 round=$2 out=$TMP/kill.$1.$2.txt pid=${SPID[$1]} f off rc=0
    f=${SLOG[$p]}
    if [[ $p == nginx ]]; then f=$TMP/knginx/error.log; fi
    off=$(log_size "$f")
    kill -0 "$pid" 2>/dev/null || die "$p (pid $pid) died before its kill test"
    timeout -k 5 $((KILL_SECONDS + 30)) wrk -t1 -c"$CONNECTIONS" -d"${KILL_SECONDS}s" --latency "http://$ADDR:${KPORT[$p]}/" >"$out" 2>&1 &
    LOAD_PID=$!
    sleep "$KILL_AT"
    kill -KILL "${SPID[kb0]}"
    wait "${SPID[kb0]}" 2>/dev/null || true
    sleep $((RESTART_AT - KILL_AT))
    start_bg kb0 "$TMP/kb0/stderr.log" nginx -p "$TMP/kb0" -c "$TMP/kb0/nginx.conf" -e "$TMP/kb0/error.log"
    wait "$LOAD_PID" || rc=$?
    LOAD_PID=
    local parsed reqs rps p50 p99 non2xx sc sr sw st
    parsed=$(wrk_result "$out" "$rc" "$pid" "$p" "its kill test")
    read -r reqs rps p50 p99 non2xx sc sr sw st <<<"$parsed"
    printf '  %-8s %9.0f req/s  %8d requests  p99 %7.2f ms  non-2xx %5d  socket errors: connect %d read %d write %d timeout %d\n' \
        "$p" "$rps" "$reqs" "$p99" "$non2xx" "$sc" "$sr" "$sw" "$st"
    K_NON2XX[$p]=$((${K_NON2XX[$p]:-0} + non2xx))
    K_SOCK[$p]=$((${K_SOCK[$p]:-0} + sc + sr + sw + st))
    K_REQS[$p]=$((${K_REQS[$p]:-0} + reqs))
    sleep 0.5 # let the proxy write its last log lines
    show_log_excerpt "$p" "$f" "$off"
    if [[ $p == meridian ]]; then
        echo "    meridian /healthz right after the test: $(curl -s --max-time 1 "http://$ADDR:$KMERIDIAN_STATUS_PORT/healthz" |
            grep -oE '"(healthy|total)_backends":[0-9]+' | tr '\n' ' ' || echo '(no answer)')"
    fi
}

kill_test() {
    echo "== kill test: wrk -t1 -c$CONNECTIONS -d${KILL_SECONDS}s per proxy, two nginx backends ($ADDR:${KILL_BACKEND_PORTS[0]} and :${KILL_BACKEND_PORTS[1]}); at ${KILL_AT}s the first gets SIGKILL, at ${RESTART_AT}s it starts again"
    echo "   meridian: least-request, health checks 1 s (250 ms when failing), default outlier ejection; retries: ${MERIDIAN_RETRIES:-defaults (2 attempts, GETs retried after a reset, budget 20% of the requests over 10 s plus 3 per second)}"
    echo "   nginx:    least_conn, keepalive 64, defaults proxy_next_upstream error timeout, max_fails=1 fail_timeout=10s"
    echo "   haproxy:  leastconn, check inter 1s, retries 3, option redispatch, observe layer4 (error-limit 1, mark-down), retry-on $HAPROXY_RETRY_ON"
    local p i
    start_backend kb0 "${KILL_BACKEND_PORTS[0]}"
    start_backend kb1 "${KILL_BACKEND_PORTS[1]}"
    wait_ready kb0 "${KILL_BACKEND_PORTS[0]}"
    wait_ready kb1 "${KILL_BACKEND_PORTS[1]}"
    for p in "${PROXIES[@]}"; do
        case $p in
        meridian) start_meridian kmeridian "${KPORT[meridian]}" "$KMERIDIAN_DNS_PORT" "$KMERIDIAN_STATUS_PORT" "$MERIDIAN_KILL_LOG" "$MERIDIAN_RETRIES" "${KILL_BACKEND_PORTS[@]}" ;;
        nginx) start_nginx_proxy knginx "${KPORT[nginx]}" "${KILL_BACKEND_PORTS[@]}" ;;
        haproxy) start_haproxy khaproxy "${KPORT[haproxy]}" 1 "${KILL_BACKEND_PORTS[@]}" ;;
        esac
        SPID[$p]=${SPID[k$p]} SLOG[$p]=${SLOG[k$p]}
        unset "SPID[k$p]"
    done
    for p in "${PROXIES[@]}"; do wait_ready "$p" "${KPORT[$p]}"; done
    local n=${#PROXIES[@]}
    for ((r = 1; r <= KILL_ROUNDS; r++)); do
        for ((i = 0; i < n; i++)); do
            settle
            kill_one "${PROXIES[$(((i + r - 1) % n))]}" "$r"
        done
    done
}

# ------------------------------------------------------------------- main --
for port in "$BACKEND_PORT" "${KILL_BACKEND_PORTS[@]}" "${PORT[@]}" "${KPORT[@]}" "$MERIDIAN_DNS_PORT" \
    "$MERIDIAN_STATUS_PORT" "$KMERIDIAN_DNS_PORT" "$KMERIDIAN_STATUS_PORT"; do
    port_in_use "$port" && die "port $port on $ADDR is already in use (set BASE_PORT)"
done
build_meridian
print_versions

summary="http bench:"
sep=""
if stage throughput || stage latency || stage idle; then start_main; fi
if stage throughput; then
    throughput
    if want meridian; then
        summary+=" meridian $(kilo "${MED[meridian]}") req/s"
        sep=" ="
        for peer in nginx haproxy; do
            want "$peer" || continue
            summary+="$sep $(ratio "${MED[meridian]}" "${MED[$peer]}")x $peer"
            sep=","
        done
    else
        for peer in "${PROXIES[@]}"; do summary+=" $peer $(kilo "${MED[$peer]}") req/s"; done
    fi
    sep=";"
fi
if stage latency; then
    latency
    summary+="$sep added p99 at $(kilo "$LATENCY_AT") req/s:"
    sep=""
    for p in "${PROXIES[@]}"; do
        summary+="$sep $p $(printf '%+.2f' "${ADDED[$p]}") ms"
        sep=","
    done
    sep=";"
fi
if stage idle; then
    idle_memory
    summary+="$sep KiB per idle connection:"
    sep=""
    for p in "${PROXIES[@]}"; do
        summary+="$sep $p ${I_KIB[$p]}"
        sep=","
    done
    sep=";"
fi
if stage throughput || stage latency || stage idle; then stop_main; fi
if stage kill; then
    kill_test
    summary+="$sep kill test:"
    sep=""
    for p in "${PROXIES[@]}"; do
        summary+="$sep $p ${K_NON2XX[$p]} non-2xx"
        if ((${K_SOCK[$p]} > 0)); then summary+=" + ${K_SOCK[$p]} socket errors"; fi
        sep=","
    done
fi
echo "$summary"
