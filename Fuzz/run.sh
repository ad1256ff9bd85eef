#!/bin/bash
# Runs the named harnesses (default: all) for SECONDS each, JOBS at a time, at the lowest CPU
# priority so that fuzzing never starves other work on the machine. New corpus entries go to
# Fuzz/.build/corpus/<harness> (the committed seeds in Fuzz/corpus/<harness> are only read);
# crashes, timeouts and out-of-memory inputs to Fuzz/.build/findings/<harness>/, logs to LOGS.
# libFuzzer's fork mode keeps going after a finding, so one run reports all of them.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${SECONDS_EACH:-60}
JOBS=${JOBS:-1}
LOGS=${LOGS:-.build/fuzz-logs}
BIN=${BIN:-.build/release}
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=(safetensors png jpeg config analogy-folder triplets)
mkdir -p "$LOGS"
one() {
    local h=$1
    mkdir -p .build/corpus/$h .build/findings/$h
    nice -n 19 "$BIN/fuzz-$h" .build/corpus/$h corpus/$h \
        -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
        -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
        -artifact_prefix=.build/findings/$h/ -print_final_stats=1 > "$LOGS/$h.log" 2>&1 || true
    echo "$h: $(grep -c '^==.*ERROR\|deadly signal\|Test unit written' "$LOGS/$h.log" || true) finding lines, $(ls .build/findings/$h | wc -l) artifacts; log $LOGS/$h.log"
}
export -f one
# Swift's own backtracer reads freed memory while it reports a trap, which AddressSanitizer
# would report instead of the trap.
export SWIFT_BACKTRACE=enable=no
export SECONDS_EACH LOGS BIN
printf '%s\n' "${harnesses[@]}" | xargs -P "$JOBS" -I{} bash -c 'one {}'
