//! One app's hash chain and what it folds to: per environment, which digest
//! entered it when, and the image state it runs. The single home of the fold
//! and of "pending": verify, project, status, history, audit and every
//! writing command ask these functions, so they cannot disagree.

use std::collections::{BTreeMap, HashMap};

use crate::clock::Timestamp;
use crate::ledger::RecordFile;
use crate::project::AppState;
use crate::record::{Digest, EvidenceResult, ImageName, Kind, Name, Record, RecordId, Tag};
use crate::rules::{missing_approvals, MissingApproval, Policies, Violation};

/// One app's records in sequence order, as read from one tree, and the files
/// in its directory that are not well-formed records.
#[derive(Clone, Debug)]
pub struct Chain {
    pub app: Name,
    pub records: Vec<RecordFile>,
    pub problems: Vec<Violation>,
}

/// A promote or rollback below a threshold: it deploys nothing until approved.
#[derive(Clone, Debug)]
pub struct PendingRecord<'a> {
    pub file: &'a RecordFile,
    pub missing: Vec<MissingApproval<'a>>,
}

impl Chain {
    /// The records that are pending, in chain order.
    pub fn pending<'a>(&'a self, policies: Policies<'a>) -> Vec<PendingRecord<'a>> {
        self.records
            .iter()
            .filter_map(|file| pending(file, policies).map(|missing| PendingRecord { file, missing }))
            .collect()
    }

    /// Every record folded, pending ones deploying nothing.
    pub fn fold(&self, policies: Policies) -> AppHistory {
        self.fold_until(policies, None)
    }

    /// The fold of the records up to `until` (inclusive), as of that moment.
    pub fn fold_until(&self, policies: Policies, until: Option<Timestamp>) -> AppHistory {
        AppHistory::of(self.records.iter().take_while(|f| until.is_none_or(|u| f.record.at <= u)), policies)
    }

    /// The fold under the app's name, as the projector takes it.
    pub fn fold_for_projection(&self, policies: Policies) -> AppState {
        AppState { app: self.app.clone(), history: self.fold(policies) }
    }

    /// The newest record, if any.
    pub fn last(&self) -> Option<&RecordFile> {
        self.records.last()
    }
}

/// What `file` still needs before it takes effect; None when it needs
/// nothing (or is evidence, which deploys nothing and cannot be approved: an
/// evidence signer outside the policy is a signature violation).
pub fn pending<'p>(file: &RecordFile, policies: Policies<'p>) -> Option<Vec<MissingApproval<'p>>> {
    if file.record.kind == Kind::Evidence {
        return None;
    }
    let policy = policies.get(file.record.policy)?;
    let missing = missing_approvals(&file.record, &policy.policy);
    (!missing.is_empty()).then_some(missing)
}

/// Whether a record counts in the fold: it meets every threshold of its
/// policy (evidence: is signed by an evidence signer).
fn takes_effect(file: &RecordFile, policies: Policies) -> bool {
    policies.get(file.record.policy).is_some_and(|policy| missing_approvals(&file.record, &policy.policy).is_empty())
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

    /// When `digest` first entered `env`, if it ever did.
    pub fn entered(&self, env: &Name, digest: &Digest) -> Option<Timestamp> {
        self.envs.get(env).and_then(|e| e.entered.get(digest).copied())
    }

    /// The fold of `records`, in chain order.
    pub fn of<'a>(records: impl IntoIterator<Item = &'a RecordFile>, policies: Policies) -> AppHistory {
        let mut history = AppHistory::default();
        for file in records {
            history.push(file, policies);
        }
        history
    }

    /// Adds `file` as the chain's newest record: it always extends the chain,
    /// and changes state only when it takes effect.
    pub fn push(&mut self, file: &RecordFile, policies: Policies) {
        let link =
            ChainLink { seq: file.record.seq, id: file.id.clone(), at: file.record.at, policy: file.record.policy };
        if takes_effect(file, policies) {
            self.apply(&file.record, link.clone());
        }
        self.last = Some(link);
    }

    fn apply(&mut self, record: &Record, link: ChainLink) {
        let env = self.envs.entry(record.env.clone()).or_default();
        match (&record.kind, &record.evidence) {
            (Kind::Evidence, Some(evidence)) => {
                // Evidence changes no state: it attests to what runs.
                for image in &record.images {
                    env.evidence.insert((image.digest.clone(), evidence.kind.clone()), (record.at, evidence.result));
                }
            }
            _ => {
                for image in &record.images {
                    env.entered.entry(image.digest.clone()).or_insert(record.at);
                    env.state.insert(
                        image.name.clone(),
                        ImageState { digest: image.digest.clone(), tag: image.tag.clone(), seq: record.seq },
                    );
                }
                env.newest = Some(link);
            }
        }
    }
}
