//! What each environment runs at a moment, with the record that set each
//! image and the evidence recorded for each running digest: the question an
//! auditor (or an on-call engineer at 2 AM) asks first.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::chain::AppHistory;
use crate::clock::Timestamp;
use crate::ledger::{list_apps, load_app, load_policies};
use crate::record::{EvidenceResult, Name};
use crate::rules::{missing_approvals, signature_verdicts, Policies};
use crate::store::{Snapshot, StoreError};

#[derive(Clone, Debug, Serialize)]
pub struct Status {
    pub at: Timestamp,
    /// Environment names in the newest policy's order (dev before production).
    pub environments: Vec<String>,
    pub apps: BTreeMap<String, BTreeMap<String, EnvStatus>>,
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

/// The state of every app and environment at `at`: records up to `at`, less a
/// newest record still below its threshold (it deploys nothing until approved).
pub fn status(snapshot: &dyn Snapshot, at: Timestamp) -> Result<Status, StoreError> {
    let policies = load_policies(snapshot)?.value;
    let apps = list_apps(snapshot)?.value;
    let folded: Vec<(Name, AppHistory)> = apps
        .par_iter()
        .map(|app| {
            let records = load_app(snapshot, app)?.value;
            let until: Vec<_> = records.iter().take_while(|r| r.record.at <= at).collect();
            let pending_tail = until.last().is_some_and(|last| {
                until.len() == records.len()
                    && Policies(&policies).get(last.record.policy).is_some_and(|p| {
                        let verdicts = signature_verdicts(&p.policy, &last.message, &last.record.signatures);
                        missing_approvals(&last.record, &p.policy, &verdicts) > 0
                    })
            });
            let counted = if pending_tail { &until[..until.len() - 1] } else { &until[..] };
            let mut history = AppHistory::default();
            for file in counted {
                history.apply(&file.record, &file.id);
            }
            Ok((app.clone(), history))
        })
        .collect::<Result<_, StoreError>>()?;
    let environments =
        policies.last().map(|p| p.policy.environments.iter().map(|e| e.name.to_string()).collect()).unwrap_or_default();
    let mut out = Status { at, environments, apps: BTreeMap::new() };
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
    Ok(out)
}
