#!/usr/bin/env bash
# Issue 4's control-plane figures, end to end (docs/benchmarks.md, "Control plane (issue 4)"):
# cold start and idle memory, the mixed open-loop load at 500 requests/s, closed-loop pass
# minting at several concurrencies and sign-in, each against a real `doorman serve` process on
# loopback with a fresh data dir under /tmp. The load generator is
# crates/testkit/examples/control_load.rs.
#
#   scripts/bench-control.sh [all|cold|mixed|mint|signin]
#
# Environment: RUNS (mixed runs, 3), RATE (500), DURATION (30 s per mixed run), WARMUP (5 s),
# MINT_DURATION (20 s per level), CONCURRENCY (4,8,16,32), COLD_RUNS (10), IDLE (10 s),
# SERVE_ENV (extra environment for doorman serve, e.g. "MALLOC_ARENA_MAX=2"), SERVER_BIN (another
# doorman binary to measure, e.g. a copy of an earlier build, for A/B runs), QUIET (if set, e.g.
# QUIET=10: before each measurement, wait until the machine's CPUs were at most that many
# percent busy over 3 s, so other people's jobs are not measured too), MIX (change the mixed
# load's weights, per mille, e.g. MIX=property-authorizations=0,property=210; names in
# control_load.rs, Op::key).
set -euo pipefail
cd "$(dirname "$0")/.."

WHAT=${1:-all}
RUNS=${RUNS:-3}
RATE=${RATE:-500}
DURATION=${DURATION:-30}
WARMUP=${WARMUP:-5}
MINT_DURATION=${MINT_DURATION:-20}
CONCURRENCY=${CONCURRENCY:-4,8,16,32}
COLD_RUNS=${COLD_RUNS:-10}
IDLE=${IDLE:-10}
SERVE_ENV=${SERVE_ENV:-}
TARGET=${CARGO_TARGET_DIR:-target}

cargo build --release -p doorman-cli
cargo build --release -p doorman-testkit --example control_load
BIN=${SERVER_BIN:-$TARGET/release/doorman}
LOAD=$TARGET/release/examples/control_load

WORK=$(mktemp -d /tmp/doorman-bench.XXXXXX)
PID=
cleanup() {
    if [ -n "$PID" ]; then kill -TERM "$PID" 2>/dev/null || true; wait "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# Waits (at most 10 minutes) until the machine's CPUs were at most $QUIET % busy over 3 s.
wait_quiet() {
    [ -n "${QUIET:-}" ] || return 0
    for _ in $(seq 200); do
        local a b
        a=$(head -1 /proc/stat)
        sleep 3
        b=$(head -1 /proc/stat)
        local busy
        busy=$(echo "$a|$b" | awk -F'|' '{split($1,x," "); split($2,y," ");
            t=0; for (i=2;i<=9;i++) t+=y[i]-x[i]; idle=(y[5]-x[5])+(y[6]-x[6]);
            printf "%d", (t-idle)*100/(t>0?t:1)}')
        [ "$busy" -le "$QUIET" ] && return 0
    done
    echo "the machine did not get quiet; measuring anyway" >&2
}

conditions() {
    wait_quiet
    echo "== $1: $(date -u +%FT%TZ), load average $(cut -d' ' -f1-3 /proc/loadavg), $BIN ($(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo '+changes'))"
}

# Starts doorman serve on a fresh data dir; sets PID, URL and CODE.
start_server() {
    local dir=$WORK/$1
    mkdir -p "$dir"
    env $SERVE_ENV "$BIN" serve --data-dir "$dir/data" --listen 127.0.0.1:0 2>"$dir/stderr" &
    PID=$!
    for _ in $(seq 200); do
        grep -q "listening on" "$dir/stderr" && break
        kill -0 "$PID" 2>/dev/null || break
        sleep 0.05
    done
    URL=$(grep -o 'listening on http://[^/]*' "$dir/stderr" | sed 's/listening on //')
    CODE=$(grep -o -- '--code [^ ]*' "$dir/stderr" | cut -d' ' -f2)
    if [ -z "$URL" ] || [ -z "$CODE" ]; then
        cat "$dir/stderr" >&2
        echo "doorman serve did not start" >&2
        exit 1
    fi
}

stop_server() {
    kill -TERM "$PID"
    wait "$PID" || true
    PID=
}

if [ "$WHAT" = all ] || [ "$WHAT" = cold ]; then
    conditions "cold start, $COLD_RUNS runs"
    "$LOAD" coldstart --bin "$BIN" --dir "$WORK" --runs "$COLD_RUNS"
fi

if [ "$WHAT" = all ] || [ "$WHAT" = mixed ]; then
    for run in $(seq "$RUNS"); do
        conditions "mixed run $run: $RATE requests/s for $DURATION s"
        start_server "mixed-$run"
        sleep "$IDLE"
        echo "idle $IDLE s after start: $("$LOAD" memory --pid "$PID")"
        "$LOAD" mixed --url "$URL" --setup-code "$CODE" --server-pid "$PID" \
            --rate "$RATE" --duration "$DURATION" --warmup "$WARMUP" --run "$run" --seed "$run" \
            ${MIX:+--mix "$MIX"}
        sleep "$IDLE"
        echo "idle $IDLE s after the load: $("$LOAD" memory --pid "$PID")"
        du -sh "$WORK/mixed-$run/data" | sed 's/^/data dir: /'
        stop_server
    done
fi

if [ "$WHAT" = all ] || [ "$WHAT" = mint ]; then
    conditions "pass minting, closed loop, $CONCURRENCY clients, $MINT_DURATION s each"
    start_server mint
    "$LOAD" mint --url "$URL" --setup-code "$CODE" --server-pid "$PID" \
        --concurrency "$CONCURRENCY" --duration "$MINT_DURATION"
    echo "after minting: $("$LOAD" memory --pid "$PID")"
    stop_server
fi

if [ "$WHAT" = all ] || [ "$WHAT" = signin ]; then
    conditions "sign-in"
    start_server signin
    "$LOAD" signin --url "$URL" --setup-code "$CODE" --count 20
    stop_server
fi
