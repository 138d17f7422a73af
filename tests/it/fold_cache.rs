//! The fold cache: `status` and the projection through it equal the full
//! fold, cold or warm, whatever prefix of the history warmed it; the cache
//! lives in `.git/gitops-ledger/`, survives a corrupted entry, follows a new
//! record and keys each set of policy versions apart.

use std::sync::OnceLock;

use gitops_ledger::chain::AppHistory;
use gitops_ledger::clock::Timestamp;
use gitops_ledger::fold_cache::FoldCache;
use gitops_ledger::ledger::{Ledger, RecordFile};
use gitops_ledger::project::{fold_all, plan, versions_json, VERSIONS_SCHEMA};
use gitops_ledger::record::{
    record_path, Digest, Evidence, EvidenceResult, Image, ImageName, Kind, Name, Override, Record, RecordId, Signature,
    Upstream, Waivable, RECORD_SCHEMA,
};
use gitops_ledger::store::WorkTree;
use gitops_ledger::verify::PendingNote;
use gitops_ledger::view::AppView;
use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::common::{digest, TestRepo, NOW};

/// Hours are counted from here; [`NOW`] is 100 hours later, so a history
/// often runs past "now".
const START: &str = "2026-11-24T06:00:00Z";
const APPS: [&str; 2] = ["api", "web"];
const ENVS: [&str; 3] = ["dev", "staging", "production"];
const IMAGES: [&str; 2] = ["ghcr.io/o/api", "ghcr.io/o/worker"];
const SIGNERS: [&[&str]; 6] = [&["ci"], &["alice"], &["alice", "bob"], &["bob"], &["carol"], &["alice", "carol"]];

fn hour(hours: i64) -> Timestamp {
    Timestamp::parse(START).unwrap().plus_seconds(hours * 3600)
}

fn name(text: &str) -> Name {
    Name::parse(text).unwrap()
}

/// The test policy, with evidence signed by ci everywhere, production
/// requiring a passed smoke test in staging, and carol as break glass:
/// evidence counts, and an approval completing a production record checks
/// its rules again against the whole fold before it.
fn policy_text() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        let repo = TestRepo::new();
        repo.init_policy(|policy| {
            for env in 0..3 {
                policy["environments"][env]["evidence_signers"] = json!(["ci"]);
            }
            policy["environments"][2]["requires"] = json!(["smoke"]);
            policy["break_glass"] = json!({"signers": ["carol"], "threshold": 1});
        });
        repo.read("promotions/policy/00000001.json")
    })
}

/// One generated record: (app, kind, env, digest fills, images named,
/// signers, hours after the record before (-1: backdated), evidence type
/// and result, approved record, break glass).
type Op = (usize, u8, usize, (u8, u8), u8, usize, i64, (bool, bool), prop::sample::Index, bool);

fn ops() -> impl Strategy<Value = Vec<Op>> {
    proptest::collection::vec(
        (
            0..APPS.len(),
            0u8..6,
            0..ENVS.len(),
            (0u8..4, 0u8..4),
            0u8..3,
            0..SIGNERS.len(),
            -1i64..8,
            (any::<bool>(), any::<bool>()),
            any::<prop::sample::Index>(),
            any::<bool>(),
        ),
        1..40,
    )
}

/// The records `ops` make, chained per app, in the order they are written.
fn history(ops: &[Op]) -> Vec<RecordFile> {
    let mut chains: [Vec<RecordFile>; 2] = Default::default();
    let mut out = Vec::new();
    let mut hours = 0;
    for &(app, kind, env, (fill_a, fill_b), named, signers, gap, (smoke, passed), approved, break_glass) in ops {
        hours += gap;
        let chain = &chains[app];
        let fills = [fill_a, fill_b];
        let images: Vec<Image> = (0..2)
            .filter(|&i| named == 2 || usize::from(named) == i)
            .map(|i| Image {
                name: ImageName::parse(IMAGES[i]).unwrap(),
                digest: Digest::parse(&digest(char::from(b'a' + fills[i]))).unwrap(),
                tag: None,
            })
            .collect();
        let mut record = Record {
            schema: RECORD_SCHEMA.into(),
            app: name(APPS[app]),
            seq: chain.len() as u64 + 1,
            prev: chain.last().map(|f| f.id.clone()),
            policy: 1,
            env: name(ENVS[env]),
            from: env.checked_sub(1).map(|up| Upstream::One(name(ENVS[up]))),
            kind: Kind::Promote,
            approves: None,
            images,
            evidence: None,
            override_: None,
            at: hour(hours),
            reason: None,
            signatures: SIGNERS[signers].iter().map(|s| Signature { signer: name(s), sig: "AAAA".into() }).collect(),
        };
        let promotions: Vec<&RecordFile> =
            chain.iter().filter(|f| matches!(f.record.kind, Kind::Promote | Kind::Rollback)).collect();
        match kind {
            0 | 1 => {}
            2 => record.kind = Kind::Rollback,
            3 => {
                record.kind = Kind::Evidence;
                record.from = None;
                let kind = name(if smoke { "smoke" } else { "scan" });
                let result = if passed { EvidenceResult::Pass } else { EvidenceResult::Fail };
                record.evidence = Some(Evidence { kind, result, url: None, sha256: None });
            }
            _ => {
                if let Some(target) = (!promotions.is_empty()).then(|| promotions[approved.index(promotions.len())]) {
                    record.kind = Kind::Approval;
                    record.from = None;
                    record.approves = Some(target.id.clone());
                    record.env = target.record.env.clone();
                    record.images = target.record.images.clone();
                }
            }
        }
        if break_glass && matches!(record.kind, Kind::Promote | Kind::Rollback) {
            record.override_ = Some(Override { reason: "hotfix".into(), rules: vec![Waivable::Soak] });
        }
        let file = RecordFile::new(record_path(&record.app, record.seq), record).unwrap();
        chains[app].push(file.clone());
        out.push(file);
    }
    out
}

/// `status` as the full fold of each chain up to `at` says it, built from
/// [`AppHistory`] alone: what every view must reproduce.
fn folded_status(ledger: &Ledger, at: Timestamp) -> Value {
    let policies = ledger.policies();
    let mut apps = Map::new();
    let mut pending = Vec::new();
    for chain in ledger.chains(None).unwrap() {
        let history = AppHistory::of(chain.records_until(Some(at)), policies);
        pending.extend(history.pending(policies).iter().map(PendingNote::of));
        let mut envs = Map::new();
        for (env, env_history) in history.envs() {
            let Some(newest) = env_history.newest() else { continue };
            let images: Map<String, Value> = env_history
                .state()
                .iter()
                .map(|(image, state)| {
                    let evidence: Map<String, Value> = env_history
                        .evidence_for(&state.digest)
                        .map(|(kind, at, result)| (kind.to_string(), json!({"result": result, "at": at})))
                        .collect();
                    (image.to_string(), json!({"digest": state.digest, "seq": state.seq, "evidence": evidence}))
                })
                .collect();
            envs.insert(
                env.to_string(),
                json!({"seq": newest.seq, "id": newest.id, "set_at": newest.at, "images": images}),
            );
        }
        if !envs.is_empty() {
            apps.insert(chain.app.to_string(), Value::Object(envs));
        }
    }
    json!({"at": at, "environments": ledger.environments(), "apps": apps, "pending": pending})
}

/// `versions.json` as the full fold of each chain says it.
fn folded_versions(ledger: &Ledger) -> Value {
    let mut apps = Map::new();
    for chain in ledger.chains(None).unwrap() {
        let history = chain.fold(ledger.policies());
        let mut envs = Map::new();
        for (env, env_history) in history.envs() {
            let Some(newest) = env_history.newest() else { continue };
            let images: Map<String, Value> =
                env_history.state().iter().map(|(image, s)| (image.to_string(), json!(s.digest))).collect();
            envs.insert(
                env.to_string(),
                json!({"seq": newest.seq, "id": newest.id, "at": newest.at, "images": images}),
            );
        }
        if !envs.is_empty() {
            apps.insert(chain.app.to_string(), Value::Object(envs));
        }
    }
    json!({"schema": VERSIONS_SCHEMA, "apps": apps})
}

/// Status at each moment and the projection, through the cache, each
/// against the full fold; the views through the cache against those folded
/// without it.
fn check_through_cache(repo: &TestRepo, moments: &[Timestamp]) -> Result<(), TestCaseError> {
    let tree = WorkTree::new(&repo.root);
    let ledger = Ledger::load(&tree).unwrap();
    let cache = FoldCache::open(&tree, ledger.policies());
    prop_assert!(cache.is_some(), "a git repo has a fold cache");
    for &at in moments {
        let shown = serde_json::to_value(gitops_ledger::status::status(&ledger, cache.as_ref(), at).unwrap()).unwrap();
        prop_assert_eq!(shown, folded_status(&ledger, at), "status --at {}", at);
    }
    let cached = fold_all(&ledger, None, cache.as_ref()).unwrap();
    let fresh = fold_all(&ledger, None, None).unwrap();
    prop_assert_eq!(&cached, &fresh);
    let versions: Value = serde_json::from_slice(&versions_json(&cached)).unwrap();
    prop_assert_eq!(versions, folded_versions(&ledger));
    let policy = &ledger.newest_policy().unwrap().policy;
    let planned = |views: &[AppView]| -> Vec<(String, Vec<u8>)> {
        plan(&tree, policy, views).into_iter().map(|f| f.map(|f| (f.path, f.projected)).unwrap()).collect()
    };
    prop_assert_eq!(planned(&cached), planned(&fresh));
    Ok(())
}

fn write(repo: &TestRepo, files: &[RecordFile]) {
    for file in files {
        repo.write(&file.path, &String::from_utf8(file.record.to_pretty_json()).unwrap());
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]

    /// On random histories of two apps (promotions naming one image or
    /// both, rollbacks, evidence of two types passing or failing, pending
    /// records and approvals of any earlier one, break glass, a record now
    /// and then backdated), status now and at random moments, and the
    /// projection, through a cache warmed on a prefix of the history and
    /// then on all of it, equal the full fold's, every time.
    #[test]
    fn status_and_projection_through_the_cache_equal_the_full_fold(
        ops in ops(),
        warm in any::<prop::sample::Index>(),
        moments in proptest::collection::vec(-2i64..200, 3),
    ) {
        let repo = TestRepo::new();
        repo.write("promotions/policy/00000001.json", policy_text());
        let records = history(&ops);
        let k = warm.index(records.len() + 1);
        let mut moments: Vec<Timestamp> = moments.into_iter().map(hour).collect();
        moments.push(Timestamp::parse(NOW).unwrap());
        // The record times themselves: the edge of each prefix.
        moments.extend(records.iter().step_by(5).map(|f| f.record.at));
        // Around each backdated record: its own time, where a fold as of
        // then stops before it, and the latest time before it, where a
        // fold takes it.
        let mut latest = std::collections::BTreeMap::new();
        for file in &records {
            let at = file.record.at;
            let before = latest.entry(&file.record.app).or_insert(at);
            if at < *before {
                moments.extend([at, *before]);
            }
            *before = at.max(*before);
        }
        write(&repo, &records[..k]);
        check_through_cache(&repo, &moments)?;
        write(&repo, &records[k..]);
        // Cold for the records past k, then warm.
        check_through_cache(&repo, &moments)?;
        check_through_cache(&repo, &moments)?;
    }
}

/// The fold cache's directory for `repo`'s policy versions, and its entries.
fn cache_dirs(repo: &TestRepo) -> Vec<std::path::PathBuf> {
    let folds = repo.root.join(".git/gitops-ledger/folds");
    let Ok(entries) = std::fs::read_dir(folds) else { return Vec::new() };
    let mut dirs: Vec<_> = entries.map(|e| e.unwrap().path()).collect();
    dirs.sort();
    dirs
}

fn promoted() -> TestRepo {
    let repo = TestRepo::with_signed_policy();
    repo.promote("dev", 'a', "ci", "2026-11-25T08:00:00Z");
    repo.promote("staging", 'a', "alice", "2026-11-25T09:00:00Z");
    repo.promote("dev", 'b', "ci", "2026-11-26T08:00:00Z");
    repo
}

#[test]
fn status_is_the_same_with_a_cold_and_a_warm_cache_which_lives_in_the_git_dir() {
    let repo = promoted();
    assert!(cache_dirs(&repo).is_empty(), "writes do not fill the cache");
    for args in [&["status"][..], &["status", "--format", "json"], &["status", "--at", "2026-11-25T08:30:00Z"]] {
        let cold = repo.ok(args);
        let warm = repo.ok(args);
        assert_eq!(cold, warm, "{args:?}");
    }
    let dirs = cache_dirs(&repo);
    assert_eq!(dirs.len(), 1, "one key for one set of policy versions: {dirs:?}");
    assert!(dirs[0].join("api.json").is_file());
    assert_eq!(repo.status(), "", "the cache is not in the work tree");
}

#[test]
fn a_corrupted_cache_entry_is_ignored() {
    let repo = promoted();
    let shown = repo.ok(&["status"]);
    let checked = repo.ok(&["project", "--check"]);
    let entry = cache_dirs(&repo)[0].join("api.json");
    let valid = std::fs::read_to_string(&entry).unwrap();
    let of_another_app = valid.replace("\"api\"", "\"web\"");
    for corrupted in ["", "{", "not json", &valid[..valid.len() / 2], of_another_app.as_str()] {
        std::fs::write(&entry, corrupted).unwrap();
        assert_eq!(repo.ok(&["status"]), shown, "entry {corrupted:?}");
        std::fs::write(&entry, corrupted).unwrap();
        assert_eq!(repo.ok(&["project", "--check"]), checked, "entry {corrupted:?}");
    }
}

#[test]
fn a_new_record_moves_the_tip_and_status_shows_it() {
    let repo = promoted();
    let before = repo.ok(&["status"]);
    assert!(before.contains("sha256:bbbbbbbbbbbb  api@3"), "{before}");
    repo.promote("staging", 'b', "alice", "2026-11-27T08:00:00Z");
    let after = repo.ok(&["status"]);
    assert!(after.contains("staging  ghcr.io/o/api  -    sha256:bbbbbbbbbbbb  api@4"), "{after}");
    repo.project();
    repo.ok(&["project", "--check"]);
}

#[test]
fn a_new_policy_version_uses_a_new_key() {
    let repo = promoted();
    let before = repo.ok(&["status"]);
    assert_eq!(cache_dirs(&repo).len(), 1);
    repo.ok(&["policy", "new"]);
    assert_eq!(repo.ok(&["status"]), before);
    assert_eq!(cache_dirs(&repo).len(), 2, "a second key for policy versions 1 and 2");
}

#[test]
fn a_record_id_the_cache_does_not_hold_is_folded() {
    // A cache entry of another chain (another tip id) is a miss, even when its view parses.
    let repo = promoted();
    repo.ok(&["status"]);
    let entry = cache_dirs(&repo)[0].join("api.json");
    let mut value: Value = serde_json::from_str(&std::fs::read_to_string(&entry).unwrap()).unwrap();
    value["tip"] = json!(RecordId::parse(&digest('f')).unwrap());
    value["view"]["envs"] = json!({});
    std::fs::write(&entry, value.to_string()).unwrap();
    assert!(repo.ok(&["status"]).contains("api@3"));
}

#[test]
fn a_chain_with_a_deleted_record_is_folded_as_it_is_and_not_cached() {
    let repo = promoted();
    repo.ok(&["status"]);
    std::fs::remove_file(repo.root.join("promotions/apps/api/00000002.json")).unwrap();
    let through_cache = repo.ok(&["status", "--format", "json"]);
    std::fs::remove_dir_all(repo.root.join(".git/gitops-ledger")).unwrap();
    assert_eq!(repo.ok(&["status", "--format", "json"]), through_cache);
    let shown: Value = serde_json::from_str(&through_cache).unwrap();
    assert!(shown["apps"]["api"].get("staging").is_none(), "record 2 set staging: {through_cache}");
    assert!(cache_dirs(&repo).iter().all(|dir| !dir.join("api.json").exists()), "a broken chain is never cached");
}

#[test]
fn outside_a_git_repository_nothing_is_cached() {
    let repo = promoted();
    let away = repo.root.parent().unwrap().join("git-dir-away");
    std::fs::rename(repo.root.join(".git"), &away).unwrap();
    let listing = || {
        let mut names: Vec<_> = std::fs::read_dir(&repo.root).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };
    let before = listing();
    let plain = repo.ok(&["status"]);
    assert_eq!(listing(), before, "nothing written beside the ledger");
    std::fs::rename(&away, repo.root.join(".git")).unwrap();
    assert!(cache_dirs(&repo).is_empty());
    assert_eq!(repo.ok(&["status"]), plain);
}
