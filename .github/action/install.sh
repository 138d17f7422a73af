#!/usr/bin/env bash
# The action's install step: puts gitops-ledger on PATH for the job's later
# steps (through $GITHUB_PATH).
#   INPUT_INSTALL=release (default): downloads the release archive for this
#     runner and SHA256SUMS from INPUT_DOWNLOAD_URL (default: the GitHub
#     release of INPUT_VERSION), refuses an archive whose sha256 does not match
#     its SHA256SUMS line, and unpacks it under $RUNNER_TEMP.
#   INPUT_INSTALL=cargo: cargo install --locked from the action's own source.
# INPUT_VERSION defaults to the tag the action is used at (ACTION_REF, v*).
set -euo pipefail
action_dir="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=archive.sh
source "$action_dir/archive.sh"

fail() {
  echo "error: $*" >&2
  exit 1
}

for var in RUNNER_OS RUNNER_ARCH RUNNER_TEMP GITHUB_PATH; do
  [[ -n "${!var:-}" ]] || fail "$var is not set: this script is the gitops-ledger action's install step and runs inside a GitHub Actions job"
done

# A directory for $GITHUB_PATH, in the runner's own form on Windows.
add_to_path() {
  local dir="$1"
  if [[ "$RUNNER_OS" == Windows ]] && command -v cygpath >/dev/null 2>&1; then
    dir="$(cygpath -w "$dir")"
  fi
  echo "$dir" >>"$GITHUB_PATH"
  if [[ -n "${GITHUB_OUTPUT:-}" ]]; then
    echo "path=$dir" >>"$GITHUB_OUTPUT"
  fi
}

install="${INPUT_INSTALL:-release}"
case "$install" in
  cargo)
    command -v cargo >/dev/null 2>&1 || fail "install: cargo needs a Rust toolchain on the runner (dtolnay/rust-toolchain, or rustup); or use install: release"
    root="$RUNNER_TEMP/gitops-ledger-cargo"
    echo "building gitops-ledger from $action_dir/../.. with cargo install --locked"
    cargo install --locked --quiet --root "$root" --path "$action_dir/../.."
    echo "installed $("$root/bin/gitops-ledger" --version) in $root/bin"
    add_to_path "$root/bin"
    exit 0
    ;;
  release) ;;
  *) fail "install: '$install' is not an install method; use release (the prebuilt binary, checked against SHA256SUMS) or cargo (build from source)" ;;
esac

version="${INPUT_VERSION:-}"
if [[ -z "$version" ]]; then
  case "${ACTION_REF:-}" in
    v*) version="$ACTION_REF" ;;
    *) fail "no version to install: set the action's version input to a release tag (e.g. version: v0.1.0), or use the action at a release tag (uses: gitops-ledger/gitops-ledger@v0.1.0)" ;;
  esac
fi
target="$(release_target "$RUNNER_OS" "$RUNNER_ARCH")"
archive="$(release_archive_name "$version" "$target")"
url="${INPUT_DOWNLOAD_URL:-https://github.com/${ACTION_REPOSITORY:-gitops-ledger/gitops-ledger}/releases/download/$version}"
url="${url%/}"

download="$(mktemp -d "$RUNNER_TEMP/gitops-ledger-download.XXXXXX")"
trap 'rm -rf "$download"' EXIT
fetch() {
  curl -fsSL --retry 3 -o "$download/$1" "$url/$1" || fail "could not download $url/$1: check the version input ($version) and download-url"
}
fetch SHA256SUMS
fetch "$archive"

# The one line of SHA256SUMS for this archive, checked with sha256sum -c
# (shasum -a 256 -c where coreutils is missing, as on macOS).
awk -v name="$archive" '$2 == name || $2 == "*" name' "$download/SHA256SUMS" >"$download/expected"
[[ -s "$download/expected" ]] ||
  fail "$url/SHA256SUMS has no line for $archive; the release is incomplete, so nothing was installed"
if command -v sha256sum >/dev/null 2>&1; then
  check=(sha256sum --check)
else
  check=(shasum --algorithm 256 --check)
fi
(cd "$download" && "${check[@]}" expected) ||
  fail "$archive does not match its sha256 in $url/SHA256SUMS: the download is corrupt or was tampered with, so nothing was installed; download it again, or compare the release's SHA256SUMS with the archive"

dest="$RUNNER_TEMP/gitops-ledger-$version"
rm -rf "$dest"
mkdir -p "$dest"
case "$archive" in
  *.zip) unzip -q "$download/$archive" -d "$dest" ;;
  *) tar -xzf "$download/$archive" -C "$dest" ;;
esac
bin_dir="$dest/$(release_dir_name "$version" "$target")"
binary="$bin_dir/$(release_binary_name "$target")"
[[ -f "$binary" ]] || fail "$archive holds no $(release_binary_name "$target") in $(release_dir_name "$version" "$target")/; report this release as broken"
chmod +x "$binary"
echo "installed $("$binary" --version) from $url/$archive (sha256 checked) in $bin_dir"
add_to_path "$bin_dir"
