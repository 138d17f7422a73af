//! What each environment runs at a moment, with the record that set each
//! image and the evidence recorded for each running digest: the question an
//! auditor (or an on-call engineer at 2 AM) asks first.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chain::{AppHistory, Chain};
use crate::clock::Timestamp;
use crate::ledger::Ledger;
use crate::record::{EvidenceResult, Name};
use crate::store::StoreError;
use crate::verify::PendingNote;

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub at: Timestamp,
    /// Environment names in the newest policy's order (dev before production).
    pub environments: Vec<String>,
    pub apps: BTreeMap<String, BTreeMap<String, EnvStatus>>,
    /// Promotions and rollbacks waiting for approvals at that moment.
    pub pending: Vec<PendingNote>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EnvStatus {
    /// The newest promote or rollback record of the environment by then.
    pub seq: u64,
    pub id: String,
    pub set_at: Timestamp,
    pub images: BTreeMap<String, RunningImage>,
}

#[derive(Clone, Debug, Serialize)]
pub struct RunningImage {
    pub digest: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<String>,
    /// The record that set this digest.
    pub seq: u64,
    /// Evidence type → newest result for this digest here.
    pub evidence: BTreeMap<String, EvidenceSeen>,
}

#[derive(Clone, Debug, Serialize)]
pub struct EvidenceSeen {
    pub result: EvidenceResult,
    pub at: Timestamp,
}

/// The state of every app and environment at `at`: records up to `at`, less
/// those still pending (they deploy nothing until approved). `held`: every
/// chain, when the caller has read them already.
pub fn status(ledger: &Ledger, held: Option<&[Chain]>, at: Timestamp) -> Result<Status, StoreError> {
    let folded = ledger.map_chains(held, |chain| (chain.app.clone(), chain.fold_until(ledger.policies(), Some(at))))?;
    Ok(of_folds(ledger, folded, at))
}

/// The status from each app's fold of its records up to `at`, in app order:
/// for a command that folded them already.
pub fn of_folds(ledger: &Ledger, folded: Vec<(Name, AppHistory)>, at: Timestamp) -> Status {
    let environments = ledger.environments();
    let pending = folded.iter().flat_map(|(_, h)| h.pending(ledger.policies())).map(|p| PendingNote::of(&p)).collect();
    let mut out = Status { at, environments, apps: BTreeMap::new(), pending };
    for (app, history) in folded {
        let mut envs = BTreeMap::new();
        for (env, env_history) in history.envs() {
            let Some(newest) = env_history.newest() else { continue };
            let images = env_history
                .state()
                .iter()
                .map(|(name, state)| {
                    let evidence = env_history
                        .evidence_for(&state.digest)
                        .map(|(kind, at, result)| (kind.to_string(), EvidenceSeen { result, at }))
                        .collect();
                    let running = RunningImage {
                        digest: state.digest.to_string(),
                        tag: state.tag.as_ref().map(ToString::to_string),
                        seq: state.seq,
                        evidence,
                    };
                    (name.to_string(), running)
                })
                .collect();
            envs.insert(
                env.to_string(),
                EnvStatus { seq: newest.seq, id: newest.id.to_string(), set_at: newest.at, images },
            );
        }
        if !envs.is_empty() {
            out.apps.insert(app.to_string(), envs);
        }
    }
    out
}
