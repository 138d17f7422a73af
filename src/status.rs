//! What each environment runs at a moment, with the record that set each
//! image and the evidence recorded for each running digest: the question an
//! auditor (or an on-call engineer at 2 AM) asks first.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::Serialize;

use crate::clock::Timestamp;
use crate::fold_cache::{app_view, FoldCache};
use crate::ledger::Ledger;
use crate::store::StoreError;
use crate::verify::PendingNote;
use crate::view::{AppView, EvidenceSeen};

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

/// The state of every app and environment at `at`: records up to `at`, less
/// those still pending (they deploy nothing until approved); each app's fold
/// taken from `cache` where it holds it.
pub fn status(ledger: &Ledger, cache: Option<&FoldCache>, at: Timestamp) -> Result<Status, StoreError> {
    let views = ledger.apps().par_iter().map(|app| app_view(ledger, cache, app, Some(at))).collect::<Result<_, _>>()?;
    Ok(of_views(ledger, views, at))
}

/// The status from the view of each app's fold of its records up to `at`,
/// in app order: for a command that folded them already.
pub fn of_views(ledger: &Ledger, views: Vec<AppView>, at: Timestamp) -> Status {
    let environments = ledger.environments();
    let pending = views.iter().flat_map(|view| view.pending.iter().cloned()).collect();
    let mut out = Status { at, environments, apps: BTreeMap::new(), pending };
    for view in views {
        let mut envs = BTreeMap::new();
        for (env, env_view) in view.envs {
            let Some(newest) = env_view.newest else { continue };
            let images = env_view
                .state
                .into_iter()
                .map(|(name, state)| {
                    let evidence = env_view
                        .evidence
                        .get(&state.digest)
                        .into_iter()
                        .flatten()
                        .map(|(kind, seen)| (kind.to_string(), *seen))
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
            out.apps.insert(view.app.to_string(), envs);
        }
    }
    out
}
