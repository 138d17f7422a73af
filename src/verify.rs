//! `verify`: every rule of DESIGN.md over one tree, every violation reported;
//! and the pull-request check against a base revision.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use serde::Serialize;

use crate::chain::{AppHistory, Chain, PendingRecord};
use crate::clock::Timestamp;
use crate::ledger::{Ledger, RecordFile, APPS_DIR, PROMOTIONS_DIR};
use crate::policy::{PolicyFile, MAX_POLICY_BYTES};
use crate::project::{drift, plan, plan_targets, read_optional, targets, with_entries, VERSIONS_PATH};
use crate::record::{Name, RecordId};
use crate::rules::{
    check_record, missing_root, signature_verdicts, Candidate, Policies, Rule, SignatureVerdicts, Violation,
};
use crate::sign::{signed_data, SignatureProblem};
use crate::store::{changed_files, Change, Snapshot, StoreError};
use crate::view::AppView;

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

/// A break-glass record: reported in every output, never silent.
#[derive(Clone, Debug, Serialize)]
pub struct OverrideNote {
    pub file: String,
    pub record: String,
    pub env: String,
    pub rules: Vec<crate::record::Waivable>,
    pub reason: String,
    pub signers: Vec<String>,
}

impl OverrideNote {
    fn of(file: &RecordFile) -> Option<OverrideNote> {
        let declared = file.record.override_.as_ref()?;
        Some(OverrideNote {
            file: file.path.clone(),
            record: file.record.label(),
            env: file.record.env.to_string(),
            rules: declared.rules.clone(),
            reason: declared.reason.clone(),
            signers: file.record.signatures.iter().map(|s| s.signer.to_string()).collect(),
        })
    }
}

/// Every break-glass record of a chain, signed by its own signers and those
/// of the approvals naming it.
fn override_notes(records: &[&RecordFile]) -> Vec<OverrideNote> {
    let mut notes: Vec<OverrideNote> = Vec::new();
    let mut by_id: std::collections::HashMap<&RecordId, usize> = std::collections::HashMap::new();
    for file in records {
        if let Some(note) = OverrideNote::of(file) {
            by_id.insert(&file.id, notes.len());
            notes.push(note);
        } else if let Some(index) = file.record.approves.as_ref().and_then(|id| by_id.get(id)) {
            notes[*index].signers.extend(file.record.signatures.iter().map(|s| s.signer.to_string()));
        }
    }
    notes
}

impl std::fmt::Display for OverrideNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let rules: Vec<String> = self.rules.iter().map(ToString::to_string).collect();
        write!(
            f,
            "break-glass override: {} ({}) for {} waiving {}, signed by {}: {}",
            self.file,
            self.record,
            self.env,
            rules.join(", "),
            self.signers.join(", "),
            self.reason
        )
    }
}

/// A promote or rollback waiting for approvals: reported in every output,
/// never a failure. It deploys nothing until its thresholds are met.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PendingNote {
    pub file: String,
    pub record: String,
    pub env: String,
    /// Who signed it so far, its own signers and its approvers.
    pub signers: Vec<String>,
    /// Per signer group: who may sign and how many more are needed.
    pub missing: Vec<String>,
}

impl PendingNote {
    pub fn of(pending: &PendingRecord) -> PendingNote {
        let record = &pending.file.record;
        PendingNote {
            file: pending.file.path.clone(),
            record: record.label(),
            env: record.env.to_string(),
            signers: pending.signers.iter().map(ToString::to_string).collect(),
            missing: pending.missing.iter().map(ToString::to_string).collect(),
        }
    }
}

impl std::fmt::Display for PendingNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({}): pending: {}; run `gitops-ledger approve {}`",
            self.file,
            self.record,
            self.missing.join("; "),
            self.record
        )
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// With `--base`: the base revision the change was checked against.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base: Option<String>,
    pub counts: Counts,
    pub violations: Vec<Violation>,
    /// Records waiting for approvals (not failures).
    pub pending: Vec<PendingNote>,
    pub warnings: Vec<String>,
    /// Every break-glass record checked, as warnings of their own.
    pub overrides: Vec<OverrideNote>,
}

impl Report {
    pub fn holds(&self) -> bool {
        self.violations.is_empty()
    }
}

/// What checking one app found.
struct AppVerdict {
    violations: Vec<Violation>,
    records: usize,
    signatures: usize,
    /// The app folded for projection (rule 7), with its pending records.
    state: AppView,
    overrides: Vec<OverrideNote>,
}

/// Every rule over the whole ledger. Apps are checked in parallel, each read,
/// signature-checked and folded on its own, so memory holds one chain per
/// core rather than the whole ledger, and a git pack is read app by app.
/// `held`: every chain, when the caller has read them already.
pub fn verify(
    ledger: &Ledger,
    held: Option<&[Chain]>,
    options: &VerifyOptions,
    now: Timestamp,
) -> Result<Report, VerifyError> {
    let per_app = ledger.map_chains(held, |chain| check_chain(chain, ledger.policies(), now))?;
    Ok(report(ledger, options, now, per_app))
}

/// What checking the policies and one app's chain found: all `attest`
/// vouches for, so other apps' problems do not block it.
#[derive(Clone, Debug)]
pub struct AppCheck {
    pub violations: Vec<Violation>,
    /// The app folded: what became of each record.
    pub history: AppHistory,
    /// What each environment runs, and what is pending.
    pub view: AppView,
    pub warnings: Vec<String>,
}

/// The policy rules and every record rule of `chain`, without the other
/// apps or the projection.
pub fn verify_app(ledger: &Ledger, chain: &Chain, options: &VerifyOptions, now: Timestamp) -> AppCheck {
    let mut violations = ledger.policy_violations(now, options.trust.as_ref());
    let (verdict, history) = check_and_fold_chain(chain, ledger.policies(), now);
    violations.extend(verdict.violations);
    let mut warnings: Vec<String> = trust_warning(ledger, options).into_iter().collect();
    warnings.extend(verdict.overrides.iter().map(ToString::to_string));
    AppCheck { violations, history, view: verdict.state, warnings }
}

/// Without `--trust`, policy version 1 is trusted on first use: say so.
fn trust_warning(ledger: &Ledger, options: &VerifyOptions) -> Option<String> {
    if options.trust.is_some() {
        return None;
    }
    let first = ledger.policy_files().first()?;
    Some(format!(
        "policy version 1 ({}) was trusted on first use: nothing pins it, so a rewritten history with a new root would also pass; pin it with --trust {}",
        first.path, first.id
    ))
}

/// Every record rule over one chain, and its fold for projection.
fn check_chain(chain: &Chain, policies: Policies, now: Timestamp) -> AppVerdict {
    check_and_fold_chain(chain, policies, now).0
}

/// [`check_chain`], with the whole fold kept (verify drops it with each app).
fn check_and_fold_chain(chain: &Chain, policies: Policies, now: Timestamp) -> (AppVerdict, AppHistory) {
    let records: Vec<&RecordFile> = chain.records.iter().collect();
    let verdicts = batch_verdicts(&records, policies);
    let mut violations = chain.problems.clone();
    let mut history = AppHistory::default();
    for (file, verdicts) in records.iter().zip(&verdicts) {
        let candidate = Candidate { path: &file.path, record: &file.record, verdicts };
        violations.extend(check_record(&candidate, &history, policies, now));
        violations.extend(history.push(file, policies).findings);
    }
    let verdict = AppVerdict {
        violations,
        records: records.len(),
        signatures: records.iter().map(|r| r.record.signatures.len()).sum(),
        state: AppView::of(&chain.app, &history, policies),
        overrides: override_notes(&records),
    };
    (verdict, history)
}

/// The policy rules, the projection of every app, and each app's verdict, as one report.
fn report(ledger: &Ledger, options: &VerifyOptions, now: Timestamp, per_app: Vec<AppVerdict>) -> Report {
    let mut violations = ledger.policy_violations(now, options.trust.as_ref());
    violations.extend(ledger.layout_problems().iter().cloned());
    let warnings = trust_warning(ledger, options).into_iter().collect();
    let mut counts = Counts { policies: ledger.policy_files().len(), apps: ledger.apps().len(), ..Counts::default() };
    let mut states = Vec::with_capacity(per_app.len());
    let mut overrides = Vec::new();
    let mut pending = Vec::new();
    for app in per_app {
        violations.extend(app.violations);
        overrides.extend(app.overrides);
        pending.extend(app.state.pending.iter().cloned());
        counts.records += app.records;
        counts.signatures += app.signatures;
        states.push(app.state);
    }
    if let Some(newest) = ledger.newest_policy() {
        violations.extend(drift_of(plan(ledger.snapshot(), &newest.policy, &states)));
    }
    counts.pending = pending.len();
    Report { base: None, counts, violations, pending, warnings, overrides }
}

/// Drift of planned files; a file that cannot be projected is a violation too.
fn drift_of(planned: Vec<Result<crate::project::ProjectedFile, crate::project::ProjectError>>) -> Vec<Violation> {
    let mut files = Vec::new();
    let mut out = Vec::new();
    for file in planned {
        match file {
            Ok(file) => files.push(file),
            Err(err) => out.push(err.to_violation()),
        }
    }
    out.extend(drift(&files));
    out
}

/// Signatures checked in batches on all cores. A batch that fails is checked
/// one by one, so the bad signature is named; the verdicts equal
/// [`signature_verdicts`] (what `promote` uses) for honestly made signatures.
pub fn batch_verdicts(records: &[&RecordFile], policies: Policies) -> Vec<SignatureVerdicts> {
    const BATCH: usize = 64;
    type Decoded = Result<(ed25519_dalek::VerifyingKey, ed25519_dalek::Signature), SignatureProblem>;
    // Per record: what its signatures sign (one SHA-512 of the message for
    // them all), and each signature decoded.
    let prepared: Vec<(Vec<u8>, Vec<Decoded>)> = records
        .par_iter()
        .map(|file| {
            let Some(policy) = policies.get(file.record.policy) else { return (Vec::new(), Vec::new()) };
            let signed = signed_data(&file.message);
            let decoded = file
                .record
                .signatures
                .iter()
                .map(|s| {
                    let key = policy.policy.keys.get(&s.signer).ok_or(SignatureProblem::UnknownSigner)?;
                    let signature = key.decode(&s.sig)?;
                    signed.as_ref().map_err(Clone::clone)?;
                    Ok((*key.verifying_key(), signature))
                })
                .collect();
            (signed.unwrap_or_default(), decoded)
        })
        .collect();
    let ready: Vec<(&[u8], &ed25519_dalek::VerifyingKey, &ed25519_dalek::Signature)> = prepared
        .iter()
        .flat_map(|(signed, decoded)| {
            decoded.iter().flatten().map(move |(key, signature)| (signed.as_slice(), key, signature))
        })
        .collect();
    let checked: Vec<bool> = ready
        .par_chunks(BATCH)
        .flat_map_iter(|chunk| {
            let messages: Vec<&[u8]> = chunk.iter().map(|(signed, _, _)| *signed).collect();
            let signatures: Vec<_> = chunk.iter().map(|(_, _, signature)| **signature).collect();
            let keys: Vec<_> = chunk.iter().map(|(_, key, _)| **key).collect();
            let all_good = ed25519_dalek::verify_batch(&messages, &signatures, &keys).is_ok();
            chunk.iter().map(move |(signed, key, signature)| all_good || key.verify_strict(signed, signature).is_ok())
        })
        .collect();
    let mut checked = checked.into_iter();
    prepared
        .into_iter()
        .map(|(_, decoded)| {
            decoded
                .into_iter()
                .map(|p| match p {
                    Ok(_) if checked.next() == Some(true) => Ok(()),
                    Ok(_) => Err(SignatureProblem::Invalid),
                    Err(problem) => Err(problem),
                })
                .collect()
        })
        .collect()
}

/// The pull-request check: relative to `base`, files under `promotions/` are
/// only added (or the newest record of an app gains approvals), new records
/// continue their chains, pass every rule and cite the newest policy, and a
/// new policy version carries the base's root threshold. The base itself is
/// trusted: it passed this check when it merged (run a full `verify` on the
/// main branch as well).
pub fn verify_change(
    base: &Ledger,
    head: &Ledger,
    options: &VerifyOptions,
    now: Timestamp,
) -> Result<Report, VerifyError> {
    let mut changes = BTreeMap::new();
    changed_files(base.snapshot(), head.snapshot(), PROMOTIONS_DIR, &mut changes)?;

    let base_policies = base.policy_files();
    let mut violations = head.policy_violations(now, options.trust.as_ref());
    let mut warnings = Vec::new();
    if options.trust.is_none() {
        if let Some(anchor) = base_policies.last() {
            warnings.push(format!(
                "the base's newest policy (version {}) is the trust anchor; pin version 1 with --trust to check the whole root",
                anchor.policy.version
            ));
        }
    }
    violations.extend(new_policies_signed_by_base_root(base_policies, head.policy_files(), &changes));

    // Which apps the change touches, and which of their files it changed.
    let mut touched: BTreeMap<Name, BTreeMap<String, Change>> = BTreeMap::new();
    let apps_prefix = format!("{APPS_DIR}/");
    for (path, change) in &changes {
        if let Some((app, _)) = path.strip_prefix(&apps_prefix).and_then(|rest| rest.split_once('/')) {
            if let Ok(app) = Name::parse(app) {
                touched.entry(app).or_default().insert(path.clone(), change.clone());
            }
        }
    }
    violations.extend(
        head.layout_problems()
            .iter()
            .filter(|v| changes.contains_key(&v.file) || !v.file.starts_with(&apps_prefix))
            .cloned(),
    );

    let policy_set = head.policies();
    let newest_policy = head.newest_policy().map(|p| p.policy.version);
    let mut counts = Counts { policies: head.policy_files().len(), apps: touched.len(), ..Counts::default() };
    let mut parsed = BTreeSet::new();
    let mut touched_states = Vec::new();
    let mut overrides = Vec::new();
    let mut pending = Vec::new();
    for (app, app_changes) in &touched {
        let chain = head.chain(app)?;
        violations.extend(chain.problems.iter().cloned());
        let mut history = AppHistory::default();
        for file in &chain.records {
            parsed.insert(file.path.clone());
            match app_changes.get(&file.path) {
                None => {}
                Some(Change::Modified) => violations.push(edited(&file.path, Some(file.record.label()))),
                Some(Change::Deleted) => {}
                Some(Change::Added) if Some(file.record.policy) != newest_policy => {
                    violations.push(Violation::new(
                        &file.path,
                        Some(file.record.label()),
                        Rule::Policy,
                        format!(
                            "a new record cites policy version {} but the newest is {}; promote again under the newest policy",
                            file.record.policy,
                            newest_policy.unwrap_or(0)
                        ),
                    ));
                }
                Some(Change::Added) => {}
            }
            if app_changes.contains_key(&file.path) {
                let verdicts = match policy_set.get(file.record.policy) {
                    Some(policy) => signature_verdicts(&policy.policy, &file.message, &file.record.signatures),
                    None => Vec::new(),
                };
                let candidate = Candidate { path: &file.path, record: &file.record, verdicts: &verdicts };
                violations.extend(check_record(&candidate, &history, policy_set, now));
                counts.records += 1;
                counts.signatures += file.record.signatures.len();
            }
            let findings = history.push(file, policy_set).findings;
            if app_changes.contains_key(&file.path) {
                violations.extend(findings);
            }
        }
        let state = AppView::of(app, &history, policy_set);
        pending.extend(state.pending.iter().cloned());
        let records: Vec<&RecordFile> = chain.records.iter().collect();
        overrides.extend(override_notes(&records).into_iter().filter(|note| app_changes.contains_key(&note.file)));
        touched_states.push(state);
    }
    if head.newest_policy().is_some() {
        violations.extend(change_projection_drift(base, head, &touched_states)?);
    }
    for (path, change) in &changes {
        if *change == Change::Deleted {
            violations.push(Violation::new(
                path,
                None,
                Rule::AppendOnly,
                "was deleted after it landed; the ledger is append-only: restore it (undo a promotion with a rollback record)",
            ));
        } else if *change == Change::Modified && !parsed.contains(path) {
            violations.push(edited(path, None));
        }
    }
    counts.pending = pending.len();
    Ok(Report { base: None, counts, violations, pending, warnings, overrides })
}

/// Rule 7 for a change: the touched apps' overlays and entries in
/// versions.json must equal their projection; every other app's must be
/// as in the base (which was consistent), so an overlay edited in a pull
/// request without a record is caught without folding the whole ledger.
fn change_projection_drift(base: &Ledger, head: &Ledger, touched: &[AppView]) -> Result<Vec<Violation>, StoreError> {
    let Some(policy) = head.newest_policy().map(|p| &p.policy) else { return Ok(Vec::new()) };
    if base.newest_policy().map(|p| p.policy.targets()) != Some(policy.targets()) {
        // The targets themselves changed: check everything.
        // Verify folds every record itself: never through the fold cache.
        let states = crate::project::fold_all(head, None, None)?;
        return Ok(drift_of(plan(head.snapshot(), policy, &states)));
    }
    let (base_tree, head_tree) = (base.snapshot(), head.snapshot());
    let mut out = drift_of(plan_targets(head_tree, policy, touched, |_| true));

    let parse =
        |bytes: Option<Vec<u8>>| -> Option<serde_json::Value> { bytes.and_then(|b| serde_json::from_slice(&b).ok()) };
    let base_versions = parse(read_optional(base_tree, VERSIONS_PATH)?)
        .unwrap_or_else(|| serde_json::json!({"schema": crate::project::VERSIONS_SCHEMA, "apps": {}}));
    let expected = with_entries(base_versions.clone(), touched);
    let touched_names: BTreeSet<&str> = touched.iter().map(|s| s.app.as_str()).collect();
    let head_bytes = read_optional(head_tree, VERSIONS_PATH)?;
    let head_versions = parse(head_bytes.clone());
    let nothing_promoted = expected["apps"].as_object().is_some_and(|a| a.is_empty());
    if head_versions.as_ref() != Some(&expected) && !(head_bytes.is_none() && nothing_promoted) {
        out.push(Violation::new(
            VERSIONS_PATH,
            None,
            Rule::Projection,
            "does not match the ledger (edited by hand, or a promotion without `project`); run `gitops-ledger project`",
        ));
    }

    // Apps the change does not touch keep what their target files had: an
    // app is folded only when one of its files changed.
    let limit = MAX_POLICY_BYTES as u64;
    let changed = |path: &str| base_tree.blob_id(path, limit).ok() != head_tree.blob_id(path, limit).ok();
    let targets = policy.targets();
    let moved: Vec<Name> = base_versions["apps"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(app, _)| !touched_names.contains(app.as_str()))
        .filter_map(|(app, envs)| {
            let app = Name::parse(app).ok()?;
            let envs: Vec<Name> = envs.as_object()?.keys().filter_map(|env| Name::parse(env).ok()).collect();
            let moves =
                envs.iter().any(|env| targets.iter().any(|t| t.serves(&app, env) && changed(&t.path_for(&app, env))));
            moves.then_some(app)
        })
        .collect();
    for app in moved {
        let state = head.chain(&app)?.view(head.policies());
        for (path, writes) in targets::writes(policy, std::slice::from_ref(&state)) {
            if !changed(&path) {
                continue;
            }
            let text = |tree: &dyn Snapshot| {
                read_optional(tree, &path).ok().flatten().map(|b| String::from_utf8_lossy(&b).into_owned())
            };
            let (before, after) = (text(base_tree).unwrap_or_default(), text(head_tree).unwrap_or_default());
            for write in writes.iter().flatten() {
                let after = targets::observed(write, &after).unwrap_or_default();
                let before = targets::observed(write, &before).unwrap_or_default();
                for (entry, value) in &after {
                    if !before.contains(&(entry.clone(), value.clone())) {
                        out.push(Violation::new(
                            &path,
                            None,
                            Rule::Projection,
                            format!(
                                "changes {entry}, but no record in this change moves {app} in {}: an edit behind the ledger's back; revert it, or promote what you meant",
                                write.env
                            ),
                        ));
                    }
                }
            }
        }
    }
    Ok(out)
}

fn edited(path: &str, label: Option<String>) -> Violation {
    Violation::new(
        path,
        label,
        Rule::AppendOnly,
        "was modified after it landed; landed files are never edited (an approval is a record of its own: \
         `gitops-ledger approve`): restore it, and append a new record to change what runs",
    )
}

/// Each policy version the change adds must carry the root threshold of the
/// base's newest version, so a pull request cannot bring in its own root
/// through a chain of versions it signed itself.
fn new_policies_signed_by_base_root(
    base: &[PolicyFile],
    head: &[PolicyFile],
    changes: &BTreeMap<String, Change>,
) -> Vec<Violation> {
    let Some(anchor) = base.last() else { return Vec::new() };
    let root = &anchor.policy.root;
    head.iter()
        .filter(|p| changes.get(&p.path) == Some(&Change::Added))
        .filter_map(|p| {
            let verdicts = signature_verdicts(&anchor.policy, &p.message, &p.policy.signatures);
            let missing = missing_root(&anchor.policy, &p.policy.signatures, &verdicts);
            (missing > 0).then(|| {
                Violation::new(
                    &p.path,
                    Some(format!("policy@{}", p.policy.version)),
                    Rule::Policy,
                    format!(
                        "a policy version added by this change needs {missing} more signature(s) from the base's root signers ({}) of version {}",
                        crate::rules::join(&root.signers),
                        anchor.policy.version
                    ),
                )
            })
        })
        .collect()
}
