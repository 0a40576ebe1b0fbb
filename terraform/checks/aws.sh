#!/usr/bin/env bash
# The AWS layer of the Terraform deployment (terraform/modules/aws-region and
# terraform/examples/aws-three-regions), checked offline. One line per check, `PASS  ...`,
# `FAIL  ...` (details indented under it) or `SKIP  ...` (with the reason; never counted as
# a pass), each with its time:
#
#   terraform fmt            the two directories and these checks (skipped without terraform)
#   aws-region inputs        `terraform test` of the module's variable validations (SSH never
#                            from the world, ...) on its variables.tf alone: no provider needed
#   terraform validate/test  the module and the example with the real hashicorp/aws schema
#                            and mocked providers, only where a local copy of the provider
#                            exists (a filesystem mirror, MERIDIAN_TF_PLUGIN_MIRROR, by default
#                            /opt/tf-plugins): it cannot be downloaded here
#   checkov                  a pinned Checkov from PyPI, --skip-download, on each directory,
#                            skipping only what checkov-skips.txt lists with a reason
#   policy                   policy.py (python-hcl2): Meridian's own rules, and its self-test
#                            on fixtures/ that each policy must catch
#
# Checkov and python-hcl2 live in their own virtualenvs under the cache folder
# (MERIDIAN_CACHE_DIR, by default ~/.cache/meridian), installed on first use: they cannot
# share one, both ship a module named hcl2. Exit status 1 when any check failed.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

CHECKOV_VERSION=3.3.30
PYTHON_HCL2_VERSION=8.1.4
LARK_VERSION=1.3.1

MODULE=terraform/modules/aws-region
EXAMPLE=terraform/examples/aws-three-regions
NODE_CONFIG=terraform/modules/node-config
CHECKS=terraform/checks
CACHE=${MERIDIAN_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/meridian}
MIRROR=${MERIDIAN_TF_PLUGIN_MIRROR:-/opt/tf-plugins}

export CHECKPOINT_DISABLE=1 TF_IN_AUTOMATION=1 TF_INPUT=0
export TF_CLI_CONFIG_FILE=${TF_CLI_CONFIG_FILE:-$PWD/$CHECKS/terraformrc}

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
failures=0

now() { date +%s.%N; }
seconds_since() { awk -v start="$1" -v end="$(now)" 'BEGIN { printf "%.1f", end - start }'; }

# result STATUS START NAME [LOG]: the check's line; a failure's log follows, indented.
result() {
    local status=$1 start=$2 name=$3 log=${4:-}
    printf '%s  %s (%s s)\n' "$status" "$name" "$(seconds_since "$start")"
    if [ "$status" = FAIL ]; then
        failures=$((failures + 1))
        [ -n "$log" ] && [ -s "$log" ] && sed 's/^/        /' "$log" | tail -60
    fi
    return 0
}

# venv DIR REQUIREMENT...: a virtualenv under the cache holding exactly these pins,
# installed once (a marker file says the install finished).
venv() {
    local dir=$1
    shift
    [ -f "$dir/.installed" ] && return 0
    rm -rf "$dir"
    mkdir -p "$(dirname "$dir")"
    if ! python3 -m venv "$dir" 2>/dev/null; then
        # Debian's python3 keeps venv (ensurepip) in a package of its own.
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-venv >/dev/null 2>&1
        fi
        rm -rf "$dir"
        python3 -m venv "$dir" || return 1
    fi
    "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" || return 1
    printf '%s\n' "$@" >"$dir/.installed"
}

# install NAME DIR REQUIREMENT...: venv with a line saying how long a first install took.
install() {
    local name=$1 dir=$2 start
    shift 2
    [ -f "$dir/.installed" ] && return 0
    start=$(now)
    echo "installing $name into $dir"
    venv "$dir" "$@" >"$WORK/install-$name.log" 2>&1 || {
        sed 's/^/        /' "$WORK/install-$name.log" | tail -20
        return 1
    }
    echo "installed $name in $(seconds_since "$start") s"
}

# ---------------------------------------------------------------------------------------
# Terraform itself: formatting, and the module's input validations.

if command -v terraform >/dev/null; then
    start=$(now)
    if terraform fmt -check -recursive -diff "$MODULE" "$EXAMPLE" "$CHECKS" >"$WORK/fmt.log" 2>&1; then
        result PASS "$start" "terraform fmt: aws-region, aws-three-regions, checks"
    else
        result FAIL "$start" "terraform fmt: aws-region, aws-three-regions, checks" "$WORK/fmt.log"
    fi

    # The validations alone: variables.tf declares no resource, so no provider is needed.
    start=$(now)
    inputs=$WORK/aws-region-inputs
    mkdir -p "$inputs/tests"
    cp "$MODULE/variables.tf" "$inputs/"
    cp "$CHECKS/aws-region-inputs.tftest.hcl" "$inputs/tests/"
    if (cd "$inputs" && terraform init -backend=false -no-color >init.log 2>&1 &&
        terraform test -no-color) >"$WORK/inputs.log" 2>&1; then
        result PASS "$start" "aws-region inputs: terraform test of the validations ($(grep -c '^run ' "$CHECKS/aws-region-inputs.tftest.hcl") runs)"
    else
        cat "$inputs/init.log" >>"$WORK/inputs.log" 2>/dev/null
        result FAIL "$start" "aws-region inputs: terraform test of the validations" "$WORK/inputs.log"
    fi
else
    start=$(now)
    result SKIP "$start" "terraform fmt and the aws-region input tests: terraform is not on PATH"
fi

# ---------------------------------------------------------------------------------------
# With a local copy of the AWS provider: validate both, and test the example on mocks.

providers=("$MIRROR"/registry.terraform.io/hashicorp/aws/*/linux_amd64)
if ! command -v terraform >/dev/null; then
    start=$(now)
    result SKIP "$start" "terraform validate and the mocked example test: terraform is not on PATH"
elif [ ! -d "${providers[0]}" ]; then
    start=$(now)
    result SKIP "$start" "terraform validate and the mocked example test: no hashicorp/aws provider in $MIRROR (it cannot be downloaded here)"
else
    cat >"$WORK/mirror.tfrc" <<EOF
provider_installation {
  filesystem_mirror {
    path    = "$MIRROR"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
EOF
    # A copy of terraform/, so that init's lock files and .terraform stay out of the tree.
    tree=$WORK/tree
    mkdir -p "$tree/examples"
    cp -r terraform/modules "$tree/"
    cp -r "$EXAMPLE" "$tree/examples/"

    start=$(now)
    if (cd "$tree/modules/aws-region" && export TF_CLI_CONFIG_FILE=$WORK/mirror.tfrc &&
        terraform init -backend=false -no-color >/dev/null && terraform validate -no-color) >"$WORK/validate-module.log" 2>&1; then
        result PASS "$start" "terraform validate: aws-region (hashicorp/aws from $MIRROR)"
    else
        result FAIL "$start" "terraform validate: aws-region" "$WORK/validate-module.log"
    fi

    start=$(now)
    if [ ! -d "$NODE_CONFIG" ]; then
        result SKIP "$start" "terraform validate and test: aws-three-regions: $NODE_CONFIG is not there yet"
    elif (cd "$tree/examples/aws-three-regions" && export TF_CLI_CONFIG_FILE=$WORK/mirror.tfrc &&
        terraform init -backend=false -no-color >/dev/null && terraform validate -no-color &&
        terraform test -no-color) >"$WORK/example.log" 2>&1; then
        result PASS "$start" "terraform validate and test (mocked providers): aws-three-regions, $(grep -c '^run ' "$EXAMPLE"/tests/*.tftest.hcl) runs"
    else
        grep -v '^  - ' "$WORK/example.log" >"$WORK/example-short.log"
        result FAIL "$start" "terraform validate and test (mocked providers): aws-three-regions" "$WORK/example-short.log"
    fi
fi

# ---------------------------------------------------------------------------------------
# Checkov, with the reviewed skip list.

start=$(now)
skips=$(awk '!/^#/ && NF { print $1 }' "$CHECKS/checkov-skips.txt" | paste -sd, -)
unexplained=$(awk '!/^#/ && NF && (NF < 3 || $1 !~ /^CKV2?_[A-Z0-9]+_[0-9]+$/)' "$CHECKS/checkov-skips.txt")
checkov=$CACHE/checkov-$CHECKOV_VERSION
if [ -n "$unexplained" ]; then
    printf '%s\n' "$unexplained" >"$WORK/skips.log"
    result FAIL "$start" "checkov: every skipped check needs an ID and a reason" "$WORK/skips.log"
elif ! install checkov "$checkov" "checkov==$CHECKOV_VERSION"; then
    result FAIL "$start" "checkov $CHECKOV_VERSION: cannot install it from PyPI"
else
    for dir in "$MODULE" "$EXAMPLE"; do
        start=$(now)
        if "$checkov/bin/checkov" -d "$dir" --skip-download --framework terraform --compact --quiet \
            --skip-check "$skips" >"$WORK/checkov.log" 2>&1; then
            result PASS "$start" "checkov $CHECKOV_VERSION: $dir ($(tr ',' '\n' <<<"$skips" | wc -l) checks skipped, see checkov-skips.txt)"
        else
            result FAIL "$start" "checkov $CHECKOV_VERSION: $dir" "$WORK/checkov.log"
        fi
    done
fi

# ---------------------------------------------------------------------------------------
# Meridian's own policies, and their self-test.

start=$(now)
hcl2=$CACHE/python-hcl2-$PYTHON_HCL2_VERSION
if ! install python-hcl2 "$hcl2" "python-hcl2==$PYTHON_HCL2_VERSION" "lark==$LARK_VERSION"; then
    result FAIL "$start" "policy: cannot install python-hcl2 $PYTHON_HCL2_VERSION from PyPI"
else
    # policy.py prints its own PASS/FAIL lines; a crash prints none, so it counts here.
    for mode in check self-test; do
        if [ "$mode" = check ]; then
            arguments=(--module "$MODULE" --example "$EXAMPLE")
        else
            arguments=(--self-test "$CHECKS/fixtures")
        fi
        start=$(now)
        "$hcl2/bin/python" "$CHECKS/policy.py" "${arguments[@]}" >"$WORK/policy.log" 2>&1
        status=$?
        cat "$WORK/policy.log"
        failed=$(grep -c '^FAIL  ' "$WORK/policy.log")
        failures=$((failures + failed))
        if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then
            result FAIL "$start" "policy.py $mode exited $status without a verdict" "$WORK/policy.log"
        fi
    done
fi

exit $((failures > 0))
