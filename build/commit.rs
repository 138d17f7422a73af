//! What `--version` says after the crate version: the commit the binary was
//! built from. Shared by build.rs, which gathers the inputs, and the tests,
//! which check every fallback without a build.

/// How many hex digits of the commit id `--version` shows, as `git log %h` does.
pub const SHORT_ID_LEN: usize = 7;

/// The text after the version: ` (abc1234 2026-12-06)` from `git log -1
/// --format='%h %cs'` in a checkout; ` (abc1234)` from the packaged crate,
/// whose `.cargo_vcs_info.json` (written by `cargo package`) keeps the commit
/// but no date; empty when neither says which commit it was.
pub fn version_suffix(git_log: Option<&str>, cargo_vcs_info: Option<&str>) -> String {
    if let Some(head) = git_log.map(str::trim).filter(|head| !head.is_empty()) {
        return format!(" ({head})");
    }
    match cargo_vcs_info.and_then(packaged_commit) {
        Some(commit) => format!(" ({})", &commit[..SHORT_ID_LEN]),
        None => String::new(),
    }
}

/// The `"sha1"` of `.cargo_vcs_info.json`, if it is a full commit id. Read
/// by hand: a build script with a JSON parser would need a build dependency.
fn packaged_commit(cargo_vcs_info: &str) -> Option<&str> {
    let (_, after_key) = cargo_vcs_info.split_once("\"sha1\"")?;
    let value = after_key.trim_start().strip_prefix(':')?.trim_start().strip_prefix('"')?;
    let (commit, _) = value.split_once('"')?;
    let is_commit_id = commit.len() >= SHORT_ID_LEN && commit.bytes().all(|b| b.is_ascii_hexdigit());
    is_commit_id.then_some(commit)
}
