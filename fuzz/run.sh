#!/usr/bin/env bash
# Runs every fuzz target for N seconds each (default 60), starting from the committed seed
# corpora; new interesting inputs go to target/fuzz-corpus/, crashes go to fuzz/artifacts/<target>/.
# Needs a nightly toolchain and cargo-fuzz: rustup toolchain install nightly;
# cargo install cargo-fuzz. Usage: fuzz/run.sh [seconds] [target ...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    targets=(decode_audio checkpoint npy plugin_state take picture)
fi
cargo +nightly fuzz build --fuzz-dir fuzz
# cargo fuzz builds with this; the runs need it too.
export ASAN_OPTIONS="detect_odr_violation=0"
mkdir -p target/fuzz-logs
status=0
for target in "${targets[@]}"; do
    # New inputs grow a working corpus under target/; the committed seeds stay as they are.
    mkdir -p "target/fuzz-corpus/$target" "fuzz/artifacts/$target"
    echo "== $target: ${seconds} s"
    # 2 GiB of memory and 10 s per input: more is a runaway allocation or a hang, i.e. a finding.
    log="target/fuzz-logs/$target.log"
    # The binary cargo fuzz built above, run directly: `cargo fuzz run` would build again.
    if ! "fuzz/target/x86_64-unknown-linux-gnu/release/$target" \
        "target/fuzz-corpus/$target" "fuzz/corpus/$target" \
        -artifact_prefix="fuzz/artifacts/$target/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
        -print_final_stats=1 >"$log" 2>&1; then
        status=1
        echo "   FOUND a crash, hang or runaway allocation; see $log and fuzz/artifacts/$target/"
    fi
    grep -E "^stat::(number_of_executed_units|peak_rss_mb|new_units_added)|^Done" "$log" || true
done
exit $status
