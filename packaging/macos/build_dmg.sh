#!/usr/bin/env bash
# Builds the macOS installer: the Flutter app, Developer ID code signing (hardened runtime,
# secure timestamp), a DMG, notarization with notarytool, stapling, and a SHA-256 checksum.
# For a macOS 13+ host with Xcode and Flutter. Runs on its own from a CI job, and is driven by
# `release-console pipeline run --platform macos`.
#
# Usage: build_dmg.sh --version X [--skip-notarize] [--dry-run] [--resume]
#          [--product NAME] [--app-dir DIR] [--out DIR] [--notary-timeout DURATION]
# Environment: DEVELOPER_ID (the signing identity, e.g. "Developer ID Application: Name (TEAMID)");
# for notarization NOTARY_KEYCHAIN_PROFILE (a profile saved once with `xcrun notarytool
# store-credentials PROFILE --apple-id ID --team-id TEAM`, which asks for the app-specific
# password), or an App Store Connect API key: NOTARY_API_KEY_PATH (the AuthKey_*.p8 file),
# NOTARY_API_KEY_ID and NOTARY_API_ISSUER. No secret is ever on a command line (`ps` shows
# those): notarytool gets a profile name or a key file's path, never a password.
#
# Prints `::step:: NAME` before each step and `::artifact:: PATH` for each output. Finished
# steps and the notarization submission id are recorded in OUT/.state as soon as they are known;
# --resume skips finished steps and waits on a saved submission instead of submitting again.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../lib/steps.sh
. "$here/../lib/steps.sh"
version=""
skip_notarize=0
DRY_RUN=0
RESUME=0
product="WireTuner"
app_dir="."
out="build/macos"
notary_timeout="1h"

while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="${2:-}"; shift 2 ;;
    --skip-notarize) skip_notarize=1; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --resume) RESUME=1; shift ;;
    --product) product="${2:-}"; shift 2 ;;
    --app-dir) app_dir="${2:-}"; shift 2 ;;
    --out) out="${2:-}"; shift 2 ;;
    --notary-timeout) notary_timeout="${2:-}"; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done

[ -n "$version" ] || die "--version is required (e.g. --version 1.2.3)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "--version $version: use MAJOR.MINOR.PATCH"
[ -n "$product" ] || die "--product must not be empty"

mac_tool() { need_tool "$1" "$2"; }

echo "::step:: Preflight"
if [ "$DRY_RUN" -eq 0 ]; then
  [ "$(uname -s)" = "Darwin" ] || die "this builder needs a macOS 13+ host (this is $(uname -s)); use --dry-run to see the plan"
  mac_tool flutter "install Flutter (https://docs.flutter.dev/get-started/install/macos) and put it on PATH"
  mac_tool xcrun "install Xcode and run \`xcode-select --install\`"
  mac_tool codesign "install the Xcode command line tools (\`xcode-select --install\`)"
  mac_tool hdiutil "hdiutil ships with macOS"
  mac_tool shasum "shasum ships with macOS (perl)"
  need_env DEVELOPER_ID "the Developer ID Application identity in the keychain (security find-identity -v -p codesigning)"
  if [ "$skip_notarize" -eq 0 ] && [ -z "${NOTARY_KEYCHAIN_PROFILE:-}" ] && [ -z "${NOTARY_API_KEY_PATH:-}" ]; then
    if [ -n "${APPLE_ID_PASSWORD:-}" ]; then
      die "APPLE_ID_PASSWORD is not used: it would be on notarytool's command line, where ps shows it. Save it once with \`xcrun notarytool store-credentials PROFILE --apple-id \$APPLE_ID --team-id \$APPLE_TEAM_ID\` (it asks for the password) and set NOTARY_KEYCHAIN_PROFILE=PROFILE, or use an API key (NOTARY_API_KEY_PATH, NOTARY_API_KEY_ID, NOTARY_API_ISSUER), or pass --skip-notarize"
    fi
    die "NOTARY_KEYCHAIN_PROFILE is not set: a notarytool keychain profile (\`xcrun notarytool store-credentials PROFILE\`), or set NOTARY_API_KEY_PATH, NOTARY_API_KEY_ID and NOTARY_API_ISSUER, or pass --skip-notarize"
  fi
  if [ "$skip_notarize" -eq 0 ] && [ -n "${NOTARY_API_KEY_PATH:-}" ]; then
    [ -f "$NOTARY_API_KEY_PATH" ] || die "NOTARY_API_KEY_PATH: no file at $NOTARY_API_KEY_PATH (the AuthKey_*.p8 from App Store Connect)"
    need_env NOTARY_API_KEY_ID "the key id of \$NOTARY_API_KEY_PATH (App Store Connect, Users and Access, Keys)"
    need_env NOTARY_API_ISSUER "the issuer id shown above the keys in App Store Connect"
  fi
  [ -f "$app_dir/pubspec.yaml" ] || die "$app_dir/pubspec.yaml not found: pass the Flutter app folder with --app-dir"
fi

identity="${DEVELOPER_ID:-\$DEVELOPER_ID}"
if [ "$DRY_RUN" -eq 0 ]; then
  mkdir -p "$out"
  out="$(cd "$out" && pwd)"
fi
app="$app_dir/build/macos/Build/Products/Release/$product.app"
dmg="$out/$product-$version.dmg"
staging="$out/dmg-staging"
echo "product $product $version; app $app; output $dmg"
steps_init "$out/.state"

# notarytool credentials, by reference only: a keychain profile, or an API key file. A password
# would be on notarytool's command line, where any user's `ps` shows it, so there is no such path.
notary_auth=()
if [ -n "${NOTARY_KEYCHAIN_PROFILE:-}" ]; then
  notary_auth=(--keychain-profile "$NOTARY_KEYCHAIN_PROFILE")
elif [ -n "${NOTARY_API_KEY_PATH:-}" ]; then
  notary_auth=(--key "$NOTARY_API_KEY_PATH" --key-id "${NOTARY_API_KEY_ID:-\$NOTARY_API_KEY_ID}" --issuer "${NOTARY_API_ISSUER:-\$NOTARY_API_ISSUER}")
elif [ "$DRY_RUN" -eq 1 ]; then
  notary_auth=(--keychain-profile "\$NOTARY_KEYCHAIN_PROFILE")
fi

# The value of "key" in notarytool's one-line JSON output.
json_field() {
  sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p" | head -n1
}

if begin_step "Flutter build"; then
  run flutter --version
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "+ cd $(printf '%q' "$app_dir")"
  fi
  (cd "$app_dir" 2>/dev/null || [ "$DRY_RUN" -eq 1 ]
   run flutter build macos --release --build-name "$version")
  [ "$DRY_RUN" -eq 1 ] || [ -d "$app" ] || die "flutter did not produce $app (is the product name $product right?)"
  end_step
fi

if begin_step "Code signing"; then
  run codesign --deep --force --options runtime --timestamp --sign "$identity" "$app"
  run codesign --verify --deep --strict --verbose=2 "$app"
  end_step
fi

if begin_step "Create DMG"; then
  run rm -rf "$staging"
  run mkdir -p "$staging"
  run ditto "$app" "$staging/$product.app"
  run ln -s /Applications "$staging/Applications"
  run hdiutil create -volname "$product $version" -srcfolder "$staging" -ov -format UDZO "$dmg"
  run rm -rf "$staging"
  run codesign --force --timestamp --sign "$identity" "$dmg"
  end_step
fi

if [ "$skip_notarize" -eq 1 ]; then
  echo "notarization skipped (--skip-notarize): Gatekeeper will block this DMG on other Macs"
else
  if begin_step "Notarize"; then
    id="$(state_get notary-submission-id)"
    if [ -n "$id" ]; then
      echo "waiting on the saved notarization submission $id (not submitting again)"
    elif [ "$DRY_RUN" -eq 1 ]; then
      run xcrun notarytool submit "$dmg" "${notary_auth[@]}" --output-format json --no-wait
      id="\$SUBMISSION_ID"
    else
      submitted="$(xcrun notarytool submit "$dmg" "${notary_auth[@]}" --output-format json --no-wait)" \
        || die "notarytool submit failed: $submitted"
      id="$(json_field id <<<"$submitted")"
      [ -n "$id" ] || die "notarytool submit printed no submission id: $submitted"
      state_put notary-submission-id "$id"
      echo "notarization submission id: $id (saved; --resume waits on it)"
    fi
    if [ "$DRY_RUN" -eq 1 ]; then
      run xcrun notarytool wait "$id" "${notary_auth[@]}" --timeout "$notary_timeout" --output-format json
      echo "+ on any status but Accepted: xcrun notarytool log $id ... and stop"
    else
      result="$(xcrun notarytool wait "$id" "${notary_auth[@]}" --timeout "$notary_timeout" --output-format json)" || true
      status="$(json_field status <<<"$result")"
      echo "notarization $id: ${status:-no status} $(json_field message <<<"$result")"
      if [ "$status" != "Accepted" ]; then
        xcrun notarytool log "$id" "${notary_auth[@]}" || true
        if [ -z "$status" ] || [ "$status" = "In Progress" ]; then
          die "notarization $id did not finish within $notary_timeout; run again with --resume to keep waiting"
        fi
        state_clear notary-submission-id
        die "notarization $id was $status (log above); fix it and run again"
      fi
    fi
    end_step
  fi

  if begin_step "Staple"; then
    run xcrun stapler staple "$dmg"
    run xcrun stapler validate "$dmg"
    end_step
  fi
fi

if begin_step "Checksums"; then
  if [ "$DRY_RUN" -eq 1 ]; then
    echo "+ (cd $out && shasum -a 256 $(basename "$dmg") > $(basename "$dmg").sha256)"
  else
    (cd "$out" && shasum -a 256 "$(basename "$dmg")" > "$(basename "$dmg").sha256" && cat "$(basename "$dmg").sha256")
  fi
  end_step
fi
if [ "$DRY_RUN" -eq 0 ]; then
  [ -f "$dmg" ] || die "$dmg is missing (deleted after an earlier run? run again without --resume)"
  echo "::artifact:: $dmg"
fi
echo "done"
