#!/usr/bin/env bash
# bench/run.sh - time lockscan against lslocks and lsof, system-wide, under
# two synthetic lock loads.  See bench/README.md.
#
#   bench/run.sh [--quick]
#
# Env: LOCKSCAN        lockscan command (default target/release/lockscan; built
#                      with `cargo build --release` if missing and LOCKSCAN unset)
#      LOCKSCAN_ARGS   arguments for it (default --json)
#      LSLOCKS_TIMEOUT per-run timeout for lslocks in seconds (default 120 with
#                      --quick, 0 = none otherwise)
#      BENCH_JSON_DIR  if set, keep the hyperfine JSON exports there
#      NO_HYPERFINE=1  force the plain bash timing loop
#
# Exit status: 0 when every scenario meets its goal (and lockscan's output has
# exactly the locks the workload holds), 2 when one misses, 1 if setup failed.
# A benchmark, not a test: CI does not run it (a slow machine must not fail CI).
set -u
set -o pipefail

QUICK=0
for a in "$@"; do
    case "$a" in
        --quick) QUICK=1 ;;
        -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "usage: $0 [--quick]" >&2; exit 1 ;;
    esac
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
HOLDER="$ROOT/tests/support/holder.py"

die() { echo "bench: $*" >&2; exit 1; }

# ------------------------------------------------------------------ tools
missing=0
command -v lslocks >/dev/null 2>&1 || { echo "bench: lslocks not found: install util-linux (Debian/Ubuntu: apt-get install util-linux; Fedora: dnf install util-linux)" >&2; missing=1; }
command -v lsof >/dev/null 2>&1 || { echo "bench: lsof not found: install lsof (Debian/Ubuntu: apt-get install lsof; Fedora: dnf install lsof)" >&2; missing=1; }
command -v python3 >/dev/null 2>&1 || { echo "bench: python3 not found (needed for tests/support/holder.py)" >&2; missing=1; }
[ "$missing" = 0 ] || exit 1
[ -f "$HOLDER" ] || die "missing $HOLDER"

if [ -z "${LOCKSCAN:-}" ]; then
    LOCKSCAN="$ROOT/target/release/lockscan"
    if [ ! -x "$LOCKSCAN" ]; then
        echo "bench: $LOCKSCAN missing, running cargo build --release" >&2
        cargo build --release --bin lockscan >&2 || die "cargo build --release failed"
    fi
fi
read -r -a LOCKSCAN_CMD <<<"$LOCKSCAN"
read -r -a LOCKSCAN_ARGV <<<"${LOCKSCAN_ARGS---json}"
LOCKSCAN_CMD+=("${LOCKSCAN_ARGV[@]}")
command -v "${LOCKSCAN_CMD[0]}" >/dev/null 2>&1 || die "lockscan command not found: $LOCKSCAN"

USE_HYPERFINE=0
HF_SHELL=()
if [ "${NO_HYPERFINE:-0}" != 1 ] && command -v hyperfine >/dev/null 2>&1; then
    USE_HYPERFINE=1
    hyperfine -N --runs 1 --style none true >/dev/null 2>&1 && HF_SHELL=(-N)
fi

if [ "$QUICK" = 1 ]; then
    RUNS_LOCKSCAN=5; RUNS_LSOF=3; RUNS_LSLOCKS=1
    LSLOCKS_TIMEOUT=${LSLOCKS_TIMEOUT:-120}
else
    RUNS_LOCKSCAN=20; RUNS_LSOF=10; RUNS_LSLOCKS=3
    LSLOCKS_TIMEOUT=${LSLOCKS_TIMEOUT:-0}
fi

# ------------------------------------------------------------------ setup/teardown
TMP=$(mktemp -d /tmp/lockscan-bench.XXXXXX) || die "mktemp failed"
HOLDER_PIDS=()
CTL=
CUR=

# run_bg CMD...: run CMD as a background child and wait for it, so that the
# INT/TERM traps fire at once instead of after a 60 s lslocks run.
run_bg() {
    if [ -n "$CTL" ]; then "$@" {CTL}>&- & else "$@" & fi
    CUR=$!
    wait "$CUR"
    local rc=$?
    CUR=
    return "$rc"
}

stop_holders() {
    # EOF on the control fifo ends every holder; then make sure.
    if [ -n "$CTL" ]; then exec {CTL}>&-; CTL=; fi
    local p i
    for i in $(seq 1 50); do
        local alive=0
        for p in "${HOLDER_PIDS[@]}"; do kill -0 "$p" 2>/dev/null && alive=1 && break; done
        [ "$alive" = 0 ] && break
        sleep 0.1
    done
    for p in "${HOLDER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done
    for p in "${HOLDER_PIDS[@]}"; do wait "$p" 2>/dev/null; done
    HOLDER_PIDS=()
}

# shellcheck disable=SC2317  # invoked from the EXIT trap
cleanup() {
    if [ -n "$CUR" ]; then
        # hyperfine runs under setsid: end its whole session (timeout(1) puts
        # lslocks into a process group of its own, so a group kill is not enough).
        local p
        for p in $(ps -o pid= -s "$CUR" 2>/dev/null) "$CUR"; do kill -TERM "$p" 2>/dev/null; done
        wait "$CUR" 2>/dev/null
    fi
    stop_holders
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# start_holders COUNT PER_HOLDER: COUNT holders with many-flock of PER_HOLDER files each
start_holders() {
    local count=$1 per=$2 i
    rm -f "$TMP/ctl"; mkfifo "$TMP/ctl" || die "mkfifo failed"
    exec {CTL}<>"$TMP/ctl"
    for ((i = 0; i < count; i++)); do
        # stdin = the fifo (EOF when we close CTL); don't leak CTL itself.
        python3 "$HOLDER" "many-flock:$TMP/s/h$i:$per" <"$TMP/ctl" \
            >"$TMP/h$i.out" 2>"$TMP/h$i.err" {CTL}>&- &
        HOLDER_PIDS+=($!)
    done
    local deadline=$((SECONDS + 300)) ready
    while :; do
        ready=0
        for ((i = 0; i < count; i++)); do
            if grep -q '^ready ' "$TMP/h$i.out" 2>/dev/null; then
                ready=$((ready + 1))
            elif ! kill -0 "${HOLDER_PIDS[$i]}" 2>/dev/null; then
                echo "bench: holder $i failed:" >&2; cat "$TMP/h$i.err" >&2
                exit 1
            fi
        done
        [ "$ready" = "$count" ] && break
        [ "$SECONDS" -lt "$deadline" ] || die "holders not ready after 300 s ($ready/$count)"
        sleep 0.1
    done
}

# ------------------------------------------------------------------ timing
# measure NAME RUNS WARMUP TIMEOUT CMD... -> appends "name status median runs" to $RESULTS
#   status: ok | timeout | fail:<rc>
measure() {
    local name=$1 runs=$2 warmup=$3 tmo=$4; shift 4
    local cmd=("$@")
    [ "$tmo" != 0 ] && cmd=(timeout "$tmo" "${cmd[@]}")
    local status=ok median
    # Exit codes that mean "ran fine": lockscan exits 1 when it reports a finding at
    # warning level (the system may have one, e.g. a zombie lock holder), and that
    # is a complete scan, not a failure.
    local ok_codes=0
    [ "$name" = lockscan ] && ok_codes=0,1
    if [ "$USE_HYPERFINE" = 1 ]; then
        local json="$TMP/$SCEN-$name.json" cmdline
        cmdline=$(printf '%q ' "${cmd[@]}")
        [ "${#HF_SHELL[@]}" = 0 ] && cmdline="$cmdline >/dev/null 2>&1"
        run_bg setsid -w hyperfine "${HF_SHELL[@]}" -i --style basic --warmup "$warmup" --runs "$runs" \
            --command-name "$name" --export-json "$json" "$cmdline" >&2 \
            || { echo "bench: hyperfine failed for $name" >&2; status=fail:hyperfine; }
        if [ -s "$json" ]; then
            read -r median status < <(python3 - "$json" "$ok_codes" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))["results"][0]
ok = {int(c) for c in sys.argv[2].split(",")}
codes = [c for c in r.get("exit_codes", []) if c not in ok]
st = "ok" if not codes else ("timeout" if 124 in codes else "fail:%d" % codes[0])
print("%.6f %s" % (r["median"], st))
EOF
            )
            [ -n "${BENCH_JSON_DIR:-}" ] && mkdir -p "$BENCH_JSON_DIR" && cp "$json" "$BENCH_JSON_DIR/"
        else
            median=nan
        fi
    else
        local i t0 t1 rc times=()
        for ((i = 0; i < warmup; i++)); do run_bg "${cmd[@]}" >/dev/null 2>&1; done
        for ((i = 0; i < runs; i++)); do
            t0=$(date +%s%N)
            run_bg "${cmd[@]}" >/dev/null 2>&1
            rc=$?
            t1=$(date +%s%N)
            times+=($((t1 - t0)))
            if [ "$rc" = 124 ] && [ "$tmo" != 0 ]; then status=timeout
            elif [[ ",$ok_codes," != *",$rc,"* ]] && [ "$status" = ok ]; then status=fail:$rc; fi
            echo "  $name run $((i + 1))/$runs: $(awk -v n="${times[-1]}" 'BEGIN{printf "%.4f s", n/1e9}') rc=$rc" >&2
        done
        median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END{m=(NR%2)?a[(NR+1)/2]:(a[NR/2]+a[NR/2+1])/2; printf "%.6f", m/1e9}')
    fi
    echo "$name $status $median $runs" >>"$RESULTS"
}

# report SCENARIO_LABEL -> prints table, appends "PASS"/"FAIL: reason" lines to $VERDICTS
report() {
    awk -v label="$1" -v tmo="$LSLOCKS_TIMEOUT" -v verdicts="$VERDICTS" '
    { st[$1]=$2; med[$1]=$3; runs[$1]=$4 }
    function shown(n) {
        if (st[n] == "timeout") return sprintf(">%ss", tmo)
        if (st[n] ~ /^fail/) return sprintf("%.4f (%s)", med[n], st[n])
        return sprintf("%.4f", med[n])
    }
    END {
        L = med["lockscan"] + 0
        printf "\n%s\n", label
        printf "  %-10s %5s %16s %12s\n", "tool", "runs", "median (s)", "x lockscan"
        for (i = 1; i <= 3; i++) {
            n = (i == 1) ? "lockscan" : (i == 2) ? "lslocks" : "lsof"
            ratio = "-"
            if (n != "lockscan" && L > 0) {
                if (st[n] == "timeout") ratio = sprintf(">%.1f", tmo / L)
                else ratio = sprintf("%.1f", med[n] / L)
            }
            printf "  %-10s %5d %16s %12s\n", n, runs[n], shown(n), ratio
        }
        bad = ""
        if (st["lockscan"] != "ok") bad = bad " lockscan " st["lockscan"] ";"
        else if (L <= 0) bad = bad " lockscan time 0;"
        else {
            if (st["lslocks"] == "timeout") { if (tmo / L < 10) bad = bad " lslocks timed out but <10x lower bound;" }
            else if (st["lslocks"] != "ok") bad = bad " lslocks " st["lslocks"] " (not comparable);"
            else if (med["lslocks"] / L < 10) bad = bad sprintf(" only %.1fx faster than lslocks (<10x);", med["lslocks"] / L)
            if (st["lsof"] != "ok") bad = bad " lsof " st["lsof"] " (not comparable);"
            else if (med["lsof"] / L < 3) bad = bad sprintf(" only %.1fx faster than lsof (<3x);", med["lsof"] / L)
        }
        if (bad == "") { print "  -> target met (>=10x lslocks, >=3x lsof)"; print label ": PASS" >> verdicts }
        else { print "  -> target missed:" bad; print label ": FAIL:" bad >> verdicts }
    }' "$RESULTS"
}

proc_locks_lines() { wc -l </proc/locks; }

# ------------------------------------------------------------------ run
[ "$(id -u)" = 0 ] || echo "bench: WARNING: not root; fdinfo of other users' processes is unreadable, so numbers are not comparable" >&2

VERDICTS="$TMP/verdicts"; : >"$VERDICTS"
echo "lockscan bench $( [ "$QUICK" = 1 ] && echo '(quick)')  $(date -u +%FT%TZ)"
echo "host: $(uname -r), $(nproc) CPUs, loadavg $(cut -d' ' -f1-3 /proc/loadavg)"
echo "lockscan: ${LOCKSCAN_CMD[*]}   lslocks: $(lslocks --version 2>&1 | awk '{print $NF}')   lsof: $(lsof -v 2>&1 | awk '/revision:/{print $2; exit}')"
echo "timer: $( [ "$USE_HYPERFINE" = 1 ] && echo "hyperfine $(hyperfine --version | awk '{print $2}') ${HF_SHELL[*]:-}" || echo 'bash loop (date +%s%N)')"
echo "runs: lockscan $RUNS_LOCKSCAN, lsof $RUNS_LSOF, lslocks $RUNS_LSLOCKS (timeout: ${LSLOCKS_TIMEOUT}s, 0 = none)"

run_scenario() {   # ID LABEL HOLDERS PER_HOLDER
    SCEN=$1
    local label=$2 holders=$3 per=$4
    echo
    echo "=== scenario $label"
    echo "/proc/locks before setup: $(proc_locks_lines) lines"
    local t0=$SECONDS
    start_holders "$holders" "$per"
    echo "setup: $holders holder(s) x $per flocks ready in $((SECONDS - t0)) s; /proc/locks now: $(proc_locks_lines) lines"
    RESULTS="$TMP/$SCEN.results"; : >"$RESULTS"
    local rc
    run_bg "${LOCKSCAN_CMD[@]}" >"$TMP/lockscan.out" 2>"$TMP/lockscan.err"; rc=$?
    echo "lockscan output: $(wc -c <"$TMP/lockscan.out") bytes, exit $rc"
    [ "$rc" = 0 ] || head -5 "$TMP/lockscan.err" >&2
    # Fast is worth nothing if wrong: the JSON must hold exactly the workload's locks.
    local want=$((holders * per)) got
    got=$(python3 - "$TMP/lockscan.out" "$TMP/s/" <<'PY' 2>/dev/null
import json, sys
doc = json.load(open(sys.argv[1]))
print(sum(l.get("range_count") or 1
          for f in doc["files"] if (f.get("path") or "").startswith(sys.argv[2])
          for l in f["locks"]))
PY
    ) || got="unreadable (is LOCKSCAN_ARGS --json?)"
    if [ "$got" = "$want" ]; then
        echo "output: $got locks under the workload's directory, as held"
    else
        echo "output: WRONG: $got locks under the workload's directory, the workload holds $want"
        echo "$label: FAIL: lockscan reported $got of $want locks" >>"$VERDICTS"
    fi
    measure lockscan "$RUNS_LOCKSCAN" 1 0 "${LOCKSCAN_CMD[@]}"
    measure lsof "$RUNS_LSOF" 1 0 lsof -n -P
    measure lslocks "$RUNS_LSLOCKS" 0 "$LSLOCKS_TIMEOUT" lslocks -J
    report "$label"
    stop_holders
    rm -rf "$TMP/s"
}

run_scenario a "(a) 5000 locks, 1 process" 1 5000
run_scenario b "(b) 20000 locks, 50 processes x 400" 50 400

echo
cat "$VERDICTS"
if grep -q ': FAIL' "$VERDICTS"; then echo FAIL; exit 2; fi
echo PASS
exit 0
