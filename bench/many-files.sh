#!/usr/bin/env bash
# bench/many-files.sh - memory and time of a scan of a directory flooded with empty
# lockfiles (issue 10: an unprivileged user fills /tmp with 1M empty *.lock files,
# and root's scan of /tmp must stay cheap). See bench/README.md.
#
#   bench/many-files.sh [--quick] [N]
#
#   N         number of empty lockfiles (default 1000000; --quick: 100000)
#
# Env: LOCKSCAN  lockscan binary (default target/release/lockscan, built with
#                `cargo build --release` if missing and LOCKSCAN unset)
#      KEEP_DIR  reuse (and keep) this directory of N files instead of a temp dir
#
# Runs `find DIR`, `lockscan --json DIR` and `lockscan DIR` (table), all to
# /dev/null, and prints each one's wall time (and as a multiple of find's), CPU time
# (user + system), maximum RSS and RSS per file.
# Exit status: 0 when both lockscan runs stay within 512 bytes of RSS per file and
# 3x find's time; 2 when one does not; 1 when setup failed. The time goal also
# depends on the walk and examination (not only on the report, renderers and
# memory they feed), so it can fail while the report side is within its share.
set -u
set -o pipefail

QUICK=0
N=""
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        [0-9]*) N="$a" ;;
        *) echo "usage: $0 [--quick] [N]" >&2; exit 1 ;;
    esac
done
if [ -z "$N" ]; then
    if [ "$QUICK" = 1 ]; then N=100000; else N=1000000; fi
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
die() { echo "bench: $*" >&2; exit 1; }
command -v python3 >/dev/null 2>&1 || die "python3 not found"
command -v find >/dev/null 2>&1 || die "find not found"

if [ -z "${LOCKSCAN:-}" ]; then
    LOCKSCAN="$ROOT/target/release/lockscan"
    if [ ! -x "$LOCKSCAN" ]; then
        echo "bench: $LOCKSCAN missing, running cargo build --release" >&2
        cargo build --release --bin lockscan >&2 || die "cargo build --release failed"
    fi
fi
[ -x "$LOCKSCAN" ] || die "$LOCKSCAN is not executable"

if [ -n "${KEEP_DIR:-}" ]; then
    DIR="$KEEP_DIR"
    mkdir -p "$DIR" || die "cannot create $DIR"
else
    DIR=$(mktemp -d /tmp/lockscan-many.XXXXXX) || die "mktemp failed"
    trap 'rm -rf "$DIR"' EXIT INT TERM
fi

# One process creates the files (a shell loop of `touch` would take minutes).
python3 - "$DIR" "$N" <<'EOF' || die "creating the files failed"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
have = sum(1 for e in os.scandir(d) if e.name.endswith(".lock"))
for i in range(have, n):
    os.close(os.open(os.path.join(d, f"f{i}.lock"), os.O_CREAT | os.O_WRONLY, 0o644))
EOF
count=$(find "$DIR" -maxdepth 1 -name '*.lock' | wc -l)
[ "$count" -ge "$N" ] || die "expected $N files in $DIR, found $count"

echo "many-files: $N empty lockfiles in $DIR; $(uname -r), $(nproc) CPU(s), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lockscan: $LOCKSCAN"

# Each command runs once after one warm-up of find (the dentry cache), timed by a
# python parent that reads the child's own rusage (os.wait4), so the RSS is that
# command's and not the largest of several children.
python3 - "$N" "$DIR" "$LOCKSCAN" <<'EOF'
import os, subprocess, sys, time

n, d, lockscan = int(sys.argv[1]), sys.argv[2], sys.argv[3]
LIMIT_RSS_PER_FILE = 512
LIMIT_TIME_RATIO = 3.0

def measure(argv):
    devnull = os.open(os.devnull, os.O_WRONLY)
    start = time.monotonic()
    p = subprocess.Popen(argv, stdout=devnull, stderr=subprocess.PIPE)
    err = p.stderr.read()
    _, status, ru = os.wait4(p.pid, 0)
    secs = time.monotonic() - start
    os.close(devnull)
    code = os.waitstatus_to_exitcode(status)
    p.returncode = code
    cpu = ru.ru_utime + ru.ru_stime
    return secs, cpu, ru.ru_maxrss * 1024, code, err.decode(errors="replace").strip()

measure(["find", d])  # warm the dentry and inode caches for everyone
runs = [
    ("find", ["find", d]),
    ("lockscan --json", [lockscan, "--json", d]),
    ("lockscan (table)", [lockscan, "--color", "never", d]),
]
results = {}
print(f"{'command':<18} {'seconds':>8} {'x find':>6} {'CPU s':>6} {'max RSS':>10} {'RSS/file':>9}")
for name, argv in runs:
    secs, cpu, rss, code, err = measure(argv)
    if code not in (0, 1):
        print(f"bench: {name} exited {code}: {err}", file=sys.stderr)
        sys.exit(1)
    results[name] = (secs, rss)
    ratio = secs / results["find"][0]
    print(f"{name:<18} {secs:8.2f} {ratio:6.1f} {cpu:6.2f} {rss / 2**20:8.1f}MB {rss / n:7.0f} B")

failed = []
for name in ("lockscan --json", "lockscan (table)"):
    secs, rss = results[name]
    if rss / n > LIMIT_RSS_PER_FILE:
        failed.append(f"{name}: {rss / n:.0f} B of RSS per file > {LIMIT_RSS_PER_FILE} B")
    if secs > LIMIT_TIME_RATIO * results["find"][0]:
        failed.append(
            f"{name}: {secs:.2f} s > {LIMIT_TIME_RATIO:g}x find ({results['find'][0]:.2f} s)"
        )
if failed:
    print("FAIL: " + "; ".join(failed))
    print("(the walk and examination are part of both figures: see bench/README.md)")
    sys.exit(2)
print(f"PASS: within {LIMIT_RSS_PER_FILE} B of RSS per file and {LIMIT_TIME_RATIO:g}x find's time")
EOF
