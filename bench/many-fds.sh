#!/usr/bin/env bash
# bench/many-fds.sh - the usual production host: many processes with many fds
# (sockets, pipes, open files) and only a few locks.  See bench/README.md.
#
#   bench/many-fds.sh [PROCS [FDS]]      default 200 processes x 1000 fds, 10 locks
#   RUNS=N (default 7)   LOCKSCAN=path (default target/release/lockscan)
#
# Times, median of RUNS, output to /dev/null, all as root:
#   whole system:  lockscan --json           vs  lsof -n -P
#   one directory: lockscan --json DIR       vs  lsof -n -P +D DIR
# and checks that lockscan's JSON names the 10 locks under DIR with their holders.
# Exit status 0 when lockscan is faster than lsof in both and its output is right,
# 2 when not, 1 if setup failed.  A benchmark, not a test: CI does not run it.
set -u
set -o pipefail
PROCS=${1:-200}
FDS=${2:-1000}
LOCKS=10
RUNS=${RUNS:-7}
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LOCKSCAN=${LOCKSCAN:-$ROOT/target/release/lockscan}
die() { echo "many-fds: $*" >&2; exit 1; }
command -v lsof >/dev/null || die "lsof not found (apt-get install lsof)"
command -v python3 >/dev/null || die "python3 not found"
[ -x "$LOCKSCAN" ] || (cd "$ROOT" && cargo build --release --bin lockscan >&2) || die "build failed"
[ "$(id -u)" = 0 ] || echo "many-fds: WARNING: not root; other users' fds are unreadable" >&2

TMP=$(mktemp -d /tmp/lockscan-manyfds.XXXXXX) || die "mktemp failed"
PIDS=()
CTL=
cleanup() {
    if [ -n "$CTL" ]; then exec {CTL}>&-; fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$TMP/locks" "$TMP/data"
# Regular files the processes keep open (shared, as logs and data files are).
for i in $(seq 0 99); do : >"$TMP/data/file$i"; done
cat >"$TMP/proc.py" <<'PY'
import fcntl, os, resource, socket, sys
idx, fds, tmp, locks = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = fds + 64
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard) if hard != resource.RLIM_INFINITY else want, hard))
keep = []
while len(keep) < fds:
    k = len(keep) % 10
    if k < 4:                       # 40% sockets (pairs)
        a, b = socket.socketpair(); keep += [a, b]
    elif k < 7:                     # 30% pipes
        r, w = os.pipe(); keep += [r, w]
    else:                           # 30% open regular files
        keep.append(os.open("%s/data/file%d" % (tmp, len(keep) % 100), os.O_RDONLY))
if idx < locks:                     # a few processes hold one lock each
    fd = os.open("%s/locks/job%d.lock" % (tmp, idx), os.O_RDWR | os.O_CREAT, 0o644)
    fcntl.flock(fd, fcntl.LOCK_EX)
    keep.append(fd)
print("ready", flush=True)
sys.stdin.read()                    # until the script closes the fifo
PY
mkfifo "$TMP/ctl"
exec {CTL}<>"$TMP/ctl"
for ((i = 0; i < PROCS; i++)); do
    python3 "$TMP/proc.py" "$i" "$FDS" "$TMP" "$LOCKS" <"$TMP/ctl" >"$TMP/p$i.out" 2>&1 {CTL}>&- &
    PIDS+=($!)
done
deadline=$((SECONDS + 300))
while :; do
    ready=$(cat "$TMP"/p*.out 2>/dev/null | grep -c '^ready')
    [ "$ready" = "$PROCS" ] && break
    for ((i = 0; i < PROCS; i++)); do
        kill -0 "${PIDS[$i]}" 2>/dev/null || { cat "$TMP/p$i.out" >&2; die "process $i failed"; }
    done
    [ "$SECONDS" -lt "$deadline" ] || die "processes not ready after 300 s"
    sleep 0.2
done
total_fds=$(for p in "${PIDS[@]}"; do ls /proc/$p/fd; done | wc -l)

median() {  # CMD... -> median seconds of RUNS runs (after one warm-up)
    local t0 t1 times=()
    "$@" >/dev/null 2>&1
    for ((r = 0; r < RUNS; r++)); do
        t0=$(date +%s%N); "$@" >/dev/null 2>&1; t1=$(date +%s%N)
        times+=($((t1 - t0)))
    done
    printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{printf "%.4f", a[int((NR+1)/2)]/1e9}'
}

echo "many-fds bench  $(date -u +%FT%TZ)"
echo "host: $(uname -r), $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lsof: $(lsof -v 2>&1 | awk '/revision:/{print $2; exit}')   lockscan: $LOCKSCAN"
echo "workload: $PROCS processes x $FDS fds (40% sockets, 30% pipes, 30% files) = $total_fds fds, $LOCKS flocks under $TMP/locks; /proc/locks: $(wc -l </proc/locks) lines"

# Fast is worth nothing if wrong.
"$LOCKSCAN" --json "$TMP/locks" >"$TMP/out.json" 2>"$TMP/err"
verdict=PASS
got=$(python3 - "$TMP/out.json" "${PIDS[@]:0:$LOCKS}" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
want = {int(p) for p in sys.argv[2:]}
seen = set()
for f in doc["files"]:
    for l in f["locks"]:
        seen |= {h["pid"] for h in l["holders"]}
print("ok" if seen == want else "holders %s, want %s" % (sorted(seen), sorted(want)))
PY
)
if [ "$got" = ok ]; then echo "output: the $LOCKS locks under the directory, each with its holder"
else echo "output: WRONG: $got"; verdict=FAIL; fi

ls_sys=$(median "$LOCKSCAN" --json)
lsof_sys=$(median lsof -n -P)
ls_dir=$(median "$LOCKSCAN" --json "$TMP/locks")
lsof_dir=$(median lsof -n -P +D "$TMP/locks")
printf '\n%-14s %12s %12s %10s\n' scan lockscan lsof "lsof/lockscan"
for row in "whole-system $ls_sys $lsof_sys" "one-directory $ls_dir $lsof_dir"; do
    set -- $row
    ratio=$(awk -v a="$2" -v b="$3" 'BEGIN{printf "%.2f", b/a}')
    printf '%-14s %10s s %10s s %10s\n' "$1" "$2" "$3" "$ratio"
    awk -v r="$ratio" 'BEGIN{exit !(r > 1)}' || verdict=FAIL
done
echo
echo "$verdict"
[ "$verdict" = PASS ] && exit 0
exit 2
