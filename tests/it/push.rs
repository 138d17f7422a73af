//! Many writers at once: `--push` lands every change on a shared remote,
//! making it again on the new tip when another writer got there first, and
//! never forcing; every commit the tool makes verifies on its own.

use std::collections::BTreeMap;
use std::path::Path;

use crate::common::{digest, Forged, TestRepo};

fn image(app: &str, fill: char) -> String {
    format!("ghcr.io/o/{app}@{}", digest(fill))
}

/// Each update of the bare remote's main, from its reflog: (old, new).
fn remote_updates(repo: &TestRepo, bare: &Path) -> Vec<(String, String)> {
    let log = std::fs::read_to_string(bare.join("logs/refs/heads/main")).unwrap();
    log.lines()
        .map(|line| {
            let mut ids = line.split(' ');
            (ids.next().unwrap().to_string(), ids.next().unwrap().to_string())
        })
        .filter(|(old, _)| old.chars().any(|c| c != '0'))
        .inspect(|(old, new)| {
            repo.git_in(bare, &["merge-base", "--is-ancestor", old, new]);
        })
        .collect()
}

/// The images of every record of `app` on the remote's main, in chain order.
fn records_on(clone: &TestRepo, app: &str) -> Vec<String> {
    let dir = clone.root.join("promotions/apps").join(app);
    let mut names: Vec<String> =
        std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    for (i, name) in names.iter().enumerate() {
        assert_eq!(name, &format!("{:08}.json", i + 1), "{app}'s chain is contiguous");
    }
    names
        .iter()
        .map(|name| clone.read_json(&format!("promotions/apps/{app}/{name}"))["images"][0]["digest"].to_string())
        .collect()
}

#[test]
fn eight_jobs_promoting_at_once_all_land_once_in_contiguous_chains() {
    let seed = TestRepo::with_signed_policy();
    let bare = seed.bare_remote();
    let jobs = [
        ("web", '1'),
        ("web", '2'),
        ("web", '3'),
        ("web", '4'),
        ("api", '5'),
        ("api", '6'),
        ("worker", '7'),
        ("db", '8'),
    ];
    let clones: Vec<TestRepo> = jobs.iter().map(|_| TestRepo::clone_of(&bare)).collect();
    let children: Vec<_> = jobs
        .iter()
        .zip(&clones)
        .map(|((app, fill), clone)| {
            clone
                .process()
                .args(["promote", "--app", app, "--env", "dev", "--image", &image(app, *fill)])
                .args(["--key", &clone.key_str("ci"), "--push"])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut committed = Vec::new();
    for ((app, fill), child) in jobs.iter().zip(children) {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "job {app} {fill} failed:\n{stdout}{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("pushed to origin/main"), "{stdout}");
        let commit = stdout.lines().find_map(|l| l.strip_prefix("committed ")).unwrap().to_string();
        committed.push(commit);
    }

    let after = TestRepo::clone_of(&bare);
    let mut expected: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (app, fill) in jobs {
        expected.entry(app).or_default().push(format!("\"{}\"", digest(fill)));
    }
    for (app, digests) in &mut expected {
        let mut landed = records_on(&after, app);
        landed.sort();
        digests.sort();
        assert_eq!(&landed, digests, "every record of {app} exactly once");
    }
    assert!(after.ok(&["verify", "--rev", "HEAD"]).contains("every rule holds"));
    assert!(after.ok(&["verify"]).contains("every rule holds"), "versions.json is projected, not merged");
    // Nothing forced: every job's commit is on main, and every update of main was a fast-forward.
    for commit in &committed {
        after.git(&["merge-base", "--is-ancestor", commit, "HEAD"]);
    }
    assert_eq!(after.commit_count(), 1 + jobs.len(), "the policy, then one commit per job");
    assert_eq!(remote_updates(&after, &bare).len(), jobs.len());
    for clone in &clones {
        assert_eq!(clone.status(), "", "each job's clone is left clean");
    }
}

/// Production api@3 waits for one more approval (alice signed), on a shared remote.
fn waiting_on_a_remote() -> (TestRepo, std::path::PathBuf) {
    let seed = crate::approvals::waiting();
    let bare = seed.bare_remote();
    (seed, bare)
}

#[test]
fn two_approvals_racing_for_one_record_complete_it_once_and_both_exit_0() {
    let (_seed, bare) = waiting_on_a_remote();
    let (bob, carol) = (TestRepo::clone_of(&bare), TestRepo::clone_of(&bare));
    let approve = |clone: &TestRepo, key: &str| {
        clone
            .process()
            .args(["approve", "api@3", "--key", &clone.key_str(key), "--push"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [approve(&bob, "bob"), approve(&carol, "carol")];
    let outs: Vec<String> = children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert_eq!(out.status.code(), Some(0), "{text}");
            text
        })
        .collect();
    let completed: Vec<&String> = outs.iter().filter(|o| o.contains("api@3 takes effect")).collect();
    let moot: Vec<&String> = outs
        .iter()
        .filter(|o| o.contains("origin/main moved on meanwhile: api@3 took effect at 2026-11-28T10:00:00Z, completed by another approval; nothing to push"))
        .collect();
    assert_eq!((completed.len(), moot.len()), (1, 1), "{outs:#?}");

    let after = TestRepo::clone_of(&bare);
    assert_eq!(records_on(&after, "api").len(), 4, "one approval landed");
    assert!(after.read_json("promotions/apps/api/00000004.json")["approves"].is_string());
    let status = after.ok(&["status"]);
    assert!(!status.contains("pending"), "{status}");
    assert!(after.ok(&["verify", "--rev", "HEAD"]).contains("every rule holds"));
    assert_eq!(bob.status(), "");
    assert_eq!(carol.status(), "");
}

#[test]
fn an_approval_whose_record_was_superseded_on_the_new_tip_exits_1_and_pushes_nothing() {
    let (_seed, bare) = waiting_on_a_remote();
    let late = TestRepo::clone_of(&bare);
    // Meanwhile bob and carol co-sign another production record, which takes effect and supersedes api@3.
    let other = TestRepo::clone_of(&bare);
    other.forge(Forged::new(4, "production", 'a', "2026-11-26T11:00:00Z", &["bob", "carol"]));
    other.project();
    other.git(&["add", "-A"]);
    other.git(&["commit", "-qm", "co-signed production"]);
    other.git(&["push", "-q"]);
    let tip = other.git(&["rev-parse", "HEAD"]);

    let out = late.fails(1, &["approve", "api@3", "--key", &late.key_str("bob"), "--push"]);
    insta::assert_snapshot!(out.replace(late.root.to_str().unwrap(), "[repo]"), @r"
    error: origin/main moved on while this was being pushed; made again on its new tip (attempt 2), refused, nothing was written:
      promotions/apps/api/00000005.json (api@5): approves api@3, which can never take effect: api@4 took effect in production first, at 2026-11-26T11:00:00Z (rule: approval); nothing was pushed, and your branch is now at origin/main
    ");
    assert_eq!(late.git(&["rev-parse", "HEAD"]), tip, "the branch is at the remote's tip, nothing of its own");
    assert_eq!(late.status(), "");
    assert_eq!(TestRepo::clone_of(&bare).git(&["rev-parse", "HEAD"]), tip, "nothing was pushed");
}

/// `promote` of api's image `fill` into dev, signed by ci, with `flag`.
fn dev_promotion(repo: &TestRepo, fill: char, flag: &str) -> [String; 10] {
    ["promote", "--app", "api", "--env", "dev", "--image", &image("api", fill), "--key", &repo.key_str("ci"), flag]
        .map(String::from)
}

/// `verify --rev HEAD` passes: the commit just made verifies on its own.
fn head_verifies(repo: &TestRepo, after: &str) {
    let out = repo.run(&["verify", "--rev", "HEAD"]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && text.contains("every rule holds"), "after {after}:\n{text}");
}

#[test]
fn every_commit_a_writing_command_makes_verifies_on_its_own() {
    let repo = TestRepo::new();
    repo.init_policy(|policy| policy["environments"][1]["evidence_signers"] = serde_json::json!(["ci"]));
    repo.bare_remote();
    let (a, b) = (image("api", 'a'), image("api", 'b'));
    let (ci, alice, bob) = (repo.key_str("ci"), repo.key_str("alice"), repo.key_str("bob"));
    let steps: Vec<(&str, Vec<&str>)> = vec![
        (
            "promote dev",
            vec![
                "promote",
                "--app",
                "api",
                "--env",
                "dev",
                "--image",
                &a,
                "--key",
                &ci,
                "--at",
                "2026-11-25T08:00:00Z",
                "--commit",
            ],
        ),
        (
            "promote staging",
            vec![
                "promote",
                "--app",
                "api",
                "--env",
                "staging",
                "--key",
                &alice,
                "--at",
                "2026-11-25T09:00:00Z",
                "--push",
            ],
        ),
        (
            "evidence",
            vec![
                "evidence",
                "--app",
                "api",
                "--env",
                "staging",
                "--type",
                "smoke",
                "--result",
                "pass",
                "--key",
                &ci,
                "--at",
                "2026-11-25T09:30:00Z",
                "--commit",
            ],
        ),
        (
            "pending production",
            vec![
                "promote",
                "--app",
                "api",
                "--env",
                "production",
                "--key",
                &alice,
                "--at",
                "2026-11-26T10:00:00Z",
                "--push",
            ],
        ),
        ("approve", vec!["approve", "api@4", "--key", &bob, "--at", "2026-11-26T10:30:00Z", "--commit"]),
        (
            "promote dev b",
            vec![
                "promote",
                "--app",
                "api",
                "--env",
                "dev",
                "--image",
                &b,
                "--key",
                &ci,
                "--at",
                "2026-11-26T11:00:00Z",
                "--push",
            ],
        ),
        (
            "rollback dev",
            vec![
                "promote",
                "--app",
                "api",
                "--env",
                "dev",
                "--rollback",
                "--image",
                &a,
                "--key",
                &ci,
                "--at",
                "2026-11-26T12:00:00Z",
                "--commit",
            ],
        ),
    ];
    for (what, args) in &steps {
        let before = repo.commit_count();
        repo.ok(args);
        assert_eq!(repo.commit_count(), before + 1, "{what} makes one commit");
        head_verifies(&repo, what);
        assert_eq!(repo.status(), "", "{what} leaves nothing uncommitted");
    }

    // A policy rotation: started and signed in the work tree, committed by its last signature.
    repo.ok(&["policy", "new"]);
    repo.edit_json("promotions/policy/00000002.json", |policy| policy["environments"][0]["soak"] = "1h".into());
    repo.ok(&["policy", "sign", "--key", &alice]);
    let signed = repo.ok(&["policy", "sign", "--key", &bob, "--push"]);
    assert!(
        signed.contains("policy version 2 is fully signed") && signed.contains("pushed to origin/main"),
        "{signed}"
    );
    head_verifies(&repo, "policy sign --push");
    assert_eq!(repo.status(), "");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &image("api", 'c'),
        "--key",
        &ci,
        "--at",
        "2026-11-28T10:00:00Z",
        "--commit",
    ]);
    head_verifies(&repo, "promote under policy version 2");
    assert_eq!(repo.read_json("promotions/apps/api/00000008.json")["policy"], 2);
}

#[test]
fn promote_commit_refuses_a_record_citing_an_uncommitted_policy_version() {
    let repo = TestRepo::with_signed_policy();
    repo.ok(&["policy", "new"]);
    repo.ok(&["policy", "sign", "--key", &repo.key_str("alice")]);
    repo.ok(&["policy", "sign", "--key", &repo.key_str("bob")]);
    let before = repo.status();
    let out = repo.fails(1, &dev_promotion(&repo, 'a', "--commit").each_ref().map(String::as_str));
    insta::assert_snapshot!(out, @"error: promotions/policy/00000002.json is not committed, and the commit this makes needs it: commit it first (`git add` and `git commit`), or leave out --commit and --push; nothing was written");
    assert_eq!(repo.status(), before, "nothing was written");
    assert_eq!(repo.commit_count(), 1);
}

#[test]
fn a_commit_refuses_to_sweep_in_a_hand_edit_of_a_projected_file() {
    let repo = TestRepo::with_signed_policy();
    repo.bare_remote();
    repo.ok(&dev_promotion(&repo, 'a', "--commit").each_ref().map(String::as_str));
    repo.write("versions.json", "{}\n");
    let out = repo.fails(1, &dev_promotion(&repo, 'b', "--push").each_ref().map(String::as_str));
    assert!(out.starts_with("error: versions.json is not committed"), "{out}");
    assert_eq!(repo.read("versions.json"), "{}\n", "the hand edit is left as it was");
}

#[test]
fn policy_new_commit_makes_a_commit_that_fails_verify_until_its_root_signatures_are_in() {
    let repo = TestRepo::with_signed_policy();
    let out = repo.ok(&["policy", "new", "--commit"]);
    assert!(out.contains("committed "), "{out}");
    assert_eq!(repo.status(), "");
    let verify = repo.fails(1, &["verify", "--rev", "HEAD"]);
    assert!(verify.contains("promotions/policy/00000002.json"), "{verify}");
}

#[test]
fn a_rebuilt_promotion_keeps_the_images_it_resolved_from_upstream_the_first_time() {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-25T08:00:00Z");
    let bare = repo.bare_remote();
    // Meanwhile CI moves dev on to b.
    let ci = TestRepo::clone_of(&bare);
    ci.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &image("api", 'b'),
        "--key",
        &ci.key_str("ci"),
        "--push",
    ]);

    let out = repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("alice"), "--push"]);
    assert!(out.contains("pushed to origin/main, made again on its new tip 1 time"), "{out}");
    let staging = repo.read_json("promotions/apps/api/00000003.json");
    assert_eq!(staging["env"], "staging");
    assert_eq!(staging["images"][0]["digest"], digest('a'), "what dev ran when the promotion was asked for");
    head_verifies(&repo, "the rebuilt staging promotion");
}
