#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian/Ubuntu machine, then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real tools the tests drive, as "command:debian-package": child processes through sh and
# coreutils; signing fixtures with openssl, mingw-w64, wixl and osslsigncode; sums cross-checked
# with sha256sum and shasum; shell scripts linted with shellcheck.
needs=(
  sh:dash yes:coreutils head:coreutils sleep:coreutils sha256sum:coreutils shasum:perl
  openssl:openssl osslsigncode:osslsigncode wixl:wixl x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64
  shellcheck:shellcheck find:findutils
)
packages=()
for need in "${needs[@]}"; do
  command -v "${need%%:*}" >/dev/null 2>&1 || packages+=("${need#*:}")
done
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust 1.95+ with rustup (https://rustup.rs)" >&2
  exit 2
fi

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --locked --no-fail-fast
else
  cargo test --all-targets --locked --no-fail-fast
fi
