#!/usr/bin/env bash
# Cross-builds lockscan for x86_64-pc-windows-gnu and runs its tests under Wine:
# set up (idempotent: apt packages, rustup target, ProcessPrng shim, Wine prefix),
# pre-start wineserver, lint the Windows build, `cargo test --target ...` from the
# repository root, and always stop the wineserver at the end.
# Usage: tools/windows/run-tests.sh [cargo test args...]
#   WIN_BASE   where the prefix and shim live (default: tools/windows/state)
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
BASE=${WIN_BASE:-$HERE/state}
"$HERE/setup.sh" "$BASE" >/dev/null
export WINEPREFIX=$BASE/wineprefix WINEDEBUG=-all
unset DISPLAY WAYLAND_DISPLAY || true
trap 'wineserver -k 2>/dev/null || true' EXIT
# Pre-start wineserver and Wine's own services (services.exe, winedevice, explorer...)
# with output to /dev/null: otherwise the first test exe spawns them and they keep
# the test's stdout/stderr open.
wineserver -p 600
WINEDLLOVERRIDES="mscoree,mshtml,winedbg.exe=d" wine cmd /c exit >/dev/null 2>&1 </dev/null
cd "$ROOT"
echo "windows: cargo clippy --target x86_64-pc-windows-gnu"
cargo clippy --target x86_64-pc-windows-gnu --all-targets -- -D warnings
echo "windows: cargo test --target x86_64-pc-windows-gnu (under Wine)"
# Wine prints "Read access denied for device Z:\" when asked for the serial of the
# drive that maps /; it is harmless and filtered out of the log.
cargo test --target x86_64-pc-windows-gnu "$@" 2> >(grep -v 'Read access denied for device' >&2)
