#!/usr/bin/env bash
# Runs every fuzz target (or the ones named) for a bounded time each and prints
# how many inputs each one executed.
#
#   fuzz/run.sh [SECONDS_PER_TARGET] [TARGET...]      (default: 60 s, all targets)
#
# The targets are built once, then each binary runs on the committed seeds of
# corpus/<target>/ (read, never written) and a working corpus in
# target/corpus/<target>/ (written, kept between runs). A crash lands in
# artifacts/<target>/ and makes the script exit 1 after every target ran.
# FUZZ_FLAGS holds cargo-fuzz build flags; the default "-s none" builds without
# AddressSanitizer, which runs the workload targets about 4 times faster and
# costs little: the engine's unsafe code reads mmap'd memory, which ASan does
# not watch anyway. FUZZ_FLAGS="-s address" brings it back.
set -euo pipefail

secs="${1:-60}"
shift || true
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1 # cargo-fuzz passes nightly-only (-Z) flags
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

# Longest input per target: a store image (or a 0.2 file) of up to 64 KiB; workloads of up to
# 400 three-byte ops behind a 4-byte prefix.
max_len() {
    case "$1" in
        open_image) echo 65536 ;;
        v02_parse) echo 65536 ;;
        backup_stream) echo 65536 ;;
        *) echo 1204 ;;
    esac
}

flags="${FUZZ_FLAGS--s none}"
# shellcheck disable=SC2086 # a list of flags
if ! cargo fuzz build $flags; then
    echo "fuzz targets failed to build" >&2
    exit 2
fi
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir="target/$triple/release"

mkdir -p target/fuzz-logs
failed=()
for t in "${targets[@]}"; do
    mkdir -p "target/corpus/$t" "corpus/$t" "artifacts/$t"
    log="target/fuzz-logs/$t.log"
    status=0
    "$bin_dir/$t" "target/corpus/$t" "corpus/$t" \
        -artifact_prefix="artifacts/$t/" -max_total_time="$secs" -max_len="$(max_len "$t")" \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    if [ -z "$runs" ]; then
        runs=$(sed -n 's/^#\([0-9]*\).*DONE.*/\1/p' "$log" | tail -n 1)
    fi
    echo "$t: ${runs:-?} executions in ${secs} s (log: fuzz/$log)"
    if [ "$status" -ne 0 ]; then
        failed+=("$t")
        echo "$t: FAILED (exit $status):" >&2
        grep -E -A3 "panicked at|deadly signal|ERROR: |Test unit written to|SUMMARY" "$log" >&2 || tail -n 40 "$log" >&2
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzz targets that found a crash: ${failed[*]}" >&2
    exit 1
fi
