#!/usr/bin/env bash
# bench/slopes.sh - does lockscan's cost grow linearly?  See bench/README.md.
#
#   bench/slopes.sh [--quick]     locks: 1k 10k 100k (quick: 1k 10k); files: 10k 100k 1M (quick: 10k 100k)
#   RUNS=N (default 3)  LOCKSCAN=path (default target/release/lockscan)
#
# Locks: N flocks held by ceil(N/10000) processes, whole-system `lockscan --json`,
# next to the floor (one read of /proc/locks, `dd bs=64k`: the kernel's walk is
# quadratic in the number of locks, for every tool) and `lsof -n -P`; `us/lock>floor`
# is lockscan's time beyond that floor, per lock: lockscan's own cost.
# Files: a tree of N files, 1,000 per directory, 1 in 100 named *.lock, scanned by
# path: `lockscan --json DIR` next to `find DIR`.  For each size it prints the median
# wall time, microseconds per lock or file, and the slope from the size before it
# (extra time / extra items); max RSS per file for the tree.  Linear cost means a
# flat per-item column.  A benchmark, not a test: it prints, it does not judge.
set -u
set -o pipefail
QUICK=0
[ "${1:-}" = --quick ] && QUICK=1
RUNS=${RUNS:-3}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKSCAN=${LOCKSCAN:-$ROOT/target/release/lockscan}
HOLDER=$ROOT/tests/support/holder.py
die() { echo "slopes: $*" >&2; exit 1; }
for t in python3 lsof find dd; do command -v $t >/dev/null || die "$t not found"; done
[ -x "$LOCKSCAN" ] || (cd "$ROOT" && cargo build --release --bin lockscan >&2) || die "build failed"
[ "$(id -u)" = 0 ] || echo "slopes: WARNING: not root" >&2
if [ "$QUICK" = 1 ]; then LOCK_SIZES="1000 10000"; FILE_SIZES="10000 100000"
else LOCK_SIZES="1000 10000 100000"; FILE_SIZES="10000 100000 1000000"; fi

TMP=$(mktemp -d /tmp/lockscan-slopes.XXXXXX) || die "mktemp failed"
PIDS=()
CTL=
stop() {
    if [ -n "$CTL" ]; then exec {CTL}>&-; CTL=; fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    PIDS=()
}
trap 'stop; rm -rf "$TMP"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# time_cmd CMD... -> "median_seconds max_rss_bytes" over RUNS runs (one warm-up)
time_cmd() {
    python3 - "$RUNS" "$@" <<'PY'
import os, subprocess, sys, time
runs, cmd = int(sys.argv[1]), sys.argv[2:]
def once():
    t = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    return time.monotonic() - t, ru.ru_maxrss * 1024
once()
res = sorted(once() for _ in range(runs))
print("%.4f %d" % (res[len(res) // 2][0], max(r[1] for r in res)))
PY
}

echo "slopes bench  $(date -u +%FT%TZ)"
echo "host: $(uname -r), $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg); lsof $(lsof -v 2>&1 | awk '/revision:/{print $2; exit}'); runs: $RUNS"
echo
echo "locks (whole system, lockscan --json)"
printf '%8s %10s %10s %10s %14s %10s %10s %8s\n' locks floor_s lockscan_s us/lock 'us/lock>floor' slope_us lsof_s lsof/ls
prev_n=0; prev_t=0
for n in $LOCK_SIZES; do
    stop
    rm -rf "$TMP/l"; mkdir -p "$TMP/l"
    rm -f "$TMP/ctl"; mkfifo "$TMP/ctl"; exec {CTL}<>"$TMP/ctl"
    procs=$(( (n + 9999) / 10000 )); per=$(( n / procs ))
    for ((i = 0; i < procs; i++)); do
        python3 "$HOLDER" "many-flock:$TMP/l/h$i:$per" <"$TMP/ctl" >"$TMP/h$i.out" 2>&1 {CTL}>&- &
        PIDS+=($!)
    done
    deadline=$((SECONDS + 600))
    until [ "$(cat "$TMP"/h*.out 2>/dev/null | grep -c '^ready')" = "$procs" ]; do
        [ "$SECONDS" -lt "$deadline" ] || die "holders not ready"
        for p in "${PIDS[@]}"; do kill -0 "$p" 2>/dev/null || { cat "$TMP"/h*.out >&2; die "a holder failed"; }; done
        sleep 0.2
    done
    read -r floor _ < <(time_cmd dd if=/proc/locks of=/dev/null bs=64k)
    read -r t _ < <(time_cmd "$LOCKSCAN" --json)
    read -r lt _ < <(time_cmd lsof -n -P)
    slope=-
    [ "$prev_n" -gt 0 ] && slope=$(awk -v a="$t" -v b="$prev_t" -v n="$n" -v m="$prev_n" 'BEGIN{printf "%.2f", (a-b)*1e6/(n-m)}')
    printf '%8d %10s %10s %10.2f %14.2f %10s %10s %8.2f\n' "$n" "$floor" "$t" "$(awk -v t="$t" -v n="$n" 'BEGIN{print t*1e6/n}')" "$(awk -v t="$t" -v f="$floor" -v n="$n" 'BEGIN{print (t-f)*1e6/n}')" "$slope" "$lt" "$(awk -v a="$lt" -v b="$t" 'BEGIN{print a/b}')"
    prev_n=$n; prev_t=$t
    stop
    rm -rf "$TMP/l" "$TMP"/h*.out
done

echo
echo "files (path scan of a tree, 1,000 per directory, 1% *.lock)"
printf '%8s %10s %10s %12s %10s %8s %12s\n' files find_s lockscan_s us/file slope_us x_find rss_B/file
prev_n=0; prev_t=0; have=0
mkdir -p "$TMP/t"
for n in $FILE_SIZES; do
    python3 - "$TMP/t" "$have" "$n" <<'PY' || die "creating files failed"
import os, sys
root, have, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(have, n):
    d = os.path.join(root, "d%d" % (i // 1000))
    if i % 1000 == 0:
        os.makedirs(d, exist_ok=True)
    name = "job%d.lock" % i if i % 100 == 0 else "data%d.dat" % i
    os.close(os.open(os.path.join(d, name), os.O_WRONLY | os.O_CREAT, 0o644))
PY
    have=$n
    read -r ft _ < <(time_cmd find "$TMP/t")
    read -r t rss < <(time_cmd "$LOCKSCAN" --json "$TMP/t")
    slope=-
    [ "$prev_n" -gt 0 ] && slope=$(awk -v a="$t" -v b="$prev_t" -v n="$n" -v m="$prev_n" 'BEGIN{printf "%.2f", (a-b)*1e6/(n-m)}')
    printf '%8d %10s %10s %12.2f %10s %8.2f %12d\n' "$n" "$ft" "$t" "$(awk -v t="$t" -v n="$n" 'BEGIN{print t*1e6/n}')" "$slope" "$(awk -v a="$t" -v b="$ft" 'BEGIN{print a/b}')" "$((rss / n))"
    prev_n=$n; prev_t=$t
done
