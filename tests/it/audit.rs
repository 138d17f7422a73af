//! `audit` over real git histories.

use crate::common::{digest, Forged, TestRepo};

/// Sets the repo's clock (records and commits) to `now`.
fn at(repo: &mut TestRepo, now: &str) {
    repo.now = now.to_string();
}

/// A history: dev, staging, production (approved in a later commit), a
/// rollback; every commit made by the binary at the records' own times.
fn history() -> TestRepo {
    let mut repo = TestRepo::with_signed_policy();
    at(&mut repo, "2026-11-20T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}=v1", digest('a')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    at(&mut repo, "2026-11-20T09:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("alice"), "--commit"]);
    at(&mut repo, "2026-11-21T10:00:00Z");
    repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    at(&mut repo, "2026-11-21T15:00:00Z");
    repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--commit"]);
    at(&mut repo, "2026-11-22T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}=v2", digest('b')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    at(&mut repo, "2026-11-22T09:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--rollback",
        "--image",
        &format!("ghcr.io/o/api@{}=v1", digest('a')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    at(&mut repo, "2026-11-28T10:00:00Z");
    repo
}

#[test]
fn a_clean_history_with_a_later_approval_and_a_rollback_passes() {
    let repo = history();
    let out = repo.ok(&["audit"]);
    assert!(out.contains("ok: 7 commits of HEAD, 6 records landed, 0 error(s), 0 warning(s)"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["audit", "--format", "json"])).unwrap();
    let approval_commit = repo.git(&["rev-parse", "HEAD~2"]).trim().to_string();
    let production_commit = repo.git(&["rev-parse", "HEAD~3"]).trim().to_string();
    assert_eq!(
        json["landed"]["api@3"]["commit"],
        production_commit.as_str(),
        "landed where it was added, not where it was approved"
    );
    assert_ne!(production_commit, approval_commit);
    assert_eq!(json["landed"]["api@4"]["commit"], approval_commit.as_str(), "the approval is a record of its own");
    assert_eq!(json["landed"]["api@6"]["time"], "2026-11-22T09:00:00Z");
}

#[test]
fn a_hand_edited_overlay_commit_is_found_with_its_commit_id() {
    let repo = history();
    repo.write("versions.json", &repo.read("versions.json").replace(&digest('a'), &digest('f')));
    repo.git(&["commit", "-qam", "hotfix by hand"]);
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.fails(1, &["audit"]);
    assert!(
        out.contains(&format!("error: commit {} (Test Author <author@example.invalid>, 2026-11-28T10:00:00Z): versions.json: the entry for api is not what the ledger at this commit projects", &commit[..12])),
        "{out}"
    );
}

#[test]
fn a_rewritten_landed_record_is_found() {
    let repo = history();
    repo.edit_json("promotions/apps/api/00000002.json", |r| r["reason"] = "rewritten later".into());
    repo.git(&["commit", "-qam", "tidy up"]);
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.fails(1, &["audit"]);
    assert!(
        out.contains(&format!("error: commit {}", &commit[..12]))
            && out.contains("promotions/apps/api/00000002.json: a landed ledger file was edited by this commit"),
        "{out}"
    );
    let json: serde_json::Value = serde_json::from_str(&repo.fails(1, &["audit", "--format", "json"])).unwrap();
    assert_eq!(json["findings"][0]["kind"], "rewritten");
    assert_eq!(json["findings"][0]["commit"], commit.as_str());
}

#[test]
fn a_squash_merged_pull_request_passes_and_forward_dating_is_an_error() {
    let mut repo = history();
    repo.git(&["checkout", "-q", "-b", "promote-staging"]);
    at(&mut repo, "2026-11-28T09:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}=v3", digest('c')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("alice"), "--commit"]);
    repo.git(&["checkout", "-q", "main"]);
    at(&mut repo, "2026-11-28T10:00:00Z");
    repo.git(&["merge", "-q", "--squash", "promote-staging"]);
    repo.git(&["commit", "-qm", "Promote api to staging (#12)"]);
    let out = repo.ok(&["audit"]);
    assert!(out.contains("8 records landed, 0 error(s)"), "{out}");
    assert!(out.contains(&format!("landed api@8 in {}", &repo.git(&["rev-parse", "HEAD"])[..12])), "{out}");

    // A record claiming a time well after the commit that landed it.
    at(&mut repo, "2026-11-28T12:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}", digest('d')),
        "--key",
        &repo.key_str("ci"),
        "--no-project",
    ]);
    repo.project();
    at(&mut repo, "2026-11-28T10:30:00Z");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "dated ahead"]);
    let out = repo.fails(1, &["audit"]);
    assert!(
        out.contains(
            "api@9 claims at 2026-11-28T12:00:00Z but landed at 2026-11-28T10:30:00Z, 1h 30m later than the commit"
        ),
        "{out}"
    );
}

#[test]
fn an_overlay_edited_behind_the_ledgers_back_is_found_with_its_commit_id() {
    let mut repo = crate::projection::with_overlays("resources:\n- ../../base\n");
    at(&mut repo, "2026-11-27T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}=v1", digest('a')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    repo.ok(&["audit"]);
    let path = "apps/api/overlays/dev/kustomization.yaml";
    repo.write(path, &repo.read(path).replace(&digest('a'), &digest('e')));
    repo.git(&["commit", "-qam", "quick fix in dev"]);
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.fails(1, &["audit"]);
    assert!(
        out.contains(&format!(
            "error: commit {} (Test Author <author@example.invalid>, 2026-11-27T08:00:00Z): {path}: ghcr.io/o/api is set to v1 sha256:eeeeeeeeeeee but the ledger says api runs v1 sha256:aaaaaaaaaaaa in dev",
            &commit[..12]
        )),
        "{out}"
    );
}

#[test]
fn a_merge_commit_lands_its_records_and_history_before_the_ledger_is_fine() {
    let mut repo = TestRepo::new();
    at(&mut repo, "2026-11-01T00:00:00Z");
    repo.write("README.md", "config repo, before any ledger\n");
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "before the ledger"]);
    repo.init_policy(|_| {});
    repo.git(&["checkout", "-q", "-b", "promote-dev"]);
    at(&mut repo, "2026-11-27T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/api@{}", digest('a')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    repo.git(&["checkout", "-q", "main"]);
    at(&mut repo, "2026-11-27T08:05:00Z");
    repo.git(&["merge", "-q", "--no-ff", "-m", "Merge pull request #1", "promote-dev"]);
    let merge = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let out = repo.ok(&["audit"]);
    assert!(
        out.contains(&format!("landed api@1 in {} at 2026-11-27T08:05:00Z", &merge[..12])),
        "lands at the merge on the first-parent line: {out}"
    );
    assert!(out.contains("ok: 3 commits of HEAD, 1 records landed, 0 error(s)"), "{out}");
    let all = repo.ok(&["audit", "--all-parents"]);
    assert!(all.contains("ok: 4 commits of HEAD"), "{all}");
}

/// The line `audit` prints for a finding in HEAD, committed at `time` by the test author.
fn finding_in_head(repo: &TestRepo, level: &str, time: &str, file: &str, message: &str) -> String {
    let commit = repo.git(&["rev-parse", "HEAD"]);
    format!("{level}: commit {} (Test Author <author@example.invalid>, {time}): {file}: {message}", &commit[..12])
}

#[test]
fn a_record_landing_long_after_its_at_is_a_warning_not_an_error() {
    let mut repo = TestRepo::with_signed_policy();
    at(&mut repo, "2026-11-28T10:00:00Z");
    repo.promote("dev", 'a', "ci", "2026-11-05T00:00:00Z");
    let out = repo.ok(&["audit"]);
    let expected = finding_in_head(
        &repo,
        "warning",
        "2026-11-28T10:00:00Z",
        "promotions/apps/api/00000001.json",
        "api@1 claims at 2026-11-05T00:00:00Z but landed only at 2026-11-28T10:00:00Z, 23d 10h later; check it was not backdated around a freeze",
    );
    assert!(out.contains(&expected), "{out}");
    assert!(out.contains("ok: 2 commits of HEAD, 1 records landed, 0 error(s), 1 warning(s)"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&repo.ok(&["audit", "--format", "json"])).unwrap();
    assert_eq!(json["findings"][0]["kind"], "backdated");
    assert_eq!(json["findings"][0]["error"], false);
    // A wider window accepts it.
    let out = repo.ok(&["audit", "--backdate", "30d"]);
    assert!(out.contains("0 error(s), 0 warning(s)"), "{out}");
}

#[test]
fn a_deleted_record_and_an_edited_policy_are_found_in_path_order() {
    let repo = history();
    repo.git(&["rm", "-q", "promotions/apps/api/00000005.json"]);
    repo.edit_json("promotions/policy/00000001.json", |p| p["at"] = "2026-10-01T00:00:00Z".into());
    repo.git(&["commit", "-qam", "clean up"]);
    let commit = repo.git(&["rev-parse", "HEAD"]).trim().to_string();
    let json: serde_json::Value = serde_json::from_str(&repo.fails(1, &["audit", "--format", "json"])).unwrap();
    let findings: Vec<(String, String, String)> = json["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["commit"] == commit.as_str())
        .map(|f| {
            (
                f["kind"].as_str().unwrap().into(),
                f["file"].as_str().unwrap().into(),
                f["message"].as_str().unwrap().into(),
            )
        })
        .collect();
    assert_eq!(
        findings,
        [
            (
                "deleted".to_string(),
                "promotions/apps/api/00000005.json".to_string(),
                "a landed ledger file was deleted by this commit; the ledger is append-only".to_string()
            ),
            (
                "rewritten".to_string(),
                "promotions/policy/00000001.json".to_string(),
                "a landed ledger file was edited by this commit; the ledger is append-only".to_string()
            ),
        ],
        "{findings:?}"
    );
}

#[test]
fn a_record_landed_without_its_versions_entry_is_found_even_when_the_entry_did_not_move() {
    let mut repo = TestRepo::with_signed_policy();
    at(&mut repo, "2026-11-27T08:00:00Z");
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.forge(Forged::new(2, "dev", 'b', "2026-11-27T08:00:00Z", &["ci"]));
    // versions.json changes in bytes only: api's entry stays the old one.
    repo.write("versions.json", &format!("{}\n", repo.read("versions.json")));
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "promote without projecting"]);
    let out = repo.fails(1, &["audit"]);
    let expected = finding_in_head(
        &repo,
        "error",
        "2026-11-27T08:00:00Z",
        "versions.json",
        "the entry for api is not what the ledger at this commit projects",
    );
    assert!(out.contains(&expected), "{out}");
}

#[test]
fn an_overlay_given_images_for_an_environment_without_records_is_found() {
    let mut repo = crate::projection::with_overlays("resources:\n- ../../base\n");
    at(&mut repo, "2026-11-27T08:00:00Z");
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.ok(&["audit"]);
    let path = "apps/api/overlays/staging/kustomization.yaml";
    repo.write(path, &format!("{}images:\n- name: ghcr.io/o/api\n  digest: {}\n", repo.read(path), digest('e')));
    repo.git(&["commit", "-qam", "staging by hand"]);
    let out = repo.fails(1, &["audit"]);
    let expected = finding_in_head(
        &repo,
        "error",
        "2026-11-27T08:00:00Z",
        path,
        "sets images for api that the ledger at this commit does not project",
    );
    assert!(out.contains(&expected), "{out}");
}

// ------------------------------------------------------------------ adoption

const ENVS: [&str; 3] = ["dev", "staging", "production"];

fn overlay_path(app: &str, env: &str) -> String {
    format!("apps/{app}/overlays/{env}/kustomization.yaml")
}

/// An overlay as a repo has it before the ledger: its image pinned by hand
/// to a digest of `fill`.
fn pinned_overlay(app: &str, env: &str, fill: char) -> String {
    format!(
        "# {app} in {env}\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: {app}-{env}\n\nresources:\n  - ../../base\n\nimages:\n  - name: ghcr.io/o/{app}   # pinned by hand until the ledger\n    newTag: \"1.3.0\"\n    digest: {}\n",
        digest(fill)
    )
}

fn deployment(app: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  selector:\n    matchLabels: {{app: {app}}}\n  template:\n    metadata:\n      labels: {{app: {app}}}\n    spec:\n      containers:\n      - name: {app}\n        image: ghcr.io/o/{app}\n"
    )
}

/// Adopting the ledger in a repo whose overlays already pin images: commit
/// 1 is the signed policy with the overlays of api, web and worker as they
/// were (dev, staging and production each pinned to its own digest); then
/// web and api are promoted to dev, and worker, not on the ledger yet, is
/// bumped by hand.
fn adoption() -> TestRepo {
    let mut repo = TestRepo::new();
    at(&mut repo, "2026-11-27T08:00:00Z");
    for app in ["api", "web", "worker"] {
        repo.write(&format!("apps/{app}/base/deployment.yaml"), &deployment(app));
        repo.write(&format!("apps/{app}/base/kustomization.yaml"), "resources:\n- deployment.yaml\n");
        for (env, fill) in ENVS.iter().zip(['1', '2', '3']) {
            repo.write(&overlay_path(app, env), &pinned_overlay(app, env, fill));
        }
    }
    repo.init_policy(|policy| policy["overlay"] = "apps/{app}/overlays/{env}/kustomization.yaml".into());
    for (app, fill, time) in [("web", 'a', "2026-11-27T09:00:00Z"), ("api", 'b', "2026-11-27T10:00:00Z")] {
        at(&mut repo, time);
        repo.ok(&[
            "promote",
            "--app",
            app,
            "--env",
            "dev",
            "--image",
            &format!("ghcr.io/o/{app}@{}=v1.4.0", digest(fill)),
            "--key",
            &repo.key_str("ci"),
            "--commit",
        ]);
    }
    at(&mut repo, "2026-11-27T11:00:00Z");
    let worker = overlay_path("worker", "production");
    repo.write(&worker, &repo.read(&worker).replace(&digest('3'), &digest('4')));
    repo.git(&["commit", "-qam", "worker 1.3.1 in production, by hand: not on the ledger yet"]);
    repo
}

/// `audit` output with each commit id replaced by its place on the
/// first-parent line (`<1>` the first commit), so snapshots stay readable.
fn audit_output(repo: &TestRepo, code: i32) -> String {
    let mut out = repo.fails(code, &["audit"]);
    let commits = repo.git(&["rev-list", "--first-parent", "--reverse", "HEAD"]);
    for (n, commit) in commits.lines().enumerate() {
        out = out.replace(&commit[..12], &format!("<{}>", n + 1));
    }
    out
}

/// Regression: `audit` reported every overlay of the adoption commit ("sets
/// images for web that the ledger at this commit does not project") while
/// `verify` passed at every commit. An app with no records is not the
/// ledger's yet; its first record takes its files over.
#[test]
fn audit_accepts_adoption_commit_of_existing_overlays() {
    let repo = adoption();
    assert_eq!(repo.commit_count(), 4);
    for back in 0..4 {
        repo.ok(&["verify", "--rev", &format!("HEAD~{back}")]);
    }
    insta::assert_snapshot!(audit_output(&repo, 0), @r"
    landed api@1 in <3> at 2026-11-27T10:00:00Z
    landed web@1 in <2> at 2026-11-27T09:00:00Z
    ok: 4 commits of HEAD, 2 records landed, 0 error(s), 0 warning(s)
    ");
}

/// After its first record an app's overlays are the ledger's: a hand edit
/// of what it projected, and images set by hand where it has no record yet,
/// are both found, each with its commit.
#[test]
fn after_adoption_a_hand_edit_of_a_managed_apps_overlay_is_found() {
    let mut repo = adoption();
    at(&mut repo, "2026-11-27T12:00:00Z");
    let dev = overlay_path("web", "dev");
    repo.write(&dev, &repo.read(&dev).replace(&digest('a'), &digest('e')));
    repo.git(&["commit", "-qam", "web: quick fix in dev"]);
    let verify = repo.fails(1, &["verify"]);
    assert!(verify.contains(&dev), "verify finds it too: {verify}");
    at(&mut repo, "2026-11-27T13:00:00Z");
    let production = overlay_path("web", "production");
    repo.write(&production, &repo.read(&production).replace(&digest('3'), &digest('e')));
    repo.git(&["commit", "-qam", "web: straight to production"]);
    insta::assert_snapshot!(audit_output(&repo, 1), @r"
    error: commit <5> (Test Author <author@example.invalid>, 2026-11-27T12:00:00Z): apps/web/overlays/dev/kustomization.yaml: ghcr.io/o/web is set to v1.4.0 sha256:eeeeeeeeeeee but the ledger says web runs v1.4.0 sha256:aaaaaaaaaaaa in dev: an edit behind the ledger's back; run `gitops-ledger project` to restore it, or promote what you meant (commit changes it without a record to project it)
    error: commit <6> (Test Author <author@example.invalid>, 2026-11-27T13:00:00Z): apps/web/overlays/production/kustomization.yaml: sets images for web that the ledger at this commit does not project
    landed api@1 in <3> at 2026-11-27T10:00:00Z
    landed web@1 in <2> at 2026-11-27T09:00:00Z
    FAILED: 6 commits of HEAD, 2 records landed, 2 error(s), 0 warning(s)
    ");
}

/// versions.json is wholly the ledger's: verify compares it whole, so an
/// entry brought in at adoption for an app without records (or under a key
/// that names no app) fails verify, and audit finds the same entries.
#[test]
fn a_versions_entry_without_records_fails_verify_and_audit_alike() {
    let mut repo = TestRepo::new();
    at(&mut repo, "2026-11-27T08:00:00Z");
    let entry = serde_json::json!({ "dev": {
        "seq": 1,
        "id": digest('9'),
        "at": "2026-10-01T00:00:00Z",
        "images": { "ghcr.io/o/web": digest('1') }
    }});
    let versions = serde_json::json!({
        "schema": "gitops-ledger/versions/v1",
        "apps": { "Legacy App": entry.clone(), "web": entry }
    });
    repo.write("versions.json", &format!("{}\n", serde_json::to_string_pretty(&versions).unwrap()));
    repo.init_policy(|_| {});
    let verify = repo.fails(1, &["verify", "--rev", "HEAD"]);
    assert!(verify.contains("versions.json"), "{verify}");
    insta::assert_snapshot!(audit_output(&repo, 1), @r"
    error: commit <1> (Test Author <author@example.invalid>, 2026-11-27T08:00:00Z): versions.json: the entry for Legacy App is not what the ledger at this commit projects
    error: commit <1> (Test Author <author@example.invalid>, 2026-11-27T08:00:00Z): versions.json: the entry for web is not what the ledger at this commit projects
    FAILED: 1 commits of HEAD, 0 records landed, 2 error(s), 0 warning(s)
    ");
}

/// A record landing for an app that versions.json has no entry for, in a
/// commit that changes versions.json otherwise, is found: verify fails
/// there too (the entry is missing).
#[test]
fn a_first_record_landed_without_adding_its_versions_entry_is_found() {
    let mut repo = TestRepo::with_signed_policy();
    at(&mut repo, "2026-11-27T08:00:00Z");
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    let web = format!("ghcr.io/o/web@{}", digest('b'));
    let key = repo.key_str("ci");
    repo.ok(&["promote", "--app", "web", "--env", "dev", "--image", &web, "--key", &key, "--no-project"]);
    repo.write("versions.json", &format!("{}\n", repo.read("versions.json")));
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "web's first record, versions.json touched but not projected"]);
    let verify = repo.fails(1, &["verify"]);
    assert!(verify.contains("versions.json"), "{verify}");
    let out = repo.fails(1, &["audit"]);
    let expected = finding_in_head(
        &repo,
        "error",
        "2026-11-27T08:00:00Z",
        "versions.json",
        "the entry for web is not what the ledger at this commit projects",
    );
    assert!(out.contains(&expected), "{out}");
}
