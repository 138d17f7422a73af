#![allow(dead_code)] // each benchmark uses a part of these helpers
//! Builds a large, valid ledger for benchmarks: `apps` apps, each cycling one
//! digest per cycle through dev (ci) → staging (alice) → production (alice +
//! bob), signed with the shared test keys, committed to a real git repo.
//! The fixture lives under `target/` and is rebuilt when missing.

use std::path::{Path, PathBuf};
use std::process::Command;

use gitops_ledger::canonical::{record_id, record_message};
use gitops_ledger::clock::{Span, Timestamp};
use gitops_ledger::policy::{self, Policy};
use gitops_ledger::record::{record_path, Digest, Image, ImageName, Kind, Name, Record, Signature, RECORD_SCHEMA};
use gitops_ledger::sign::{PolicyKey, SigningKey};
use rayon::prelude::*;

pub const START: i64 = 1_577_836_800; // 2020-01-01T00:00:00Z
/// Records are two hours apart; production soaks one hour.
pub const STEP: i64 = 7200;

/// The release binary, built first: benchmarks run the tool as a user does.
pub fn release_binary() -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/gitops-ledger");
    let status = Command::new("cargo")
        .args(["build", "--release", "--quiet", "--bin", "gitops-ledger"])
        .status()
        .expect("cargo");
    assert!(status.success(), "building the release binary failed");
    path
}

pub fn keys_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/keys")
}

pub fn key(name: &str) -> SigningKey {
    SigningKey::load(&keys_dir().join(name), None).expect("test key")
}

fn name(text: &str) -> Name {
    Name::parse(text).expect("name")
}

/// Where the fixture's policy projects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `overlay: null`: versions.json only.
    VersionsOnly,
    /// The seed's `apps/{app}/overlays/{env}/kustomization.yaml`.
    Overlays,
    /// Three targets, one kind each, every third app on each: kustomize
    /// overlays, image-field Deployment patches, yaml Helm values.
    Mixed,
}

const OVERLAY: &str = "apps/{app}/overlays/{env}/kustomization.yaml";

fn app_name(a: usize) -> Name {
    name(&format!("app-{a:03}"))
}

/// The targets of `layout` for `apps` apps.
fn targets(layout: Layout, apps: usize) -> (gitops_ledger::policy::Overlay, Option<Vec<policy::Target>>) {
    use gitops_ledger::policy::Overlay;
    match layout {
        Layout::VersionsOnly => (Overlay::Null, None),
        Layout::Overlays => (Overlay::Template(OVERLAY.into()), None),
        Layout::Mixed => {
            let of_kind = |k: usize| (0..apps).filter(|a| a % 3 == k).map(app_name).collect::<Vec<_>>();
            let targets = serde_json::json!([
                { "path": OVERLAY, "apps": of_kind(0) },
                { "path": "apps/{app}/envs/{env}/version.yml", "kind": "image-field", "apps": of_kind(1) },
                { "path": "charts/{app}/values-{env}.yaml", "kind": "yaml", "apps": of_kind(2),
                  "set": { "image.repository": "{name}", "image.tag": "{tag}", "image.digest": "{digest}" } }
            ]);
            (Overlay::Absent, Some(serde_json::from_value(targets).expect("targets")))
        }
    }
}

/// The stale file `layout` has for app number `a` in `env`, at its path.
fn target_file(layout: Layout, a: usize, env: &str) -> Option<(String, String)> {
    let app = app_name(a);
    let stale = "0".repeat(64);
    let (template, text) = match (layout, a % 3) {
        (Layout::VersionsOnly, _) => return None,
        (Layout::Overlays, _) | (Layout::Mixed, 0) => (
            OVERLAY,
            format!(
                "# {env} overlay of {app}\nresources:\n- ../../base\nimages:\n- name: ghcr.io/bench/{app}\n  newTag: \"old\"\n  digest: sha256:{stale}\n"
            ),
        ),
        (_, 1) => (
            "apps/{app}/envs/{env}/version.yml",
            format!(
                "# {env} version of {app}\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {app}\nspec:\n  template:\n    spec:\n      containers:\n      - name: {app}\n        image: ghcr.io/bench/{app}:old   # promoted\n"
            ),
        ),
        _ => (
            "charts/{app}/values-{env}.yaml",
            format!(
                "# {env} values of {app}\nreplicaCount: 2\nimage:\n  repository: ghcr.io/bench/{app}\n  tag: \"old\"\n  digest: \"sha256:{stale}\"\n  pullPolicy: IfNotPresent\n"
            ),
        ),
    };
    Some((template.replace("{app}", app.as_str()).replace("{env}", env), text))
}

pub fn signed_policy(layout: Layout, apps: usize) -> Policy {
    let mut keys = std::collections::BTreeMap::new();
    for signer in ["alice", "bob", "ci"] {
        let text = std::fs::read_to_string(keys_dir().join(format!("{signer}.pub"))).expect("pub key");
        keys.insert(name(signer), PolicyKey::parse(text.trim()).expect("policy key"));
    }
    let mut policy = policy::template(keys, vec![name("ci")], &[], Timestamp::from_unix(START - 86_400).expect("time"))
        .expect("template");
    (policy.overlay, policy.targets) = targets(layout, apps);
    for env in &mut policy.environments {
        if env.name.as_str() == "production" {
            env.soak = Some(Span::parse("1h").expect("span"));
        }
    }
    let message = policy.message().expect("message");
    for signer in ["alice", "bob"] {
        policy.signatures.push(Signature { signer: name(signer), sig: key(signer).sign(&message).expect("sign") });
    }
    policy
}

/// The ledger of `records` records over `apps` apps at `dir` (a git repo with
/// one commit), built once.
pub fn ledger(dir: &Path, records: usize, apps: usize) -> PathBuf {
    ledger_with_layout(dir, records, apps, Layout::VersionsOnly)
}

/// Like [`ledger`], with the policy projecting as `layout` says and a stale
/// target file for every app and environment.
pub fn ledger_with_layout(dir: &Path, records: usize, apps: usize, layout: Layout) -> PathBuf {
    if dir.join(".git").join("HEAD").exists() && dir.join("promotions").exists() {
        return dir.to_path_buf();
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("promotions/policy")).expect("mkdir");
    let policy = signed_policy(layout, apps);
    std::fs::write(dir.join(policy::policy_path(1)), policy.to_pretty_json()).expect("write policy");
    let (ci, alice, bob) = (key("ci"), key("alice"), key("bob"));
    let per_app = records / apps;
    (0..apps).into_par_iter().for_each(|a| {
        let app = app_name(a);
        std::fs::create_dir_all(dir.join(format!("promotions/apps/{app}"))).expect("mkdir");
        for env in ["dev", "staging", "production"] {
            if let Some((path, text)) = target_file(layout, a, env) {
                let path = dir.join(path);
                std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
                std::fs::write(path, text).expect("write target file");
            }
        }
        let mut prev = None;
        for i in 0..per_app {
            let record = cycle_record(&app, a, i, prev.take(), (&ci, &alice, &bob));
            std::fs::write(dir.join(record_path(&app, record.seq)), record.to_pretty_json()).expect("write record");
            prev = Some(record_id(&record).expect("id"));
        }
    });
    if layout == Layout::VersionsOnly {
        // The projection a real repo holds (its target files, when there are, stay stale on purpose).
        let tree = gitops_ledger::store::WorkTree::new(dir);
        let now = Timestamp::from_unix(START + 400 * 86_400 * 10).expect("time");
        let files = gitops_ledger::append::Transaction::begin(&tree).expect("lock").project_all(now).expect("project");
        assert!(files.iter().all(|f| f.projected == std::fs::read(dir.join(&f.path)).unwrap_or_default()));
        // Not a git repo yet, so the write lock was a file in the tree.
        let _ = std::fs::remove_file(dir.join(".gitops-ledger.lock"));
    }
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.name", "Bench"],
        &["config", "user.email", "bench@example.invalid"],
        &["add", "-A"],
        &["commit", "-q", "-m", "ledger fixture"],
        // Packed, as a clone (and so CI's checkout) is.
        &["repack", "-adq"],
    ] {
        let status = git(dir).args(args).status().expect("git");
        assert!(status.success(), "git {args:?}");
    }
    dir.to_path_buf()
}

/// `git` for fixtures, isolated from user and system config.
pub fn git(dir: &Path) -> Command {
    let mut cmd = Command::new("git");
    cmd.current_dir(dir).env("GIT_CONFIG_GLOBAL", "/dev/null").env("GIT_CONFIG_NOSYSTEM", "1");
    cmd
}

/// Record `i` (0-based) of app number `a`: cycle `i / 3` of one digest
/// through dev (ci), staging (alice) and production (alice + bob).
pub fn cycle_record(
    app: &Name,
    a: usize,
    i: usize,
    prev: Option<gitops_ledger::record::RecordId>,
    (ci, alice, bob): (&SigningKey, &SigningKey, &SigningKey),
) -> Record {
    let cycle = i / 3;
    let (env, from, signers): (&str, Option<&str>, Vec<(&str, &SigningKey)>) = match i % 3 {
        0 => ("dev", None, vec![("ci", ci)]),
        1 => ("staging", Some("dev"), vec![("alice", alice)]),
        _ => ("production", Some("staging"), vec![("alice", alice), ("bob", bob)]),
    };
    let mut record = Record {
        schema: RECORD_SCHEMA.into(),
        app: app.clone(),
        seq: i as u64 + 1,
        prev,
        policy: 1,
        env: name(env),
        from: from.map(|f| gitops_ledger::record::Upstream::One(name(f))),
        kind: Kind::Promote,
        approves: None,
        images: vec![Image {
            name: ImageName::parse(&format!("ghcr.io/bench/{app}")).expect("image"),
            digest: Digest::parse(&format!("sha256:{:016x}{:048x}", a, cycle)).expect("digest"),
            tag: Some(gitops_ledger::record::Tag::parse(&format!("v1.{cycle}")).expect("tag")),
        }],
        at: Timestamp::from_unix(START + i as i64 * STEP).expect("time"),
        evidence: None,
        override_: None,
        reason: None,
        signatures: Vec::new(),
    };
    let message = record_message(&record).expect("message");
    for (signer, key) in signers {
        record.signatures.push(Signature { signer: name(signer), sig: key.sign(&message).expect("sign") });
    }
    record
}

/// Where fixtures are kept between runs (under target/, rebuilt when missing).
pub fn fixture_dir(label: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-fixtures").join(label)
}

/// A config repo whose history has one commit per record (`commits` records
/// over `apps` apps), each also updating versions.json as `project` would,
/// built with `git fast-import`: the shape `audit` walks.
pub fn history(dir: &Path, commits: usize, apps: usize) -> PathBuf {
    use std::io::Write as _;
    if dir.join(".git").join("HEAD").exists() {
        return dir.to_path_buf();
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("mkdir");
    assert!(git(dir).args(["init", "-q", "-b", "main"]).status().expect("git").success());
    let policy = signed_policy(Layout::VersionsOnly, apps);
    let (ci, alice, bob) = (key("ci"), key("alice"), key("bob"));
    let mut stream: Vec<u8> = Vec::new();
    // Each commit on the branch continues from the one before it.
    let emit = |stream: &mut Vec<u8>, seconds: i64, message: &str, files: &[(String, Vec<u8>)]| {
        let _ = write!(
            stream,
            "commit refs/heads/main\ncommitter Bench <bench@example.invalid> {seconds} +0000\ndata {}\n{message}\n",
            message.len()
        );
        for (path, bytes) in files {
            let _ = write!(stream, "M 100644 inline {path}\ndata {}\n", bytes.len());
            stream.extend_from_slice(bytes);
            stream.push(b'\n');
        }
        stream.push(b'\n');
    };
    emit(&mut stream, START - 86_400, "policy", &[(policy::policy_path(1), policy.to_pretty_json())]);
    let names: Vec<Name> = (0..apps).map(app_name).collect();
    let mut prevs: Vec<Option<gitops_ledger::record::RecordId>> = vec![None; apps];
    let mut counts = vec![0usize; apps];
    let mut versions: std::collections::BTreeMap<String, serde_json::Value> = std::collections::BTreeMap::new();
    for n in 0..commits {
        let a = n % apps;
        let record = cycle_record(&names[a], a, counts[a], prevs[a].take(), (&ci, &alice, &bob));
        counts[a] += 1;
        let id = record_id(&record).expect("id");
        let entry = serde_json::json!({
            "seq": record.seq, "id": id.as_str(), "at": record.at.to_string(),
            "images": { record.images[0].name.as_str(): record.images[0].digest.as_str() }
        });
        versions.entry(names[a].to_string()).or_insert_with(|| serde_json::json!({}))[record.env.as_str()] = entry;
        let versions_file = serde_json::json!({"schema": "gitops-ledger/versions/v1", "apps": versions});
        let mut versions_bytes = serde_json::to_vec_pretty(&versions_file).expect("json");
        versions_bytes.push(b'\n');
        let at = record.at.unix();
        emit(
            &mut stream,
            at,
            &format!("promote {}", record.label()),
            &[(record_path(&names[a], record.seq), record.to_pretty_json()), ("versions.json".into(), versions_bytes)],
        );
        prevs[a] = Some(id);
    }
    let mut child =
        git(dir).args(["fast-import", "--quiet"]).stdin(std::process::Stdio::piped()).spawn().expect("fast-import");
    child.stdin.take().expect("stdin").write_all(&stream).expect("write stream");
    assert!(child.wait().expect("fast-import").success());
    assert!(git(dir).args(["reset", "-q", "--hard", "main"]).status().expect("git").success());
    dir.to_path_buf()
}
