#!/usr/bin/env bash
# Builds the Windows installer (MSI) on a Linux host with wixl, signs it with osslsigncode and
# checks the signature, then writes SHA-256 checksums. Runs on its own from a CI job, and is
# driven by `release-console pipeline run --platform windows-on-linux`.
#
# Usage: build_installer_on_linux.sh --version X [--skip-signing] [--dry-run]
#          [--product NAME] [--manufacturer NAME] [--payload DIR] [--out DIR]
#          [--timestamp-url URL] [--ca-file PEM]
# Signing needs WINDOWS_PFX_PATH (a PKCS#12 file) and WINDOWS_PFX_PASSWORD in the environment.
# The password is passed to osslsigncode on stdin and never printed.
#
# Prints `::step:: NAME` before each step and `::artifact:: PATH` for each output, so the console
# can show steps and collect artifacts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
version=""
skip_signing=0
dry_run=0
product="WireTuner"
manufacturer=""
payload="build/windows/x64/runner/Release"
out="build/windows"
timestamp_url=""
ca_file=""

die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:-}"; shift 2 ;;
    --skip-signing) skip_signing=1; shift ;;
    --dry-run) dry_run=1; shift ;;
    --product) product="${2:-}"; shift 2 ;;
    --manufacturer) manufacturer="${2:-}"; shift 2 ;;
    --payload) payload="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --timestamp-url) timestamp_url="${2:-}"; shift 2 ;;
    --ca-file) ca_file="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[ -n "$version" ] || die "--version is required (e.g. --version 1.2.3)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version $version: MSI versions are MAJOR.MINOR.PATCH numbers"
[ -n "$product" ] || die "--product must not be empty"
[ -n "$manufacturer" ] || manufacturer="$product"

out="$(realpath -m "$out")"
msi="$out/${product}-Setup-${version}.msi"
wxs="$out/${product}-${version}.wxs"

step() { echo "::step:: $*"; }

# Runs a command, or prints it in a dry run. Secrets are never in the arguments.
run() {
  if [ "$dry_run" -eq 1 ]; then
    printf '+'
    printf ' %q' "$@"
    printf '\n'
  else
    "$@"
  fi
}

need_tool() {
  command -v "$1" >/dev/null 2>&1 || die "$1 not found: install it with \`apt-get install $2\`"
}

need_env() {
  [ -n "${!1:-}" ] || die "$1 is not set: $2"
}

step "Preflight"
if [ "$dry_run" -eq 0 ]; then
  need_tool wixl wixl
  need_tool sha256sum coreutils
  [ -d "$payload" ] || die "payload folder $payload does not exist (the Flutter Windows build output; see --payload)"
  if [ "$skip_signing" -eq 0 ]; then
    need_tool osslsigncode osslsigncode
    need_env WINDOWS_PFX_PATH "the path of the code-signing PKCS#12 file (or pass --skip-signing)"
    need_env WINDOWS_PFX_PASSWORD "the password of \$WINDOWS_PFX_PATH (or pass --skip-signing)"
    [ -r "$WINDOWS_PFX_PATH" ] || die "WINDOWS_PFX_PATH: $WINDOWS_PFX_PATH is not a readable file"
  fi
fi
echo "product $product $version by $manufacturer; payload $payload; output $msi"

# A stable GUID from a name, so upgrades and components keep their identity between builds.
guid_of() {
  local h
  h="$(printf '%s' "$1" | sha1sum | cut -c1-32)"
  printf '%s-%s-5%s-a%s-%s' "${h:0:8}" "${h:8:4}" "${h:13:3}" "${h:17:3}" "${h:20:12}"
}

xml_escape() {
  local s="$1"
  s="${s//&/&amp;}"; s="${s//</&lt;}"; s="${s//>/&gt;}"; s="${s//\"/&quot;}"
  printf '%s' "$s"
}

step "Generate WiX source"
if [ "$dry_run" -eq 1 ]; then
  echo "+ generate $wxs from $here/installer.wxs.in with one component per file in $payload"
else
  mkdir -p "$out"
  components=""
  refs=""
  n=0
  while IFS= read -r -d '' file; do
    n=$((n + 1))
    rel="${file#"$payload"/}"
    case "$rel" in */*) die "payload $payload has a subfolder ($rel); this builder packs a flat folder" ;; esac
    components+="          <Component Id=\"C$n\" Guid=\"$(guid_of "$product/$rel")\" Win64=\"yes\"><File Id=\"F$n\" Name=\"$(xml_escape "$rel")\" Source=\"$(xml_escape "$rel")\" KeyPath=\"yes\"/></Component>"$'\n'
    refs+="      <ComponentRef Id=\"C$n\"/>"$'\n'
  done < <(find "$payload" -maxdepth 1 -type f -print0 | sort -z)
  [ "$n" -gt 0 ] || die "payload folder $payload is empty"
  template="$(cat "$here/installer.wxs.in")"
  template="${template//@PRODUCT@/$(xml_escape "$product")}"
  template="${template//@MANUFACTURER@/$(xml_escape "$manufacturer")}"
  template="${template//@VERSION@/$version}"
  template="${template//@UPGRADE_CODE@/$(guid_of "$product/upgrade")}"
  template="${template//@COMPONENTS@/$components}"
  template="${template//@COMPONENT_REFS@/$refs}"
  printf '%s\n' "$template" > "$wxs"
  echo "$n payload files"
fi

step "Build MSI"
# wixl resolves File/@Source relative to the current folder.
if [ "$dry_run" -eq 1 ]; then
  echo "+ cd $(printf '%q' "$payload")"
fi
(cd "$payload" 2>/dev/null || [ "$dry_run" -eq 1 ]; run wixl -a x64 -o "$msi" "$wxs")

if [ "$skip_signing" -eq 1 ]; then
  echo "signing skipped (--skip-signing): the installer is NOT signed"
else
  step "Code signing"
  sign=(osslsigncode sign -pkcs12 "${WINDOWS_PFX_PATH:-\$WINDOWS_PFX_PATH}" -readpass - -h sha256 -add-msi-dse
        -n "$product" -in "$msi" -out "$msi.signed")
  if [ -n "$timestamp_url" ]; then
    sign+=(-ts "$timestamp_url")
  fi
  if [ "$dry_run" -eq 1 ]; then
    run "${sign[@]}"
    echo "  (password from \$WINDOWS_PFX_PASSWORD on stdin)"
  else
    printf '%s' "$WINDOWS_PFX_PASSWORD" | "${sign[@]}" >/dev/null
    mv "$msi.signed" "$msi"
  fi

  step "Verify signature"
  verify=(osslsigncode verify -in "$msi")
  if [ -n "$ca_file" ]; then
    verify+=(-CAfile "$ca_file")
  fi
  if [ "$dry_run" -eq 1 ]; then
    run "${verify[@]}"
  else
    # Without a CA file the chain may not verify here; the digest must always match.
    if ! report="$("${verify[@]}" 2>&1)"; then
      if [ -n "$ca_file" ] || grep -q "MISMATCH" <<<"$report"; then
        printf '%s\n' "$report" >&2
        die "the signed MSI does not verify"
      fi
      echo "signature digest ok; chain not checked (no --ca-file)"
    fi
    grep -E "Subject:|Signature verification" <<<"$report" | head -3 || true
  fi
fi

step "Checksums"
if [ "$dry_run" -eq 1 ]; then
  echo "+ (cd $out && sha256sum $(basename "$msi") > $(basename "$msi").sha256 && sha256sum -c $(basename "$msi").sha256)"
else
  (cd "$out" && sha256sum "$(basename "$msi")" > "$(basename "$msi").sha256" && sha256sum -c "$(basename "$msi").sha256")
  echo "::artifact:: $msi"
fi
echo "done"
