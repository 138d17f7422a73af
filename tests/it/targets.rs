//! Projection targets on the config repos people already have: a repo per
//! app with `env/<env>/kustomization.yaml` (Kargo's examples), a Deployment
//! patch per environment whose container `image:` the ledger sets
//! (`envs/<env>/version.yml`, the Codefresh examples), and Helm values files.
//! Each is walked dev → staging → production through the CLI; kustomize
//! renders what was written, a YAML parser reads the values back, and a line
//! diff shows that nothing but image values moved.

use serde_json::{json, Value};

use crate::common::{digest, tool_available, TestRepo};
use crate::projection::{rendered_images, DEPLOYMENT};

/// A config repo of `files`, committed, that then adopts the ledger with
/// `policy.targets` set.
fn repo_with(targets: Value, files: &[(&str, String)]) -> TestRepo {
    let repo = TestRepo::new();
    for (path, text) in files {
        repo.write(path, text);
    }
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-q", "-m", "the repo as it was before the ledger"]);
    repo.init_policy(|policy| {
        policy.as_object_mut().unwrap().remove("overlay");
        policy["targets"] = targets;
    });
    repo
}

fn each_env(path: &str, text: impl Fn(&str) -> String) -> Vec<(String, String)> {
    ["dev", "staging", "production"].iter().map(|env| (path.replace("{env}", env), text(env))).collect()
}

/// dev (tagged v1.4.2, digest 'a'), staging, then production signed by
/// alice and approved by bob, each committed; returns what each step printed.
fn walk(repo: &TestRepo, app: &str, image: &str) -> Vec<String> {
    let key = |name: &str| repo.key_str(name);
    let reference = format!("{image}@{}=v1.4.2", digest('a'));
    vec![
        repo.ok(&[
            "promote",
            "--app",
            app,
            "--env",
            "dev",
            "--image",
            &reference,
            "--key",
            &key("ci"),
            "--at",
            "2026-11-26T08:00:00Z",
            "--commit",
        ]),
        repo.ok(&[
            "promote",
            "--app",
            app,
            "--env",
            "staging",
            "--key",
            &key("alice"),
            "--at",
            "2026-11-26T09:00:00Z",
            "--commit",
        ]),
        repo.ok(&["promote", "--app", app, "--env", "production", "--key", &key("alice"), "--commit"]),
        repo.ok(&["approve", &format!("{app}@3"), "--key", &key("bob"), "--commit"]),
    ]
}

/// The lines a commit range removed and added in `path` (`git diff -U0`).
fn changed_lines(repo: &TestRepo, from: &str, path: &str) -> (Vec<String>, Vec<String>) {
    let diff = repo.git(&["diff", "-U0", from, "HEAD", "--", path]);
    let mut removed = Vec::new();
    let mut added = Vec::new();
    for line in diff.lines().filter(|l| !l.starts_with("---") && !l.starts_with("+++")) {
        if let Some(line) = line.strip_prefix('-') {
            removed.push(line.to_string());
        } else if let Some(line) = line.strip_prefix('+') {
            added.push(line.to_string());
        }
    }
    (removed, added)
}

/// The base's other containers, which no target touches.
const WORKER: &str = "ghcr.io/o/worker:latest";

fn head(repo: &TestRepo) -> String {
    repo.git(&["rev-parse", "HEAD"]).trim().to_string()
}

fn tagged_ref(image: &str) -> String {
    format!("{image}:v1.4.2@{}", digest('a'))
}

// ---------------------------------------------------------------- kustomize

fn kargo_stage(env: &str) -> String {
    let text = format!(
        "# Kargo-style stage {env}: one app per repo\napiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nnamespace: api-{env}\n\nresources:\n  - ../../base   # shared manifests\n\nimages:\n  - name: ghcr.io/o/api   # promoted by the ledger\n    newTag: \"0.1.0\"\n\n  - {{name: docker.io/library/busybox, newTag: '1.36'}}\n"
    );
    // Someone's editor saved production with CRLF line endings.
    if env == "production" {
        text.replace('\n', "\r\n")
    } else {
        text
    }
}

fn kargo_repo() -> TestRepo {
    let mut files = vec![
        ("base/deployment.yaml", DEPLOYMENT.to_string()),
        ("base/kustomization.yaml", "resources:\n- deployment.yaml\n".to_string()),
    ];
    let stages = each_env("env/{env}/kustomization.yaml", kargo_stage);
    files.extend(stages.iter().map(|(p, t)| (p.as_str(), t.clone())));
    repo_with(json!([{ "path": "env/{env}/kustomization.yaml" }]), &files)
}

#[test]
fn a_repo_per_app_with_env_stages_is_walked_to_production() {
    let kustomize = tool_available("kubectl", "the env/<env> stages render the promoted image");
    let repo = kargo_repo();
    let start = head(&repo);
    let steps = walk(&repo, "api", "ghcr.io/o/api");
    assert!(steps[0].contains("projected env/dev/kustomization.yaml"), "{}", steps[0]);
    assert!(!steps[2].contains("env/production"), "pending production moves nothing: {}", steps[2]);
    assert!(steps[3].contains("projected env/production/kustomization.yaml"), "{}", steps[3]);
    let production = repo.read("env/production/kustomization.yaml");
    assert_eq!(
        production,
        kargo_stage("production").replace(
            "    newTag: \"0.1.0\"\r\n",
            &format!("    newTag: \"v1.4.2\"\r\n    digest: \"{}\"\r\n", digest('a'))
        )
    );
    for env in ["dev", "staging", "production"] {
        let path = format!("env/{env}/kustomization.yaml");
        let (removed, added) = changed_lines(&repo, &start, &path);
        assert_eq!(removed, ["    newTag: \"0.1.0\""], "{path}");
        assert_eq!(added, ["    newTag: \"v1.4.2\"".to_string(), format!("    digest: \"{}\"", digest('a'))], "{path}");
        if kustomize {
            let images = rendered_images(&repo, &format!("env/{env}"));
            assert_eq!(images, [tagged_ref("ghcr.io/o/api"), WORKER.into(), "docker.io/library/busybox:1.36".into()]);
        }
    }
    repo.ok(&["verify"]);
    repo.ok(&["project", "--check"]);
    repo.ok(&["audit"]);
}

// -------------------------------------------------------------- image-field

const CODEFRESH_KUSTOMIZATION: &str =
    "resources:\n- ../../base\n\npatches:\n- path: version.yml   # the image of this environment\n";

fn codefresh_version(env: &str) -> String {
    format!(
        "---\n# {env}: the version running here\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: api\nspec:\n  template:\n    spec:\n      containers:\n      - name: api\n        image: 'ghcr.io/o/api:0.1.0'   # bumped by promotion\n        env:\n        - {{name: UI_THEME, value: dark}}\n"
    )
}

fn codefresh_repo() -> TestRepo {
    let mut files = vec![
        ("base/deployment.yml", DEPLOYMENT.to_string()),
        ("base/kustomization.yml", "resources:\n- deployment.yml\n".to_string()),
    ];
    let kustomizations = each_env("envs/{env}/kustomization.yml", |_| CODEFRESH_KUSTOMIZATION.to_string());
    let versions = each_env("envs/{env}/version.yml", codefresh_version);
    files.extend(kustomizations.iter().chain(&versions).map(|(p, t)| (p.as_str(), t.clone())));
    repo_with(json!([{ "path": "envs/{env}/version.yml", "kind": "image-field" }]), &files)
}

#[test]
fn deployment_patches_per_environment_get_their_image_field_set() {
    let kustomize = tool_available("kubectl", "the strategic-merge patch version.yml renders the promoted image");
    let repo = codefresh_repo();
    let start = head(&repo);
    let steps = walk(&repo, "api", "ghcr.io/o/api");
    assert!(steps[3].contains("projected envs/production/version.yml"), "{}", steps[3]);
    for env in ["dev", "staging", "production"] {
        let path = format!("envs/{env}/version.yml");
        assert_eq!(
            repo.read(&path),
            codefresh_version(env).replace("'ghcr.io/o/api:0.1.0'", &format!("\"{}\"", tagged_ref("ghcr.io/o/api")))
        );
        let (removed, added) = changed_lines(&repo, &start, &path);
        assert_eq!(removed, ["        image: 'ghcr.io/o/api:0.1.0'   # bumped by promotion"], "{path}");
        assert_eq!(added, [format!("        image: \"{}\"   # bumped by promotion", tagged_ref("ghcr.io/o/api"))]);
        if kustomize {
            let images = rendered_images(&repo, &format!("envs/{env}"));
            assert_eq!(images, [tagged_ref("ghcr.io/o/api"), WORKER.into(), "docker.io/library/busybox".into()]);
        }
    }
    repo.ok(&["verify"]);
    repo.ok(&["project", "--check"]);
    repo.ok(&["audit"]);
}

// --------------------------------------------------------------------- yaml

fn helm_values(env: &str) -> String {
    format!(
        "# Helm values for {env}\nreplicaCount: {}\n\nimage:\n  repository: ghcr.io/o/api   # the ledger sets repository, tag and digest\n  tag: \"0.1.0\"\n  pullPolicy: IfNotPresent\n\nresources: {{limits: {{cpu: 500m}}}}\n",
        if env == "production" { 6 } else { 1 }
    )
}

fn helm_repo() -> TestRepo {
    let values = each_env("charts/api/values-{env}.yaml", helm_values);
    let files: Vec<(&str, String)> = values.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    repo_with(
        json!([{
            "path": "charts/{app}/values-{env}.yaml", "kind": "yaml", "apps": ["api"], "image": "ghcr.io/o/api",
            "set": { "image.repository": "{name}", "image.tag": "{tag}", "image.digest": "{digest}" }
        }]),
        &files,
    )
}

/// The value at a dotted path, read with an independent YAML parser.
fn yaml_value(text: &str, path: &str) -> Option<String> {
    let docs = yaml_rust2::YamlLoader::load_from_str(text).unwrap();
    let mut node = docs.first()?;
    for key in path.split('.') {
        node = &node[key];
    }
    node.as_str().map(str::to_string)
}

#[test]
fn helm_values_files_get_repository_tag_and_digest() {
    let repo = helm_repo();
    let start = head(&repo);
    let steps = walk(&repo, "api", "ghcr.io/o/api");
    assert!(steps[3].contains("projected charts/api/values-production.yaml"), "{}", steps[3]);
    for env in ["dev", "staging", "production"] {
        let path = format!("charts/api/values-{env}.yaml");
        let text = repo.read(&path);
        assert_eq!(yaml_value(&text, "image.repository").as_deref(), Some("ghcr.io/o/api"));
        assert_eq!(yaml_value(&text, "image.tag").as_deref(), Some("v1.4.2"));
        assert_eq!(yaml_value(&text, "image.digest"), Some(digest('a')));
        assert_eq!(yaml_value(&text, "image.pullPolicy").as_deref(), Some("IfNotPresent"));
        let (removed, added) = changed_lines(&repo, &start, &path);
        assert_eq!(
            removed,
            ["  repository: ghcr.io/o/api   # the ledger sets repository, tag and digest", "  tag: \"0.1.0\""]
        );
        assert_eq!(
            added,
            [
                "  repository: \"ghcr.io/o/api\"   # the ledger sets repository, tag and digest".to_string(),
                "  tag: \"v1.4.2\"".into(),
                format!("  digest: \"{}\"", digest('a')),
            ]
        );
    }
    repo.ok(&["verify"]);
    repo.ok(&["project", "--check"]);
    repo.ok(&["audit"]);
}

#[test]
fn a_tag_template_for_an_untagged_record_is_refused_and_nothing_is_written() {
    let repo = helm_repo();
    let refused = promote_dev(&repo, "api", &format!("ghcr.io/o/api@{}", digest('b')), &[]);
    assert_eq!(refused.status.code(), Some(1));
    let out = String::from_utf8_lossy(&refused.stderr);
    assert!(
        out.contains("charts/api/values-dev.yaml: sets image.tag from {tag}, but api@1, which sets ghcr.io/o/api in dev, has no tag"),
        "{out}"
    );
    assert!(out.contains("nothing was written"), "{out}");
    assert_eq!(repo.status(), "");
    assert_eq!(repo.commit_count(), 2, "the repo and its policy, no more");
}

// ------------------------------------------------------------ shared files

fn workloads(env: &str) -> String {
    format!(
        "# every workload of {env}\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api}}\nspec:\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec:\n      containers:\n      - name: api\n        image: ghcr.io/o/api:0.1.0\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web}}\nspec:\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec:\n      containers:\n      - name: web\n        image: ghcr.io/o/web:0.1.0\n"
    )
}

fn shared_repo(targets: Value) -> TestRepo {
    let mut files = each_env("env/{env}/kustomization.yaml", |_| "resources:\n- workloads.yaml\n".to_string());
    files.extend(each_env("env/{env}/workloads.yaml", workloads));
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    repo_with(targets, &files)
}

/// `IMAGE@DIGEST=v2`, the digest filled with `fill`.
fn v2(image: &str, fill: char) -> String {
    format!("{image}@{}=v2", digest(fill))
}

/// `promote --app APP --env dev --image REFERENCE` signed by ci, committed unless `extra` says otherwise.
fn promote_dev(repo: &TestRepo, app: &str, reference: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec!["promote", "--app", app, "--env", "dev", "--image", reference];
    let key = repo.key_str("ci");
    args.extend(["--key", &key, "--commit"]);
    args.extend(extra);
    repo.run(&args)
}

#[test]
fn a_file_shared_by_two_apps_takes_each_apps_own_images() {
    let kustomize = tool_available("kubectl", "a multi-document file shared by two apps renders both images");
    let repo = shared_repo(json!([{ "path": "env/{env}/workloads.yaml", "kind": "image-field" }]));
    assert!(promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).status.success());
    assert!(promote_dev(&repo, "web", &v2("ghcr.io/o/web", 'b'), &[]).status.success());
    let expected = workloads("dev")
        .replace("ghcr.io/o/api:0.1.0", &format!("\"ghcr.io/o/api:v2@{}\"", digest('a')))
        .replace("ghcr.io/o/web:0.1.0", &format!("\"ghcr.io/o/web:v2@{}\"", digest('b')));
    assert_eq!(repo.read("env/dev/workloads.yaml"), expected);
    if kustomize {
        assert_eq!(
            rendered_images(&repo, "env/dev"),
            [format!("ghcr.io/o/api:v2@{}", digest('a')), format!("ghcr.io/o/web:v2@{}", digest('b'))]
        );
    }
    assert_eq!(repo.read("env/staging/workloads.yaml"), workloads("staging"), "nothing promoted there");
    repo.ok(&["verify"]);
    repo.ok(&["audit"]);
}

/// Adoption in one commit, the policy with the files it names: a file apps
/// share is not the ledger's until an app it serves has a record; from then
/// on image values changed there by hand are found.
#[test]
fn audit_accepts_a_shared_file_adopted_with_the_policy() {
    let repo = TestRepo::new();
    for (path, text) in each_env("env/{env}/workloads.yaml", workloads) {
        repo.write(&path, &text);
    }
    repo.init_policy(|policy| {
        policy.as_object_mut().unwrap().remove("overlay");
        policy["targets"] = json!([{ "path": "env/{env}/workloads.yaml", "kind": "image-field" }]);
    });
    repo.ok(&["verify"]);
    repo.ok(&["audit"]);
    assert!(promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).status.success());
    repo.ok(&["verify"]);
    repo.ok(&["audit"]);
    let staging = "env/staging/workloads.yaml";
    repo.write(staging, &repo.read(staging).replace("ghcr.io/o/api:0.1.0", "ghcr.io/o/api:0.2.0"));
    repo.git(&["commit", "-qam", "api 0.2.0 in staging, by hand"]);
    let audit = repo.fails(1, &["audit"]);
    assert!(
        audit.contains(&format!("{staging}: sets images that the ledger at this commit does not project")),
        "{audit}"
    );
}

#[test]
fn two_apps_setting_one_image_in_one_file_is_a_violation() {
    let repo = shared_repo(json!([{ "path": "env/{env}/kustomization.yaml" }]));
    assert!(promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).status.success());
    let refused = promote_dev(&repo, "web", &v2("ghcr.io/o/api", 'b'), &[]);
    let text = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{text}");
    let clash = "env/dev/kustomization.yaml: the images entry for ghcr.io/o/api is written by both \
                 api in dev (target env/{env}/kustomization.yaml) and web in dev (target env/{env}/kustomization.yaml)";
    assert!(text.contains(clash), "{text}");
    assert_eq!(repo.status(), "", "refused with nothing written");
    // Landed without projecting, the clash is verify's to find.
    assert!(promote_dev(&repo, "web", &v2("ghcr.io/o/api", 'b'), &["--no-project"]).status.success());
    let verify = repo.fails(1, &["verify"]);
    assert!(verify.contains(clash), "{verify}");
    assert!(repo.fails(1, &["project", "--check"]).contains(clash));
}

// ------------------------------------------------------------ refusals

#[test]
fn a_missing_target_file_is_refused_naming_it() {
    let repo = codefresh_repo();
    std::fs::remove_file(repo.root.join("envs/dev/version.yml")).unwrap();
    repo.git(&["commit", "-qam", "no dev patch"]);
    let out = String::from_utf8_lossy(&promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).stderr).into_owned();
    assert!(
        out.contains("envs/dev/version.yml does not exist: the policy's target envs/{env}/version.yml names it for api in dev; create it (the ledger never invents one)"),
        "{out}"
    );
    assert_eq!(repo.status(), "");
}

#[test]
fn an_image_the_file_has_no_field_for_is_refused() {
    let repo = codefresh_repo();
    let out = promote_dev(&repo, "api", &v2("ghcr.io/o/api-v2", 'a'), &[]);
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("envs/dev/version.yml") && text.contains("ghcr.io/o/api-v2"), "{text}");
    assert_eq!(repo.status(), "");
}

#[test]
fn a_target_through_a_symlink_is_refused_and_nothing_outside_is_written() {
    let repo = kargo_repo();
    let outside = repo.keys.parent().unwrap().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("kustomization.yaml"), kargo_stage("dev")).unwrap();
    std::fs::remove_dir_all(repo.root.join("env/dev")).unwrap();
    std::os::unix::fs::symlink(&outside, repo.root.join("env/dev")).unwrap();
    repo.git(&["add", "-A"]);
    repo.git(&["commit", "-qm", "dev lives elsewhere"]);
    let out = String::from_utf8_lossy(&promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).stderr).into_owned();
    assert!(
        out.contains("env/dev/kustomization.yaml: passes through a symlink or special file (env/dev); the projector writes only regular files inside the repo"),
        "{out}"
    );
    assert_eq!(std::fs::read_to_string(outside.join("kustomization.yaml")).unwrap(), kargo_stage("dev"));
    assert_eq!(repo.status(), "");
}

#[test]
fn a_target_outside_the_repo_is_refused_by_init_and_by_policy_sign() {
    let repo = TestRepo::new();
    let alice = format!("alice={}", repo.key_str("alice.pub"));
    let refused = repo.fails(2, &["init", "--key", &alice, "--target", "../elsewhere/{env}/kustomization.yaml"]);
    assert!(refused.contains("must be a relative path inside the repo"), "{refused}");
    assert_eq!(repo.status(), "", "nothing written");
    let ci = format!("ci={}", repo.key_str("ci.pub"));
    repo.ok(&["init", "--key", &alice, "--key", &ci, "--ci", "ci"]);
    repo.edit_json("promotions/policy/00000001.json", |policy| {
        policy.as_object_mut().unwrap().remove("overlay");
        policy["targets"] = json!([{ "path": "env/{env}/../../../elsewhere/kustomization.yaml" }]);
    });
    let refused = repo.fails(1, &["policy", "sign", "--key", &repo.key_str("alice")]);
    assert!(
        refused.contains(
            "target \"env/{env}/../../../elsewhere/kustomization.yaml\": path must be a relative path inside the repo"
        ),
        "{refused}"
    );
}

#[test]
fn init_writes_kustomize_targets() {
    let repo = TestRepo::new();
    repo.ok(&[
        "init",
        "--key",
        &format!("alice={}", repo.key_str("alice.pub")),
        "--target",
        "env/{env}/kustomization.yaml",
        "--target",
        "clusters/{env}/apps/{app}/kustomization.yaml",
    ]);
    let policy = repo.read_json("promotions/policy/00000001.json");
    assert_eq!(policy.get("overlay"), None);
    assert_eq!(
        policy["targets"],
        json!([{ "path": "env/{env}/kustomization.yaml" }, { "path": "clusters/{env}/apps/{app}/kustomization.yaml" }])
    );
}

// ------------------------------------------------------------------- drift

/// A hand edit in each kind, committed: verify, project --check and audit
/// each find it.
#[test]
fn drift_in_each_kind_is_found_by_verify_project_check_and_audit() {
    let cases: [(TestRepo, &str, &str, String, &str); 3] = [
        (
            kargo_repo(),
            "env/staging/kustomization.yaml",
            "newTag: \"v1.4.2\"",
            "newTag: \"v1.4.3\"".into(),
            "ghcr.io/o/api is set to v1.4.3 sha256:aaaaaaaaaaaa but the ledger says api runs v1.4.2 sha256:aaaaaaaaaaaa in staging",
        ),
        (
            codefresh_repo(),
            "envs/staging/version.yml",
            "ghcr.io/o/api:v1.4.2@",
            "ghcr.io/o/api:v1.4.2-hotfix@".into(),
            "has image: ghcr.io/o/api:v1.4.2-hotfix@",
        ),
        (
            helm_repo(),
            "charts/api/values-staging.yaml",
            "tag: \"v1.4.2\"",
            "tag: \"v1.4.3\"".into(),
            "has image.tag: \"v1.4.3\" but the ledger says \"v1.4.2\" for api in staging",
        ),
    ];
    for (repo, path, from, to, message) in cases {
        walk(&repo, "api", "ghcr.io/o/api");
        repo.write(path, &repo.read(path).replace(from, &to));
        repo.git(&["commit", "-qam", "hotfix by hand"]);
        let verify = repo.fails(1, &["verify"]);
        assert!(verify.contains(path) && verify.contains(message), "verify, {path}:\n{verify}");
        let check = repo.fails(1, &["project", "--check"]);
        assert!(check.contains(&format!("--- a/{path}")), "project --check, {path}:\n{check}");
        let audit = repo.fails(1, &["audit"]);
        assert!(
            audit.contains(path) && audit.contains(message) && audit.contains("commit changes it without a record"),
            "audit, {path}:\n{audit}"
        );
        repo.ok(&["project"]);
        repo.ok(&["verify"]);
    }
}

/// Regression (found writing docs/adopting.md): `audit` reported a hand
/// edit of an app the target does not serve ("sets images for web that the
/// ledger at this commit does not project"), so apps could not move to the
/// ledger one at a time.
#[test]
fn audit_ignores_files_of_apps_a_target_does_not_serve() {
    let overlay =
        |app: &str| format!("resources:\n- ../../base\nimages:\n- name: ghcr.io/o/{app}\n  newTag: \"0.1.0\"\n");
    let mut files = Vec::new();
    for app in ["api", "web"] {
        files.extend(each_env(&format!("apps/{app}/overlays/{{env}}/kustomization.yaml"), |_| overlay(app)));
    }
    let files: Vec<(&str, String)> = files.iter().map(|(p, t)| (p.as_str(), t.clone())).collect();
    let repo = repo_with(json!([{ "path": "apps/{app}/overlays/{env}/kustomization.yaml", "apps": ["api"] }]), &files);
    assert!(promote_dev(&repo, "api", &v2("ghcr.io/o/api", 'a'), &[]).status.success());
    let web = "apps/web/overlays/production/kustomization.yaml";
    repo.write(web, &repo.read(web).replace("0.1.0", "0.2.0"));
    repo.git(&["commit", "-qam", "web is not on the ledger yet"]);
    repo.ok(&["audit"]);
    let api = "apps/api/overlays/production/kustomization.yaml";
    repo.write(api, &repo.read(api).replace("0.1.0", "0.2.0"));
    repo.git(&["commit", "-qam", "but api is"]);
    let audit = repo.fails(1, &["audit"]);
    assert!(
        audit.contains(&format!("{api}: sets images for api that the ledger at this commit does not project")),
        "{audit}"
    );
}
