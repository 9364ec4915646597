#!/usr/bin/env bash
# Cargo runner for x86_64-pc-windows-gnu: runs a Windows exe under Wine with the
# prefix made by setup.sh. Usage (from .cargo/config.toml): runner = ".../wine-runner.sh"
#   WINEPREFIX  default: <this dir>/state/wineprefix  (must already exist: run setup.sh)
#   WINEDEBUG   default: -all  (also silences Debian's "wine32 is missing" hint)
# wine's exit status is the exe's exit status; stdout/stderr pass through.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export WINEPREFIX=${WINEPREFIX:-$HERE/state/wineprefix}
export WINEDEBUG=${WINEDEBUG:--all}
# mscoree/mshtml off: no Mono/Gecko install dialog if wine decides to update the prefix.
# winedbg off: a crash must give a non-zero exit (setup.sh also sets this in the prefix).
export WINEDLLOVERRIDES=${WINEDLLOVERRIDES:-mscoree,mshtml,winedbg.exe=d}
unset DISPLAY WAYLAND_DISPLAY
if [[ ! -f $WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll ]]; then
  echo "wine-runner: $WINEPREFIX lacks the ProcessPrng shim; run setup.sh first" >&2
  exit 127
fi
exec wine "$@"
