//! One app's hash chain and what it folds to: per environment, which digest
//! entered it when, and the image state it runs, with every promotion taking
//! effect at its effective time (when its thresholds were met). The single home of the fold
//! and of "pending": verify, project, status, history, audit and every
//! writing command ask these functions, so they cannot disagree.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::clock::Timestamp;
use crate::ledger::RecordFile;
use crate::project::AppState;

impl AppState {
    /// An app's fold, settled, as the projector takes it.
    pub fn of(app: &Name, history: AppHistory) -> AppState {
        AppState { app: app.clone(), history: history.settled() }
    }
}
use crate::record::{Digest, EvidenceResult, ImageName, Kind, Name, Record, RecordId, Tag};
use crate::rules::{effect_violations, missing_approvals, MissingApproval, Policies, Rule, Violation};

/// One app's records in sequence order, as read from one tree, and the files
/// in its directory that are not well-formed records.
#[derive(Clone, Debug)]
pub struct Chain {
    pub app: Name,
    pub records: Vec<RecordFile>,
    pub problems: Vec<Violation>,
}

impl Chain {
    /// Every record folded: promotions take effect when their thresholds are
    /// met, at the time of the record that met them.
    pub fn fold(&self, policies: Policies) -> AppHistory {
        self.fold_until(policies, None)
    }

    /// The fold of the records up to `until` (inclusive), as of that moment.
    pub fn fold_until(&self, policies: Policies, until: Option<Timestamp>) -> AppHistory {
        AppHistory::of(self.records.iter().take_while(|f| until.is_none_or(|u| f.record.at <= u)), policies)
    }

    /// The fold under the app's name, as the projector takes it.
    pub fn fold_for_projection(&self, policies: Policies) -> AppState {
        AppState::of(&self.app, self.fold(policies))
    }

    /// The newest record, if any.
    pub fn last(&self) -> Option<&RecordFile> {
        self.records.last()
    }
}

/// A promote or rollback waiting for approvals: it deploys nothing, blocks
/// nothing, and takes effect when approval records complete its thresholds.
#[derive(Clone, Debug)]
pub struct PendingRecord<'a> {
    pub file: &'a RecordFile,
    /// Who signed it so far: its own signers, then its approvers.
    pub signers: &'a BTreeSet<Name>,
    pub missing: Vec<MissingApproval<'a>>,
}

/// What became of a promote or rollback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Took effect at `at`: its own time, or that of the record that completed it.
    Effective {
        at: Timestamp,
    },
    Waiting,
    /// Can never take effect, and why.
    Superseded {
        why: String,
    },
}

/// What became of a record, where its own time does not say it: a
/// promotion that waits, was superseded or took effect later, or the
/// record an approval approves.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Fate {
    Pending,
    Superseded { why: String },
    TookEffect { at: Timestamp },
    Approves { record: String },
}

impl AppHistory {
    /// What became of `file`, a record of this fold, where its own time does
    /// not say it; None for a record that took effect at its own time, or
    /// evidence.
    pub fn fate(&self, file: &RecordFile) -> Option<Fate> {
        let record = &file.record;
        if let Some(id) = &record.approves {
            let (seq, _) = self.outcome(id)?;
            return Some(Fate::Approves { record: format!("{}@{seq}", record.app) });
        }
        match self.outcome(&file.id)? {
            (_, Outcome::Waiting) => Some(Fate::Pending),
            (_, Outcome::Superseded { why }) => Some(Fate::Superseded { why: why.clone() }),
            (_, Outcome::Effective { at }) if *at != record.at => Some(Fate::TookEffect { at: *at }),
            (_, Outcome::Effective { .. }) => None,
        }
    }
}

impl AppHistory {
    /// Whether [`AppHistory::fate`] needs the fold to tell `record`'s fate.
    /// When it does not, the fate is None: evidence, an approval that names
    /// nothing, and a promote or rollback its own signers complete, which
    /// takes effect at its own time whatever comes later. Everything else
    /// depends on the records after it (an approval naming it, another
    /// record of its environment taking effect first) and, when an approval
    /// completes it, on the whole fold before (its rules are checked again
    /// then), so a streaming reader folds the chain for those alone.
    pub fn fate_needs_fold(record: &Record, policies: Policies) -> bool {
        record.approves.is_some()
            || (matches!(record.kind, Kind::Promote | Kind::Rollback) && !complete(record, named(record), policies))
    }
}

impl std::fmt::Display for Fate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Fate::Pending => f.write_str("pending approval"),
            Fate::Superseded { why } => write!(f, "superseded: {why}"),
            Fate::TookEffect { at } => write!(f, "took effect {at}"),
            Fate::Approves { record } => write!(f, "approves {record}"),
        }
    }
}

/// The promote or rollback that took effect with a record (itself, or the
/// record an approval completed), and when.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    pub seq: u64,
    pub at: Timestamp,
}

/// What adding one record to the fold did.
#[derive(Debug, Default)]
pub struct Pushed {
    pub effect: Option<Effect>,
    /// Why an approval record cannot do what it says: rule `approval`, or a
    /// rule of the approved record failing at the time it would take effect.
    pub findings: Vec<Violation>,
}

/// A promote or rollback that has not taken effect.
#[derive(Clone, Debug)]
struct Waiting {
    file: RecordFile,
    signers: BTreeSet<Name>,
}

/// The signers a record names.
fn named(record: &Record) -> impl Iterator<Item = &Name> + Clone {
    record.signatures.iter().map(|s| &s.signer)
}

/// Whether `signers` meet every threshold `record` has under its policy.
/// Evidence counts when an evidence signer signed it.
fn complete<'s>(record: &Record, signers: impl IntoIterator<Item = &'s Name> + Clone, policies: Policies) -> bool {
    policies.get(record.policy).is_some_and(|policy| missing_approvals(record, &policy.policy, signers).is_empty())
}

/// What a successor needs to know about the record before it.
#[derive(Clone, Debug)]
pub struct ChainLink {
    pub seq: u64,
    pub id: RecordId,
    pub at: Timestamp,
    pub policy: u64,
}

/// The image an environment runs and the record that set it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImageState {
    pub digest: Digest,
    pub tag: Option<Tag>,
    pub seq: u64,
}

#[derive(Clone, Debug, Default)]
pub struct EnvHistory {
    /// When each digest first entered this environment (promote or rollback).
    entered: HashMap<Digest, Timestamp>,
    /// Image name → what runs now: each record sets the images it names, the
    /// others keep theirs.
    state: BTreeMap<ImageName, ImageState>,
    /// The newest promote or rollback record of this environment.
    newest: Option<ChainLink>,
    /// The newest evidence of each type for each digest, as (at, result).
    evidence: BTreeMap<(Digest, Name), (Timestamp, EvidenceResult)>,
}

impl EnvHistory {
    pub fn state(&self) -> &BTreeMap<ImageName, ImageState> {
        &self.state
    }

    pub fn newest(&self) -> Option<&ChainLink> {
        self.newest.as_ref()
    }

    /// The newest evidence of `kind` for `digest` here.
    pub fn latest_evidence(&self, digest: &Digest, kind: &Name) -> Option<(Timestamp, EvidenceResult)> {
        self.evidence.get(&(digest.clone(), kind.clone())).copied()
    }

    /// Every evidence type recorded for `digest` here, newest result of each.
    pub fn evidence_for<'a>(
        &'a self,
        digest: &'a Digest,
    ) -> impl Iterator<Item = (&'a Name, Timestamp, EvidenceResult)> + 'a {
        self.evidence
            .iter()
            .filter(move |((d, _), _)| d == digest)
            .map(|((_, kind), (at, result))| (kind, *at, *result))
    }
}

/// The fold of an app's records, in chain order.
#[derive(Clone, Debug, Default)]
pub struct AppHistory {
    last: Option<ChainLink>,
    envs: HashMap<Name, EnvHistory>,
    /// What became of each promote and rollback, by id.
    outcomes: HashMap<RecordId, (u64, Outcome)>,
    /// Promotes and rollbacks waiting for approvals, by seq.
    waiting: BTreeMap<u64, Waiting>,
}

impl AppHistory {
    pub fn last(&self) -> Option<&ChainLink> {
        self.last.as_ref()
    }

    pub fn env(&self, env: &Name) -> Option<&EnvHistory> {
        self.envs.get(env)
    }

    pub fn envs(&self) -> impl Iterator<Item = (&Name, &EnvHistory)> {
        self.envs.iter()
    }

    /// When `digest` first entered `env` (took effect there), if it ever did.
    pub fn entered(&self, env: &Name, digest: &Digest) -> Option<Timestamp> {
        self.envs.get(env).and_then(|e| e.entered.get(digest).copied())
    }

    /// The seq of the promote or rollback with this id, and what became of it.
    pub fn outcome(&self, id: &RecordId) -> Option<(u64, &Outcome)> {
        self.outcomes.get(id).map(|(seq, outcome)| (*seq, outcome))
    }

    /// The record an approval approves, while it waits.
    pub fn waiting_for(&self, approval: &Record) -> Option<&Record> {
        let (seq, _) = self.outcomes.get(approval.approves.as_ref()?)?;
        self.waiting.get(seq).map(|w| &w.file.record)
    }

    /// Every record still waiting for approvals, in chain order, with who is missing.
    pub fn pending<'a>(&'a self, policies: Policies<'a>) -> Vec<PendingRecord<'a>> {
        self.waiting
            .values()
            .map(|w| PendingRecord {
                file: &w.file,
                signers: &w.signers,
                missing: policies
                    .get(w.file.record.policy)
                    .map(|p| missing_approvals(&w.file.record, &p.policy, &w.signers))
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// What is left once the chain is folded to its end: the environments'
    /// state, without what later records would look up (what became of
    /// each record, when each digest entered, evidence). Verify and project
    /// keep one per app until the projection is compared, so this keeps their
    /// memory to the state alone: the digests alone came to about 120 bytes a
    /// record.
    fn settled(mut self) -> Self {
        self.outcomes = HashMap::new();
        self.waiting = BTreeMap::new();
        for env in self.envs.values_mut() {
            env.entered = HashMap::new();
            env.evidence = BTreeMap::new();
        }
        self
    }

    /// The fold of `records`, in chain order.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a RecordFile>, policies: Policies) -> AppHistory {
        let mut history = AppHistory::default();
        for file in records {
            history.push(file, policies);
        }
        history
    }

    /// Adds `file` as the chain's newest record. It always extends the chain.
    /// A promote or rollback whose own signers meet its thresholds takes
    /// effect at once; otherwise it waits. An approval adds its signers to the
    /// record it approves, which takes effect at the approval's time if that
    /// completes it and its rules hold then. Evidence counts when signed by
    /// an evidence signer.
    pub fn push(&mut self, file: &RecordFile, policies: Policies) -> Pushed {
        let record = &file.record;
        let mut pushed = Pushed::default();
        match record.kind {
            Kind::Evidence => {
                if complete(record, named(record), policies) {
                    self.attest(record);
                }
            }
            Kind::Promote | Kind::Rollback => {
                if complete(record, named(record), policies) {
                    pushed.effect = Some(self.take_effect(file, record.at));
                } else {
                    self.outcomes.insert(file.id.clone(), (record.seq, Outcome::Waiting));
                    let signers = named(record).cloned().collect();
                    self.waiting.insert(record.seq, Waiting { file: file.clone(), signers });
                }
            }
            Kind::Approval => pushed = self.approve(file, policies),
        }
        self.last = Some(ChainLink { seq: record.seq, id: file.id.clone(), at: record.at, policy: record.policy });
        pushed
    }

    /// An approval record: its signers join the approved record's; when that
    /// completes it, it takes effect now if its rules hold now.
    fn approve(&mut self, approval: &RecordFile, policies: Policies) -> Pushed {
        let record = &approval.record;
        let finding = |rule: Rule, message: String| Violation::new(&approval.path, Some(record.label()), rule, message);
        let mut pushed = Pushed::default();
        let Some(id) = &record.approves else { return pushed };
        let seq = match self.outcomes.get(id) {
            None => {
                pushed.findings.push(finding(
                    Rule::Approval,
                    format!(
                        "approves {id}, which is no promote or rollback of {} before it; an approval names an earlier record of its own app by id",
                        record.app
                    ),
                ));
                return pushed;
            }
            Some((seq, Outcome::Effective { at })) => {
                pushed.findings.push(finding(
                    Rule::Approval,
                    format!("approves {}@{seq}, which is complete: it took effect at {at}", record.app),
                ));
                return pushed;
            }
            Some((seq, Outcome::Superseded { why })) => {
                pushed.findings.push(finding(
                    Rule::Approval,
                    format!("approves {}@{seq}, which can never take effect: {why}", record.app),
                ));
                return pushed;
            }
            Some((seq, Outcome::Waiting)) => *seq,
        };
        let Some(waiting) = self.waiting.get_mut(&seq) else { return pushed };
        let target = &waiting.file.record;
        if record.env != target.env || record.images != target.images {
            pushed.findings.push(finding(
                Rule::Approval,
                format!(
                    "does not repeat the env and images of {}, which it approves; an approval names exactly what it approves",
                    target.label()
                ),
            ));
            // It approves something else than it says: its signers do not count.
            return pushed;
        }
        for signer in named(record) {
            if !waiting.signers.insert(signer.clone()) {
                pushed.findings.push(finding(
                    Rule::Signature,
                    format!("{signer} already signed {}; a signer counts once", target.label()),
                ));
            }
        }
        if !complete(target, &waiting.signers, policies) {
            return pushed;
        }
        let Some(waiting) = self.waiting.get(&seq) else { return pushed };
        let label = waiting.file.record.label();
        let refused = effect_violations(&waiting.file, record.at, self, policies);
        if refused.is_empty() {
            if let Some(waiting) = self.waiting.remove(&seq) {
                pushed.effect = Some(self.take_effect(&waiting.file, record.at));
            }
        } else {
            for violation in refused {
                pushed.findings.push(finding(
                    violation.rule,
                    format!("would complete {label} at {}, but {}", record.at, violation.message),
                ));
            }
            self.supersede(seq, format!("the approval {} completed it while a rule failed", record.label()));
        }
        pushed
    }

    /// `file`, a promote or rollback, takes effect at `at`; every other
    /// record of its environment still waiting is superseded.
    fn take_effect(&mut self, file: &RecordFile, at: Timestamp) -> Effect {
        let record = &file.record;
        let link = ChainLink { seq: record.seq, id: file.id.clone(), at, policy: record.policy };
        let env = self.envs.entry(record.env.clone()).or_default();
        for image in &record.images {
            env.entered.entry(image.digest.clone()).or_insert(at);
            env.state.insert(
                image.name.clone(),
                ImageState { digest: image.digest.clone(), tag: image.tag.clone(), seq: record.seq },
            );
        }
        env.newest = Some(link);
        self.outcomes.insert(file.id.clone(), (record.seq, Outcome::Effective { at }));
        let superseded: Vec<u64> =
            self.waiting.iter().filter(|(_, w)| w.file.record.env == record.env).map(|(seq, _)| *seq).collect();
        for seq in superseded {
            self.supersede(seq, format!("{} took effect in {} first, at {at}", record.label(), record.env));
        }
        Effect { seq: record.seq, at }
    }

    fn supersede(&mut self, seq: u64, why: String) {
        if let Some(waiting) = self.waiting.remove(&seq) {
            self.outcomes.insert(waiting.file.id, (seq, Outcome::Superseded { why }));
        }
    }

    /// Evidence changes no state: it attests to what runs.
    fn attest(&mut self, record: &Record) {
        let Some(evidence) = &record.evidence else { return };
        let env = self.envs.entry(record.env.clone()).or_default();
        for image in &record.images {
            env.evidence.insert((image.digest.clone(), evidence.kind.clone()), (record.at, evidence.result));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::policy::{policy_path, Environment, Policy, PolicyFile, SignerGroup, POLICY_SCHEMA};
    use crate::record::{record_path, Image, Signature, Upstream, RECORD_SCHEMA};

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn at(hour: u32) -> Timestamp {
        Timestamp::parse(&format!("2026-06-01T{hour:02}:00:00Z")).unwrap()
    }

    /// dev (ci) → production (alice, bob, carol; threshold 2), no soak.
    fn policies() -> Vec<PolicyFile> {
        let env = |env: &str, from: Option<&str>, signers: &[&str], threshold| Environment {
            name: name(env),
            from: from.map(|f| Upstream::One(name(f))),
            from_mode: None,
            signers: signers.iter().map(|s| name(s)).collect(),
            threshold,
            soak: None,
            freeze: None,
            evidence_signers: None,
            requires: None,
        };
        let policy = Policy {
            schema: POLICY_SCHEMA.into(),
            version: 1,
            at: Timestamp::parse("2026-01-01T00:00:00Z").unwrap(),
            expires: None,
            keys: BTreeMap::new(),
            root: SignerGroup { signers: vec![name("alice")], threshold: 1 },
            environments: vec![
                env("dev", None, &["ci"], 1),
                env("production", Some("dev"), &["alice", "bob", "carol"], 2),
            ],
            break_glass: None,
            overlay: crate::policy::Overlay::Null,
            targets: None,
            signatures: Vec::new(),
        };
        vec![PolicyFile::new(policy_path(1), policy).unwrap()]
    }

    /// One record: (kind, env, digest fill, hour, signers, approved seq).
    type Step<'a> = (Kind, &'a str, char, u32, &'a [&'a str], Option<u64>);
    /// What production runs: (digest fill, seq that set it, effective time).
    type Running = Option<(char, u64, Timestamp)>;
    /// (case, records, what production runs, findings, records left pending)
    type Case<'a> = (&'a str, Vec<Step<'a>>, Running, &'a [&'a str], usize);

    fn chain(steps: &[Step]) -> Vec<RecordFile> {
        let mut out: Vec<RecordFile> = Vec::new();
        for (i, (kind, env, fill, hour, signers, approves)) in steps.iter().enumerate() {
            let record = Record {
                schema: RECORD_SCHEMA.into(),
                app: name("api"),
                seq: i as u64 + 1,
                prev: out.last().map(|f| f.id.clone()),
                policy: 1,
                env: name(env),
                from: (*env == "production" && *kind != Kind::Approval).then(|| Upstream::One(name("dev"))),
                kind: *kind,
                approves: approves.map(|seq| out[seq as usize - 1].id.clone()),
                images: vec![Image {
                    name: ImageName::parse("ghcr.io/o/api").unwrap(),
                    digest: Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap(),
                    tag: None,
                }],
                evidence: None,
                override_: None,
                at: at(*hour),
                reason: None,
                signatures: signers.iter().map(|s| Signature { signer: name(s), sig: "AAAA".into() }).collect(),
            };
            out.push(RecordFile::new(record_path(&record.app, record.seq), record).unwrap());
        }
        out
    }

    fn production(history: &AppHistory) -> Running {
        let env = history.env(&name("production"))?;
        let newest = env.newest()?;
        let running = env.state().values().next()?;
        Some((running.digest.as_str().chars().last()?, running.seq, newest.at))
    }

    #[test]
    fn effective_times_supersession_and_approval_findings() {
        use Kind::{Approval, Promote};
        let files = policies();
        let policies = Policies(&files);
        let dev: Step = (Promote, "dev", 'a', 1, &["ci"], None);
        let cases: Vec<Case> = vec![
            (
                "co-signed: takes effect at its own time",
                vec![dev, (Promote, "production", 'a', 2, &["alice", "bob"], None)],
                Some(('a', 2, at(2))),
                &[],
                0,
            ),
            (
                "alone: waits, deploys nothing",
                vec![dev, (Promote, "production", 'a', 2, &["alice"], None)],
                None,
                &[],
                1,
            ),
            (
                "approved later: takes effect at the approval's time",
                vec![
                    dev,
                    (Promote, "production", 'a', 2, &["alice"], None),
                    (Promote, "dev", 'b', 3, &["ci"], None),
                    (Approval, "production", 'a', 4, &["bob"], Some(2)),
                ],
                Some(('a', 2, at(4))),
                &[],
                0,
            ),
            (
                "another record takes effect first: the waiting one is superseded",
                vec![
                    dev,
                    (Promote, "production", 'a', 2, &["alice"], None),
                    (Promote, "production", 'a', 3, &["bob", "carol"], None),
                    (Approval, "production", 'a', 4, &["bob"], Some(2)),
                ],
                Some(('a', 3, at(3))),
                &["approves api@2, which can never take effect: api@3 took effect in production first"],
                0,
            ),
            (
                "approving a complete record changes nothing",
                vec![
                    dev,
                    (Promote, "production", 'a', 2, &["alice", "bob"], None),
                    (Approval, "production", 'a', 3, &["carol"], Some(2)),
                ],
                Some(('a', 2, at(2))),
                &["approves api@2, which is complete: it took effect at 2026-06-01T02:00:00Z"],
                0,
            ),
            (
                "one signer twice counts once",
                vec![
                    dev,
                    (Promote, "production", 'a', 2, &["alice"], None),
                    (Approval, "production", 'a', 3, &["alice"], Some(2)),
                ],
                None,
                &["alice already signed api@2; a signer counts once"],
                1,
            ),
            (
                "an approval of other images does not count",
                vec![
                    dev,
                    (Promote, "production", 'a', 2, &["alice"], None),
                    (Approval, "production", 'b', 3, &["bob"], Some(2)),
                ],
                None,
                &["does not repeat the env and images of api@2"],
                1,
            ),
            (
                "an approval of an evidence-free dev record that is complete",
                vec![dev, (Approval, "dev", 'a', 2, &["ci"], Some(1))],
                None,
                &["approves api@1, which is complete"],
                0,
            ),
        ];
        for (case, steps, expected, findings, pending) in cases {
            let records = chain(&steps);
            let mut history = AppHistory::default();
            let mut found = Vec::new();
            for file in &records {
                found.extend(history.push(file, policies).findings);
            }
            assert_eq!(production(&history), expected, "{case}");
            assert_eq!(found.len(), findings.len(), "{case}: {found:?}");
            for (violation, needle) in found.iter().zip(findings) {
                assert!(violation.message.contains(needle), "{case}: {} lacks {needle:?}", violation.message);
            }
            assert_eq!(history.pending(policies).len(), pending, "{case}");
            for file in &records {
                if !AppHistory::fate_needs_fold(&file.record, policies) {
                    assert_eq!(history.fate(file), None, "{case}: {} needs no fold", file.record.label());
                }
            }
        }
    }
}
