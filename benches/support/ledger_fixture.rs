#![allow(dead_code)] // each benchmark uses a part of these helpers
//! Builds a large, valid ledger for benchmarks: `apps` apps, each cycling one
//! digest per cycle through dev (ci) → staging (alice) → production (alice +
//! bob), signed with the shared test keys, committed to a real git repo.
//! The fixture lives under `target/` and is rebuilt when missing: a
//! million records take a few minutes (see [`ledger_with_layout`]).

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

/// A test key that signs without ssh-key's per-signature overhead: ssh-key
/// rebuilds the ed25519 key from its secret (a second scalar multiplication)
/// for every signature, which doubles the cost of the 1.33M signatures of a
/// 1M-record ledger. Ed25519 is deterministic, so the signatures are
/// byte-identical to [`SigningKey::sign`]'s; [`FastKey::load`] checks that.
pub struct FastKey {
    signing: ed25519_dalek::SigningKey,
    public: ssh_key::public::KeyData,
}

impl FastKey {
    pub fn load(name: &str) -> FastKey {
        let private = ssh_key::PrivateKey::read_openssh_file(&keys_dir().join(name)).expect("test key");
        let pair = private.key_data().ed25519().expect("an ed25519 key");
        let fast = FastKey {
            signing: ed25519_dalek::SigningKey::from_bytes(pair.private.as_ref()),
            public: private.public_key().key_data().clone(),
        };
        assert_eq!(fast.sign(b"probe"), key(name).sign(b"probe").expect("sign"), "FastKey signs as SigningKey does");
        fast
    }

    /// Base64 of the SSHSIG blob over `message`, as [`SigningKey::sign`] writes it.
    pub fn sign(&self, message: &[u8]) -> String {
        use ed25519_dalek::Signer as _;
        use ssh_encoding::base64::{Base64, Encoding as _};
        use ssh_encoding::Encode as _;
        use ssh_key::{Algorithm, HashAlg, SshSig};
        let namespace = gitops_ledger::sign::NAMESPACE;
        let data = SshSig::signed_data(namespace, HashAlg::Sha512, message).expect("signed data");
        let signature = ssh_key::Signature::new(Algorithm::Ed25519, self.signing.sign(&data).to_bytes().to_vec())
            .expect("signature");
        let sshsig = SshSig::new(self.public.clone(), namespace, HashAlg::Sha512, signature).expect("sshsig");
        let mut blob = Vec::new();
        sshsig.encode(&mut blob).expect("encode");
        Base64::encode_string(&blob)
    }
}

/// The three signers of the cycle.
pub struct Keys {
    pub ci: FastKey,
    pub alice: FastKey,
    pub bob: FastKey,
}

impl Keys {
    pub fn load() -> Keys {
        Keys { ci: FastKey::load("ci"), alice: FastKey::load("alice"), bob: FastKey::load("bob") }
    }
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
/// target file for every app and environment (versions.json is projected
/// only for [`Layout::VersionsOnly`]; target files stay stale on purpose).
///
/// Built for a million records in minutes: each app's chain is signed on its
/// own rayon thread and streamed as blobs into one `git fast-import` commit,
/// while the same thread writes the files into the work tree; `git reset`
/// then builds the index from the commit. `git add` of a million files was
/// the slow part before.
pub fn ledger_with_layout(dir: &Path, records: usize, apps: usize, layout: Layout) -> PathBuf {
    use std::io::Write as _;
    if dir.join(".git").join("HEAD").exists() && dir.join("promotions").exists() {
        return dir.to_path_buf();
    }
    let started = std::time::Instant::now();
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("promotions/policy")).expect("mkdir");
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.name", "Bench"],
        &["config", "user.email", "bench@example.invalid"],
    ] {
        assert!(git(dir).args(args).status().expect("git").success(), "git {args:?}");
    }
    let policy = signed_policy(layout, apps);
    let keys = Keys::load();
    let per_app = records / apps;
    let mut import = git(dir)
        .args(["fast-import", "--quiet", "--done"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .expect("fast-import");
    let mut stream = std::io::BufWriter::with_capacity(1 << 20, import.stdin.take().expect("stdin"));
    // One commit, dated after the last record, as if the ledger were imported then.
    let message = "ledger fixture";
    let at = START + per_app as i64 * STEP;
    write!(
        stream,
        "commit refs/heads/main\ncommitter Bench <bench@example.invalid> {at} +0000\ndata {}\n{message}\n",
        message.len()
    )
    .expect("write stream");
    let mut files = vec![(policy::policy_path(1), policy.to_pretty_json())];
    files.extend(
        (0..apps)
            .flat_map(|a| ["dev", "staging", "production"].map(|env| target_file(layout, a, env)))
            .flatten()
            .map(|(path, text)| (path, text.into_bytes())),
    );
    // One writer thread feeds fast-import while the rayon threads sign.
    let (send, receive) = std::sync::mpsc::sync_channel::<Vec<(String, Vec<u8>)>>(2 * rayon::current_num_threads());
    let writer = std::thread::spawn(move || {
        for batch in receive {
            for (path, bytes) in batch {
                write!(stream, "M 100644 inline {path}\ndata {}\n", bytes.len()).expect("write stream");
                stream.write_all(&bytes).expect("write stream");
                stream.write_all(b"\n").expect("write stream");
            }
        }
        stream
    });
    let work_tree = |batch: &[(String, Vec<u8>)]| {
        for (path, bytes) in batch {
            let path = dir.join(path);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(path, bytes).expect("write file");
        }
    };
    work_tree(&files);
    send.send(files).expect("writer");
    let entries: Vec<(String, serde_json::Value)> = (0..apps)
        .into_par_iter()
        .map_with(send, |send, a| {
            let app = app_name(a);
            let mut chain = Vec::with_capacity(per_app);
            let mut newest = std::collections::BTreeMap::new();
            let mut prev = None;
            for i in 0..per_app {
                let record = cycle_record(&app, a, i, prev.take(), &keys);
                let id = record_id(&record).expect("id");
                // Every record is a promote that completes its thresholds, so the
                // newest of each environment is what runs there.
                newest.insert(
                    record.env.to_string(),
                    serde_json::json!({
                        "seq": record.seq, "id": id.as_str(), "at": record.at.to_string(),
                        "images": { record.images[0].name.as_str(): record.images[0].digest.as_str() }
                    }),
                );
                chain.push((record_path(&app, record.seq), record.to_pretty_json()));
                prev = Some(id);
            }
            work_tree(&chain);
            send.send(chain).expect("writer");
            (app.to_string(), serde_json::json!(newest))
        })
        .collect();
    let mut stream = writer.join().expect("writer thread");
    if layout == Layout::VersionsOnly && per_app > 0 {
        // As `project` writes it: keys sorted, 2-space indent, trailing newline.
        let apps: serde_json::Map<String, serde_json::Value> = entries.into_iter().collect();
        let versions = serde_json::json!({"schema": gitops_ledger::project::VERSIONS_SCHEMA, "apps": apps});
        let mut bytes = serde_json::to_vec_pretty(&versions).expect("json");
        bytes.push(b'\n');
        write!(stream, "M 100644 inline versions.json\ndata {}\n", bytes.len()).expect("write stream");
        stream.write_all(&bytes).expect("write stream");
        stream.write_all(b"\n\ndone\n").expect("write stream");
        work_tree(&[("versions.json".into(), bytes)]);
    } else {
        stream.write_all(b"\ndone\n").expect("write stream");
    }
    drop(stream.into_inner().expect("flush stream"));
    assert!(import.wait().expect("fast-import").success(), "git fast-import failed");
    let imported = started.elapsed();
    // The index from the commit; the files are already in the work tree.
    assert!(git(dir).args(["reset", "-q"]).status().expect("git").success(), "git reset");
    let checked_out = started.elapsed();
    // Packed with deltas, as a clone (and so CI's checkout) is.
    assert!(git(dir).args(["repack", "-adq"]).status().expect("git").success(), "git repack");
    eprintln!(
        "fixture {}: {records} records, {apps} apps: signed and imported in {:.1} s, index {:.1} s, repacked {:.1} s",
        dir.display(),
        imported.as_secs_f64(),
        (checked_out - imported).as_secs_f64(),
        (started.elapsed() - checked_out).as_secs_f64()
    );
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
    keys: &Keys,
) -> Record {
    let cycle = i / 3;
    let (env, from, signers): (&str, Option<&str>, Vec<(&str, &FastKey)>) = match i % 3 {
        0 => ("dev", None, vec![("ci", &keys.ci)]),
        1 => ("staging", Some("dev"), vec![("alice", &keys.alice)]),
        _ => ("production", Some("staging"), vec![("alice", &keys.alice), ("bob", &keys.bob)]),
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
        record.signatures.push(Signature { signer: name(signer), sig: key.sign(&message) });
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
    let keys = Keys::load();
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
        let record = cycle_record(&names[a], a, counts[a], prevs[a].take(), &keys);
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

/// The fixture plus one more valid record on top, committed: `base` is the
/// ledger, HEAD adds the record, as a promotion pull request would.
pub fn with_pull_request(records: usize, apps: usize) -> std::path::PathBuf {
    let dir = ledger(&fixture_dir(&format!("verify-{records}")), records, apps);
    let tags = git(&dir).args(["tag", "--list", "base"]).output().unwrap();
    if !String::from_utf8_lossy(&tags.stdout).contains("base") {
        let app = Name::parse("app-000").unwrap();
        let per_app = records / apps;
        let tree = gitops_ledger::store::WorkTree::new(&dir);
        let ledger = gitops_ledger::ledger::Ledger::load(&tree).unwrap();
        let mut chain = ledger.chain(&app).unwrap();
        let last = chain.records.last().unwrap().clone();
        // The next record in the cycle pattern keeps every rule.
        let record = cycle_record(&app, 0, per_app, Some(record_id(&last.record).unwrap()), &Keys::load());
        std::fs::write(dir.join(record_path(&app, record.seq)), record.to_pretty_json()).unwrap();
        // With its projection, as `promote` would have written it.
        let path = record_path(&app, record.seq);
        chain.records.push(gitops_ledger::ledger::RecordFile::new(path, record).unwrap());
        for file in gitops_ledger::project::plan_app(&ledger, &chain).unwrap().iter().filter(|f| f.changes()) {
            std::fs::write(dir.join(&file.path), &file.projected).unwrap();
        }
        for args in [&["tag", "base"][..], &["add", "-A"], &["commit", "-q", "-m", "one promotion"]] {
            assert!(git(&dir).args(args).status().unwrap().success());
        }
    }
    dir
}

/// Every signature of the ledger at `dir`, prepared for checking: what the
/// signature floor checks.
pub fn prepared_signatures(dir: &Path) -> Vec<gitops_ledger::sign::PreparedSignature> {
    let tree = gitops_ledger::store::WorkTree::new(dir);
    let ledger = gitops_ledger::ledger::Ledger::load(&tree).unwrap();
    let policy = ledger.policy_files()[0].policy.clone();
    ledger
        .chains(None)
        .unwrap()
        .par_iter()
        .flat_map_iter(|chain| {
            chain
                .records
                .iter()
                .flat_map(|r| r.record.signatures.iter().map(move |s| (r, s)))
                .map(|(r, s)| policy.keys[&s.signer].prepare(&r.message, &s.sig).unwrap())
        })
        .collect()
}

/// The signature floor: `signatures` batch-verified in chunks on all cores,
/// as `verify` checks them, and nothing else.
pub fn verify_signatures(signatures: &[gitops_ledger::sign::PreparedSignature]) {
    signatures.par_chunks(64).for_each(|chunk| {
        let messages: Vec<&[u8]> = chunk.iter().map(|p| p.signed_data.as_slice()).collect();
        let signatures: Vec<_> = chunk.iter().map(|p| p.signature).collect();
        let keys: Vec<_> = chunk.iter().map(|p| p.key).collect();
        ed25519_dalek::verify_batch(&messages, &signatures, &keys).unwrap();
    })
}
