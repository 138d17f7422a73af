//! The listing cache: `log`, `status` and `project` take an app directory's
//! record seqs from `.git/gitops-ledger/listings.json` while the directory's
//! stat data is unchanged, and list it again once an entry was added or
//! removed. A directory is kept only once it has been unchanged for two
//! seconds, so each test waits that long once.

use crate::common::TestRepo;

const CACHE: &str = ".git/gitops-ledger/listings.json";

/// Three committed records of api, the directory settled long enough to be kept, and
/// one `log` run to keep it.
fn kept() -> TestRepo {
    let repo = TestRepo::landed_at_base();
    std::thread::sleep(std::time::Duration::from_millis(2100));
    repo.ok(&["log"]);
    repo
}

fn newest(repo: &TestRepo) -> String {
    let log = repo.ok(&["log"]);
    log.lines().next().unwrap_or_default().split_whitespace().nth(1).unwrap_or_default().to_string()
}

#[test]
fn a_directory_listed_within_two_seconds_of_its_last_change_is_not_kept() {
    let repo = TestRepo::with_landed_records();
    repo.ok(&["log"]);
    assert!(!repo.root.join(CACHE).exists(), "nothing settled, nothing kept");
}

#[test]
fn a_kept_listing_is_used_while_the_directory_is_unchanged() {
    let repo = kept();
    assert_eq!(repo.read_json(CACHE)["apps"]["api"]["seqs"]["runs"], serde_json::json!([[1, 3]]));
    assert_eq!(newest(&repo), "api@3");
    // The entry is what `log` goes by: one that says the chain ends at 2
    // (which only a forged cache can) is believed while the stamp matches.
    repo.edit_json(CACHE, |cache| cache["apps"]["api"]["seqs"]["runs"] = serde_json::json!([[1, 2]]));
    assert_eq!(newest(&repo), "api@2");
}

#[test]
fn a_record_added_or_removed_after_the_listing_was_kept_is_seen() {
    let repo = kept();
    repo.promote("dev", 'b', "ci", "2026-11-28T09:00:00Z");
    assert_eq!(newest(&repo), "api@4");
    assert!(repo.ok(&["status"]).contains(&crate::common::digest('b')[..19]), "status sees the new tip");

    std::fs::remove_file(repo.root.join("promotions/apps/api/00000004.json")).unwrap();
    assert_eq!(newest(&repo), "api@3");
}

#[test]
fn a_corrupt_listing_cache_is_ignored() {
    let repo = kept();
    std::fs::write(repo.root.join(CACHE), "{not json").unwrap();
    assert_eq!(newest(&repo), "api@3");
}
