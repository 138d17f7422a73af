//! What `status` and the projector read of an app's fold: per environment,
//! the newest record that took effect, the image state, and the evidence of
//! the digests that run; and the records still pending. Everything else the
//! fold keeps (when each digest first entered, what became of each record)
//! only serves later records of the chain, so a fold whose view is kept
//! (the fold cache) or compared (verify's projection) keeps this alone.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::chain::{AppHistory, ChainLink, ImageState};
use crate::clock::Timestamp;
use crate::record::{Digest, EvidenceResult, ImageName, Name};
use crate::rules::Policies;
use crate::verify::PendingNote;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppView {
    pub app: Name,
    /// Whether the fold had any record: an app is the ledger's from its
    /// first record on, whatever became of it.
    pub has_records: bool,
    /// Every environment a record took effect in or attested to.
    pub envs: BTreeMap<Name, EnvView>,
    /// Promotions and rollbacks waiting for approvals, in chain order.
    pub pending: Vec<PendingNote>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnvView {
    /// The newest promote or rollback that took effect here, at its effective time.
    pub newest: Option<ChainLink>,
    /// Image name → what runs now.
    pub state: BTreeMap<ImageName, ImageState>,
    /// For each running digest: evidence type → the newest result recorded
    /// for it here, over the whole history (a digest rolled back to keeps
    /// the evidence of its earlier period).
    pub evidence: BTreeMap<Digest, BTreeMap<Name, EvidenceSeen>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceSeen {
    pub result: EvidenceResult,
    pub at: Timestamp,
}

impl AppView {
    /// The view of `history`, the fold of `app`'s records, under `policies`
    /// (which say who is missing from each pending record).
    pub fn of(app: &Name, history: &AppHistory, policies: Policies) -> AppView {
        let envs = history
            .envs()
            .map(|(env, env_history)| {
                let evidence = env_history
                    .state()
                    .values()
                    .map(|running| {
                        let seen = env_history
                            .evidence_for(&running.digest)
                            .map(|(kind, at, result)| (kind.clone(), EvidenceSeen { result, at }))
                            .collect();
                        (running.digest.clone(), seen)
                    })
                    .collect();
                let view =
                    EnvView { newest: env_history.newest().cloned(), state: env_history.state().clone(), evidence };
                (env.clone(), view)
            })
            .collect();
        AppView {
            app: app.clone(),
            has_records: history.last().is_some(),
            envs,
            pending: history.pending(policies).iter().map(PendingNote::of).collect(),
        }
    }

    pub fn env(&self, env: &Name) -> Option<&EnvView> {
        self.envs.get(env)
    }
}
