#!/usr/bin/env bash
# What a CI step would do: set up (idempotent), pre-start wineserver, run the
# Windows tests under Wine, always kill the wineserver at the end.
# Usage: run-tests.sh [cargo test args...]   (runs in ./sample)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
"$HERE/setup.sh" >/dev/null
export WINEPREFIX=$HERE/state/wineprefix WINEDEBUG=-all
unset DISPLAY
trap 'wineserver -k 2>/dev/null || true' EXIT
# Pre-start wineserver and Wine's own services (services.exe, winedevice, explorer...)
# with output to /dev/null: otherwise the first test exe spawns them and they keep
# the test's stdout/stderr open (nextest reports LEAK; `| tee` waits ~1.5 s longer).
wineserver -p 600
WINEDLLOVERRIDES="mscoree,mshtml,winedbg.exe=d" wine cmd /c exit >/dev/null 2>&1 </dev/null
cd "$HERE/sample"
cargo test --target x86_64-pc-windows-gnu "$@"
