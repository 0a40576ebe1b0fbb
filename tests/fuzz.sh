#!/usr/bin/env bash
# Coverage-guided fuzzing of every target in fuzz/ for a bounded time each (libFuzzer via
# cargo-fuzz, which needs a nightly toolchain). Without nightly it says so and passes: the
# committed corpus is replayed on stable by tests/integration/fuzz_corpus.rs either way.
#
#   bash tests/fuzz.sh                 # 60 s per target
#   FUZZ_SECONDS=300 bash tests/fuzz.sh udp_datagram
#
# New inputs libFuzzer finds go to a scratch copy of the corpus, never into the repository;
# a crash leaves its input in fuzz/artifacts/<target>/ and fails the stage.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
targets=("$@")
if ((${#targets[@]} == 0)); then
    targets=(udp_datagram tcp_stream config_text mmdb_bytes)
fi

if ! rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    echo "fuzz: skipped, no nightly toolchain (the corpus replay ran with the tests)"
    exit 0
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz"
    cargo install --quiet --locked cargo-fuzz@0.13.2
fi
cargo fuzz --version

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# One build for every target (a cold one takes several minutes).
(cd fuzz && cargo +nightly fuzz build --release)

passed=0
failed=0
for target in "${targets[@]}"; do
    cp -r "fuzz/corpus/$target" "$scratch/$target"
    log="$scratch/$target.log"
    echo "fuzzing $target for ${seconds}s"
    if (cd fuzz && cargo +nightly fuzz run --release "$target" "$scratch/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=4096 -print_final_stats=1) >"$log" 2>&1; then
        passed=$((passed + 1))
        grep -E 'stat::number_of_executed_units|stat::new_units_added' "$log" | tr '\n' ' '
        echo
    else
        failed=$((failed + 1))
        echo "FAILED: $target"
        tail -40 "$log"
    fi
done
echo "fuzz: $passed passed, $failed failed (${seconds}s each)"
((failed == 0))
