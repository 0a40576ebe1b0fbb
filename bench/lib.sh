# bench/lib.sh - shared by the benchmark scripts; sourced, not run.
# The sourcing script defines log() and die(), the associative array BIN_PKG (binary ->
# Debian package) and the array need_bins.

# Installs the packages of the binaries in need_bins that are missing (root only), then
# checks that every one of them is there.
install_missing() {
    local b missing_pkgs=()
    for b in "${need_bins[@]}"; do
        command -v "$b" >/dev/null 2>&1 || missing_pkgs+=("${BIN_PKG[$b]}")
    done
    if ((${#missing_pkgs[@]} > 0)); then
        [[ $(id -u) == 0 ]] || die "missing packages (${missing_pkgs[*]}) and not root; install them: apt-get install -y ${missing_pkgs[*]}"
        log "installing: ${missing_pkgs[*]}"
        export DEBIAN_FRONTEND=noninteractive
        apt-get update -qq >&2
        apt-get install -y -qq "${missing_pkgs[@]}" >&2
    fi
    for b in "${need_bins[@]}"; do command -v "$b" >/dev/null 2>&1 || die "$b still missing after install"; done
}

# Stops the load generator (pid $1, may be empty) and every server in the associative array
# SPID (name -> pid): TERM to all, then up to 5 s each before KILL, reaping each.
stop_all() {
    local load=$1 s pid i
    if [[ -n $load ]] && kill -0 "$load" 2>/dev/null; then kill -TERM "$load" 2>/dev/null || true; fi
    for s in "${!SPID[@]}"; do kill -TERM "${SPID[$s]}" 2>/dev/null || true; done
    for s in "${!SPID[@]}"; do
        pid=${SPID[$s]}
        for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        if kill -0 "$pid" 2>/dev/null; then
            log "$s (pid $pid) did not exit on TERM, sending KILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
        wait "$pid" 2>/dev/null || true
    done
}

# Ends the cleanup trap: keeps the temp dir TMP when KEEP_TMP=1 or the run failed (rc != 0),
# else removes it, then exits with rc.
finish_cleanup() {
    local rc=$1
    if [[ $KEEP_TMP == 1 || $rc != 0 ]]; then
        log "temp dir kept: $TMP"
    else
        rm -rf "$TMP"
    fi
    exit "$rc"
}

# ---- process accounting, for bench/dns.sh and bench/dns-real.sh (http.sh still carries its own
# copies of the first four) ----

# A pid and all its descendants (NSD and nginx fork workers).
tree_pids() {
    local p=$1 c
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null || true); do tree_pids "$c"; done
}

# utime+stime (clock ticks) summed over a process tree, all threads.
cpu_ticks() {
    local total=0 p s
    local -a f
    for p in $(tree_pids "$1"); do
        s=$(cat "/proc/$p/stat" 2>/dev/null) || continue
        s=${s##*) } # drop "pid (comm) "; comm may contain spaces
        read -ra f <<<"$s"
        total=$((total + f[11] + f[12])) # fields 14 (utime) and 15 (stime)
    done
    echo "$total"
}

# "busy total" clock ticks of the whole machine, from /proc/stat.
machine_ticks() {
    local -a c
    read -ra c </proc/stat # cpu user nice system idle iowait irq softirq steal ...
    local idle=$((c[4] + c[5])) total=0 i
    for ((i = 1; i <= 8 && i < ${#c[@]}; i++)); do total=$((total + c[i])); done
    echo "$((total - idle)) $total"
}

# The median of the numbers on stdin (space or newline separated); 0 for none.
median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR] = $1} END {if (NR == 0) {print 0} else if (NR % 2) {print a[(NR + 1) / 2]} else {print (a[NR / 2] + a[NR / 2 + 1]) / 2}}'; }

# A memory field of /proc/PID/status (VmRSS now, VmHWM the peak) summed over a process
# tree, in MiB.
tree_mem_mib() { # field pid
    local field=$1 total=0 kib p
    for p in $(tree_pids "$2"); do
        kib=$(awk -v f="$field:" '$1 == f {print $2}' "/proc/$p/status" 2>/dev/null)
        total=$((total + ${kib:-0}))
    done
    awk -v k="$total" 'BEGIN {printf "%.1f", k / 1024}'
}
