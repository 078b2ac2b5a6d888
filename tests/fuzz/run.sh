#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS HARNESS... -- runs each libFuzzer harness of
# build/fuzz/bin for SECONDS seconds on its corpora and prints, at the end,
# one summary line per harness (executions, crashes) and a total.
#
# Corpora: build/fuzz/work/<h>/ (written: what the run finds that is new),
# tests/fuzz/corpus/<h>/ (committed seeds and every input that once made a
# crash: each is run first, so an old bug that comes back fails at once)
# and build/fuzz/seeds/<h>/ (seeds made by the harness's generator, if
# any).  A crash, a leak, a timeout or an out-of-memory stops that
# harness; its input is saved as build/fuzz/artifacts/<h>-crash-<sha1>
# (or leak-, timeout-, oom-) and the script exits 1 after the summary.
set -u
secs=${1:?usage: run.sh SECONDS HARNESS...}
shift
FZ=${FZ:-build/fuzz}
mkdir -p "$FZ/work" "$FZ/artifacts" "$FZ/logs"
# A smaller quarantine than ASan's 256 MiB: the machine is shared.
export ASAN_OPTIONS="${ASAN_OPTIONS:-quarantine_size_mb=64:detect_leaks=1}"
declare -a lines
total_execs=0
total_crashes=0
failed=0
for h in "$@"; do
    work="$FZ/work/$h"
    mkdir -p "$work"
    corpora=("$work")
    [ -d "tests/fuzz/corpus/$h" ] && corpora+=("tests/fuzz/corpus/$h")
    [ -d "$FZ/seeds/$h" ] && corpora+=("$FZ/seeds/$h")
    log="$FZ/logs/$h.log"
    before=$(ls "$FZ/artifacts" | grep -c "^$h-" || true)
    echo "fuzz: $h for ${secs}s (log: $log)"
    "$FZ/bin/$h" -max_total_time="$secs" -print_final_stats=1 \
        -timeout=20 -rss_limit_mb=2560 -max_len=65536 \
        -artifact_prefix="$FZ/artifacts/$h-" "${corpora[@]}" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    execs=${execs:-0}
    after=$(ls "$FZ/artifacts" | grep -c "^$h-" || true)
    crashes=$((after - before))
    if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
        crashes=1 # died without an artifact: still a failure
    fi
    if [ "$crashes" -gt 0 ]; then
        failed=1
        echo "fuzz: $h FAILED (exit $rc); the end of its log:"
        grep -E 'ERROR|SUMMARY|runtime error|Test unit written' "$log" | head -20
    fi
    total_execs=$((total_execs + execs))
    total_crashes=$((total_crashes + crashes))
    lines+=("$(printf 'fuzz summary: %-22s %10s executions %3d crashes' \
        "$h" "$execs" "$crashes")")
done
for l in "${lines[@]}"; do echo "$l"; done
printf 'fuzz total: %d harnesses, %d executions, %d crashes (%ss each)\n' \
    "$#" "$total_execs" "$total_crashes" "$secs"
exit $failed
