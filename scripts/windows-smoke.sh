#!/usr/bin/env bash
# Runs the same commands with the Linux build and with release-console.exe under Wine, and
# fails when an exit code or an answer differs: --help, init, release new, checklist tick, audit
# verify, and verify of a folder with SHA256SUMS (passing, then with one file changed).
#
#   usage: scripts/windows-smoke.sh CHROOT WINE EXE_IN_CHROOT
#   RC_LINUX_BIN: the Linux build (default: target/debug/release-console, or under
#   $CARGO_TARGET_DIR), built by README's test command.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$1
WINE=$2
EXE=$3
LINUX=${RC_LINUX_BIN:-${CARGO_TARGET_DIR:-target}/debug/release-console}
[ -x "$LINUX" ] || {
  echo "windows-smoke: no Linux build at $LINUX (run README's test command first)"
  exit 1
}

# Each side in a folder of its own: the chroot's /tmp/rc-smoke is this machine's
# $ROOT/tmp/rc-smoke, and Wine maps / to drive Z:.
rm -rf "$ROOT/tmp/rc-smoke"
mkdir -p "$ROOT/tmp/rc-smoke/linux" "$ROOT/tmp/rc-smoke/windows"
# Wine's display drivers want a runtime folder of their own, or they say so on stderr.
mkdir -m 700 "$ROOT/tmp/rc-smoke/xdg"
LINUX_ABS=$(cd "$(dirname "$LINUX")" && pwd)/$(basename "$LINUX")

# A folder to verify: two files and their SHA256SUMS.
make_artifacts() {
  mkdir -p "$1/artifacts"
  printf 'WireTuner notes\n' >"$1/artifacts/notes.txt"
  head -c 4096 /dev/zero >"$1/artifacts/payload.bin"
  (cd "$1/artifacts" && sha256sum notes.txt payload.bin >SHA256SUMS)
}
make_artifacts "$ROOT/tmp/rc-smoke/linux"
make_artifacts "$ROOT/tmp/rc-smoke/windows"

export WINEDEBUG=-all
# What a command's run leaves to compare: its stdout, the error and warning lines of its stderr
# (not the progress it draws there, which depends on timing), then its exit code. ($0 and $@
# are the inner shell's: the folder, then the command.)
# shellcheck disable=SC2016
KEEP='cd "$0" && "$@" 2>.stderr; code=$?; grep -E "^(error|warning)" .stderr; echo "exit=$code"'
# Run one side: `run linux|windows ARGS...`.
run() {
  local side=$1
  shift
  local dir=/tmp/rc-smoke/$side
  if [ "$side" = linux ]; then
    # On this machine (its libraries), in the same folder as the chroot sees it.
    env -i PATH=/usr/bin:/bin HOME="$ROOT/root" USER=smoke USERNAME=smoke TZ=UTC \
      bash -c "$KEEP" "$ROOT$dir" "$LINUX_ABS" "$@" || true
  else
    chroot "$ROOT" env -i PATH=/usr/bin:/bin HOME=/root USER=smoke USERNAME=smoke TZ=UTC \
      WINEDEBUG=-all WINEPREFIX=/root/.wine-rc XDG_RUNTIME_DIR=/tmp/rc-smoke/xdg \
      bash -c "$KEEP" "$dir" "$WINE" "$EXE" "$@" || true
  fi
}

# The answer as both sides would print it: paths in one form, no carriage returns, times and
# hashes of entries (which differ between two runs) left out.
normal() {
  sed -e 's/\r$//' -e 's#Z:\\#/#g' -e 's#\\#/#g' -e "s#$ROOT##g" \
    -e "s#/tmp/rc-smoke/\(linux\|windows\)#WS#g" \
    -e 's/release-console\.exe/release-console/g' \
    -e 's/[0-9]\{4\}-[0-9][0-9]-[0-9][0-9][ T][0-9:.]*Z\?/TIME/g' \
    -e 's/[0-9a-f]\{64\}/HASH/g' -e 's/in [0-9.]* \(ms\|s\)/in T/g'
}

failed=0
check() {
  local what=$1
  shift
  local l w
  l=$(run linux "$@" | normal)
  w=$(run windows "$@" | normal)
  if [ "$l" = "$w" ]; then
    echo "windows-smoke: same answer: $what ($(echo "$l" | tail -1))"
  else
    echo "windows-smoke: DIFFERENT: $what"
    diff <(echo "$l") <(echo "$w") | sed 's/^/  /' | head -40
    failed=1
  fi
}

# Wine makes its prefix on first use (quietly, once).
run windows --version >/dev/null
check "--version" --version
check "init" init ws
check "release new" --workspace ws release new 1.0.0
check "checklist tick" --workspace ws checklist tick pre.review-flags --note "smoke test"
check "checklist show" --workspace ws checklist show --release 1.0.0
check "audit verify" --workspace ws audit verify
check "verify a folder with SHA256SUMS" --workspace ws verify artifacts
printf 'changed\n' >>"$ROOT/tmp/rc-smoke/linux/artifacts/payload.bin"
printf 'changed\n' >>"$ROOT/tmp/rc-smoke/windows/artifacts/payload.bin"
check "verify a changed file" --workspace ws verify artifacts
check "an unknown command" --workspace ws no-such-command

if [ "$failed" = 1 ]; then
  echo "windows-smoke: FAILED: release-console.exe under Wine answers differently (above)"
  exit 1
fi
echo "windows-smoke: release-console.exe under Wine gives the Linux build's answers and exit codes"
