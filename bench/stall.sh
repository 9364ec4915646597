#!/usr/bin/env bash
# bench/stall.sh - how much a scanner slows every other process's locking.
#
#   bench/stall.sh [LOCKS] [SECONDS]     (defaults: 10000 held flocks, 5 s per phase)
#
# Reading /proc/locks takes the kernel's lock-list locks while it walks the list,
# so every flock()/fcntl() on the host waits meanwhile (issue 11). This holds LOCKS
# flocks (tests/support/holder.py) so the list is long, runs a flock/unlock loop on
# its own file in another process, and counts its operations per second while
# nothing scans, then while lockscan (whole system, --json) runs back to back, then
# lsof -n -P, then lslocks (each phase SECONDS long).
#
# Env: LOCKSCAN (default target/release/lockscan, built if missing).
# A benchmark, not a test: it prints numbers and exits 0, or 1 if setup failed.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKS=${1:-10000}
SECS=${2:-5}
LOCKSCAN=${LOCKSCAN:-$ROOT/target/release/lockscan}
[ -x "$LOCKSCAN" ] || (cd "$ROOT" && cargo build --release --bin lockscan >&2) || exit 1
TMP=$(mktemp -d /tmp/lockscan-stall.XXXXXX) || exit 1
mkfifo "$TMP/ctl" || exit 1
exec {CTL}<>"$TMP/ctl"
python3 "$ROOT/tests/support/holder.py" "many-flock:$TMP/held:$LOCKS" <"$TMP/ctl" >"$TMP/h.out" {CTL}>&- &
HOLDER=$!
cleanup() { exec {CTL}>&-; kill "$HOLDER" 2>/dev/null; wait "$HOLDER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
for _ in $(seq 1 600); do grep -q '^ready' "$TMP/h.out" 2>/dev/null && break; sleep 0.1; done
grep -q '^ready' "$TMP/h.out" || { echo "stall: holder not ready" >&2; exit 1; }

# ops PHASE CMD...: flock/unlock loop for SECS seconds while CMD runs back to back.
ops() {
    local phase=$1; shift
    local stop=$TMP/stop.$phase
    if [ "$#" -gt 0 ]; then
        ( while [ ! -e "$stop" ]; do "$@" >/dev/null 2>&1; done ) &
        local scanner=$!
    fi
    local n
    n=$(python3 - "$TMP/probe.lock" "$SECS" <<'PY'
import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT, 0o644)
end = time.monotonic() + float(sys.argv[2])
n = 0
worst = 0.0
while True:
    t = time.monotonic()
    if t >= end:
        break
    fcntl.flock(fd, fcntl.LOCK_EX)
    fcntl.flock(fd, fcntl.LOCK_UN)
    worst = max(worst, time.monotonic() - t)
    n += 1
print("%d %.1f" % (n / float(sys.argv[2]), worst * 1000))
PY
    )
    touch "$stop"
    [ "$#" -gt 0 ] && wait "$scanner" 2>/dev/null
    printf '  %-22s %12s ops/s   worst %8s ms\n' "$phase" "${n% *}" "${n#* }"
}

echo "stall: $LOCKS flocks held, /proc/locks $(wc -l </proc/locks) lines, ${SECS} s per phase, $(nproc) CPUs"
ops "nothing scanning"
ops "lockscan --json" "$LOCKSCAN" --json
ops "lsof -n -P" lsof -n -P
command -v lslocks >/dev/null && ops "lslocks -J" lslocks -J
exit 0
