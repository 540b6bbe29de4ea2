#!/usr/bin/env bash
# Builds the Windows installer (MSI) on a Linux host with wixl, signs it with osslsigncode and
# checks the signature, then writes SHA-256 checksums. Runs on its own from a CI job, and is
# driven by `release-console pipeline run --platform windows-on-linux`.
#
# Usage: build_installer_on_linux.sh --version X [--skip-signing] [--dry-run] [--resume]
#          [--product NAME] [--manufacturer NAME] [--payload DIR] [--out DIR]
#          [--timestamp-url URL] [--ca-file PEM]
# Signing needs WINDOWS_PFX_PATH (a PKCS#12 file) and WINDOWS_PFX_PASSWORD in the environment.
# The password is passed to osslsigncode on stdin and never printed.
#
# Prints `::step:: NAME` before each step and `::artifact:: PATH` for each output, so the console
# can show steps and collect artifacts. Finished steps are recorded in OUT/.state; --resume skips
# them and continues from the step that failed.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/steps.sh
. "$here/../lib/steps.sh"
version=""
skip_signing=0
DRY_RUN=0
RESUME=0
product="WireTuner"
manufacturer=""
payload="build/windows/x64/runner/Release"
out="build/windows"
timestamp_url=""
ca_file=""

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:-}"; shift 2 ;;
    --skip-signing) skip_signing=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --resume) RESUME=1; shift ;;
    --product) product="${2:-}"; shift 2 ;;
    --manufacturer) manufacturer="${2:-}"; shift 2 ;;
    --payload) payload="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --timestamp-url) timestamp_url="${2:-}"; shift 2 ;;
    --ca-file) ca_file="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
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

apt_tool() { need_tool "$1" "install it with \`apt-get install $2\`"; }

echo "::step:: Preflight"
if [ "$DRY_RUN" -eq 0 ]; then
  apt_tool wixl wixl
  apt_tool sha256sum coreutils
  [ -d "$payload" ] || die "payload folder $payload does not exist (the Flutter Windows build output; see --payload)"
  if [ "$skip_signing" -eq 0 ]; then
    apt_tool osslsigncode osslsigncode
    need_env WINDOWS_PFX_PATH "the path of the code-signing PKCS#12 file (or pass --skip-signing)"
    need_env WINDOWS_PFX_PASSWORD "the password of \$WINDOWS_PFX_PATH (or pass --skip-signing)"
    [ -r "$WINDOWS_PFX_PATH" ] || die "WINDOWS_PFX_PATH: $WINDOWS_PFX_PATH is not a readable file"
  fi
fi
echo "product $product $version by $manufacturer; payload $payload; output $msi"
steps_init "$out/.state"

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

if begin_step "Generate WiX source"; then
if [ "$DRY_RUN" -eq 1 ]; then
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
end_step
fi

if begin_step "Build MSI"; then
  # wixl resolves File/@Source relative to the current folder.
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "+ cd $(printf '%q' "$payload")"
  fi
  (cd "$payload" 2>/dev/null || [ "$DRY_RUN" -eq 1 ]; run wixl -a x64 -o "$msi" "$wxs")
  end_step
fi

if [ "$skip_signing" -eq 1 ]; then
  echo "signing skipped (--skip-signing): the installer is NOT signed"
else
  if begin_step "Code signing"; then
  sign=(osslsigncode sign -pkcs12 "${WINDOWS_PFX_PATH:-\$WINDOWS_PFX_PATH}" -readpass - -h sha256 -add-msi-dse
        -n "$product" -in "$msi" -out "$msi.signed")
  if [ -n "$timestamp_url" ]; then
    sign+=(-ts "$timestamp_url")
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
    run "${sign[@]}"
    echo "  (password from \$WINDOWS_PFX_PASSWORD on stdin)"
  else
    rm -f "$msi.signed"
    printf '%s' "$WINDOWS_PFX_PASSWORD" | "${sign[@]}" >/dev/null \
      || die "osslsigncode could not sign $msi (wrong WINDOWS_PFX_PASSWORD, or not a PKCS#12 file?)"
    mv "$msi.signed" "$msi"
  fi
  end_step
  fi

  if begin_step "Verify signature"; then
  verify=(osslsigncode verify -in "$msi")
  if [ -n "$ca_file" ]; then
    verify+=(-CAfile "$ca_file")
  fi
  if [ "$DRY_RUN" -eq 1 ]; then
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
  end_step
  fi
fi

if begin_step "Checksums"; then
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "+ (cd $out && sha256sum $(basename "$msi") > $(basename "$msi").sha256 && sha256sum -c $(basename "$msi").sha256)"
  else
    (cd "$out" && sha256sum "$(basename "$msi")" > "$(basename "$msi").sha256" && sha256sum -c "$(basename "$msi").sha256")
  fi
  end_step
fi
if [ "$DRY_RUN" -eq 0 ]; then
  [ -f "$msi" ] || die "$msi is missing (deleted after an earlier run? run again without --resume)"
  echo "::artifact:: $msi"
fi
echo "done"
