#!/usr/bin/env bash
# Packs a built binary as a release archive under the name scheme of
# .github/action/archive.sh and prints the archive's path.
# Usage: package.sh <version> <target> <binary> <out-dir>
set -euo pipefail
if (($# != 4)); then
  echo "usage: $0 <version, e.g. v0.1.0> <rust target triple> <path of the built binary> <output directory>" >&2
  exit 2
fi
version="$1" target="$2" binary="$3" out="$4"
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
# shellcheck source-path=SCRIPTDIR source=../action/archive.sh
source "$root/.github/action/archive.sh"

if [[ ! -f "$binary" ]]; then
  echo "error: no built binary at $binary; build it first (cargo build --release --locked --target $target)" >&2
  exit 1
fi
dir_name="$(release_dir_name "$version" "$target")"
archive="$(release_archive_name "$version" "$target")"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$dir_name"
cp "$binary" "$stage/$dir_name/$(release_binary_name "$target")"
cp "$root/README.md" "$stage/$dir_name/"
rm -f "$out/$archive"
case "$archive" in
  *.zip)
    # Windows runners have 7-Zip, not zip.
    if command -v zip >/dev/null 2>&1; then
      (cd "$stage" && zip -qr "$out/$archive" "$dir_name")
    else
      (cd "$stage" && 7z a -tzip -bso0 "$out/$archive" "$dir_name")
    fi
    ;;
  *) tar -czf "$out/$archive" -C "$stage" "$dir_name" ;;
esac
echo "$out/$archive"
