//! Property tests of the ledger's invariants (proptest).

use gitops_ledger::canonical::{jcs, message_and_id, record_id, record_message, sha256_id};
use gitops_ledger::clock::Timestamp;
use gitops_ledger::ledger::Ledger;
use gitops_ledger::record::Record;
use gitops_ledger::store::WorkTree;
use gitops_ledger::verify::{verify, Report, VerifyOptions};
use proptest::prelude::*;
use serde_json::{json, Value};

use crate::common::{Forged, TestRepo};

fn record_value(reason: Option<String>, tag: Option<String>, seq: u64, fill: u8) -> Value {
    let mut image = json!({"name": "ghcr.io/o/api", "digest": format!("sha256:{}", format!("{fill:02x}").repeat(32))});
    if let Some(tag) = tag {
        image["tag"] = tag.into();
    }
    let mut value = json!({
        "schema": "gitops-ledger/promotion/v1", "app": "api", "seq": seq,
        "prev": if seq == 1 { Value::Null } else { format!("sha256:{}", "1".repeat(64)).into() },
        "policy": 1, "env": "staging", "from": "dev", "kind": "promote", "images": [image],
        "at": "2026-11-24T18:00:00Z",
        "signatures": [{"signer": "alice", "sig": "U1NIU0lH"}],
    });
    if let Some(reason) = reason {
        value["reason"] = reason.into();
    }
    value
}

/// JSON text of `value` with its top-level keys in the order `order` picks.
fn shuffled_text(value: &Value, order: &[usize]) -> String {
    let object = value.as_object().unwrap();
    let mut keys: Vec<&String> = object.keys().collect();
    let n = keys.len();
    for (i, pick) in order.iter().enumerate().take(n) {
        keys.swap(i, i + pick % (n - i));
    }
    let members: Vec<String> = keys.iter().map(|k| format!("{}:{}", json!(k), object[*k])).collect();
    format!("{{{}}}", members.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// The canonical form does not depend on key order or on how the file
    /// was written, and equals the RFC 8785 canonicalizer's.
    #[test]
    fn canonical_form_is_stable_under_reserialization_and_key_order(
        reason in proptest::option::of("\\PC{0,40}|[\\x00-\\x1f\"\\\\/]{0,8}"),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}"),
        seq in 1u64..10_000,
        fill in any::<u8>(),
        order in proptest::collection::vec(0usize..16, 16),
    ) {
        let value = record_value(reason, tag, seq, fill);
        let record = Record::from_json("r.json", shuffled_text(&value, &order).as_bytes()).unwrap();
        prop_assert_eq!(record_id(&record).unwrap(), sha256_id(&jcs(&value).unwrap()));
        let mut unsigned = value.clone();
        unsigned.as_object_mut().unwrap().remove("signatures");
        prop_assert_eq!(record_message(&record).unwrap(), jcs(&unsigned).unwrap());
        prop_assert_eq!(message_and_id(&record).unwrap(), (record_message(&record).unwrap(), record_id(&record).unwrap()));
        let again = Record::from_json("r.json", &record.to_pretty_json()).unwrap();
        prop_assert_eq!(record_id(&again).unwrap(), record_id(&record).unwrap());
    }
}

/// verify of the repo's work tree, through the library.
fn verify_work_tree(repo: &TestRepo) -> Report {
    let tree = WorkTree::new(&repo.root);
    verify(&Ledger::load(&tree).unwrap(), None, &VerifyOptions::default(), now()).unwrap()
}

fn now() -> Timestamp {
    Timestamp::parse("2026-11-28T10:00:00Z").unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any single-byte change that changes what a landed record (or its
    /// signature) says makes verify fail.
    #[test]
    fn any_meaningful_single_byte_change_to_a_landed_record_fails_verify(
        file in 1u64..=3,
        offset in any::<prop::sample::Index>(),
        byte in any::<u8>(),
    ) {
        let repo = TestRepo::with_landed_records();
        let path = format!("promotions/apps/api/{file:08}.json");
        let mut bytes = std::fs::read(repo.root.join(&path)).unwrap();
        let at = offset.index(bytes.len());
        prop_assume!(bytes[at] != byte);
        let before: Value = serde_json::from_slice(&bytes).unwrap();
        bytes[at] = byte;
        // Whitespace between tokens is not part of the record.
        prop_assume!(serde_json::from_slice::<Value>(&bytes).ok() != Some(before));
        std::fs::write(repo.root.join(&path), &bytes).unwrap();
        let report = verify_work_tree(&repo);
        prop_assert!(!report.holds(), "byte {} of {} set to {:#04x} went unnoticed", at, path, byte);
    }

    /// Any sequence of valid appends keeps verify green.
    #[test]
    fn appending_valid_records_keeps_verify_green(steps in proptest::collection::vec((0u8..4, 1i64..600), 1..6)) {
        let repo = TestRepo::with_signed_policy();
        let mut minute = 0i64;
        let fills = ['a', 'b', 'c', 'd'];
        let mut ran: Vec<char> = Vec::new();
        for (seq, (pick, gap)) in steps.into_iter().enumerate() {
            minute += gap;
            let at = Timestamp::from_unix(Timestamp::parse("2026-11-20T00:00:00Z").unwrap().unix() + minute * 60).unwrap().to_string();
            let fill = fills[usize::from(pick)];
            // A rollback when the digest already ran in dev, else a promotion.
            let forged = Forged { rollback: ran.contains(&fill) && ran.last() != Some(&fill), ..Forged::new(seq as u64 + 1, "dev", fill, &at, &["ci"]) };
            repo.forge(forged);
            ran.push(fill);
            repo.project();
            let report = verify_work_tree(&repo);
            prop_assert!(report.holds(), "{:?}", report.violations);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Projecting twice changes nothing.
    #[test]
    fn projection_is_idempotent(
        crlf in any::<bool>(),
        tag in proptest::option::of("[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}"),
        fill in any::<u8>(),
        with_worker in any::<bool>(),
    ) {
        use gitops_ledger::project::overlay::{apply, WantedImage};
        let text = "# overlay\nimages:\n  - name: ghcr.io/o/api   # the api\n    newTag: \"0.9\"\n  - {name: other, newTag: x}\nresources: [../../base]\n";
        let text = if crlf { text.replace('\n', "\r\n") } else { text.to_string() };
        let mut wanted = std::collections::BTreeMap::new();
        wanted.insert("ghcr.io/o/api".to_string(), WantedImage { digest: format!("sha256:{}", format!("{fill:02x}").repeat(32)), tag: tag.clone() });
        if with_worker {
            wanted.insert("ghcr.io/o/worker".to_string(), WantedImage { digest: format!("sha256:{}", "e".repeat(64)), tag });
        }
        let once = apply(&text, &wanted).unwrap();
        prop_assert_eq!(apply(&once, &wanted).unwrap(), once);
    }
}

// ---------------------------------------------------------------------------
// The effective-time fold against a straightforward replay of the rules
// (DESIGN.md, "Approvals as records" and "Projection").

/// Hours are counted from here; the tests' "now" is 202 hours later.
const HISTORY_START: &str = "2026-11-20T00:00:00Z";
const LAST_HOUR: i64 = 202;
const HUMANS: [&str; 3] = ["alice", "bob", "carol"];
const ALPHABET: [char; 4] = ['a', 'b', 'c', 'd'];

/// What one generated record is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum StepKind {
    Promote,
    Rollback,
    /// An approval of the record with this seq.
    Approval(usize),
}

/// One record of the generated history of app `api`; its seq is its index + 1.
#[derive(Clone, Debug)]
struct Step {
    env: &'static str,
    kind: StepKind,
    fill: char,
    hour: i64,
    signers: Vec<&'static str>,
}

/// An absolute freeze window of production, in hours.
#[derive(Clone, Copy, Debug)]
struct FreezeWindow {
    start: i64,
    end: i64,
    allow_rollback: bool,
}

fn hour_stamp(hour: i64) -> String {
    Timestamp::parse(HISTORY_START).unwrap().plus_seconds(hour * 3600).to_string()
}

/// What became of a promote or rollback in the model.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Fate {
    Waiting(std::collections::BTreeSet<&'static str>),
    Effective,
    Superseded,
    /// An approval record: no fate of its own.
    NotAPromotion,
}

/// The rules of the default test policy, replayed by hand: dev (ci, 1),
/// staging from dev (1), production from staging (2 of alice/bob/carol,
/// 24h soak), plus an optional production freeze.
#[derive(Clone, Debug, Default)]
struct Model {
    freeze: Option<FreezeWindow>,
    steps: Vec<Step>,
    fates: Vec<Fate>,
    /// env → (seq, effective hour, digest fill) of the record that last took effect there.
    running: std::collections::BTreeMap<&'static str, (usize, i64, char)>,
    /// (env, digest fill) → the hour the digest first took effect there.
    entered: std::collections::BTreeMap<(&'static str, char), i64>,
}

impl Model {
    fn new(freeze: Option<FreezeWindow>) -> Self {
        Model { freeze, ..Model::default() }
    }

    fn threshold(env: &str) -> usize {
        if env == "production" {
            2
        } else {
            1
        }
    }

    fn frozen(&self, env: &str, kind: StepKind, hour: i64) -> bool {
        env == "production"
            && self
                .freeze
                .is_some_and(|w| w.start <= hour && hour < w.end && !(kind == StepKind::Rollback && w.allow_rollback))
    }

    /// Whether a promote or rollback's rules (provenance, soak, rollback,
    /// freeze) hold at `hour`, against what has taken effect so far.
    fn rules_hold(&self, step: &Step, hour: i64) -> bool {
        if self.frozen(step.env, step.kind, hour) {
            return false;
        }
        match (step.kind, step.env) {
            (StepKind::Rollback, env) => self.entered.contains_key(&(env, step.fill)),
            (_, "staging") => self.entered.contains_key(&("dev", step.fill)),
            (_, "production") => self.entered.get(&("staging", step.fill)).is_some_and(|&e| hour - e >= 24),
            _ => true,
        }
    }

    fn take_effect(&mut self, seq: usize, hour: i64) {
        let step = self.steps[seq - 1].clone();
        self.running.insert(step.env, (seq, hour, step.fill));
        self.entered.entry((step.env, step.fill)).or_insert(hour);
        self.fates[seq - 1] = Fate::Effective;
        for (other, fate) in self.fates.iter_mut().enumerate() {
            if matches!(fate, Fate::Waiting(_)) && self.steps[other].env == step.env {
                *fate = Fate::Superseded;
            }
        }
    }

    fn push(&mut self, step: Step) {
        let seq = self.steps.len() + 1;
        let hour = step.hour;
        let signers: std::collections::BTreeSet<&'static str> = step.signers.iter().copied().collect();
        self.steps.push(step.clone());
        match step.kind {
            StepKind::Promote | StepKind::Rollback => {
                if signers.len() >= Model::threshold(step.env) {
                    self.fates.push(Fate::Effective);
                    self.take_effect(seq, hour);
                } else {
                    self.fates.push(Fate::Waiting(signers));
                }
            }
            StepKind::Approval(of) => {
                self.fates.push(Fate::NotAPromotion);
                let target = self.steps[of - 1].clone();
                let Fate::Waiting(so_far) = &mut self.fates[of - 1] else { return };
                so_far.extend(signers);
                if so_far.len() < Model::threshold(target.env) {
                    return;
                }
                if self.rules_hold(&target, hour) {
                    self.take_effect(of, hour);
                } else {
                    self.fates[of - 1] = Fate::Superseded;
                }
            }
        }
    }

    /// Digests whose rules let a new promote (or rollback) of `env` land at `hour`.
    fn admissible(&self, env: &'static str, kind: StepKind, hour: i64) -> Vec<char> {
        ALPHABET
            .into_iter()
            .filter(|&fill| {
                let step = Step { env, kind, fill, hour, signers: Vec::new() };
                self.rules_hold(&step, hour)
            })
            .collect()
    }

    /// The `apps.api` entry of versions.json this history projects to.
    fn versions(&self, ids: &[String]) -> Value {
        let mut out = serde_json::Map::new();
        for (env, &(seq, hour, fill)) in &self.running {
            out.insert(
                env.to_string(),
                json!({
                    "seq": seq,
                    "id": ids[seq - 1],
                    "at": hour_stamp(hour),
                    "images": {"ghcr.io/o/api": crate::common::digest(fill)},
                }),
            );
        }
        Value::Object(out)
    }

    /// The `apps.api` entry of `status --at` (seq, id, set_at, digest and
    /// the record that set it), as the model replays it.
    fn status(&self, ids: &[String]) -> Value {
        let mut out = serde_json::Map::new();
        for (env, &(seq, hour, fill)) in &self.running {
            out.insert(
                env.to_string(),
                json!({
                    "seq": seq,
                    "id": ids[seq - 1],
                    "set_at": hour_stamp(hour),
                    "images": {"ghcr.io/o/api": {"digest": crate::common::digest(fill), "seq": seq}},
                }),
            );
        }
        Value::Object(out)
    }
}

/// One (two times in three) or two of alice, bob and carol, as `b` picks.
fn humans(b: u8) -> Vec<&'static str> {
    let first = usize::from(b / 3 % 3);
    if !b.is_multiple_of(3) {
        vec![HUMANS[first]]
    } else {
        vec![HUMANS[first], HUMANS[(first + 1 + usize::from(b / 9 % 2)) % 3]]
    }
}

/// An approval at `hour` by `humans(b)`: mostly of a record still waiting,
/// else of any staging or production record (complete or superseded too).
fn approval(model: &Model, a: u8, b: u8, hour: i64) -> Option<Step> {
    let waiting: Vec<usize> =
        (1..=model.steps.len()).filter(|&seq| matches!(model.fates[seq - 1], Fate::Waiting(_))).collect();
    let any: Vec<usize> = (1..=model.steps.len())
        .filter(|&seq| {
            let target = &model.steps[seq - 1];
            target.env != "dev" && !matches!(target.kind, StepKind::Approval(_))
        })
        .collect();
    let targets = if !a.is_multiple_of(4) && !waiting.is_empty() { waiting } else { any };
    let &of = targets.get(usize::from(a) % targets.len().max(1))?;
    let target = &model.steps[of - 1];
    Some(Step { env: target.env, kind: StepKind::Approval(of), fill: target.fill, hour, signers: humans(b) })
}

/// Turns raw choices into a history the real tool could have written (each
/// promote or rollback admissible at its own time), replaying it into a model.
/// Approvals may name complete or superseded records, or repeat a signer.
fn history(ops: &[(u8, u8, u8, u8)], freeze: Option<FreezeWindow>) -> Model {
    let mut model = Model::new(freeze);
    // Digest a runs in dev and staging from the start, so production can
    // take it from the second day on.
    for (env, signer) in [("dev", "ci"), ("staging", "alice")] {
        model.push(Step { env, kind: StepKind::Promote, fill: 'a', hour: 0, signers: vec![signer] });
    }
    let mut hour = 24;
    for (i, &(op, a, b, gap)) in ops.iter().enumerate() {
        if i > 0 {
            hour += i64::from(gap % 10);
        }
        if hour > LAST_HOUR {
            break;
        }
        let admissible = |env, kind, signers: Vec<&'static str>| {
            let fills = model.admissible(env, kind, hour);
            let fill = *fills.get(usize::from(a) % fills.len().max(1))?;
            Some(Step { env, kind, fill, hour, signers })
        };
        let step = match op % 8 {
            0 => None,
            1 => admissible("staging", StepKind::Promote, vec![HUMANS[usize::from(b % 3)]]),
            // While production is frozen (or nothing has soaked), people approve instead.
            2 | 3 => admissible("production", StepKind::Promote, humans(b)).or_else(|| approval(&model, a, b, hour)),
            7 => admissible("production", StepKind::Rollback, humans(b)).or_else(|| approval(&model, a, b, hour)),
            _ => approval(&model, a, b, hour),
        };
        // Whatever cannot be made (and op 0) is a build promoted to dev.
        let step = step.unwrap_or(Step {
            env: "dev",
            kind: StepKind::Promote,
            fill: ALPHABET[usize::from(a) % ALPHABET.len()],
            hour,
            signers: vec!["ci"],
        });
        model.push(step);
    }
    model
}

/// Writes the model's records into `repo`, returning their ids.
fn forge_history(repo: &TestRepo, steps: &[Step]) -> Vec<String> {
    let mut ids = Vec::new();
    for (i, step) in steps.iter().enumerate() {
        let seq = i as u64 + 1;
        let at = hour_stamp(step.hour);
        let forged = match step.kind {
            StepKind::Approval(of) => Forged::approval(seq, of as u64, step.env, step.fill, &at, &step.signers),
            kind => Forged {
                rollback: kind == StepKind::Rollback,
                ..Forged::new(seq, step.env, step.fill, &at, &step.signers)
            },
        };
        let path = repo.forge(forged);
        ids.push(crate::common::independent_id(&repo.read_json(&path)));
    }
    ids
}

fn show(steps: &[Step]) -> String {
    steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let kind = match s.kind {
                StepKind::Promote => "promote".to_string(),
                StepKind::Rollback => "rollback".to_string(),
                StepKind::Approval(of) => format!("approval of @{of}"),
            };
            format!("\n  @{} {} {} {} {} by {:?}", i + 1, hour_stamp(s.hour), s.env, kind, s.fill, s.signers)
        })
        .collect()
}

/// Raw choices for [`history`], and a production freeze window
/// (start hour, length in hours, whether it allows rollbacks).
#[allow(clippy::type_complexity)]
fn histories() -> impl Strategy<Value = (Vec<(u8, u8, u8, u8)>, Option<(i64, i64, bool)>)> {
    (
        proptest::collection::vec((0u8..8, any::<u8>(), any::<u8>(), any::<u8>()), 4..24),
        proptest::option::weighted(0.7, (28i64..90, 12i64..72, any::<bool>())),
    )
}

fn freeze_window(freeze: Option<(i64, i64, bool)>) -> Option<FreezeWindow> {
    freeze.map(|(start, length, allow_rollback)| FreezeWindow { start, end: start + length, allow_rollback })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// On random histories of promotions, pending production promotions and
    /// approvals (of waiting, complete and superseded records, by new or
    /// repeated signers, inside or outside a production freeze), versions.json
    /// and `status --at` equal a straightforward replay of the rules.
    #[test]
    fn the_effective_time_fold_equals_a_replay_of_the_rules(
        (ops, freeze) in histories(),
        moments in proptest::collection::vec((any::<prop::sample::Index>(), any::<bool>(), 0i64..=LAST_HOUR), 2),
    ) {
        let freeze = freeze_window(freeze);
        let model = history(&ops, freeze);
        let repo = TestRepo::new();
        repo.init_policy(|policy| {
            if let Some(w) = freeze {
                policy["environments"][2]["freeze"] = json!([
                    {"start": hour_stamp(w.start), "end": hour_stamp(w.end), "allow_rollback": w.allow_rollback}
                ]);
            }
        });
        let ids = forge_history(&repo, &model.steps);
        repo.project();
        let versions = repo.read_json("versions.json");
        let written = versions["apps"].get("api").cloned().unwrap_or_else(|| json!({}));
        prop_assert_eq!(&written, &model.versions(&ids), "freeze {:?}, history:{}", freeze, show(&model.steps));

        for (record, exact, hour) in moments {
            // At a record's own time (inclusive), or at any hour.
            let moment = if exact { model.steps[record.index(model.steps.len())].hour } else { hour };
            let mut until = Model::new(freeze);
            for step in model.steps.iter().filter(|s| s.hour <= moment) {
                until.push(step.clone());
            }
            let text = repo.ok(&["status", "--at", &hour_stamp(moment), "--format", "json"]);
            let status: Value = serde_json::from_str(&text).unwrap();
            let mut shown = status["apps"].get("api").cloned().unwrap_or_else(|| json!({}));
            for env in shown.as_object_mut().unwrap().values_mut() {
                for image in env["images"].as_object_mut().unwrap().values_mut() {
                    image.as_object_mut().unwrap().remove("evidence");
                }
            }
            prop_assert_eq!(&shown, &until.status(&ids), "status --at {}, freeze {:?}, history:{}", hour_stamp(moment), freeze, show(&model.steps));
        }
    }
}

/// The generator behind the property above reaches every branch of the rules
/// in a few dozen cases, so the property is not vacuous: approvals that
/// complete a record, that complete it inside a freeze (superseding it), of
/// complete and of superseded records, and by a signer who already signed;
/// records superseded by another taking effect first; rollbacks.
#[test]
fn the_fold_property_generates_every_kind_of_outcome() {
    use proptest::strategy::ValueTree;
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for _ in 0..48 {
        let (ops, freeze) = histories().new_tree(&mut runner).unwrap().current();
        let freeze = freeze_window(freeze);
        let mut replay = Model::new(freeze);
        for step in history(&ops, freeze).steps {
            let before = replay.fates.clone();
            replay.push(step.clone());
            let newly_superseded =
                |seq: usize| matches!(before[seq - 1], Fate::Waiting(_)) && replay.fates[seq - 1] == Fate::Superseded;
            let mut kinds = Vec::new();
            match step.kind {
                StepKind::Approval(of) => match &before[of - 1] {
                    Fate::Waiting(signed) => {
                        if step.signers.iter().any(|s| signed.contains(s)) {
                            kinds.push("approval by a signer who signed already");
                        }
                        kinds.push(match &replay.fates[of - 1] {
                            Fate::Effective => "approval completing a record",
                            Fate::Superseded => "approval completing a record inside a freeze",
                            _ => "approval leaving a record waiting",
                        });
                    }
                    Fate::Effective => kinds.push("approval of a complete record"),
                    _ => kinds.push("approval of a superseded record"),
                },
                StepKind::Rollback => kinds.push("rollback"),
                StepKind::Promote => {}
            }
            if (1..=before.len()).any(|seq| newly_superseded(seq) && step.kind != StepKind::Approval(seq)) {
                kinds.push("record superseded by another taking effect");
            }
            for kind in kinds {
                *seen.entry(kind).or_default() += 1;
            }
        }
    }
    for kind in [
        "approval by a signer who signed already",
        "approval completing a record",
        "approval completing a record inside a freeze",
        "approval leaving a record waiting",
        "approval of a complete record",
        "approval of a superseded record",
        "rollback",
        "record superseded by another taking effect",
    ] {
        assert!(seen.get(kind).is_some_and(|&n| n > 0), "no {kind} in 48 generated histories: {seen:?}");
    }
}

/// Random histories of three apps interleaved in time (shared seconds,
/// promotions co-signed or waiting, approvals of any earlier production
/// record, evidence, rollbacks), forged as (app, kind, fill, hours later).
fn forge_apps(repo: &TestRepo, ops: &[(usize, u8, u8, i64)]) {
    const APPS: [&str; 3] = ["api", "ops", "web"];
    let mut hour = 0;
    // Per app: the seq and fill of its production promotions and rollbacks.
    let mut production: [Vec<(u64, char)>; 3] = Default::default();
    let mut seqs = [0u64; 3];
    for &(app, kind, fill, later) in ops {
        hour += later;
        let at = hour_stamp(hour);
        seqs[app] += 1;
        let seq = seqs[app];
        let fill = char::from(b'a' + fill);
        let forged = match kind {
            0 => Forged::new(seq, "dev", fill, &at, &["ci"]),
            1 => Forged::new(seq, "production", fill, &at, &["alice"]),
            2 => Forged::new(seq, "production", fill, &at, &["alice", "bob"]),
            3 => Forged { rollback: true, ..Forged::new(seq, "production", fill, &at, &["alice"]) },
            4 => Forged { evidence: Some(("smoke-test", fill != 'a')), ..Forged::new(seq, "dev", fill, &at, &["ci"]) },
            _ => match production[app].get(fill as usize % production[app].len().max(1)) {
                Some((of, of_fill)) => Forged::approval(seq, *of, "production", *of_fill, &at, &["carol"]),
                None => Forged::new(seq, "dev", fill, &at, &["ci"]),
            },
        };
        if forged.env == "production" && forged.approves.is_none() {
            production[app].push((seq, forged.fill));
        }
        repo.forge(Forged { app: APPS[app], ..forged });
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    /// `log` and `replay` merge the chains read one record at a time; the
    /// merge is the sort of everything, and `log`'s fates are the full fold's.
    #[test]
    fn the_streaming_merge_is_the_sort_of_everything(
        ops in proptest::collection::vec((0usize..3, 0u8..7, 0u8..3, 0i64..2), 1..24),
    ) {
        use gitops_ledger::history::{in_time_order, Merged, Order};
        let repo = TestRepo::with_signed_policy();
        forge_apps(&repo, &ops);
        let tree = WorkTree::new(&repo.root);
        let ledger = Ledger::load(&tree).unwrap();
        let mut merged = Merged::new(&ledger, None, Order::NewestFirst).unwrap();
        let mut streamed = Vec::new();
        while let Some(merge) = merged.next() {
            let merge = merge.unwrap();
            let fate = merged.fate(&merge).unwrap();
            let file = &merge.file;
            streamed.push(json!({"path": file.path, "id": file.id, "record": file.record, "fate": fate}));
        }
        prop_assert_eq!(streamed, crate::history::full_fold_log(&repo.root));
        let chains = ledger.chains(None).unwrap();
        let sorted: Vec<&str> = in_time_order(&chains).iter().map(|r| r.path.as_str()).collect();
        let oldest: Vec<String> =
            Merged::new(&ledger, None, Order::OldestFirst).unwrap().map(|m| m.unwrap().file.path).collect();
        prop_assert_eq!(oldest, sorted);
    }
}
