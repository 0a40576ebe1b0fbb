#!/usr/bin/env bash
# Offline checks of terraform/: formatting; the node-config module's init, validate and
# `terraform test`; the test topology (terraform/test/render) rendered and compared with its
# golden copy (terraform/test/golden); the golden config checked by the real binary and run as
# three real `meridian run` nodes on loopback, started the way their cloud-init and systemd
# would start them, and queried with dig and curl; then every executable terraform/checks/*.sh.
# Without terraform on PATH the terraform stages are skipped, saying so, and the binary stages
# still run on the golden copy. Prints PASS/FAIL lines and `terraform: N passed, M failed`.
#
# usage: terraform/test.sh [BIN]    (default: the release build of meridian)
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
BIN=${1:-${CARGO_TARGET_DIR:-target}/release/meridian}
case $BIN in /*) ;; *) BIN=$PWD/$BIN ;; esac

# What Terraform needs to run offline, and what the checks scripts inherit.
export TF_CLI_CONFIG_FILE=$PWD/terraform/terraformrc CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1
TF=(-input=false -no-color)
GOLDEN=terraform/test/golden
# The nodes run at most this long, whatever happens to the checks.
NODE_SECONDS=60

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
# A signal ends the script through `exit`, so cleanup runs then too (a reader that goes away,
# such as `| head`, would otherwise leave the nodes running).
trap 'exit 129' HUP PIPE
trap 'exit 130' INT
trap 'exit 143' TERM

pass() { passed=$((passed + 1)); echo "PASS  $1"; }
fail() { failed=$((failed + 1)); echo "FAIL  $1"; }

check() { # check NAME COMMAND... : passes when the command succeeds; shows its output if not
    local name=$1
    shift
    if "$@" >"$WORK/out" 2>&1; then
        pass "$name"
    else
        fail "$name"
        sed 's/^/      /' "$WORK/out" | head -40
    fi
}

# within SECONDS COMMAND...: the command succeeds within that many seconds (tried every 0.25 s).
within() {
    local deadline=$((SECONDS + $1))
    shift
    until "$@"; do
        [ "$SECONDS" -ge "$deadline" ] && return 1
        sleep 0.25
    done
}

same() { # same EXPECTED_FILE COMMAND...: the command prints exactly the file's lines
    local expected=$1
    shift
    diff -u "$expected" <("$@")
}

# ---- Terraform stages -----------------------------------------------------------------

if command -v terraform >/dev/null; then
    terraform version | head -1
    check "terraform fmt -check -recursive terraform/" terraform fmt -check -recursive -diff -no-color terraform

    # The module's working directory stays clean: Terraform's data goes to the scratch folder.
    module() { (cd terraform/modules/node-config && TF_DATA_DIR=$WORK/node-config-data terraform "$@"); }
    check "node-config: terraform init -backend=false" module init -backend=false "${TF[@]}"
    check "node-config: terraform validate" module validate -no-color
    if module test -no-color >"$WORK/test.log" 2>&1; then
        pass "node-config: terraform test ($(grep -Eo '[0-9]+ passed, [0-9]+ failed' "$WORK/test.log"))"
    else
        fail "node-config: terraform test ($(grep -Eo '[0-9]+ passed, [0-9]+ failed(, [0-9]+ skipped)?' "$WORK/test.log"))"
        grep -v '\.\.\. pass$' "$WORK/test.log" | sed 's/^/      /' | head -60
    fi

    # Rendering applies the test topology in a scratch copy (outputs only, no resource).
    render() {
        mkdir -p "$WORK/tf/modules" "$WORK/tf/test" &&
            cp -r terraform/modules/node-config "$WORK/tf/modules/" &&
            cp -r terraform/test/render "$WORK/tf/test/" &&
            (cd "$WORK/tf/test/render" &&
                terraform init -backend=false "${TF[@]}" >/dev/null &&
                terraform apply -auto-approve "${TF[@]}" >/dev/null &&
                terraform output -json -no-color >"$WORK/outputs.json") &&
            python3 terraform/test/render.py "$WORK/outputs.json" "$WORK/rendered"
    }
    check "render: terraform apply of terraform/test/render, outputs written out" render
    if [ "${UPDATE_GOLDEN:-}" = 1 ] && [ -d "$WORK/rendered" ]; then
        rm -rf "$GOLDEN" && cp -r "$WORK/rendered" "$GOLDEN" && echo "note: $GOLDEN replaced by this rendering"
    fi
    check "render: identical to $GOLDEN (to accept a change: UPDATE_GOLDEN=1 bash terraform/test.sh)" \
        diff -ru "$GOLDEN" "$WORK/rendered"
else
    echo "SKIP  terraform stages: terraform not on PATH (fmt, init, validate, test, render);" \
        "the binary stages run on the golden copy in $GOLDEN"
fi

# ---- The binary on the rendered config --------------------------------------------------

if [ ! -x "$BIN" ]; then
    fail "meridian binary at $BIN (build it, or pass its path)"
else
    "$BIN" --version
    nodes=$(python3 -c 'import json,sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$GOLDEN/nodes.json")
    first=${nodes%% *}
    mapfile -t secrets < <(python3 terraform/test/node.py secrets "$GOLDEN" "$first")
    check "golden: meridian check-config (with meridian.env's secrets)" \
        env "${secrets[@]}" "$BIN" check-config "$GOLDEN/meridian.toml"
    cp "$WORK/out" "$WORK/check-config.log"
    check "golden: check-config warns of nothing" \
        bash -c '! grep -i warning "$1"' _ "$WORK/check-config.log"
    hash=$(sed -n 's/^ *config hash //p' "$WORK/check-config.log")
    for node in $nodes; do
        check "$node: cloud-init writes the rendered files, meridian.env at 0600, node.env, the drop-in" \
            python3 terraform/test/node.py check "$GOLDEN" "$node"
    done

    # The backends of every region, then every node as its unit would start it.
    mapfile -t backends < <(python3 terraform/test/expect.py backends "$GOLDEN")
    python3 terraform/test/backends.py "${backends[@]}" >"$WORK/backends.log" 2>&1 &
    pids+=($!)
    backends_pid=$!
    serving() { # this run's backends.py is alive and every backend answers
        kill -0 "$backends_pid" 2>/dev/null || return 1
        local backend
        for backend in "${backends[@]}"; do
            curl -s --max-time 1 "http://${backend#*=}/" | grep -qx "backend=${backend%%=*}" || return 1
        done
    }
    if within 5 serving; then
        pass "the test topology's backends serve (${#backends[@]}, test/backends.py)"
    else
        fail "the test topology's backends serve (${#backends[@]}, test/backends.py)"
        sed 's/^/      /' "$WORK/backends.log" | tail -5
    fi
    declare -A node_pid node_dns node_dns_host node_dns_port node_http node_status
    for node in $nodes; do
        mapfile -t bound < <(python3 terraform/test/node.py sockets "$GOLDEN" "$node")
        node_dns[$node]=${bound[0]}
        # dig wants the address without brackets and the port apart: [2001:db8::1]:53.
        node_dns_host[$node]=${bound[0]%:*}
        node_dns_host[$node]=${node_dns_host[$node]#[}
        node_dns_host[$node]=${node_dns_host[$node]%]}
        node_dns_port[$node]=${bound[0]##*:}
        node_http[$node]=${bound[-2]}
        node_status[$node]=${bound[-1]}
        mkdir -p "$WORK/state/$node"
        # timeout bounds the node's life even if a check hangs, and passes SIGTERM on.
        timeout "$NODE_SECONDS" python3 terraform/test/node.py exec "$GOLDEN" "$node" "$BIN" "$WORK/state/$node" \
            >"$WORK/$node.log" 2>&1 &
        node_pid[$node]=$!
        pids+=($!)
    done

    q() { # q NODE ARGS...: dig at the node's DNS socket
        local node=$1
        shift
        dig @"${node_dns_host[$node]}" -p "${node_dns_port[$node]}" +time=2 +tries=1 "$@"
    }
    answers() { q "$@" SOA +short | grep -q .; }
    apex=$(python3 -c 'import json,sys; print([r["name"] for r in json.load(open(sys.argv[1])) if r["type"] == "NS"][0])' "$GOLDEN/delegation_records.json")
    for node in $nodes; do
        if within 20 answers "$node" "$apex"; then
            pass "$node: started from its unit's command line, answers DNS on ${node_dns[$node]}"
        else
            fail "$node: started from its unit's command line, answers DNS on ${node_dns[$node]}"
            sed 's/^/      /' "$WORK/$node.log" | tail -15
        fi
    done

    # Every node sees every region up before the answers are checked: a node that binds a
    # little later than its peers' first probes is voted down, and comes back only after
    # `rise` good probes and the hold-down (about 15 s).
    for node in $nodes; do
        check "$node: /healthz votes every region up; /api/v1/regions has every node's up votes (gossip)" \
            within 30 env HASH="$hash" python3 terraform/test/expect.py gossip "$GOLDEN" "$node" "http://${node_status[$node]}"
    done

    # Every node answers every client with the nearest region's addresses.
    python3 terraform/test/expect.py delegation "$GOLDEN" >"$WORK/delegation"
    for client in "London 81.2.69.0/24 eu-west" "the-US 216.160.83.0/24 us-east" "Australia 1.128.0.0/16 ap-southeast"; do
        read -r where subnet region <<<"$client"
        python3 terraform/test/expect.py answer "$GOLDEN" "$region" >"$WORK/answer-$region"
        for node in $nodes; do
            check "$node: a client in ${where/-/ } ($subnet) gets $region ($(paste -sd, "$WORK/answer-$region"))" \
                same "$WORK/answer-$region" bash -c 'dig @"$1" -p "$2" +time=2 +tries=1 +short "www.$3" A +subnet="$4" | sort' \
                _ "${node_dns_host[$node]}" "${node_dns_port[$node]}" "$apex" "$subnet"
        done
    done

    for node in $nodes; do
        check "$node: the apex NS and glue it serves equal delegation_records" \
            same "$WORK/delegation" bash -c 'dig @"$1" -p "$2" +time=2 +tries=1 +norec "$3" NS | python3 terraform/test/expect.py dig-delegation' \
            _ "${node_dns_host[$node]}" "${node_dns_port[$node]}" "$apex"
    done

    for node in $nodes; do
        region=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]]["region"])' "$GOLDEN/nodes.json" "$node")
        check "$node: its proxy (${node_http[$node]}) reaches a $region backend" \
            bash -c 'curl -s --max-time 3 "http://$1/" | grep -Ex "backend=$2-[0-9]+"' _ "${node_http[$node]}" "$region"
    done

    stopped() { for node in $nodes; do ! kill -0 "${node_pid[$node]}" 2>/dev/null || return 1; done; }
    kill -TERM "${node_pid[@]}" 2>/dev/null
    clean=yes
    if within 10 stopped; then
        for node in $nodes; do wait "${node_pid[$node]}" || clean=no; done
    else
        clean=no
    fi
    check "every node stops cleanly on SIGTERM (exit 0)" test "$clean" = yes
fi

# ---- The other checks of terraform/ (the AWS layer's) -------------------------------------

for script in terraform/checks/*.sh; do
    if [ ! -f "$script" ] || [ ! -x "$script" ]; then continue; fi
    echo "---- $script"
    "$script" "$BIN" >"$WORK/checks.log" 2>&1
    script_status=$?
    cat "$WORK/checks.log"
    script_passed=$(grep -c '^PASS\b' "$WORK/checks.log")
    script_failed=$(grep -c '^FAIL\b' "$WORK/checks.log")
    passed=$((passed + script_passed))
    failed=$((failed + script_failed))
    if [ "$script_status" -ne 0 ] && [ "$script_failed" -eq 0 ]; then
        fail "$script exited $script_status"
    fi
done

echo "terraform: $passed passed, $failed failed"
if [ "$passed" -eq 0 ]; then
    echo "terraform: nothing passed, so nothing was checked"
    exit 1
fi
[ "$failed" -eq 0 ]
