#!/usr/bin/env bash
# The Debian package: builds it with cargo-deb (pinned below) from the release build in
# TARGET_DIR, then installs, checks, upgrades, removes and purges it with dpkg on this
# machine. Needs root. Run it on CI or a throwaway machine: it replaces an installed meridian
# package and purges it at the end (the package never writes to /etc/meridian, and neither
# does this script). Copies the .deb and its -dbgsym .ddeb to artifacts/deb/.
# Prints `deb: N passed, M failed`.
#   bash tests/deb.sh [TARGET_DIR]     (default: $CARGO_TARGET_DIR, else target)
# DEB_VERBOSE=1 also prints the output of the checks that pass (dpkg -L, the scripts).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
CARGO_DEB_VERSION=3.8.0
TARGET=$(realpath -m "${1:-${CARGO_TARGET_DIR:-target}}")
export CARGO_TARGET_DIR=$TARGET
WORK=$(mktemp -d)
passed=0
failed=0

summary() { echo "deb: $passed passed, $failed failed"; }

installed() { [ "$(dpkg-query -W -f='${db:Status-Status}' meridian 2>/dev/null)" = installed ]; }

cleanup() {
    # A run that stopped half-way must not leave the package behind for the next one.
    if dpkg-query -W meridian >/dev/null 2>&1; then dpkg -P meridian >/dev/null 2>&1; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

check() { # check NAME COMMAND... : passes when the command succeeds
    local name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        passed=$((passed + 1))
        echo "PASS  $name"
        [ -n "${DEB_VERBOSE:-}" ] && sed 's/^/      /' "$WORK/out"
    else
        failed=$((failed + 1))
        echo "FAIL  $name"
        sed 's/^/      /' "$WORK/out" | head -30
    fi
    return 0
}

give_up() { # give_up NAME REASON: a failed precondition; nothing after it can run
    failed=$((failed + 1))
    echo "FAIL  $1: $2"
    summary
    exit 1
}

[ "$(id -u)" -eq 0 ] || give_up "root" "dpkg -i needs root; run as root (CI does)"

# Tools: dpkg-shlibdeps (dpkg-dev) resolves Depends: $auto; objcopy and strip (binutils)
# split the debug info into the -dbgsym package.
missing=()
command -v dpkg-shlibdeps >/dev/null || missing+=(dpkg-dev)
command -v objcopy >/dev/null && command -v strip >/dev/null || missing+=(binutils)
if ((${#missing[@]})); then
    echo "installing: ${missing[*]}"
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
        --no-install-recommends "${missing[@]}" >/dev/null; }; then
        give_up "tools" "apt-get install ${missing[*]} failed"
    fi
fi

if [ "$(cargo deb --version 2>/dev/null)" != "cargo-deb $CARGO_DEB_VERSION" ]; then
    echo "installing cargo-deb $CARGO_DEB_VERSION (found: $(cargo deb --version 2>/dev/null || echo none))"
    start=$SECONDS
    # Its own temporary target dir: CI's stays the project's.
    env -u CARGO_TARGET_DIR cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet ||
        give_up "cargo-deb" "cargo install cargo-deb --version $CARGO_DEB_VERSION failed"
    echo "cargo-deb $CARGO_DEB_VERSION installed in $((SECONDS - start)) s"
fi

if dpkg-query -W meridian >/dev/null 2>&1; then
    echo "a meridian package is already on this machine: purging it first"
    dpkg -P meridian >/dev/null || give_up "purge the previous package" "dpkg -P meridian failed"
fi

# --- the example config ---------------------------------------------------------------

example_is_generated() {
    bash dist/deb/example-config.sh >"$WORK/example.toml" || return 1
    diff -u dist/deb/meridian.toml "$WORK/example.toml" || {
        echo "dist/deb/meridian.toml is stale; after changing meridian.toml run"
        echo "  bash dist/deb/example-config.sh > dist/deb/meridian.toml"
        return 1
    }
}
check "dist/deb/meridian.toml is meridian.toml with the installed paths" example_is_generated

# --- build ----------------------------------------------------------------------------

# cargo deb runs `cargo build --release --locked --bin meridian`, which reuses the release
# build already in TARGET_DIR (the same profile and flags as .ci/run's), then strips the
# binary and packs. Output: $TARGET/debian/.
start=$SECONDS
if ! cargo deb --locked >"$WORK/build.log" 2>&1; then
    sed 's/^/      /' "$WORK/build.log" | tail -30
    give_up "cargo deb builds the package" "see above"
fi
DEB=$(grep -E '\.deb$' "$WORK/build.log" | tail -1)
DDEB=$(grep -E '\.ddeb$' "$WORK/build.log" | tail -1)
[ -f "$DEB" ] || give_up "cargo deb builds the package" "no .deb named in its output"
passed=$((passed + 1))
echo "PASS  cargo deb builds the package ($(basename "$DEB"), $(stat -c %s "$DEB") bytes, $((SECONDS - start)) s)"
mkdir -p artifacts/deb
cp "$DEB" ${DDEB:+"$DDEB"} artifacts/deb/
VERSION=$(dpkg-deb -f "$DEB" Version)
UPSTREAM=${VERSION%-*}

changelog_current() {
    local top
    top=$(dpkg-parsechangelog -l dist/deb/changelog -S Version) || return 1
    [ "$top" = "$VERSION" ] || {
        echo "dist/deb/changelog's latest entry is $top, the package is $VERSION: add an entry at its top"
        return 1
    }
}
check "dist/deb/changelog's latest entry is $VERSION" changelog_current

metadata() {
    dpkg-deb -I "$DEB"
    [ "$(dpkg-deb -f "$DEB" Package)" = meridian ] || { echo "Package is not meridian"; return 1; }
    [ "$(dpkg-deb -f "$DEB" Section)" = net ] || { echo "Section is not net"; return 1; }
    [ "$(dpkg-deb -f "$DEB" Priority)" = optional ] || { echo "Priority is not optional"; return 1; }
    # $auto: dpkg-shlibdeps found the C library the binary links.
    dpkg-deb -f "$DEB" Depends | grep -Eq '^libc6 \(>= [0-9.]+\)' || { echo "Depends lacks libc6 (>= ...)"; return 1; }
    # Nothing under /etc, so no conffiles: the package never owns the operator's config.
    if dpkg-deb --ctrl-tarfile "$DEB" | tar -t | grep -q conffiles; then echo "has conffiles"; return 1; fi
    if dpkg-deb -c "$DEB" | grep -q ' \./etc/'; then echo "installs under /etc"; return 1; fi
}
check "control: meridian, net, optional, Depends libc6, no conffiles, nothing in /etc" metadata

scripts() {
    dpkg-deb -e "$DEB" "$WORK/control"
    local script
    for script in postinst prerm postrm; do
        sh -n "$WORK/control/$script" || { echo "$script: syntax error"; return 1; }
    done
    # Never enabled or started by the package: only a unit the operator enabled gets its
    # links refreshed (was-enabled), and only a running node is restarted on upgrade.
    grep -q 'was-enabled meridian.service' "$WORK/control/postinst" || { echo "postinst: no was-enabled guard"; return 1; }
    grep -q 'was-enabled defaults to true' "$WORK/control/postinst" && { echo "postinst enables on install"; return 1; }
    grep -q 'deb-systemd-invoke try-restart meridian.service' "$WORK/control/postinst" || { echo "postinst: no try-restart"; return 1; }
    grep -q 'deb-systemd-invoke start' "$WORK/control/postinst" && { echo "postinst starts the unit"; return 1; }
    # shellcheck disable=SC2016 # the script's own text, not an expansion
    grep -q '\[ "$1" = remove \]' "$WORK/control/prerm" || { echo "prerm stops on upgrade too"; return 1; }
    grep -q 'rm -rf /var/lib/private/meridian /var/lib/meridian' "$WORK/control/postrm" || { echo "postrm: no purge of the state"; return 1; }
    cat "$WORK/control/postinst" "$WORK/control/prerm"
}
check "maintainer scripts: never enable or start, try-restart on upgrade, stop on removal" scripts

# --- install --------------------------------------------------------------------------

install_deb() {
    dpkg -i "$DEB" && return 0
    # Dependencies dpkg could not satisfy by itself (libc6 is always there on Debian 12).
    DEBIAN_FRONTEND=noninteractive apt-get install -f -y -qq && installed
}
check "dpkg -i installs $(basename "$DEB")" install_deb
installed || give_up "installed" "the package is not installed; nothing else can be checked"

version() {
    [ "$(command -v meridian)" = /usr/bin/meridian ] || { echo "meridian is $(command -v meridian)"; return 1; }
    /usr/bin/meridian --version
    [ "$(/usr/bin/meridian --version)" = "meridian $UPSTREAM" ]
}
check "/usr/bin/meridian --version says meridian $UPSTREAM" version

FILES=(
    /usr/bin/meridian
    /usr/lib/systemd/system/meridian.service
    /usr/share/meridian/dbip-city-lite-coarse.mmdb
    /usr/share/meridian/NOTICE
    /usr/share/meridian/grafana-dashboard.json
    /usr/share/doc/meridian/examples/meridian.toml
    /usr/share/doc/meridian/examples/meridian.env
    /usr/share/doc/meridian/examples/regions/eu-west.toml
    /usr/share/doc/meridian/examples/regions/us-east.toml
    /usr/share/doc/meridian/examples/regions/ap-southeast.toml
    /usr/share/doc/meridian/README.Debian
    /usr/share/doc/meridian/copyright
)
listed() {
    dpkg -L meridian >"$WORK/list"
    cat "$WORK/list"
    local file
    for file in "${FILES[@]}"; do
        grep -qx "$file" "$WORK/list" || { echo "not listed: $file"; return 1; }
        [ -f "$file" ] || { echo "listed but missing: $file"; return 1; }
    done
}
check "dpkg -L lists the binary, unit, database, NOTICE, dashboard, examples, copyright" listed

not_enabled() {
    [ ! -e /etc/systemd/system/multi-user.target.wants/meridian.service ] || { echo "enabled"; return 1; }
    if [ -d /run/systemd/system ]; then
        ! systemctl is-active --quiet meridian.service || { echo "running"; return 1; }
    fi
}
check "the unit is neither enabled nor started on install" not_enabled

# From another directory, and as an unprivileged user in no group, as the unit's dynamic
# user is: the installed files are world-readable and every path is absolute.
check_config() { (cd / && env -u MERIDIAN_ADMIN_TOKEN -u MERIDIAN_COOKIE_KEY "$@" \
    /usr/bin/meridian check-config /usr/share/doc/meridian/examples/meridian.toml); }
check "meridian check-config passes on the installed example" check_config
check "... also as an unprivileged user in no group (uid 65534)" \
    check_config setpriv --reuid=65534 --regid=65534 --clear-groups

if command -v systemd-analyze >/dev/null; then
    # Offline: loads the unit and checks its settings and ExecStart binary; needs no
    # running systemd.
    check "systemd-analyze verify meridian.service" \
        systemd-analyze verify /usr/lib/systemd/system/meridian.service
else
    echo "SKIP  systemd-analyze verify meridian.service: systemd-analyze is not installed"
fi

# --- upgrades -------------------------------------------------------------------------

check "dpkg -i of the same version again (reinstall) works" dpkg -i "$DEB"

# An operator enables the node (as the Terraform cloud-init does); an upgrade must keep it
# enabled. systemctl enable works without a running systemd: it only makes the links.
enable_unit() {
    if command -v systemctl >/dev/null; then systemctl enable meridian.service; else deb-systemd-helper enable meridian.service; fi
    [ -L /etc/systemd/system/multi-user.target.wants/meridian.service ]
}
check "the operator enables the unit" enable_unit

# The next revision, packed from the same build, installed the way cloud-init does.
upgrade() {
    cargo deb --locked --no-build --fast --deb-revision 2 --output "$WORK/rev2" || return 1
    local next
    next=$(ls "$WORK"/rev2/meridian_*.deb)
    # Needs nothing from the network: its only dependency, libc6, is installed.
    DEBIAN_FRONTEND=noninteractive apt-get install -y "$next" || return 1
    [ "$(dpkg-query -W -f='${Version}' meridian)" = "$UPSTREAM-2" ] || { echo "version is $(dpkg-query -W -f='${Version}' meridian)"; return 1; }
    /usr/bin/meridian --version
}
check "upgrade to $UPSTREAM-2 with apt-get install ./meridian_$UPSTREAM-2_*.deb" upgrade
check "the unit stays enabled across the upgrade" test -L /etc/systemd/system/multi-user.target.wants/meridian.service

# --- remove, purge --------------------------------------------------------------------

# The node's state as systemd leaves it for a DynamicUser unit, for the purge to delete.
private_existed=no
[ -d /var/lib/private ] && private_existed=yes
made_state=no
if [ ! -e /var/lib/meridian ] && [ ! -e /var/lib/private/meridian ]; then
    mkdir -p /var/lib/private/meridian && chmod 700 /var/lib/private &&
        echo '{}' >/var/lib/private/meridian/operator-eu-west.json &&
        ln -s private/meridian /var/lib/meridian && made_state=yes
fi

removed() {
    dpkg -r meridian || return 1
    local status
    status=$(dpkg-query -W -f='${Status}' meridian)
    # No conffiles, yet dpkg keeps the package in config-files state until the purge.
    [ "$status" = "deinstall ok config-files" ] || { echo "status: $status"; return 1; }
    local file left=0
    while read -r file; do
        if [ -f "$file" ] || [ -L "$file" ]; then echo "left behind: $file"; left=1; fi
    done <"$WORK/list"
    [ "$left" = 0 ] || return 1
    # As dh_installsystemd does: the unit is masked while its enablement links remain.
    [ "$(readlink /etc/systemd/system/meridian.service)" = /dev/null ] || { echo "not masked"; return 1; }
}
check "dpkg -r removes every file of the package and masks the unit" removed

purged() {
    dpkg -P meridian || return 1
    ! dpkg-query -W meridian 2>/dev/null || { echo "still known to dpkg"; return 1; }
    local path
    for path in /usr/share/meridian /usr/share/doc/meridian /etc/systemd/system/meridian.service \
        /etc/systemd/system/multi-user.target.wants/meridian.service \
        /var/lib/systemd/deb-systemd-helper-enabled/meridian.service.dsh-also \
        /var/lib/systemd/deb-systemd-helper-masked/meridian.service; do
        if [ -e "$path" ] || [ -L "$path" ]; then echo "left behind: $path"; return 1; fi
    done
    if [ "$made_state" = yes ]; then
        if [ -e /var/lib/meridian ] || [ -L /var/lib/meridian ] || [ -e /var/lib/private/meridian ]; then
            echo "state left behind"
            return 1
        fi
    fi
}
check "dpkg -P purges the unit's links, mask and state" purged
[ "$private_existed" = no ] && [ "$made_state" = yes ] && rmdir /var/lib/private 2>/dev/null

summary
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
