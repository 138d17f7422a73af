# shellcheck shell=bash
# The release archives' name scheme, shared by the release workflow
# (.github/release/package.sh) and the action's installer (install.sh):
#   gitops-ledger-<version>-<target>.tar.gz   (Linux, macOS)
#   gitops-ledger-<version>-<target>.zip      (Windows)
# <version> is the release tag (v0.1.0); <target> the Rust target triple.
# Each archive holds one directory of the same name (without the extension)
# with the binary, gitops-ledger (gitops-ledger.exe on Windows), and README.md.
# SHA256SUMS beside them lists every archive in `sha256sum` format.

# The Rust target triple built for a GitHub runner's RUNNER_OS and RUNNER_ARCH.
release_target() {
  case "$1/$2" in
    Linux/X64) echo x86_64-unknown-linux-musl ;;
    Linux/ARM64) echo aarch64-unknown-linux-musl ;;
    macOS/X64) echo x86_64-apple-darwin ;;
    macOS/ARM64) echo aarch64-apple-darwin ;;
    Windows/X64) echo x86_64-pc-windows-msvc ;;
    *)
      echo "error: no gitops-ledger release is built for RUNNER_OS=$1 RUNNER_ARCH=$2 (built: Linux X64 and ARM64, macOS X64 and ARM64, Windows X64); use 'install: cargo' to build it from source" >&2
      return 1
      ;;
  esac
}

# The archive's directory name: gitops-ledger-<version>-<target>.
release_dir_name() {
  echo "gitops-ledger-$1-$2"
}

# The archive's file name for a version and a target.
release_archive_name() {
  case "$2" in
    *-windows-*) echo "$(release_dir_name "$1" "$2").zip" ;;
    *) echo "$(release_dir_name "$1" "$2").tar.gz" ;;
  esac
}

# The binary's file name on a target.
release_binary_name() {
  case "$1" in
    *-windows-*) echo gitops-ledger.exe ;;
    *) echo gitops-ledger ;;
  esac
}
