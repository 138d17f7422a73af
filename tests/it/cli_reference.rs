//! docs/cli.md is generated from the clap definitions; this keeps it current.

use std::path::Path;

#[test]
fn docs_cli_md_matches_the_clap_definitions() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/cli.md");
    let generated = gitops_ledger::cli::reference_markdown();
    if std::env::var_os("GITOPS_LEDGER_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let checked_in = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        checked_in == generated,
        "docs/cli.md is out of date with the CLI; regenerate it with `GITOPS_LEDGER_BLESS=1 cargo test docs_cli_md`"
    );
}
