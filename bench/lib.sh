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
