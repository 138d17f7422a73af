//! One app's hash chain and what it folds to: per environment, which digest
//! entered it when, and the image state it runs.

use std::collections::{BTreeMap, HashMap};

use crate::clock::Timestamp;
use crate::record::{Digest, EvidenceResult, ImageName, Kind, Name, Record, RecordId, Tag};

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

    /// Adds `record` (with id `id`) as the chain's newest record.
    pub fn apply(&mut self, record: &Record, id: &RecordId) {
        let link = ChainLink { seq: record.seq, id: id.clone(), at: record.at, policy: record.policy };
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
                env.newest = Some(link.clone());
            }
        }
        self.last = Some(link);
    }
}
