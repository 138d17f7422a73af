//! `verify --format markdown`: the whole job summary for a passing, a
//! failing, a pending and a break-glass ledger, and a pull-request check.

use crate::common::TestRepo;

fn markdown(repo: &TestRepo, code: i32, extra: &[&str]) -> String {
    let mut args = vec!["verify", "--format", "markdown"];
    args.extend_from_slice(extra);
    let out = repo.run(&args);
    assert_eq!(out.status.code(), Some(code), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Ids and commits differ between runs of git; the layout does not.
fn stable(text: &str) -> String {
    let ids = replace_hex(text, "sha256:", 64, "sha256:[ID]");
    replace_hex(&ids, "(", 40, "([COMMIT]")
}

/// `text` with every `prefix` followed by `len` hex digits replaced by `with`.
fn replace_hex(text: &str, prefix: &str, len: usize, with: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find(prefix) {
        let after = &rest[at + prefix.len()..];
        let hex = after.len() >= len && after.as_bytes()[..len].iter().all(u8::is_ascii_hexdigit);
        out.push_str(&rest[..at]);
        if hex {
            out.push_str(with);
            rest = &after[len..];
        } else {
            out.push_str(prefix);
            rest = after;
        }
    }
    out.push_str(rest);
    out
}

#[test]
fn a_passing_ledger_is_a_heading_and_its_counts() {
    let repo = TestRepo::with_landed_records();
    insta::assert_snapshot!(stable(&markdown(&repo, 0, &[])), @r"
        ### gitops-ledger: every rule holds
        3 records of 1 apps, 4 signatures, 1 policy version

        #### Warnings

        - policy version 1 \(promotions/policy/00000001.json\) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with \-\-trust sha256:[ID]
        ");
}

#[test]
fn a_failing_ledger_lists_each_violation_in_a_table() {
    let repo = TestRepo::with_landed_records();
    std::fs::remove_file(repo.root.join("promotions/apps/api/00000002.json")).unwrap();
    insta::assert_snapshot!(stable(&markdown(&repo, 1, &[])), @r"
        ### gitops-ledger: 3 violations
        2 records of 1 apps, 3 signatures, 1 policy version

        | file | record | rule | what is wrong |
        |---|---|---|---|
        | promotions/apps/api/00000003.json | api@3 | chain | seq 3 does not follow 1: records were deleted or reordered |
        | promotions/apps/api/00000003.json | api@3 | provenance | production digest sha256:aaaaaaaaaaaa \(ghcr.io/o/api\) was never promoted to staging; promote it to staging first |
        | versions.json |  | projection | does not match the ledger \(edited by hand, or a promotion without \`project\`\); run \`gitops\-ledger project\` |

        #### Warnings

        - policy version 1 \(promotions/policy/00000001.json\) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with \-\-trust sha256:[ID]
        ");
}

/// A break-glass hotfix signed by alice, waiting for bob.
fn hotfix_waiting_for_bob() -> TestRepo {
    let repo = TestRepo::with_break_glass();
    repo.hotfix("CVE-2026-1234 exploited in the wild", &[]);
    repo
}

#[test]
fn a_record_waiting_for_approval_is_listed_as_pending() {
    let repo = hotfix_waiting_for_bob();
    insta::assert_snapshot!(stable(&markdown(&repo, 0, &[])), @r"
        ### gitops-ledger: every rule holds, with 1 break-glass override
        2 records of 1 apps, 2 signatures, 1 policy version, 1 pending

        #### Break-glass overrides

        | file | record | environment | waives | signed by | reason |
        |---|---|---|---|---|---|
        | promotions/apps/api/00000002.json | api@2 | production | provenance | alice | CVE\-2026\-1234 exploited in the wild |

        #### Pending approvals (not failures)

        | file | record | environment | signed by | missing |
        |---|---|---|---|---|
        | promotions/apps/api/00000002.json | api@2 | production | alice | production needs 2 distinct signers of alice, bob, carol, 1 more; break\-glass needs 2 distinct signers of alice, bob, 1 more |

        #### Warnings

        - policy version 1 \(promotions/policy/00000001.json\) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with \-\-trust sha256:[ID]
        ");
}

#[test]
fn a_break_glass_override_is_reported_in_its_own_table() {
    let repo = hotfix_waiting_for_bob();
    repo.ok(&["approve", "api@2", "--key", &repo.key_str("bob")]);
    insta::assert_snapshot!(stable(&markdown(&repo, 0, &[])), @r"
        ### gitops-ledger: every rule holds, with 1 break-glass override
        3 records of 1 apps, 3 signatures, 1 policy version

        #### Break-glass overrides

        | file | record | environment | waives | signed by | reason |
        |---|---|---|---|---|---|
        | promotions/apps/api/00000002.json | api@2 | production | provenance | alice, bob | CVE\-2026\-1234 exploited in the wild |

        #### Warnings

        - policy version 1 \(promotions/policy/00000001.json\) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with \-\-trust sha256:[ID]
        ");
}

#[test]
fn a_pull_request_check_names_its_base() {
    let repo = TestRepo::landed_at_base();
    repo.promote("dev", 'b', "ci", "2026-11-27T08:00:00Z");
    insta::assert_snapshot!(stable(&markdown(&repo, 0, &["--base", "base"])), @r"
        ### gitops-ledger: every rule holds
        1 new or changed records against base \([COMMIT]\) of 1 apps, 1 signatures, 1 policy version

        #### Warnings

        - the base's newest policy \(version 1\) is the trust anchor; pin version 1 with \-\-trust to check the whole root
        ");
}
