#!/usr/bin/env bash
# Checks release-console for Windows on a Linux machine: `cargo check --all-targets` for
# x86_64-pc-windows-gnu with no error and no warning, then (unless --check-only) the console
# built as release-console.exe and run under Wine, whose answers and exit codes must be the
# ones the Linux build gives.
#
# rustup cannot download other targets here, so a Debian sid chroot brings rustc, cargo and
# rust-src with mingw-w64, and `-Zbuild-std` builds the Windows std from source; the C
# dependencies build with x86_64-w64-mingw32-gcc. It needs root (debootstrap, chroot, mount) on
# Debian or Ubuntu, and says why it skips anywhere else.
#
#   usage: scripts/check-windows.sh [--check-only]
#   RC_WIN_ROOT: the chroot (default /var/tmp/release-console-win, kept for the next run)
#
# On 2 cores: the chroot about 3 minutes the first time; the first check about 8 minutes, a
# check after an edit under a minute (the chroot keeps its target folder).
set -euo pipefail
cd "$(dirname "$0")/.."
PROJ=$(pwd)
CHECK_ONLY=0
[ "${1:-}" = --check-only ] && CHECK_ONLY=1

skip() {
  echo "check-windows: skipped: $*"
  exit 0
}
[ "$(id -u)" = 0 ] || skip "it needs root (debootstrap, chroot and mount); run it as root to check the Windows build"
command -v apt-get >/dev/null || skip "it needs Debian or Ubuntu (apt-get, debootstrap)"
[ "$(uname -m)" = x86_64 ] || skip "it needs an x86_64 machine (the chroot is amd64)"

ROOT=${RC_WIN_ROOT:-/var/tmp/release-console-win}
MIRROR=${MIRROR:-http://deb.debian.org/debian}
TARGET=x86_64-pc-windows-gnu

if [ ! -x "$ROOT/usr/bin/cargo" ] || [ ! -x "$ROOT/usr/bin/x86_64-w64-mingw32-gcc" ]; then
  echo "check-windows: making the Debian sid chroot in $ROOT"
  command -v debootstrap >/dev/null || {
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap
  }
  debootstrap --variant=minbase sid "$ROOT" "$MIRROR" >/dev/null
  # A mirror's sid Release file can be past its Valid-Until date.
  echo 'Acquire::Check-Valid-Until "false";' >"$ROOT/etc/apt/apt.conf.d/99no-valid-until"
  # The chroot trusts what this machine trusts (cargo reaches the crate registry through it).
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/" 2>/dev/null || true
  cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
  chroot "$ROOT" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    rustc cargo rust-src gcc-mingw-w64-x86-64 ca-certificates >/dev/null
fi
# Which Wine the chroot has (its links are absolute, so they are followed in the chroot).
wine_in_chroot() {
  chroot "$ROOT" sh -c 'command -v wine64 || command -v wine' 2>/dev/null | head -1
}
if [ "$CHECK_ONLY" = 0 ] && [ -z "$(wine_in_chroot)" ]; then
  echo "check-windows: installing Wine in the chroot"
  DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
    wine64 >/dev/null 2>&1 ||
    DEBIAN_FRONTEND=noninteractive chroot "$ROOT" apt-get install -y -qq --no-install-recommends \
      wine >/dev/null
fi
cp /etc/resolv.conf "$ROOT/etc/resolv.conf"
chroot "$ROOT" update-ca-certificates >/dev/null 2>&1 || true

# rustc finds its sysroot through /proc; both mounts are undone on exit.
mounted=()
cleanup() {
  for m in "${mounted[@]}"; do umount "$m" 2>/dev/null || true; done
}
trap cleanup EXIT
for m in proc dev; do
  if ! mountpoint -q "$ROOT/$m"; then
    if [ "$m" = proc ]; then mount -t proc proc "$ROOT/proc"; else mount --bind /dev "$ROOT/dev"; fi
    mounted+=("$ROOT/$m")
  fi
done

# The project as committed and edited (no target folders, no .git), with fresh modification
# times so cargo never takes an old output for this source; the target folder stays in the
# chroot between runs, so only this crate is checked again.
rm -rf "$ROOT/root/proj"
mkdir -p "$ROOT/root/proj" "$ROOT/root/target"
tar -C "$PROJ" --exclude=./target --exclude=./fuzz --exclude=./.git -cf - . |
  tar -C "$ROOT/root/proj" -xmf -

in_chroot() {
  chroot "$ROOT" env RUSTC_BOOTSTRAP=1 CARGO_TARGET_DIR=/root/target HOME=/root \
    bash -c "cd /root/proj && $*"
}

echo "check-windows: cargo check --all-targets --target $TARGET"
log=$(mktemp)
if ! in_chroot "cargo check --locked --all-targets -Zbuild-std=std,panic_abort --target $TARGET \
    --message-format short" >"$log" 2>&1; then
  grep -E '^(src|tests)/.*(error|warning)' "$log" || tail -40 "$log"
  echo "check-windows: FAILED: the Windows build does not type-check (above)"
  exit 1
fi
if grep -E '^(src|tests)/.*warning' "$log"; then
  echo "check-windows: FAILED: the Windows build has warnings (above)"
  exit 1
fi
echo "check-windows: the Windows build type-checks with no warning"
rm -f "$log"
[ "$CHECK_ONLY" = 1 ] && exit 0

echo "check-windows: building release-console.exe"
in_chroot "cargo build --locked --bin release-console -Zbuild-std=std,panic_abort --target $TARGET" \
  >/dev/null
exe=/root/target/$TARGET/debug/release-console.exe
wine=$(wine_in_chroot)
[ -n "$wine" ] || {
  echo "check-windows: FAILED: the chroot has no Wine (apt-get install wine64 did not install it)"
  exit 1
}
echo "check-windows: running it under $wine"
"$PROJ/scripts/windows-smoke.sh" "$ROOT" "$wine" "$exe"
