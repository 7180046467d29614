#!/usr/bin/env bash
# Instructions per hot-path operation (commit, page read, open) at two commits,
# side by side: bench/callgrind.sh REV_A REV_B [N]. Builds each in a temporary
# worktree (release), runs bench/src/bin/cpu.rs under callgrind collecting only
# the loop function, and divides by N. Needs valgrind.
set -euo pipefail
a=${1:?REV_A}; b=${2:?REV_B}; n=${3:-2000}
repo=$(git rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'for r in a b; do git -C "$repo" worktree remove --force "$work/$r" 2>/dev/null || true; done; rm -rf "$work"' EXIT
count() { # dir mode function ops
    local out="$work/cg.$RANDOM"
    valgrind --tool=callgrind --callgrind-out-file="$out" --toggle-collect="$3" \
        "$1/target/release/cpu" "$2" "$4" >/dev/null 2>&1
    local ir
    ir=$(callgrind_annotate "$out" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
    echo $((ir / $4))
}
for r in a b; do
    rev=${!r}
    git -C "$repo" worktree add -q --detach "$work/$r" "$rev"
    # The probe may postdate the revision: use this checkout's copy.
    mkdir -p "$work/$r/bench/src/bin"
    cp "$repo/bench/src/bin/cpu.rs" "$work/$r/bench/src/bin/cpu.rs"
    grep -q 'name = "cpu"' "$work/$r/bench/Cargo.toml" || printf '\n[[bin]]\nname = "cpu"\npath = "src/bin/cpu.rs"\n' >>"$work/$r/bench/Cargo.toml"
    (cd "$work/$r" && CARGO_TARGET_DIR="$work/$r/target" cargo build -q --release -p mappedpages-bench --bin cpu)
done
printf '%-8s %14s %14s %8s\n' op "$a" "$b" ratio
for m in commit:commit_loop:$n read:read_loop:$((n * 10)) open:open_loop:$((n / 20 + 1)); do
    IFS=: read -r mode fn ops <<<"$m"
    ia=$(count "$work/a" "$mode" "*$fn*" "$ops"); ib=$(count "$work/b" "$mode" "*$fn*" "$ops")
    printf '%-8s %14s %14s %8.3f\n' "$mode" "$ia" "$ib" "$(echo "$ib / $ia" | bc -l)"
done
