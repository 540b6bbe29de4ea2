#!/usr/bin/env bash
# Renders the console's icon, packaging/console/release-console.svg, into what the installers
# need: PNGs (16 to 1024 pixels), a Windows .ico (16, 32 and 48 as bitmaps, 256 as PNG, the
# layout Windows' own tools write) and a macOS .icns. cargo-packager's `icons` in Cargo.toml
# names the files this writes (the .icns for the .app and .dmg, the .ico for the MSI and NSIS
# setup), so run it before `cargo packager`.
#
#   usage: packaging/console/make-icons.sh [OUT_DIR]     (default: target/icons)
#
# Tools: rsvg-convert (librsvg), icotool (icoutils), png2icns (libicns' icnsutils):
#   Debian/Ubuntu: apt-get install librsvg2-bin icoutils icnsutils
#   macOS:         brew install librsvg icoutils   (no icnsutils: make the .icns on Linux, as
#                  the release workflow does, whose `console-icons` job runs this on Ubuntu)
set -euo pipefail
cd "$(dirname "$0")/../.."
SVG=packaging/console/release-console.svg
OUT=${1:-target/icons}
NAME=release-console

missing=()
for need in rsvg-convert:librsvg2-bin icotool:icoutils png2icns:icnsutils; do
  command -v "${need%%:*}" >/dev/null 2>&1 || missing+=("${need%%:*} (apt-get install ${need#*:})")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "error: make-icons.sh needs ${missing[*]}" >&2
  exit 2
fi
[ -f "$SVG" ] || {
  echo "error: the icon source $SVG does not exist" >&2
  exit 2
}

mkdir -p "$OUT"
for size in 16 32 48 64 128 256 512 1024; do
  rsvg-convert --width "$size" --height "$size" --keep-aspect-ratio --format png \
    --output "$OUT/$NAME-$size.png" "$SVG"
done
# -r keeps the 256-pixel image as PNG (a bitmap of that size would be 256 KiB); the small ones
# are bitmaps, which every Windows version and NSIS' icon replacement read.
icotool --create --output "$OUT/$NAME.ico" \
  "$OUT/$NAME-16.png" "$OUT/$NAME-32.png" "$OUT/$NAME-48.png" --raw="$OUT/$NAME-256.png"
# png2icns picks each image's icns type by its size (is32, il32, ih32, it32 with their masks;
# ic08, ic09 and ic10 for 256, 512 and 1024), and says so on stdout.
png2icns "$OUT/$NAME.icns" \
  "$OUT/$NAME-16.png" "$OUT/$NAME-32.png" "$OUT/$NAME-48.png" "$OUT/$NAME-128.png" \
  "$OUT/$NAME-256.png" "$OUT/$NAME-512.png" "$OUT/$NAME-1024.png" >/dev/null
echo "make-icons: wrote $OUT/$NAME.ico, $OUT/$NAME.icns and $OUT/$NAME-{16,32,48,64,128,256,512,1024}.png"
