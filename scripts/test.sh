#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian/Ubuntu machine, then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# The runner tests drive real child processes through POSIX sh and coreutils.
missing=()
for tool in sh yes head sleep; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing coreutils/dash for: ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq coreutils dash
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
