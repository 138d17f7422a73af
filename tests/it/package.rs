//! What `cargo publish` would upload: the files crates.io gets, and that the
//! .crate stays small.

use std::path::Path;
use std::process::Command;

/// `cargo package ARGS` on this crate, its .crate written under `target_dir`;
/// returns stdout. Offline: packaging needs no download once the tests built.
fn cargo_package(target_dir: &Path, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["package", "--offline", "--allow-dirty", "--no-verify", "--target-dir"])
        .arg(target_dir)
        .args(args)
        .output()
        .unwrap();
    assert!(out.status.success(), "cargo package {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_package_holds_the_sources_schemas_docs_and_licence_only() {
    let target = tempfile::tempdir().unwrap();
    insta::assert_snapshot!(cargo_package(target.path(), &["--list"]), @r"
    .cargo_vcs_info.json
    Cargo.lock
    Cargo.toml
    Cargo.toml.orig
    LICENSE
    README.md
    build/commit.rs
    build.rs
    docs/adopting.md
    docs/attest.md
    docs/audit.md
    docs/ci.md
    docs/cli.md
    docs/examples/ledger.yml
    docs/format.md
    docs/policy.md
    docs/pushing.md
    docs/scale.md
    docs/security.md
    schema/policy.v1.json
    schema/promotion.v1.json
    schema/versions.v1.json
    src/append/mod.rs
    src/append/transaction.rs
    src/attest.rs
    src/audit.rs
    src/canonical.rs
    src/chain.rs
    src/cli/approve.rs
    src/cli/attest.rs
    src/cli/audit.rs
    src/cli/completions.rs
    src/cli/error.rs
    src/cli/evidence.rs
    src/cli/exit_codes.rs
    src/cli/init.rs
    src/cli/keygen.rs
    src/cli/log.rs
    src/cli/man.rs
    src/cli/mod.rs
    src/cli/policy.rs
    src/cli/project.rs
    src/cli/promote.rs
    src/cli/reference.rs
    src/cli/replay.rs
    src/cli/report.rs
    src/cli/stats.rs
    src/cli/status.rs
    src/cli/util.rs
    src/cli/verify.rs
    src/clock.rs
    src/escape.rs
    src/fold_cache.rs
    src/fsmonitor.rs
    src/history.rs
    src/ledger.rs
    src/lib.rs
    src/listing_cache.rs
    src/main.rs
    src/policy.rs
    src/project/image_field.rs
    src/project/mod.rs
    src/project/overlay.rs
    src/project/targets.rs
    src/project/values.rs
    src/project/yaml.rs
    src/record.rs
    src/remote.rs
    src/report.rs
    src/rules.rs
    src/sign.rs
    src/status.rs
    src/store.rs
    src/verify.rs
    src/view.rs
    ");
}

#[test]
fn the_packaged_crate_is_under_2_mib() {
    let target = tempfile::tempdir().unwrap();
    cargo_package(target.path(), &[]);
    let name = format!("{}-{}.crate", env!("CARGO_PKG_NAME"), env!("CARGO_PKG_VERSION"));
    let size = std::fs::metadata(target.path().join("package").join(name)).unwrap().len();
    assert!(size < 2 * 1024 * 1024, "the .crate is {size} bytes");
}
