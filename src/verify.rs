//! `verify`: every rule of DESIGN.md over one tree, every violation reported.

use rayon::prelude::*;
use serde::Serialize;

use crate::chain::AppHistory;
use crate::clock::Timestamp;
use crate::ledger::{Ledger, RecordFile};
use crate::record::RecordId;
use crate::rules::{check_policies, check_record, signature_verdicts, Candidate, Policies, Rule, Violation};
use crate::store::{Snapshot, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug, Default)]
pub struct VerifyOptions {
    /// Pinned id of policy version 1 (`--trust`).
    pub trust: Option<RecordId>,
}

#[derive(Clone, Debug, Default, Serialize)]
pub struct Counts {
    pub policies: usize,
    pub apps: usize,
    pub records: usize,
    pub signatures: usize,
    pub pending: usize,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    pub counts: Counts,
    pub violations: Vec<Violation>,
    pub warnings: Vec<String>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

pub fn verify(snapshot: &dyn Snapshot, options: &VerifyOptions, now: Timestamp) -> Result<Report, VerifyError> {
    let ledger = Ledger::load(snapshot)?;
    Ok(verify_ledger(&ledger, options, now))
}

pub fn verify_ledger(ledger: &Ledger, options: &VerifyOptions, now: Timestamp) -> Report {
    let mut violations = ledger.problems.clone();
    violations.extend(check_policies(&ledger.policies, now, options.trust.as_ref()));
    let mut warnings = Vec::new();
    if options.trust.is_none() {
        if let Some(first) = ledger.policies.first() {
            warnings.push(format!(
                "policy version 1 ({}) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with --trust {}",
                first.path, first.id
            ));
        }
    }
    let policies = Policies(&ledger.policies);
    let per_app: Vec<Vec<Violation>> =
        ledger.apps.par_iter().map(|(_, records)| verify_app(records, policies, now)).collect();
    for app_violations in per_app {
        violations.extend(app_violations);
    }
    let counts = Counts {
        policies: ledger.policies.len(),
        apps: ledger.apps.len(),
        records: ledger.record_count(),
        signatures: ledger.apps.values().flatten().map(|r| r.record.signatures.len()).sum(),
        pending: violations.iter().filter(|v| v.rule == Rule::Threshold).count(),
    };
    Report { counts, violations, warnings }
}

fn verify_app(records: &[RecordFile], policies: Policies, now: Timestamp) -> Vec<Violation> {
    // Signatures are the expensive part: check them all in parallel first.
    let verdicts: Vec<_> = records
        .par_iter()
        .map(|file| match policies.get(file.record.policy) {
            Some(policy) => signature_verdicts(&policy.policy, &file.message, &file.record.signatures),
            None => Vec::new(),
        })
        .collect();
    let mut history = AppHistory::default();
    let mut out = Vec::new();
    for (file, verdicts) in records.iter().zip(&verdicts) {
        let candidate = Candidate { path: &file.path, record: &file.record, verdicts };
        out.extend(check_record(&candidate, &history, policies, now));
        history.apply(&file.record, &file.id);
    }
    out
}
