//! The projector on real overlays: kustomize renders what it writes, every
//! byte it should not touch stays, and drift is found and repaired.

use crate::common::{digest, tool_available, TestRepo};

pub(crate) const DEPLOYMENT: &str = "apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
spec:
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: ghcr.io/o/api
      - name: worker
        image: ghcr.io/o/worker:latest
      - name: sidecar
        image: docker.io/library/busybox
";

/// A production overlay the way people write them: comments, blank lines,
/// flow style, `newName`, an entry the ledger does not manage, a patch.
const FANCY_OVERLAY: &str = "# Production overlay: edited by people, images projected by gitops-ledger.
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization

resources:
  - ../../base   # the shared manifests

images:
  # the API, pulled through the mirror
  - name: ghcr.io/o/api
    newName: mirror.example.com/o/api   # keep: the mirror
    newTag: \"0.9\"
    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000

  - {name: ghcr.io/o/worker, newTag: old}   # flow style
  - name: docker.io/library/busybox   # not in the ledger
    newTag: \"1.36\"

patches:
- patch: |-
    - op: replace
      path: /spec/replicas
      value: 6
  target:
    kind: Deployment
";

/// A repo projecting overlays for app `api`, each overlay `overlay_text`.
pub fn with_overlays(overlay_text: &str) -> TestRepo {
    let repo = TestRepo::new();
    repo.init_policy(|policy| policy["overlay"] = "apps/{app}/overlays/{env}/kustomization.yaml".into());
    repo.write("apps/api/base/deployment.yaml", DEPLOYMENT);
    repo.write("apps/api/base/kustomization.yaml", "resources:\n- deployment.yaml\n");
    for env in ["dev", "staging", "production"] {
        repo.write(&format!("apps/api/overlays/{env}/kustomization.yaml"), overlay_text);
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "overlays"]);
    repo
}

/// `kubectl kustomize DIR`: the container images, in manifest order.
/// Tests that render ask `tool_available("kubectl", ..)` first; without it
/// they leave out the renders (saying SKIPPED) and check the rest.
pub(crate) fn rendered_images(repo: &TestRepo, dir: &str) -> Vec<String> {
    let out = std::process::Command::new("kubectl").args(["kustomize", dir]).current_dir(&repo.root).output().unwrap();
    assert!(out.status.success(), "kubectl kustomize failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| l.trim().trim_start_matches("- ").strip_prefix("image: ").map(str::to_string))
        .collect()
}

fn promote_two_images(repo: &TestRepo, env: &str, key: &str, at: &str) -> String {
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        env,
        "--image",
        &format!("ghcr.io/o/api@{}=v1.4.2", digest('a')),
        "--image",
        &format!("ghcr.io/o/worker@{}", digest('b')),
        "--key",
        &repo.key_str(key),
        "--at",
        at,
        "--commit",
    ])
}

#[test]
fn projected_overlays_render_with_kustomize_to_tag_and_digest() {
    let kustomize = tool_available("kubectl", "projected dev and staging overlays render with kustomize");
    let repo = with_overlays("resources:\n- ../../base\n");
    let out = promote_two_images(&repo, "dev", "ci", "2026-11-27T08:00:00Z");
    assert!(out.contains("projected apps/api/overlays/dev/kustomization.yaml"), "{out}");
    assert!(out.contains("projected versions.json"), "{out}");
    if kustomize {
        assert_eq!(
            rendered_images(&repo, "apps/api/overlays/dev"),
            [
                format!("ghcr.io/o/api:v1.4.2@{}", digest('a')),
                format!("ghcr.io/o/worker@{}", digest('b')),
                "docker.io/library/busybox".to_string(),
            ]
        );
    }
    assert_eq!(
        repo.git(&["show", "--name-only", "--format=", "HEAD"]),
        "apps/api/overlays/dev/kustomization.yaml\npromotions/apps/api/00000001.json\nversions.json\n",
        "one commit: the record and its projection"
    );
    assert_eq!(repo.status(), "");
    // staging has not moved: its overlay is untouched and still renders the base images.
    assert_eq!(repo.read("apps/api/overlays/staging/kustomization.yaml"), "resources:\n- ../../base\n");
    if kustomize {
        assert_eq!(rendered_images(&repo, "apps/api/overlays/staging")[0], "ghcr.io/o/api");
    }
    repo.ok(&["verify"]);
}

#[test]
fn projection_changes_only_the_values_it_owns() {
    let kustomize =
        tool_available("kubectl", "an overlay with comments, newName and flow style renders with kustomize");
    let repo = with_overlays(FANCY_OVERLAY);
    promote_two_images(&repo, "dev", "ci", "2026-11-27T08:00:00Z");
    let diff = repo.git(&["diff", "-U0", "--no-color", "HEAD~1", "--", "apps/api/overlays/dev/kustomization.yaml"]);
    let changed: Vec<&str> =
        diff.lines().filter(|l| l.starts_with(['+', '-']) && !l.starts_with("+++") && !l.starts_with("---")).collect();
    insta::assert_snapshot!(changed.join("\n"), @r#"
    -    newTag: "0.9"
    -    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000
    +    newTag: "v1.4.2"
    +    digest: "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    -  - {name: ghcr.io/o/worker, newTag: old}   # flow style
    +  - {name: ghcr.io/o/worker, digest: "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"}   # flow style
    "#);
    if kustomize {
        assert_eq!(
            rendered_images(&repo, "apps/api/overlays/dev"),
            [
                format!("mirror.example.com/o/api:v1.4.2@{}", digest('a')),
                format!("ghcr.io/o/worker@{}", digest('b')),
                "docker.io/library/busybox:1.36".to_string(),
            ]
        );
    }
    let again = repo.ok(&["project"]);
    assert!(again.contains("already match the ledger"), "projecting twice changes nothing: {again}");
}

#[test]
fn crlf_overlays_stay_crlf() {
    let repo = with_overlays(&FANCY_OVERLAY.replace('\n', "\r\n"));
    promote_two_images(&repo, "dev", "ci", "2026-11-27T08:00:00Z");
    let after = repo.read("apps/api/overlays/dev/kustomization.yaml");
    assert_eq!(after.matches('\n').count(), after.matches("\r\n").count(), "every line still ends in CRLF");
    let expected = FANCY_OVERLAY
        .replace(
            "    newTag: \"0.9\"\n    digest: sha256:0000000000000000000000000000000000000000000000000000000000000000",
            &format!("    newTag: \"v1.4.2\"\n    digest: \"{}\"", digest('a')),
        )
        .replace(
            "{name: ghcr.io/o/worker, newTag: old}",
            &format!("{{name: ghcr.io/o/worker, digest: \"{}\"}}", digest('b')),
        )
        .replace('\n', "\r\n");
    assert_eq!(after, expected);
}

#[test]
fn drift_is_found_by_project_check_and_verify_and_repaired_by_project() {
    let repo = with_overlays(FANCY_OVERLAY);
    promote_two_images(&repo, "dev", "ci", "2026-11-27T08:00:00Z");
    let path = "apps/api/overlays/dev/kustomization.yaml";
    let projected = repo.read(path);
    let cases = [
        (projected.replace(&digest('a'), &digest('c')), "ghcr.io/o/api is set to v1.4.2 sha256:cccccccccccc but the ledger says api runs v1.4.2 sha256:aaaaaaaaaaaa in dev"),
        (projected.replace(&format!("  - {{name: ghcr.io/o/worker, digest: \"{}\"}}   # flow style\n", digest('b')), ""), "has no images entry for ghcr.io/o/worker, which the ledger says api runs in dev at sha256:bbbbbbbbbbbb"),
        (projected.replace("{name: ghcr.io/o/worker, digest:", "{name: ghcr.io/o/worker, newTag: hotfix, digest:"), "ghcr.io/o/worker is set to hotfix sha256:bbbbbbbbbbbb but the ledger says api runs sha256:bbbbbbbbbbbb in dev"),
    ];
    for (edited, finding) in cases {
        assert_ne!(edited, projected);
        repo.write(path, &edited);
        let check = repo.fails(1, &["project", "--check"]);
        assert!(check.contains(&format!("--- a/{path}")) && check.contains(&format!("+++ b/{path}")), "{check}");
        assert!(check.contains("drift: 1 of 2 projected files differ"), "{check}");
        assert_eq!(repo.read(path), edited, "--check writes nothing");
        let verify = repo.fails(1, &["verify"]);
        assert!(verify.contains(&format!("{path}: {finding}")), "{verify}");
        assert!(verify.contains("(rule: projection)"), "{verify}");
        repo.project();
        repo.ok(&["verify"]);
        if !finding.starts_with("has no images entry") {
            assert_eq!(repo.read(path), projected, "project repairs a value in place");
        } else {
            assert!(
                repo.read(path).contains(&format!("  - name: ghcr.io/o/worker\n    digest: \"{}\"\n", digest('b'))),
                "project appends the missing entry"
            );
            repo.write(path, &projected);
        }
    }
    // versions.json is compared as JSON: formatting is free, values are not.
    let versions: serde_json::Value = repo.read_json("versions.json");
    repo.write("versions.json", &serde_json::to_string(&versions).unwrap());
    repo.ok(&["verify"]);
    repo.write("versions.json", &repo.read("versions.json").replace(&digest('a'), &digest('d')));
    let verify = repo.fails(1, &["verify"]);
    assert!(verify.contains("versions.json: does not match the ledger"), "{verify}");
}

#[test]
fn a_missing_overlay_is_refused_and_nothing_is_written() {
    let repo = with_overlays("resources:\n- ../../base\n");
    std::fs::remove_file(repo.root.join("apps/api/overlays/dev/kustomization.yaml")).unwrap();
    repo.git(&["commit", "-qam", "no dev overlay"]);
    let out = repo.fails(
        1,
        &[
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
        ],
    );
    assert!(out.contains("apps/api/overlays/dev/kustomization.yaml does not exist: the policy's target apps/{app}/overlays/{env}/kustomization.yaml names it for api in dev"), "{out}");
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(repo.status(), "");
}

#[test]
fn production_moves_only_when_its_approvals_are_complete() {
    let kustomize =
        tool_available("kubectl", "the production overlay renders the old image until approval, the new one after");
    let repo = with_overlays("resources:\n- ../../base\n");
    promote_two_images(&repo, "dev", "ci", "2026-11-26T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "staging",
        "--key",
        &repo.key_str("alice"),
        "--at",
        "2026-11-26T09:00:00Z",
        "--commit",
    ]);
    let pending =
        repo.ok(&["promote", "--app", "api", "--env", "production", "--key", &repo.key_str("alice"), "--commit"]);
    assert!(!pending.contains("projected apps/api/overlays/production"), "{pending}");
    assert_eq!(repo.read("apps/api/overlays/production/kustomization.yaml"), "resources:\n- ../../base\n");
    if kustomize {
        assert_eq!(
            rendered_images(&repo, "apps/api/overlays/production")[0],
            "ghcr.io/o/api",
            "no deploy before approval"
        );
    }
    let approved = repo.ok(&["approve", "api@3", "--key", &repo.key_str("bob"), "--commit"]);
    assert!(approved.contains("projected apps/api/overlays/production/kustomization.yaml"), "{approved}");
    if kustomize {
        assert_eq!(
            rendered_images(&repo, "apps/api/overlays/production")[0],
            format!("ghcr.io/o/api:v1.4.2@{}", digest('a'))
        );
    }
    assert_eq!(
        repo.git(&["show", "--name-only", "--format=", "HEAD"]),
        "apps/api/overlays/production/kustomization.yaml\npromotions/apps/api/00000004.json\nversions.json\n"
    );
    repo.ok(&["verify"]);
}

#[test]
fn a_pull_request_that_edits_an_overlay_without_a_record_fails_the_pr_check() {
    let repo = with_overlays(FANCY_OVERLAY);
    promote_two_images(&repo, "dev", "ci", "2026-11-26T08:00:00Z");
    repo.git(&["tag", "base"]);
    // A valid promotion of staging passes the PR check, projection included.
    repo.ok(&["promote", "--app", "api", "--env", "staging", "--key", &repo.key_str("alice"), "--commit"]);
    let ok = repo.ok(&["verify", "--rev", "HEAD", "--base", "base"]);
    assert!(ok.contains("ok: 1 new or changed records"), "{ok}");
    repo.git(&["tag", "-f", "base"]);
    // A hand edit of dev's overlay, with no record behind it, does not.
    let path = "apps/api/overlays/dev/kustomization.yaml";
    repo.write(path, &repo.read(path).replace(&digest('a'), &digest('e')));
    repo.git(&["commit", "-qam", "quick fix"]);
    let out = repo.fails(1, &["verify", "--rev", "HEAD", "--base", "base"]);
    assert!(
        out.contains(&format!(
            "{path}: changes the images entry for ghcr.io/o/api, but no record in this change moves api in dev"
        )),
        "{out}"
    );
    assert!(out.contains("(rule: projection)"), "{out}");
    // The same edit alongside a record for the app is checked against the projection itself.
    repo.ok(&[
        "promote",
        "--app",
        "api",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/worker@{}", digest('f')),
        "--key",
        &repo.key_str("ci"),
        "--no-project",
        "--commit",
    ]);
    let out = repo.fails(1, &["verify", "--rev", "HEAD", "--base", "base"]);
    assert!(out.contains(&format!("{path}: ghcr.io/o/api is set to v1.4.2 sha256:eeeeeeeeeeee but the ledger says api runs v1.4.2 sha256:aaaaaaaaaaaa in dev")), "{out}");
}

/// promote projects only the app it appends to; the result must equal the
/// full projection (which verify recomputes) with every other app kept.
#[test]
fn an_append_projects_its_own_app_and_keeps_the_others() {
    let repo = crate::common::TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-27T08:00:00Z");
    repo.ok(&[
        "promote",
        "--app",
        "web",
        "--env",
        "dev",
        "--image",
        &format!("ghcr.io/o/web@{}", digest('b')),
        "--key",
        &repo.key_str("ci"),
        "--commit",
    ]);
    repo.promote("dev", 'c', "ci", "2026-11-27T09:00:00Z");
    let versions = repo.read_json("versions.json");
    assert_eq!(versions["apps"]["web"]["dev"]["images"]["ghcr.io/o/web"], digest('b'));
    assert_eq!(versions["apps"]["api"]["dev"]["images"]["ghcr.io/o/api"], digest('c'));
    repo.ok(&["verify"]);
    let check = repo.ok(&["project", "--check"]);
    assert!(check.contains("ok: 1 projected files match the ledger"), "byte-identical to the full projection: {check}");
}

/// Regression (issue 12): a hand-edited digest sharing its first 12 hex
/// digits with the ledger's was reported with the same short form on both
/// sides ("is set to v1.4.2 sha256:aaaaaaaaaaaa but the ledger says … sha256:aaaaaaaaaaaa").
#[test]
fn drift_message_tells_apart_digests_sharing_their_short_form() {
    let repo = with_overlays(FANCY_OVERLAY);
    promote_two_images(&repo, "dev", "ci", "2026-11-27T08:00:00Z");
    let path = "apps/api/overlays/dev/kustomization.yaml";
    let lookalike = format!("sha256:{}{}", "a".repeat(12), "f".repeat(52));
    repo.write(path, &repo.read(path).replace(&digest('a'), &lookalike));
    let verify = repo.fails(1, &["verify"]);
    let expected = format!(
        "{path}: ghcr.io/o/api is set to v1.4.2 {lookalike} but the ledger says api runs v1.4.2 {} in dev",
        digest('a')
    );
    assert!(verify.contains(&expected), "{verify}");
}
