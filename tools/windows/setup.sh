#!/usr/bin/env bash
# Cross-compile + Wine test environment for x86_64-pc-windows-gnu on Debian 12.
#
# Usage: setup.sh [BASE_DIR]          (default: $WIN_BASE or <this dir>/state)
#   creates BASE_DIR/wineprefix  (64-bit WINEPREFIX, no GUI, no mono/gecko)
#           BASE_DIR/bcryptprimitives.dll  (ProcessPrng shim, from processprng.c)
# Idempotent: every step is skipped when already done. Non-interactive.
# After it: WINEPREFIX=BASE_DIR/wineprefix ./wine-runner.sh foo.exe
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BASE=${1:-${WIN_BASE:-$HERE/state}}
mkdir -p "$BASE"
BASE=$(cd "$BASE" && pwd)
export WINEPREFIX="$BASE/wineprefix"
export WINEARCH=win64
export WINEDEBUG=-all
export DEBIAN_FRONTEND=noninteractive
unset DISPLAY WAYLAND_DISPLAY || true

TARGET=x86_64-pc-windows-gnu
# wine: /usr/bin/wine launcher (+ wineboot, wineserver links); wine64: the 64-bit
# loader and builtin DLLs. --no-install-recommends keeps it to ~33 packages
# (no wine32/i386, no fonts, no gstreamer plugins).
APT_PKGS=(wine wine64 gcc-mingw-w64-x86-64)

now() { date +%s.%N; }
step_t0=0
step() { step_t0=$(now); echo "== $*"; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN{printf "%.1f", a-b}'; }
done_step() { printf '   %-28s %6ss\n' "$1" "$(since "$step_t0")"; }

T_ALL=$(now)

# 1. apt packages ---------------------------------------------------------
step "apt packages: ${APT_PKGS[*]}"
missing=()
for p in "${APT_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "   already installed"
fi
done_step "apt"

# 2. rust target -----------------------------------------------------------
step "rustup target $TARGET"
if rustup target list --installed | grep -qx "$TARGET"; then
  echo "   already installed"
else
  rustup target add "$TARGET"
fi
done_step "rustup target"

# 3. ProcessPrng shim DLL --------------------------------------------------
step "build bcryptprimitives.dll shim"
DLL="$BASE/bcryptprimitives.dll"
if [[ ! -f "$DLL" || "$HERE/processprng.c" -nt "$DLL" ]]; then
  x86_64-w64-mingw32-gcc -O2 -shared -s -o "$DLL" "$HERE/processprng.c" -ladvapi32
else
  echo "   up to date"
fi
exports=$(x86_64-w64-mingw32-objdump -p "$DLL")   # (no `| grep -q`: SIGPIPE + pipefail)
grep -q ' ProcessPrng$' <<<"$exports" || { echo "ProcessPrng not exported" >&2; exit 1; }
done_step "shim build"

# 4. WINEPREFIX --------------------------------------------------------------
step "wineprefix $WINEPREFIX"
if [[ -f "$WINEPREFIX/system.reg" ]]; then
  echo "   exists (wine itself updates it on first use if the wine version changed)"
else
  # mscoree,mshtml disabled -> no "install Mono/Gecko?" dialogs; DISPLAY unset
  # -> no windows. Prints a harmless "failed to open ...syswow64\rundll32.exe:
  # c0000135" because there is no wine32.
  WINEDLLOVERRIDES="mscoree,mshtml=" wineboot -i
  wineserver -w   # wait until the prefix is fully written (registry flushed)
fi
done_step "wineboot"

# 5. install shim + configure prefix ----------------------------------------
step "install shim into system32; configure prefix"
# Wine 8 has no builtin bcryptprimitives.dll at all, so a native DLL in
# system32 is found by the normal search; no DllOverrides entry is needed.
# (Also works: the DLL next to the .exe, or a dir listed in WINEPATH.)
cp -f "$DLL" "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
MARK="$WINEPREFIX/.setup-configured"
if [[ ! -f $MARK ]]; then
  # No crash debugger: with winedbg active a crashing exe's exit status is
  # racy (seen: 0 in 4 of 12 segfaults); disabled it is always code & 0xff.
  wine reg add 'HKCU\Software\Wine\DllOverrides' /v winedbg.exe /t REG_SZ /d '' /f >/dev/null
  # Debian's Wine 8 prefix reports Windows 7 (6.1.7601); Rust targets Windows 10+.
  wine winecfg -v win10
  wineserver -w
  touch "$MARK"
else
  echo "   already configured"
fi
done_step "install shim + config"

# 6. smoke test: ProcessPrng resolves; a crash gives a non-zero exit -------
step "smoke test"
SMOKE="$BASE/smoke.exe"
if [[ ! -f "$SMOKE" || "$HERE/smoke.c" -nt "$SMOKE" ]]; then
  x86_64-w64-mingw32-gcc -O2 -o "$SMOKE" "$HERE/smoke.c"
fi
export WINEDLLOVERRIDES="mscoree,mshtml,winedbg.exe=d"
wine "$SMOKE"
set +e
wine "$SMOKE" crash >/dev/null 2>&1
rc=$?
set -e
[[ $rc -ne 0 ]] || { echo "crash exited 0: winedbg still active?" >&2; exit 1; }
echo "   crash -> exit $rc (0xC0000005 & 0xff)"
wineserver -k 2>/dev/null || true   # leave no wineserver behind
done_step "smoke test"

printf '   %-28s %6ss\n' "TOTAL" "$(since "$T_ALL")"
echo "WINEPREFIX=$WINEPREFIX"
