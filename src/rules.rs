//! The rules of DESIGN.md, "What verify proves", in one place. `promote`,
//! `approve` and `policy sign` check a record or policy with these functions
//! before writing it, and `verify` checks every landed one with the same
//! functions, so append and verify can never disagree.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::chain::{AppHistory, ChainLink};
use crate::clock::Timestamp;
use crate::ledger::RecordFile;
use crate::policy::{Environment, FromMode, Policy, PolicyFile};
use crate::record::{EvidenceResult, Kind, Name, Record, RecordId, Signature, Upstream, Waivable};
use crate::sign::SignatureProblem;

/// How far ahead of the verifier's clock a signed `at` may be.
pub const MAX_CLOCK_SKEW_SECONDS: i64 = 300;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Rule {
    /// File syntax, schema, names matching content.
    Schema,
    /// Per-app sequence, `prev` links, time and policy order.
    Chain,
    /// Policy versions, rotation signatures, citing a known version and its `from`.
    Policy,
    /// Pinned policy version 1 (`--trust`).
    Trust,
    /// Each signature valid and by someone allowed to sign there.
    Signature,
    /// Enough distinct root signers on a policy version. (A record below its
    /// threshold is pending: reported, never a violation.)
    Threshold,
    Provenance,
    Soak,
    Rollback,
    Freeze,
    Expiry,
    /// An approval names a promote or rollback still waiting for it.
    Approval,
    /// `--base`: landed files are never modified or deleted.
    AppendOnly,
    /// Overlays and versions.json equal the projection of the ledger.
    Projection,
    /// Required evidence missing or failed; evidence for a digest not running.
    Evidence,
}

impl Rule {
    pub fn name(self) -> &'static str {
        match self {
            Rule::Schema => "schema",
            Rule::Chain => "chain",
            Rule::Policy => "policy",
            Rule::Trust => "trust",
            Rule::Signature => "signature",
            Rule::Threshold => "threshold",
            Rule::Provenance => "provenance",
            Rule::Soak => "soak",
            Rule::Rollback => "rollback",
            Rule::Freeze => "freeze",
            Rule::Expiry => "expiry",
            Rule::Approval => "approval",
            Rule::AppendOnly => "append-only",
            Rule::Projection => "projection",
            Rule::Evidence => "evidence",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule, in a reviewer's words.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub file: String,
    /// `app@seq`, or `policy@version`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record: Option<String>,
    pub rule: Rule,
    pub message: String,
}

impl Violation {
    pub fn new(file: &str, record: Option<String>, rule: Rule, message: impl Into<String>) -> Self {
        Violation { file: file.to_string(), record, rule, message: message.into() }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.record {
            Some(record) => write!(f, "{} ({record}): {} (rule: {})", self.file, self.message, self.rule),
            None => write!(f, "{}: {} (rule: {})", self.file, self.message, self.rule),
        }
    }
}

/// Policy versions by number, as loaded (index = version - 1).
#[derive(Clone, Copy, Debug)]
pub struct Policies<'a>(pub &'a [PolicyFile]);

impl<'a> Policies<'a> {
    pub fn get(&self, version: u64) -> Option<&'a PolicyFile> {
        let index = usize::try_from(version.checked_sub(1)?).ok()?;
        self.0.get(index).filter(|p| p.policy.version == version)
    }

    pub fn newest(&self) -> Option<&'a PolicyFile> {
        self.0.last()
    }
}

/// The verdict on each signature of a record or policy, in order.
pub type SignatureVerdicts = Vec<Result<(), SignatureProblem>>;

/// Checks `signatures` over `message` against the keys `policy` gives the
/// signers, one at a time. (`verify` reaches the same verdicts in batches.)
pub fn signature_verdicts(policy: &Policy, message: &[u8], signatures: &[Signature]) -> SignatureVerdicts {
    signatures
        .iter()
        .map(|s| match policy.keys.get(&s.signer) {
            Some(key) => key.verify(message, &s.sig),
            None => Err(SignatureProblem::UnknownSigner),
        })
        .collect()
}

/// Distinct signers in `allowed` with a valid signature.
fn valid_distinct<'s>(
    signatures: &'s [Signature],
    verdicts: &SignatureVerdicts,
    allowed: &[Name],
) -> BTreeSet<&'s Name> {
    signatures
        .iter()
        .zip(verdicts)
        .filter(|(s, v)| v.is_ok() && allowed.contains(&s.signer))
        .map(|(s, _)| &s.signer)
        .collect()
}

/// A group of signers a record needs, and how many of them.
#[derive(Clone, Debug)]
pub struct Requirement<'p> {
    /// "production", "break-glass", "evidence for staging": for messages.
    pub what: Cow<'p, str>,
    pub signers: &'p [Name],
    pub threshold: u64,
}

/// The signer groups a record must satisfy under `policy`: the environment's
/// signers (or, for evidence, one of its evidence signers), and for a record
/// that waives rules, the break-glass group too. An approval's signers come
/// from the groups of the record it approves; without it at hand, both.
pub fn requirements<'p>(record: &Record, policy: &'p Policy) -> Vec<Requirement<'p>> {
    let Some(env) = policy.environment(&record.env) else { return Vec::new() };
    if record.kind == Kind::Evidence {
        return vec![Requirement {
            what: Cow::Owned(format!("evidence for {}", env.name)),
            signers: env.evidence_signers(),
            threshold: 1,
        }];
    }
    let mut out =
        vec![Requirement { what: Cow::Borrowed(env.name.as_str()), signers: &env.signers, threshold: env.threshold }];
    if record.override_.is_some() || record.kind == Kind::Approval {
        if let Some(group) = &policy.break_glass {
            out.push(Requirement {
                what: Cow::Borrowed("break-glass"),
                signers: &group.signers,
                threshold: group.threshold,
            });
        }
    }
    out
}

/// A signer group whose threshold a record does not meet yet.
#[derive(Clone, Debug)]
pub struct MissingApproval<'p> {
    pub requirement: Requirement<'p>,
    /// How many more distinct signers of the group it needs.
    pub missing: u64,
}

impl fmt::Display for MissingApproval<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = &self.requirement;
        let signers =
            if group.signers.is_empty() { "nobody (the policy names none)".to_string() } else { join(group.signers) };
        write!(f, "{} needs {} distinct signers of {signers}, {} more", group.what, group.threshold, self.missing)
    }
}

/// The signer groups whose threshold `record` does not meet under `policy`
/// with `signers` (its own and its approvals'): the threshold rule (4), and
/// the one definition of "pending". Signers are counted by name, once each,
/// where the group allows them; whether each signature is valid is the
/// signature rule's finding, so a forged signature fails verification but
/// never changes what the ledger projects.
pub fn missing_approvals<'p, 's>(
    record: &Record,
    policy: &'p Policy,
    signers: impl IntoIterator<Item = &'s Name> + Clone,
) -> Vec<MissingApproval<'p>> {
    requirements(record, policy)
        .into_iter()
        .filter_map(|requirement| {
            let mut counted: Vec<&Name> = Vec::new();
            for signer in signers.clone() {
                if requirement.signers.contains(signer) && !counted.contains(&signer) {
                    counted.push(signer);
                }
            }
            let have = counted.len() as u64;
            let missing = requirement.threshold.saturating_sub(have);
            (missing > 0).then_some(MissingApproval { requirement, missing })
        })
        .collect()
}

/// The chain rules between a record and its predecessor: sequence, `prev`,
/// time and policy order, and no forward-dating past [`MAX_CLOCK_SKEW_SECONDS`].
pub fn check_link(path: &str, record: &Record, last: Option<&ChainLink>, now: Timestamp) -> Vec<Violation> {
    let label = Some(record.label());
    let mut out = Vec::new();
    let mut fail = |rule: Rule, message: String| out.push(Violation::new(path, label.clone(), rule, message));
    match last {
        None if record.seq != 1 => fail(
            Rule::Chain,
            format!("seq is {} but this is the app's first record; the chain starts at 1", record.seq),
        ),
        Some(prev) if record.seq != prev.seq + 1 => fail(
            Rule::Chain,
            format!("seq {} does not follow {}: records were deleted or reordered", record.seq, prev.seq),
        ),
        Some(prev) => {
            if record.prev.as_ref() != Some(&prev.id) {
                fail(
                    Rule::Chain,
                    format!(
                        "prev is {} but record {} has id {}: an earlier record was changed after this one was signed",
                        record.prev.as_ref().map_or("null", RecordId::as_str),
                        prev.seq,
                        prev.id
                    ),
                );
            }
            if record.at < prev.at {
                fail(
                    Rule::Chain,
                    format!(
                        "at {} is earlier than the previous record's {}; time never goes backwards",
                        record.at, prev.at
                    ),
                );
            }
            if record.policy < prev.policy {
                fail(
                    Rule::Chain,
                    format!("cites policy {} but the previous record already cited {}", record.policy, prev.policy),
                );
            }
        }
        None => {}
    }
    if record.at.seconds_since(now) > MAX_CLOCK_SKEW_SECONDS {
        fail(
            Rule::Chain,
            format!("at {} is in the future (now is {now}); a forward-dated record could fake a soak", record.at),
        );
    }

    out
}

/// A record and what is known about it when the rules look at it.
pub struct Candidate<'a> {
    pub path: &'a str,
    pub record: &'a Record,
    pub verdicts: &'a SignatureVerdicts,
}

impl Candidate<'_> {
    fn violation(&self, rule: Rule, message: String) -> Violation {
        Violation::new(self.path, Some(self.record.label()), rule, message)
    }
}

/// Every rule about one record that the repo alone decides: chain order,
/// policy, signatures, provenance, evidence, soak, rollback, freeze.
/// `history` is the fold of the app's records before this one.
/// A record below a threshold breaks no rule here: it is pending, which
/// [`missing_approvals`] alone decides.
pub fn check_record(candidate: &Candidate, history: &AppHistory, policies: Policies, now: Timestamp) -> Vec<Violation> {
    let mut out = check_link(candidate.path, candidate.record, history.last(), now);
    let (policy, env) = match cited(candidate, policies) {
        Ok(found) => found,
        Err(violation) => {
            // Every later rule is judged under the cited policy's environment.
            out.push(violation);
            return out;
        }
    };
    out.extend(policy_violations(candidate, policy, env));
    out.extend(signature_violations(candidate, policy, history));
    out.extend(kind_violations(candidate, env, history));
    out.extend(freeze_violations(candidate, policy, env));
    out
}

/// The rules of a waiting promote or rollback again, at `at`, the time an
/// approval would complete it: provenance, evidence, soak, rollback and
/// freeze must hold then too, against `history` as it stands then.
pub fn effect_violations(file: &RecordFile, at: Timestamp, history: &AppHistory, policies: Policies) -> Vec<Violation> {
    let mut record = file.record.clone();
    record.at = at;
    let verdicts = SignatureVerdicts::new();
    let candidate = Candidate { path: &file.path, record: &record, verdicts: &verdicts };
    let (policy, env) = match cited(&candidate, policies) {
        Ok(found) => found,
        Err(violation) => return vec![violation],
    };
    let mut out = kind_violations(&candidate, env, history);
    out.extend(freeze_violations(&candidate, policy, env));
    out
}

/// The policy version a record cites and its environment there (rule `policy`).
fn cited<'p>(candidate: &Candidate, policies: Policies<'p>) -> Result<(&'p Policy, &'p Environment), Violation> {
    let record = candidate.record;
    let Some(policy_file) = policies.get(record.policy) else {
        return Err(
            candidate.violation(Rule::Policy, format!("cites policy version {}, which does not exist", record.policy))
        );
    };
    let policy = &policy_file.policy;
    let env = policy.environment(&record.env).ok_or_else(|| {
        candidate.violation(
            Rule::Policy,
            format!(
                "environment {} is not in policy version {}; add it to a new policy version first",
                record.env, policy.version
            ),
        )
    })?;
    Ok((policy, env))
}

/// The rest of rule `policy` for a record: not older than its policy, the
/// policy's `from`, and a break-glass group for an override.
fn policy_violations(candidate: &Candidate, policy: &Policy, env: &Environment) -> Vec<Violation> {
    let record = candidate.record;
    let mut out = Vec::new();
    if record.at < policy.at {
        out.push(candidate.violation(
            Rule::Policy,
            format!("at {} is before policy version {} existed ({})", record.at, policy.version, policy.at),
        ));
    }
    if matches!(record.kind, Kind::Promote | Kind::Rollback) && record.from != env.from {
        let show = |n: &Option<Upstream>| n.as_ref().map_or("null".to_string(), |n| n.to_string());
        out.push(candidate.violation(
            Rule::Policy,
            format!(
                "from is {} but policy version {} says {} comes from {}",
                show(&record.from),
                policy.version,
                record.env,
                show(&env.from)
            ),
        ));
    }
    if record.override_.is_some() && policy.break_glass.is_none() {
        out.push(candidate.violation(
            Rule::Policy,
            format!(
                "waives rules, but policy version {} has no break_glass group to sign such records",
                policy.version
            ),
        ));
    }
    out
}

/// Rule `signature` for a record: each signature verifies and is by someone
/// in one of its signer groups, and nobody signs twice.
fn signature_violations(candidate: &Candidate, policy: &Policy, history: &AppHistory) -> Vec<Violation> {
    let record = candidate.record;
    let groups = requirements(history.waiting_for(record).unwrap_or(record), policy);
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (signature, verdict) in record.signatures.iter().zip(candidate.verdicts.iter()) {
        if let Err(problem) = verdict {
            out.push(candidate.violation(Rule::Signature, format!("signature by {}: {problem}", signature.signer)));
        } else if !groups.iter().any(|g| g.signers.contains(&signature.signer)) {
            // The environment's group first, then break-glass (named as such).
            let allowed: Vec<String> = groups
                .iter()
                .enumerate()
                .map(|(i, g)| {
                    let names = if g.signers.is_empty() { "nobody".to_string() } else { join(g.signers) };
                    if i == 0 {
                        names
                    } else {
                        format!("{}: {names}", g.what)
                    }
                })
                .collect();
            out.push(candidate.violation(
                Rule::Signature,
                format!(
                    "{} may not sign {}for {} (policy version {} allows {})",
                    signature.signer,
                    if record.kind == Kind::Evidence { "evidence " } else { "" },
                    record.env,
                    policy.version,
                    allowed.join("; ")
                ),
            ));
        }
        if !seen.insert(&signature.signer) {
            out.push(
                candidate
                    .violation(Rule::Signature, format!("{} signed twice; a signer counts once", signature.signer)),
            );
        }
    }
    out
}

/// The rules of the record's kind: provenance, evidence and soak for a
/// promote, rule `rollback` for a rollback, rule `evidence` for evidence.
fn kind_violations(candidate: &Candidate, env: &Environment, history: &AppHistory) -> Vec<Violation> {
    match candidate.record.kind {
        Kind::Promote => entry_findings(candidate.record, env, history)
            .into_iter()
            .map(|finding| candidate.violation(finding.rule, finding.message))
            .collect(),
        Kind::Rollback => rollback_violations(candidate, history),
        Kind::Evidence => evidence_violations(candidate, history),
        // What an approval completes is checked when it completes it.
        Kind::Approval => Vec::new(),
    }
}

/// A rollback returns only to digests its environment ran before.
fn rollback_violations(candidate: &Candidate, history: &AppHistory) -> Vec<Violation> {
    let record = candidate.record;
    record
        .images
        .iter()
        .filter(|image| history.entered(&record.env, &image.digest).is_none())
        .map(|image| {
            candidate.violation(
                Rule::Rollback,
                format!(
                    "rollback to {} ({}), which {} never ran; a rollback returns to a digest the environment ran before",
                    image.digest.short(),
                    image.name,
                    record.env
                ),
            )
        })
        .collect()
}

/// Evidence attests only to the digest its environment runs for that image.
fn evidence_violations(candidate: &Candidate, history: &AppHistory) -> Vec<Violation> {
    let record = candidate.record;
    let state = history.env(&record.env).map(|e| e.state());
    record
        .images
        .iter()
        .filter_map(|image| {
            let running = state.and_then(|s| s.get(&image.name));
            (running.map(|r| &r.digest) != Some(&image.digest)).then(|| {
                candidate.violation(
                    Rule::Evidence,
                    format!(
                        "evidence for {} ({}), which {} does not run{}; evidence attests to what runs",
                        image.digest.short(),
                        image.name,
                        record.env,
                        running.map_or(String::new(), |r| format!(" (it runs {})", r.digest.short()))
                    ),
                )
            })
        })
        .collect()
}

/// Rule `freeze`: no promote or rollback inside a window of the environment,
/// except a rollback where the window allows it, or a record waiving it.
fn freeze_violations(candidate: &Candidate, policy: &Policy, env: &Environment) -> Vec<Violation> {
    let record = candidate.record;
    if matches!(record.kind, Kind::Evidence | Kind::Approval) || waives(record, Waivable::Freeze) {
        return Vec::new();
    }
    env.freezes()
        .iter()
        .filter(|window| !(record.kind == Kind::Rollback && window.allows_rollback()))
        .filter_map(|window| {
            let (start, end) = window.window_at(record.at)?;
            Some(candidate.violation(
                Rule::Freeze,
                format!(
                    "{} is frozen from {start} until {end} (policy version {}){}",
                    record.env,
                    policy.version,
                    if window.allows_rollback() { "; only rollbacks may land" } else { "" }
                ),
            ))
        })
        .collect()
}

/// Whether the record's break-glass override waives `rule`.
fn waives(record: &Record, rule: Waivable) -> bool {
    record.override_.as_ref().is_some_and(|o| o.rules.contains(&rule))
}

/// Why a digest may not (yet) enter an environment.
struct EntryFinding {
    rule: Rule,
    waivable: Waivable,
    message: String,
}

/// Provenance, required evidence and soak of a `promote` record: each digest
/// must have entered the upstream(s) (all of them, or any with
/// `from_mode: any`), with a `pass` of every required evidence type there
/// after it entered and no later `fail`, at least `soak` before (counted from
/// the newest required pass, or from the entry).
/// Findings an override waives are dropped per upstream, before `any` decides.
fn entry_findings(record: &Record, env: &Environment, history: &AppHistory) -> Vec<EntryFinding> {
    let upstreams = env.upstreams();
    if upstreams.is_empty() {
        return Vec::new();
    }
    let mut out = Vec::new();
    for image in &record.images {
        let mut per_upstream: Vec<Vec<EntryFinding>> = Vec::new();
        for upstream in upstreams {
            let mut findings = Vec::new();
            let Some(entered) = history.entered(upstream, &image.digest) else {
                findings.push(EntryFinding {
                    rule: Rule::Provenance,
                    waivable: Waivable::Provenance,
                    message: format!(
                        "{} digest {} ({}) was never promoted to {upstream}; promote it to {upstream} first",
                        record.env,
                        image.digest.short(),
                        image.name
                    ),
                });
                findings.retain(|f| !waives(record, f.waivable));
                per_upstream.push(findings);
                continue;
            };
            let mut soak_from = entered;
            let upstream_history = history.env(upstream);
            for kind in env.requires() {
                let latest = upstream_history
                    .and_then(|h| h.latest_evidence(&image.digest, kind))
                    .filter(|(at, _)| *at >= entered);
                match latest {
                    Some((at, EvidenceResult::Pass)) => soak_from = soak_from.max(at),
                    Some((at, EvidenceResult::Fail)) => findings.push(EntryFinding {
                        rule: Rule::Evidence,
                        waivable: Waivable::Evidence,
                        message: format!(
                            "{kind} evidence for {} in {upstream} failed at {at}; {} requires a pass (re-run it and record the pass)",
                            image.digest.short(),
                            record.env
                        ),
                    }),
                    None => findings.push(EntryFinding {
                        rule: Rule::Evidence,
                        waivable: Waivable::Evidence,
                        message: format!(
                            "{} requires {kind} evidence for {} in {upstream}, and there is none since it entered {upstream}; record it with `gitops-ledger evidence`",
                            record.env,
                            image.digest.short()
                        ),
                    }),
                }
            }
            if record.at.seconds_since(soak_from) < env.soak_seconds() {
                let counted_from = if soak_from == entered { "entered" } else { "passed its required evidence in" };
                findings.push(EntryFinding {
                    rule: Rule::Soak,
                    waivable: Waivable::Soak,
                    message: format!(
                        "digest {} {counted_from} {upstream} at {soak_from}, less than the {} soak before {}; promote at {} or later",
                        image.digest.short(),
                        env.soak.as_ref().map_or("0s".to_string(), |s| s.to_string()),
                        record.at,
                        soak_from.plus_seconds(env.soak_seconds())
                    ),
                });
            }
            findings.retain(|f| !waives(record, f.waivable));
            per_upstream.push(findings);
        }
        match env.from_mode() {
            FromMode::All => out.extend(per_upstream.into_iter().flatten()),
            FromMode::Any => {
                if !per_upstream.iter().any(Vec::is_empty) {
                    out.extend(per_upstream.into_iter().flatten());
                }
            }
        }
    }
    out
}

/// The policy chain: versions 1..n with no gaps, version 1 signed by its own
/// root threshold, each later version by the root threshold of the version
/// before it and of itself (TUF-style rotation), `at` in order, not expired,
/// and version 1 equal to the pinned id when there is one.
pub fn check_policies(policies: &[PolicyFile], now: Timestamp, trust: Option<&RecordId>) -> Vec<Violation> {
    if policies.is_empty() {
        return vec![Violation::new(
            crate::policy::POLICY_DIR,
            None,
            Rule::Policy,
            "there is no policy version 1; run `gitops-ledger init` and sign it with `gitops-ledger policy sign`",
        )];
    }
    let mut out = Vec::new();
    for (index, file) in policies.iter().enumerate() {
        if let Some(gap) = version_gap(file, index as u64 + 1) {
            // One gap misplaces every later version: it is reported once.
            out.push(gap);
            break;
        }
        let previous = index.checked_sub(1).and_then(|i| policies.get(i)).map(|p| &p.policy);
        let version = SignedVersion::new(file, previous);
        out.extend(policy_signature_violations(&version));
        out.extend(root_threshold_violations(&version));
        out.extend(policy_time_violations(&version, now));
    }
    out.extend(trust_violation(policies, trust));
    out.extend(expiry_violation(policies, now));
    out
}

fn policy_violation(file: &PolicyFile, rule: Rule, message: String) -> Violation {
    Violation::new(&file.path, Some(format!("policy@{}", file.policy.version)), rule, message)
}

/// One policy version with the verdicts on its signatures under its own keys
/// and, after version 1, under the previous version's keys.
struct SignedVersion<'a> {
    file: &'a PolicyFile,
    verdicts: SignatureVerdicts,
    /// The previous version's keys vouch for its root signers' signatures here.
    previous: Option<(&'a Policy, SignatureVerdicts)>,
}

impl<'a> SignedVersion<'a> {
    fn new(file: &'a PolicyFile, previous: Option<&'a Policy>) -> Self {
        let signatures = &file.policy.signatures;
        SignedVersion {
            file,
            verdicts: signature_verdicts(&file.policy, &file.message, signatures),
            previous: previous.map(|p| (p, signature_verdicts(p, &file.message, signatures))),
        }
    }

    fn violation(&self, rule: Rule, message: String) -> Violation {
        policy_violation(self.file, rule, message)
    }
}

/// Rule `policy`: version numbers run 1, 2, 3 without gaps.
fn version_gap(file: &PolicyFile, expected: u64) -> Option<Violation> {
    (file.policy.version != expected).then(|| {
        policy_violation(
            file,
            Rule::Policy,
            format!(
                "policy versions jump from {} to {}; versions run 1, 2, 3 without gaps",
                expected - 1,
                file.policy.version
            ),
        )
    })
}

/// Rule `signature` for a policy version: nobody signs twice, and each
/// signature counts for this version's root or the previous version's.
fn policy_signature_violations(version: &SignedVersion) -> Vec<Violation> {
    let policy = &version.file.policy;
    let root_here = |signer: &Name| policy.root.signers.contains(signer);
    let mut out = Vec::new();
    for (i, signature) in policy.signatures.iter().enumerate() {
        if policy.signatures[..i].iter().any(|s| s.signer == signature.signer) {
            out.push(
                version.violation(Rule::Signature, format!("{} signed twice; a signer counts once", signature.signer)),
            );
            continue;
        }
        let here = &version.verdicts[i];
        let before = version.previous.as_ref().map(|(p, verdicts)| (p, &verdicts[i]));
        let valid_here = here.is_ok() && root_here(&signature.signer);
        let valid_before = before.is_some_and(|(p, v)| v.is_ok() && p.root.signers.contains(&signature.signer));
        if valid_here || valid_before {
            continue;
        }
        // Name the key problem where there is one; an unknown signer is
        // better said as "not a root signer".
        let problem = match (here, before.map(|(_, v)| v)) {
            (Err(SignatureProblem::UnknownSigner), Some(Err(before))) => Some(before.clone()),
            (Err(here), _) => Some(here.clone()),
            (Ok(()), Some(Err(before))) if !root_here(&signature.signer) => Some(before.clone()),
            _ => None,
        };
        out.push(match problem {
            Some(problem) if problem != SignatureProblem::UnknownSigner => {
                version.violation(Rule::Signature, format!("policy signature by {}: {problem}", signature.signer))
            }
            _ => version.violation(
                Rule::Signature,
                format!(
                    "{} is not a root signer of this or the previous version, so may not sign it",
                    signature.signer
                ),
            ),
        });
    }
    out
}

/// Rule `threshold` for a policy version (its own root threshold), and the
/// rotation half of rule `policy` (the previous version's root threshold).
fn root_threshold_violations(version: &SignedVersion) -> Vec<Violation> {
    let policy = &version.file.policy;
    let mut out = Vec::new();
    let count_here = missing_root(policy, &policy.signatures, &version.verdicts);
    if count_here > 0 {
        out.push(version.violation(
            Rule::Threshold,
            format!(
                "policy version {} needs {count_here} more signature(s) from its root signers {}; run `gitops-ledger policy sign`",
                policy.version,
                join(&policy.root.signers)
            ),
        ));
    }
    if let Some((previous, verdicts_by_previous)) = &version.previous {
        let count_before = missing_root(previous, &policy.signatures, verdicts_by_previous);
        if count_before > 0 {
            out.push(version.violation(
                Rule::Policy,
                format!(
                    "rotation to version {} needs {count_before} more signature(s) from the root signers of version {} ({})",
                    policy.version,
                    previous.version,
                    join(&previous.root.signers)
                ),
            ));
        }
    }
    out
}

/// The time half of rule `policy` for a version: `at` not before the previous
/// version's, and not forward-dated past [`MAX_CLOCK_SKEW_SECONDS`].
fn policy_time_violations(version: &SignedVersion, now: Timestamp) -> Vec<Violation> {
    let policy = &version.file.policy;
    let mut out = Vec::new();
    if let Some((previous, _)) = &version.previous {
        if policy.at < previous.at {
            out.push(version.violation(
                Rule::Policy,
                format!("at {} is earlier than version {}'s {}", policy.at, previous.version, previous.at),
            ));
        }
    }
    if policy.at.seconds_since(now) > MAX_CLOCK_SKEW_SECONDS {
        out.push(version.violation(Rule::Policy, format!("at {} is in the future (now is {now})", policy.at)));
    }
    out
}

/// Rule `trust`: version 1 is the one `--trust` pins.
fn trust_violation(policies: &[PolicyFile], trust: Option<&RecordId>) -> Option<Violation> {
    let (pin, first) = (trust?, policies.first()?);
    // Labelled as version 1 even when the first file holds another version:
    // the pin is about version 1.
    (&first.id != pin).then(|| {
        Violation::new(
            &first.path,
            Some("policy@1".into()),
            Rule::Trust,
            format!("policy version 1 has id {} but --trust pins {pin}: the trust anchor was replaced", first.id),
        )
    })
}

/// Rule `expiry`: the newest version is not past its `expires`.
fn expiry_violation(policies: &[PolicyFile], now: Timestamp) -> Option<Violation> {
    let newest = policies.last()?;
    let expires = newest.policy.expires.filter(|expires| *expires < now)?;
    Some(policy_violation(
        newest,
        Rule::Expiry,
        format!("the newest policy expired at {expires}; sign a new version (`gitops-ledger policy new`)"),
    ))
}

/// How many more valid signatures from `group_owner`'s root signers `policy` needs.
pub(crate) fn missing_root(group_owner: &Policy, signatures: &[Signature], verdicts: &SignatureVerdicts) -> u64 {
    let have = valid_distinct(signatures, verdicts, &group_owner.root.signers).len() as u64;
    group_owner.root.threshold.saturating_sub(have)
}

pub(crate) fn join(names: &[Name]) -> String {
    names.iter().map(Name::as_str).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::path::Path;

    use super::*;
    use crate::clock::Span;
    use crate::ledger::RecordFile;
    use crate::policy::{policy_path, AbsoluteFreeze, Freeze, RecurringFreeze, SignerGroup, POLICY_SCHEMA};
    use crate::record::{record_path, Digest, Evidence, Image, ImageName, Override, RECORD_SCHEMA};
    use crate::sign::{PolicyKey, SigningKey};

    const PATH: &str = "promotions/apps/api/00000001.json";
    /// When the app's first upstream entry lands in most cases.
    const T0: &str = "2026-06-01T00:00:00Z";

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn names(list: &[&str]) -> Vec<Name> {
        list.iter().map(|n| name(n)).collect()
    }

    fn at(text: &str) -> Timestamp {
        Timestamp::parse(text).unwrap()
    }

    /// `sha256:` and 64 times `fill`, so messages show `sha256:aaaaaaaaaaaa`.
    fn digest(fill: char) -> Digest {
        Digest::parse(&format!("sha256:{}", fill.to_string().repeat(64))).unwrap()
    }

    fn environment(env: &str, from: Option<&str>, signers: &[&str], threshold: u64) -> Environment {
        Environment {
            name: name(env),
            from: from.map(|f| Upstream::One(name(f))),
            from_mode: None,
            signers: names(signers),
            threshold,
            soak: None,
            freeze: None,
            evidence_signers: None,
            requires: None,
        }
    }

    /// Version 1 at 2026-01-01: dev (ci; evidence by ci) → staging (alice,
    /// 1h soak) → production (alice and bob); root alice and bob;
    /// break-glass carol. No keys: the rule helpers take verdicts.
    fn policy() -> Policy {
        let mut dev = environment("dev", None, &["ci"], 1);
        dev.evidence_signers = Some(names(&["ci"]));
        let mut staging = environment("staging", Some("dev"), &["alice"], 1);
        staging.soak = Some(Span::parse("1h").unwrap());
        Policy {
            schema: POLICY_SCHEMA.into(),
            version: 1,
            at: at("2026-01-01T00:00:00Z"),
            expires: None,
            keys: BTreeMap::new(),
            root: SignerGroup { signers: names(&["alice", "bob"]), threshold: 2 },
            environments: vec![dev, staging, environment("production", Some("staging"), &["alice", "bob"], 2)],
            break_glass: Some(SignerGroup { signers: names(&["carol"]), threshold: 1 }),
            overlay: crate::policy::Overlay::Null,
            targets: None,
            signatures: Vec::new(),
        }
    }

    fn env_of<'p>(policy: &'p Policy, env: &str) -> &'p Environment {
        policy.environment(&name(env)).unwrap()
    }

    fn policy_file(policy: Policy) -> PolicyFile {
        PolicyFile::new(policy_path(policy.version), policy).unwrap()
    }

    fn signatures(signers: &[&str]) -> Vec<Signature> {
        signers.iter().map(|s| Signature { signer: name(s), sig: "AAAA".into() }).collect()
    }

    /// Record api@1 of `kind` setting ghcr.io/o/api to `digest(fill)` in
    /// `env` at `when`, with the `from` [`policy`] gives `env`, signed by `signers`.
    fn record(env: &str, kind: Kind, fill: char, when: &str, signers: &[&str]) -> Record {
        let from = match kind {
            Kind::Evidence => None,
            _ => policy().environment(&name(env)).and_then(|e| e.from.clone()),
        };
        Record {
            schema: RECORD_SCHEMA.into(),
            app: name("api"),
            seq: 1,
            prev: None,
            policy: 1,
            env: name(env),
            from,
            kind,
            approves: None,
            images: vec![Image { name: ImageName::parse("ghcr.io/o/api").unwrap(), digest: digest(fill), tag: None }],
            evidence: (kind == Kind::Evidence).then(|| Evidence {
                kind: name("tests"),
                result: EvidenceResult::Pass,
                url: None,
                sha256: None,
            }),
            override_: None,
            at: at(when),
            reason: None,
            signatures: signatures(signers),
        }
    }

    fn promote(env: &str, fill: char, when: &str) -> Record {
        let signers: Vec<String> = env_of(&policy(), env).signers.iter().map(|s| s.to_string()).collect();
        record(env, Kind::Promote, fill, when, &signers.iter().map(String::as_str).collect::<Vec<_>>())
    }

    fn with(mut record: Record, change: impl FnOnce(&mut Record)) -> Record {
        change(&mut record);
        record
    }

    fn waiving(record: Record, rules: &[Waivable]) -> Record {
        with(record, |r| r.override_ = Some(Override { reason: "hotfix".into(), rules: rules.to_vec() }))
    }

    fn all_valid(record: &Record) -> SignatureVerdicts {
        record.signatures.iter().map(|_| Ok(())).collect()
    }

    /// An earlier record of the app, signed by every signer its group has.
    enum Earlier {
        Promoted(&'static str, char, &'static str),
        Tested(&'static str, char, &'static str, EvidenceResult),
    }

    fn fold(policy: &Policy, earlier: &[Earlier]) -> AppHistory {
        let files = [policy_file(policy.clone())];
        let records: Vec<RecordFile> = earlier
            .iter()
            .enumerate()
            .map(|(i, entry)| {
                let (env, kind, fill, when, result) = match *entry {
                    Earlier::Promoted(env, fill, when) => (env, Kind::Promote, fill, when, None),
                    Earlier::Tested(env, fill, when, result) => (env, Kind::Evidence, fill, when, Some(result)),
                };
                let group = env_of(policy, env);
                let signers = if kind == Kind::Evidence { group.evidence_signers() } else { &group.signers };
                let mut record = record(env, kind, fill, when, &[]);
                record.signatures =
                    signers.iter().map(|s| Signature { signer: s.clone(), sig: "AAAA".into() }).collect();
                record.seq = i as u64 + 1;
                if let (Some(evidence), Some(result)) = (record.evidence.as_mut(), result) {
                    evidence.result = result;
                }
                RecordFile::new(record_path(&record.app, record.seq), record).unwrap()
            })
            .collect();
        AppHistory::of(&records, Policies(&files))
    }

    /// What a case expects, in order: each rule and a fragment of its message.
    type Expect = &'static [(Rule, &'static str)];
    /// A change to [`policy`] for one case.
    type Change = fn(&mut Policy);
    type Verdict = Result<(), SignatureProblem>;
    /// Who signed, and the verdict on each signature.
    type Signers = Vec<(&'static str, Verdict)>;

    /// `got` is exactly `expect`, in order: each rule, its message containing the fragment.
    fn assert_violations(case: &str, got: &[Violation], expect: &[(Rule, &str)]) {
        let found: Vec<(Rule, &str)> = got.iter().map(|v| (v.rule, v.message.as_str())).collect();
        assert_eq!(got.len(), expect.len(), "{case}: {found:#?}");
        for ((rule, message), (want, fragment)) in found.iter().zip(expect) {
            assert!(
                rule == want && message.contains(fragment),
                "{case}: expected {want} with {fragment:?} in {found:#?}"
            );
        }
    }

    fn candidate<'a>(record: &'a Record, verdicts: &'a SignatureVerdicts) -> Candidate<'a> {
        Candidate { path: PATH, record, verdicts }
    }

    #[test]
    fn cited_finds_the_policy_version_and_environment_or_says_which_is_missing() {
        let files = [policy_file(policy())];
        let cases = [
            ("production under version 1", promote("production", 'a', T0), None),
            (
                "a version that does not exist",
                with(promote("production", 'a', T0), |r| r.policy = 2),
                Some("cites policy version 2, which does not exist"),
            ),
            (
                "an environment the version lacks",
                record("qa", Kind::Promote, 'a', T0, &["alice"]),
                Some("environment qa is not in policy version 1; add it to a new policy version first"),
            ),
        ];
        for (case, record, expect) in cases {
            let verdicts = all_valid(&record);
            match (cited(&candidate(&record, &verdicts), Policies(&files)), expect) {
                (Ok((policy, env)), None) => {
                    assert_eq!((policy.version, env.name.as_str()), (1, record.env.as_str()), "{case}")
                }
                (Err(violation), Some(fragment)) => {
                    assert_violations(case, std::slice::from_ref(&violation), &[(Rule::Policy, fragment)]);
                    assert_eq!((violation.file.as_str(), violation.record.as_deref()), (PATH, Some("api@1")), "{case}");
                }
                (got, _) => panic!("{case}: {got:?}"),
            }
        }
    }

    #[test]
    fn policy_violations_pin_the_policy_at_from_and_break_glass() {
        let keep: Change = |_| {};
        let no_break_glass: Change = |p| p.break_glass = None;
        let early = "2025-12-31T23:59:59Z";
        let cases: [(&str, Change, Record, Expect); 13] = [
            ("a promote as the policy says", keep, promote("production", 'a', T0), &[]),
            ("at the policy's own at", keep, promote("production", 'a', "2026-01-01T00:00:00Z"), &[]),
            (
                "at before the policy",
                keep,
                promote("production", 'a', early),
                &[(Rule::Policy, "at 2025-12-31T23:59:59Z is before policy version 1 existed (2026-01-01T00:00:00Z)")],
            ),
            (
                "another from",
                keep,
                with(promote("production", 'a', T0), |r| r.from = Some(Upstream::One(name("dev")))),
                &[(Rule::Policy, "from is dev but policy version 1 says production comes from staging")],
            ),
            (
                "from null where the policy has one",
                keep,
                with(promote("production", 'a', T0), |r| r.from = None),
                &[(Rule::Policy, "from is null but policy version 1 says production comes from staging")],
            ),
            (
                "the same upstream in another form",
                keep,
                with(promote("production", 'a', T0), |r| r.from = Some(Upstream::Many(names(&["staging"])))),
                &[(Rule::Policy, "from is [staging] but policy version 1 says production comes from staging")],
            ),
            ("an entry environment, from null", keep, promote("dev", 'a', T0), &[]),
            ("evidence has no from", keep, record("staging", Kind::Evidence, 'a', T0, &["ci"]), &[]),
            (
                "a rollback's from counts too",
                keep,
                with(record("production", Kind::Rollback, 'a', T0, &["alice", "bob"]), |r| r.from = None),
                &[(Rule::Policy, "from is null but policy version 1 says production comes from staging")],
            ),
            (
                "an override with a break-glass group",
                keep,
                waiving(promote("production", 'a', T0), &[Waivable::Soak]),
                &[],
            ),
            ("no override, no break-glass group", no_break_glass, promote("production", 'a', T0), &[]),
            (
                "an override without a break-glass group",
                no_break_glass,
                waiving(promote("production", 'a', T0), &[Waivable::Soak]),
                &[(Rule::Policy, "waives rules, but policy version 1 has no break_glass group to sign such records")],
            ),
            (
                "all three, in order",
                no_break_glass,
                waiving(with(promote("production", 'a', early), |r| r.from = None), &[Waivable::Soak]),
                &[
                    (Rule::Policy, "is before policy version 1 existed"),
                    (Rule::Policy, "from is null"),
                    (Rule::Policy, "has no break_glass group"),
                ],
            ),
        ];
        for (case, change, record, expect) in cases {
            let mut policy = policy();
            change(&mut policy);
            let verdicts = all_valid(&record);
            let env = env_of(&policy, record.env.as_str());
            assert_violations(case, &policy_violations(&candidate(&record, &verdicts), &policy, env), expect);
        }
    }

    #[test]
    fn signature_violations_pin_validity_groups_and_signing_twice() {
        use SignatureProblem::{Invalid, UnknownSigner, WrongKey};
        let production = || promote("production", 'a', T0);
        let evidence = |env: &str| record(env, Kind::Evidence, 'a', T0, &[]);
        let cases: [(&str, Record, Signers, Expect); 14] = [
            ("the environment's signers", production(), vec![("alice", Ok(())), ("bob", Ok(()))], &[]),
            ("below the threshold is pending, not a violation", production(), vec![("alice", Ok(()))], &[]),
            (
                "a signature that does not verify",
                production(),
                vec![("alice", Ok(())), ("bob", Err(Invalid))],
                &[(Rule::Signature, "signature by bob: signature does not verify")],
            ),
            (
                "a signature by another key",
                production(),
                vec![("alice", Err(WrongKey))],
                &[(Rule::Signature, "signature by alice: signature was made by a different key")],
            ),
            (
                "a signer without a key",
                production(),
                vec![("mallory", Err(UnknownSigner))],
                &[(Rule::Signature, "signature by mallory: the signer has no key in the policy version")],
            ),
            (
                "a valid signer outside the group",
                production(),
                vec![("alice", Ok(())), ("ci", Ok(()))],
                &[(Rule::Signature, "ci may not sign for production (policy version 1 allows alice, bob)")],
            ),
            (
                "break-glass on an override",
                waiving(production(), &[Waivable::Freeze]),
                vec![("alice", Ok(())), ("bob", Ok(())), ("carol", Ok(()))],
                &[],
            ),
            (
                "break-glass without an override",
                production(),
                vec![("carol", Ok(()))],
                &[(Rule::Signature, "carol may not sign for production (policy version 1 allows alice, bob)")],
            ),
            (
                "outside both groups of an override",
                waiving(production(), &[Waivable::Freeze]),
                vec![("dave", Ok(()))],
                &[(
                    Rule::Signature,
                    "dave may not sign for production (policy version 1 allows alice, bob; break-glass: carol)",
                )],
            ),
            ("evidence by an evidence signer", evidence("dev"), vec![("ci", Ok(()))], &[]),
            (
                "evidence by an environment signer",
                evidence("dev"),
                vec![("alice", Ok(()))],
                &[(Rule::Signature, "alice may not sign evidence for dev (policy version 1 allows ci)")],
            ),
            (
                "evidence where nobody signs evidence",
                evidence("staging"),
                vec![("alice", Ok(()))],
                &[(Rule::Signature, "alice may not sign evidence for staging (policy version 1 allows nobody)")],
            ),
            (
                "a signer twice",
                production(),
                vec![("alice", Ok(())), ("alice", Ok(())), ("bob", Ok(()))],
                &[(Rule::Signature, "alice signed twice; a signer counts once")],
            ),
            (
                "an invalid signature, then the same signer again",
                production(),
                vec![("bob", Err(Invalid)), ("bob", Ok(()))],
                &[
                    (Rule::Signature, "signature by bob: signature does not verify"),
                    (Rule::Signature, "bob signed twice"),
                ],
            ),
        ];
        let policy = policy();
        for (case, record, signed, expect) in cases {
            let record =
                with(record, |r| r.signatures = signatures(&signed.iter().map(|(s, _)| *s).collect::<Vec<_>>()));
            let verdicts: SignatureVerdicts = signed.into_iter().map(|(_, verdict)| verdict).collect();
            let history = AppHistory::default();
            assert_violations(case, &signature_violations(&candidate(&record, &verdicts), &policy, &history), expect);
        }
    }

    #[test]
    fn kind_violations_pin_provenance_evidence_soak_rollback_and_evidence_records() {
        use Earlier::{Promoted, Tested};
        use EvidenceResult::{Fail, Pass};
        let keep: Change = |_| {};
        let requires_tests: Change = |p| p.environments[1].requires = Some(names(&["tests"]));
        // staging fans in from dev and a new entry environment qa.
        fn fan_in(p: &mut Policy, mode: FromMode) {
            p.environments.insert(1, environment("qa", None, &["ci"], 1));
            p.environments[2].from = Some(Upstream::Many(names(&["dev", "qa"])));
            p.environments[2].from_mode = Some(mode);
        }
        let any: Change = |p| fan_in(p, FromMode::Any);
        let all: Change = |p| fan_in(p, FromMode::All);
        let later = "2026-06-01T02:00:00Z";
        let rollback = |fill| record("production", Kind::Rollback, fill, later, &["alice", "bob"]);
        let evidence = |fill| record("dev", Kind::Evidence, fill, later, &["ci"]);
        let cases: [(&str, Change, &[Earlier], Record, Expect); 22] = [
            ("a promote into an entry environment", keep, &[], promote("dev", 'a', T0), &[]),
            ("a digest its upstream ran, soaked", keep, &[Promoted("dev", 'a', T0)], promote("staging", 'a', later), &[]),
            (
                "a digest its upstream never ran",
                keep,
                &[Promoted("dev", 'b', T0)],
                promote("staging", 'a', later),
                &[(Rule::Provenance, "staging digest sha256:aaaaaaaaaaaa (ghcr.io/o/api) was never promoted to dev; promote it to dev first")],
            ),
            (
                "provenance waived",
                keep,
                &[],
                waiving(promote("staging", 'a', later), &[Waivable::Provenance]),
                &[],
            ),
            (
                "waiving soak leaves provenance",
                keep,
                &[],
                waiving(promote("staging", 'a', later), &[Waivable::Soak]),
                &[(Rule::Provenance, "was never promoted to dev")],
            ),
            (
                "before the soak ends",
                keep,
                &[Promoted("dev", 'a', T0)],
                promote("staging", 'a', "2026-06-01T00:30:00Z"),
                &[(Rule::Soak, "digest sha256:aaaaaaaaaaaa entered dev at 2026-06-01T00:00:00Z, less than the 1h soak before 2026-06-01T00:30:00Z; promote at 2026-06-01T01:00:00Z or later")],
            ),
            ("just when the soak ends", keep, &[Promoted("dev", 'a', T0)], promote("staging", 'a', "2026-06-01T01:00:00Z"), &[]),
            (
                "soak waived",
                keep,
                &[Promoted("dev", 'a', T0)],
                waiving(promote("staging", 'a', "2026-06-01T00:30:00Z"), &[Waivable::Soak]),
                &[],
            ),
            (
                "required evidence missing",
                requires_tests,
                &[Promoted("dev", 'a', T0)],
                promote("staging", 'a', later),
                &[(Rule::Evidence, "staging requires tests evidence for sha256:aaaaaaaaaaaa in dev, and there is none since it entered dev")],
            ),
            (
                "required evidence failed",
                requires_tests,
                &[Promoted("dev", 'a', T0), Tested("dev", 'a', "2026-06-01T00:10:00Z", Fail)],
                promote("staging", 'a', later),
                &[(Rule::Evidence, "tests evidence for sha256:aaaaaaaaaaaa in dev failed at 2026-06-01T00:10:00Z; staging requires a pass")],
            ),
            (
                "required evidence waived",
                requires_tests,
                &[Promoted("dev", 'a', T0)],
                waiving(promote("staging", 'a', later), &[Waivable::Evidence]),
                &[],
            ),
            (
                "required evidence passed, soaked",
                requires_tests,
                &[Promoted("dev", 'a', T0), Tested("dev", 'a', "2026-06-01T00:10:00Z", Pass)],
                promote("staging", 'a', later),
                &[],
            ),
            (
                "the soak counts from the pass",
                requires_tests,
                &[Promoted("dev", 'a', T0), Tested("dev", 'a', "2026-06-01T01:30:00Z", Pass)],
                promote("staging", 'a', later),
                &[(Rule::Soak, "digest sha256:aaaaaaaaaaaa passed its required evidence in dev at 2026-06-01T01:30:00Z")],
            ),
            ("any: one upstream suffices", any, &[Promoted("qa", 'a', T0)], promote("staging", 'a', later), &[]),
            (
                "any: every upstream's findings when none passes",
                any,
                &[],
                promote("staging", 'a', later),
                &[(Rule::Provenance, "never promoted to dev"), (Rule::Provenance, "never promoted to qa")],
            ),
            (
                "all: each upstream must pass",
                all,
                &[Promoted("qa", 'a', T0)],
                promote("staging", 'a', later),
                &[(Rule::Provenance, "never promoted to dev")],
            ),
            (
                "a rollback to a digest production ran",
                keep,
                &[Promoted("production", 'a', T0), Promoted("production", 'b', "2026-06-01T01:00:00Z")],
                rollback('a'),
                &[],
            ),
            (
                "a rollback to a digest production never ran",
                keep,
                &[Promoted("staging", 'c', T0), Promoted("production", 'b', T0)],
                rollback('c'),
                &[(Rule::Rollback, "rollback to sha256:cccccccccccc (ghcr.io/o/api), which production never ran; a rollback returns to a digest the environment ran before")],
            ),
            (
                "a rollback is no promote: no provenance asked",
                keep,
                &[Promoted("production", 'a', T0)],
                waiving(rollback('a'), &[Waivable::Freeze]),
                &[],
            ),
            ("evidence for what dev runs", keep, &[Promoted("dev", 'a', T0)], evidence('a'), &[]),
            (
                "evidence for what dev ran before",
                keep,
                &[Promoted("dev", 'a', T0), Promoted("dev", 'b', "2026-06-01T01:00:00Z")],
                evidence('a'),
                &[(Rule::Evidence, "evidence for sha256:aaaaaaaaaaaa (ghcr.io/o/api), which dev does not run (it runs sha256:bbbbbbbbbbbb); evidence attests to what runs")],
            ),
            (
                "evidence where nothing runs",
                keep,
                &[],
                evidence('a'),
                &[(Rule::Evidence, "which dev does not run; evidence attests to what runs")],
            ),
        ];
        for (case, change, earlier, record, expect) in cases {
            let mut policy = policy();
            change(&mut policy);
            let history = fold(&policy, earlier);
            let verdicts = all_valid(&record);
            let env = env_of(&policy, record.env.as_str());
            assert_violations(case, &kind_violations(&candidate(&record, &verdicts), env, &history), expect);
        }
    }

    #[test]
    fn freeze_violations_pin_windows_rollbacks_and_waivers() {
        let window = |allow_rollback: Option<bool>| {
            Freeze::Absolute(AbsoluteFreeze { start: at(T0), end: at("2026-06-02T00:00:00Z"), allow_rollback })
        };
        // Friday 16:00 Berlin for 64h: across the end of summer time, 14:00Z to 06:00Z (docs/format.md).
        let weekend = Freeze::Recurring(RecurringFreeze {
            cron: "0 16 * * FRI".into(),
            duration: Span::parse("64h").unwrap(),
            timezone: "Europe/Berlin".into(),
            allow_rollback: None,
        });
        let inside = "2026-06-01T12:00:00Z";
        let promote = |when| promote("production", 'a', when);
        let rollback = || record("production", Kind::Rollback, 'a', inside, &["alice", "bob"]);
        let cases: [(&str, Vec<Freeze>, Record, Expect); 13] = [
            ("no windows", vec![], promote(inside), &[]),
            (
                "a promote inside a window",
                vec![window(None)],
                promote(inside),
                &[(
                    Rule::Freeze,
                    "production is frozen from 2026-06-01T00:00:00Z until 2026-06-02T00:00:00Z (policy version 1)",
                )],
            ),
            ("at the window's start", vec![window(None)], promote(T0), &[(Rule::Freeze, "is frozen from")]),
            ("at the window's end", vec![window(None)], promote("2026-06-02T00:00:00Z"), &[]),
            ("a rollback inside a window", vec![window(Some(false))], rollback(), &[(Rule::Freeze, "is frozen from")]),
            ("a rollback where the window allows it", vec![window(Some(true))], rollback(), &[]),
            (
                "a promote where the window allows only rollbacks",
                vec![window(Some(true))],
                promote(inside),
                &[(Rule::Freeze, "(policy version 1); only rollbacks may land")],
            ),
            ("freeze waived", vec![window(None)], waiving(promote(inside), &[Waivable::Freeze]), &[]),
            (
                "another rule waived",
                vec![window(None)],
                waiving(promote(inside), &[Waivable::Soak]),
                &[(Rule::Freeze, "is frozen from")],
            ),
            (
                "evidence is never frozen",
                vec![window(None)],
                record("production", Kind::Evidence, 'a', inside, &[]),
                &[],
            ),
            (
                "two windows, each reported",
                vec![window(None), window(Some(true))],
                promote(inside),
                &[(Rule::Freeze, "(policy version 1)"), (Rule::Freeze, "only rollbacks may land")],
            ),
            (
                "inside a recurring window",
                vec![weekend.clone()],
                promote("2026-10-24T12:00:00Z"),
                &[(Rule::Freeze, "production is frozen from 2026-10-23T14:00:00Z until 2026-10-26T06:00:00Z")],
            ),
            ("when the recurring window closes", vec![weekend], promote("2026-10-26T06:00:00Z"), &[]),
        ];
        for (case, windows, record, expect) in cases {
            let mut policy = policy();
            policy.environments[2].freeze = Some(windows);
            let verdicts = all_valid(&record);
            let env = env_of(&policy, "production");
            assert_violations(case, &freeze_violations(&candidate(&record, &verdicts), &policy, env), expect);
        }
    }

    #[test]
    fn check_record_runs_the_chain_then_each_rule_in_the_table_order() {
        let mut frozen = policy();
        frozen.environments[2].freeze = Some(vec![Freeze::Absolute(AbsoluteFreeze {
            start: at(T0),
            end: at("2026-06-02T00:00:00Z"),
            allow_rollback: None,
        })]);
        let files = [policy_file(frozen.clone())];
        let now = at("2026-07-01T00:00:00Z");
        let everything_wrong = with(record("production", Kind::Promote, 'a', T0, &["alice", "ci"]), |r| {
            r.seq = 2;
            r.from = None;
        });
        let cases: [(&str, Record, Expect); 4] = [
            (
                "every helper's finding, chain first",
                everything_wrong.clone(),
                &[
                    (Rule::Chain, "seq is 2 but this is the app's first record"),
                    (Rule::Policy, "from is null"),
                    (Rule::Signature, "ci may not sign for production"),
                    (Rule::Provenance, "was never promoted to staging"),
                    (Rule::Freeze, "production is frozen"),
                ],
            ),
            (
                "a missing policy version stops after the chain",
                with(everything_wrong.clone(), |r| r.policy = 7),
                &[(Rule::Chain, "seq is 2"), (Rule::Policy, "cites policy version 7, which does not exist")],
            ),
            (
                "an environment not in the policy stops after the chain",
                with(everything_wrong, |r| r.env = name("qa")),
                &[(Rule::Chain, "seq is 2"), (Rule::Policy, "environment qa is not in policy version 1")],
            ),
            ("a promote that breaks no rule", promote("dev", 'a', T0), &[]),
        ];
        for (case, record, expect) in cases {
            let verdicts = all_valid(&record);
            assert_violations(
                case,
                &check_record(&candidate(&record, &verdicts), &fold(&frozen, &[]), Policies(&files), now),
                expect,
            );
        }

        let history = fold(&frozen, &[Earlier::Promoted("staging", 'a', T0)]);
        let pending = with(record("production", Kind::Promote, 'a', "2026-06-03T00:00:00Z", &["alice"]), |r| {
            r.seq = 2;
            r.prev = history.last().map(|link| link.id.clone());
        });
        let verdicts = all_valid(&pending);
        assert_violations(
            "pending",
            &check_record(&candidate(&pending, &verdicts), &history, Policies(&files), now),
            &[],
        );
        let missing = missing_approvals(&pending, &frozen, pending.signatures.iter().map(|s| &s.signer));
        assert_eq!(missing.len(), 1, "pending is missing_approvals' finding");
        assert_eq!(missing[0].to_string(), "production needs 2 distinct signers of alice, bob, 1 more");
    }

    fn version(number: u64, when: &str, root: &[&str], signers: &[&str]) -> PolicyFile {
        let mut policy = policy();
        policy.version = number;
        policy.at = at(when);
        policy.root = SignerGroup { signers: names(root), threshold: 2 };
        policy.signatures = signatures(signers);
        policy_file(policy)
    }

    /// Who signed a policy version, and the verdicts on each signature.
    enum Signed {
        /// Version 1 (root alice and bob): the verdict under its own keys.
        First(Signers),
        /// Version 2 (root bob and carol) after version 1: the verdicts under
        /// version 2's keys and under version 1's.
        Rotation(Vec<(&'static str, Verdict, Verdict)>),
    }

    fn judge(signed: Signed, check: fn(&SignedVersion) -> Vec<Violation>) -> Vec<Violation> {
        let first = version(1, "2026-01-01T00:00:00Z", &["alice", "bob"], &[]);
        match signed {
            Signed::First(rows) => {
                let file = version(
                    1,
                    "2026-01-01T00:00:00Z",
                    &["alice", "bob"],
                    &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                );
                let verdicts = rows.into_iter().map(|r| r.1).collect();
                check(&SignedVersion { file: &file, verdicts, previous: None })
            }
            Signed::Rotation(rows) => {
                let file = version(
                    2,
                    "2026-02-01T00:00:00Z",
                    &["bob", "carol"],
                    &rows.iter().map(|r| r.0).collect::<Vec<_>>(),
                );
                let verdicts = rows.iter().map(|r| r.1.clone()).collect();
                let before = rows.into_iter().map(|r| r.2).collect();
                check(&SignedVersion { file: &file, verdicts, previous: Some((&first.policy, before)) })
            }
        }
    }

    #[test]
    fn policy_signature_violations_pin_root_signers_of_this_or_the_previous_version() {
        use SignatureProblem::{Invalid, UnknownSigner, WrongKey};
        use Signed::{First, Rotation};
        let cases: [(&str, Signed, Expect); 13] = [
            ("version 1 by its root", First(vec![("alice", Ok(())), ("bob", Ok(()))]), &[]),
            (
                "a signer twice",
                First(vec![("alice", Ok(())), ("alice", Ok(()))]),
                &[(Rule::Signature, "alice signed twice; a signer counts once")],
            ),
            (
                "a valid signer outside the root",
                First(vec![("carol", Ok(()))]),
                &[(Rule::Signature, "carol is not a root signer of this or the previous version, so may not sign it")],
            ),
            (
                "a signature that does not verify",
                First(vec![("bob", Err(Invalid))]),
                &[(Rule::Signature, "policy signature by bob: signature does not verify")],
            ),
            (
                "a signer without a key is not a root signer",
                First(vec![("mallory", Err(UnknownSigner))]),
                &[(Rule::Signature, "mallory is not a root signer")],
            ),
            ("the old root vouches", Rotation(vec![("alice", Err(UnknownSigner), Ok(()))]), &[]),
            ("the new root signs", Rotation(vec![("carol", Ok(()), Err(UnknownSigner))]), &[]),
            ("a new key fails, the old one vouches", Rotation(vec![("bob", Err(WrongKey), Ok(()))]), &[]),
            (
                "an old root signer's signature fails under the old key",
                Rotation(vec![("alice", Err(UnknownSigner), Err(Invalid))]),
                &[(Rule::Signature, "policy signature by alice: signature does not verify")],
            ),
            (
                "this version's key problem comes first",
                Rotation(vec![("bob", Err(WrongKey), Err(Invalid))]),
                &[(Rule::Signature, "policy signature by bob: signature was made by a different key")],
            ),
            (
                "valid here but no root signer, failing under the old key",
                Rotation(vec![("ci", Ok(()), Err(WrongKey))]),
                &[(Rule::Signature, "policy signature by ci: signature was made by a different key")],
            ),
            (
                "valid under both versions' keys but in neither root",
                Rotation(vec![("ci", Ok(()), Ok(()))]),
                &[(Rule::Signature, "ci is not a root signer of this or the previous version")],
            ),
            (
                "in neither version's keys",
                Rotation(vec![("dave", Err(UnknownSigner), Err(UnknownSigner))]),
                &[(Rule::Signature, "dave is not a root signer of this or the previous version")],
            ),
        ];
        for (case, signed, expect) in cases {
            assert_violations(case, &judge(signed, policy_signature_violations), expect);
        }
    }

    #[test]
    fn root_threshold_violations_pin_the_own_root_and_the_rotation() {
        use SignatureProblem::{Invalid, UnknownSigner};
        use Signed::{First, Rotation};
        let cases: [(&str, Signed, Expect); 8] = [
            ("version 1 by its root threshold", First(vec![("alice", Ok(())), ("bob", Ok(()))]), &[]),
            (
                "one of two",
                First(vec![("alice", Ok(()))]),
                &[(Rule::Threshold, "policy version 1 needs 1 more signature(s) from its root signers alice, bob; run `gitops-ledger policy sign`")],
            ),
            (
                "an invalid signature does not count",
                First(vec![("alice", Ok(())), ("bob", Err(Invalid))]),
                &[(Rule::Threshold, "policy version 1 needs 1 more signature(s)")],
            ),
            (
                "a signer outside the root does not count",
                First(vec![("alice", Ok(())), ("carol", Ok(()))]),
                &[(Rule::Threshold, "policy version 1 needs 1 more signature(s)")],
            ),
            (
                "a rotation signed by both roots",
                Rotation(vec![("alice", Err(UnknownSigner), Ok(())), ("bob", Ok(()), Ok(())), ("carol", Ok(()), Err(UnknownSigner))]),
                &[],
            ),
            (
                "a new root that signs itself in",
                Rotation(vec![("bob", Ok(()), Ok(())), ("carol", Ok(()), Err(UnknownSigner))]),
                &[(Rule::Policy, "rotation to version 2 needs 1 more signature(s) from the root signers of version 1 (alice, bob)")],
            ),
            (
                "the old root without the new",
                Rotation(vec![("alice", Err(UnknownSigner), Ok(())), ("bob", Ok(()), Ok(()))]),
                &[(Rule::Threshold, "policy version 2 needs 1 more signature(s) from its root signers bob, carol")],
            ),
            (
                "neither, own threshold first",
                Rotation(vec![("carol", Ok(()), Err(UnknownSigner))]),
                &[(Rule::Threshold, "policy version 2 needs 1 more"), (Rule::Policy, "rotation to version 2 needs 2 more")],
            ),
        ];
        for (case, signed, expect) in cases {
            assert_violations(case, &judge(signed, root_threshold_violations), expect);
        }
    }

    #[test]
    fn policy_time_violations_pin_order_and_forward_dating() {
        let now = "2026-06-01T00:00:00Z";
        let cases: [(&str, Option<&str>, &str, Expect); 6] = [
            ("version 1 in the past", None, "2026-01-01T00:00:00Z", &[]),
            ("the full clock skew ahead", None, "2026-06-01T00:05:00Z", &[]),
            (
                "past the clock skew",
                None,
                "2026-06-01T00:05:01Z",
                &[(Rule::Policy, "at 2026-06-01T00:05:01Z is in the future (now is 2026-06-01T00:00:00Z)")],
            ),
            ("after the previous version", Some("2026-01-01T00:00:00Z"), "2026-02-01T00:00:00Z", &[]),
            ("at the previous version's at", Some("2026-01-01T00:00:00Z"), "2026-01-01T00:00:00Z", &[]),
            (
                "before the previous version, and in the future",
                Some("2026-07-01T00:00:00Z"),
                "2026-06-30T00:00:00Z",
                &[
                    (Rule::Policy, "at 2026-06-30T00:00:00Z is earlier than version 1's 2026-07-01T00:00:00Z"),
                    (Rule::Policy, "is in the future"),
                ],
            ),
        ];
        for (case, previous_at, own_at, expect) in cases {
            let previous = previous_at.map(|when| version(1, when, &["alice", "bob"], &[]));
            let file = version(if previous.is_some() { 2 } else { 1 }, own_at, &["alice", "bob"], &[]);
            let signed = SignedVersion {
                file: &file,
                verdicts: Vec::new(),
                previous: previous.as_ref().map(|p| (&p.policy, Vec::new())),
            };
            assert_violations(case, &policy_time_violations(&signed, at(now)), expect);
        }
    }

    #[test]
    fn version_gap_pins_versions_without_gaps() {
        let third = version(3, "2026-01-01T00:00:00Z", &["alice", "bob"], &[]);
        assert!(version_gap(&third, 3).is_none());
        let gap = version_gap(&third, 2).unwrap();
        assert_violations(
            "a gap",
            std::slice::from_ref(&gap),
            &[(Rule::Policy, "policy versions jump from 1 to 3; versions run 1, 2, 3 without gaps")],
        );
        assert_eq!((gap.file.as_str(), gap.record.as_deref()), ("promotions/policy/00000003.json", Some("policy@3")));
    }

    #[test]
    fn trust_violation_pins_version_1_to_the_pinned_id() {
        let first = version(1, "2026-01-01T00:00:00Z", &["alice", "bob"], &[]);
        let other = RecordId::from_sha256(&[0; 32]);
        let files = std::slice::from_ref(&first);
        let cases = [
            ("no pin", files, None, None),
            ("the pinned version 1", files, Some(&first.id), None),
            ("no versions to pin", &files[..0], Some(&other), None),
            (
                "another version 1",
                files,
                Some(&other),
                Some("but --trust pins sha256:0000000000000000000000000000000000000000000000000000000000000000: the trust anchor was replaced"),
            ),
        ];
        for (case, files, pin, expect) in cases {
            let got: Vec<Violation> = trust_violation(files, pin).into_iter().collect();
            let expect: Vec<(Rule, &str)> = expect.map(|fragment| (Rule::Trust, fragment)).into_iter().collect();
            assert_violations(case, &got, &expect);
        }
        let replaced = trust_violation(files, Some(&other)).unwrap();
        assert!(replaced.message.starts_with(&format!("policy version 1 has id {} but", first.id)), "{replaced}");
        assert_eq!(replaced.record.as_deref(), Some("policy@1"));
    }

    #[test]
    fn expiry_violation_pins_the_newest_version_past_its_expires() {
        let now = "2026-06-01T00:00:00Z";
        let expiring = |number: u64, expires: Option<&str>| {
            let mut file = version(number, "2026-01-01T00:00:00Z", &["alice", "bob"], &[]);
            file.policy.expires = expires.map(at);
            file
        };
        let cases: [(&str, Vec<PolicyFile>, Option<&str>); 6] = [
            ("no versions", vec![], None),
            ("no expires", vec![expiring(1, None)], None),
            ("expires later", vec![expiring(1, Some("2026-06-01T00:00:01Z"))], None),
            ("expires now", vec![expiring(1, Some(now))], None),
            ("an older version expired", vec![expiring(1, Some("2026-02-01T00:00:00Z")), expiring(2, None)], None),
            (
                "the newest expired",
                vec![expiring(1, None), expiring(2, Some("2026-05-31T23:59:59Z"))],
                Some("the newest policy expired at 2026-05-31T23:59:59Z; sign a new version (`gitops-ledger policy new`)"),
            ),
        ];
        for (case, files, expect) in cases {
            let got: Vec<Violation> = expiry_violation(&files, at(now)).into_iter().collect();
            let expect: Vec<(Rule, &str)> = expect.map(|fragment| (Rule::Expiry, fragment)).into_iter().collect();
            assert_violations(case, &got, &expect);
            if let Some(violation) = got.first() {
                assert_eq!(violation.record.as_deref(), Some("policy@2"), "{case}");
            }
        }
    }

    fn key_path(signer: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/vectors/keys").join(signer)
    }

    fn public_key(file: &str) -> PolicyKey {
        let text = std::fs::read_to_string(key_path(&format!("{file}.pub"))).unwrap();
        PolicyKey::parse(text.trim_end()).unwrap()
    }

    /// An unsigned policy version giving each test signer its own key.
    fn keyed_policy(number: u64, root: &[&str]) -> Policy {
        let mut policy = policy();
        policy.version = number;
        policy.at = at("2026-01-01T00:00:00Z");
        policy.root = SignerGroup { signers: names(root), threshold: 2 };
        policy.keys =
            ["alice", "bob", "carol", "ci"].into_iter().map(|signer| (name(signer), public_key(signer))).collect();
        policy
    }

    /// `policy` really signed by `signers`, each with the test key of its name,
    /// then `forged` (signatures copied from elsewhere) appended as they are.
    fn signed(mut policy: Policy, signers: &[&str], forged: &[Signature]) -> PolicyFile {
        let message = policy.message().unwrap();
        policy.signatures = signers
            .iter()
            .map(|signer| Signature {
                signer: name(signer),
                sig: SigningKey::load(&key_path(signer), None).unwrap().sign(&message).unwrap(),
            })
            .chain(forged.iter().cloned())
            .collect();
        policy_file(policy)
    }

    fn keyed(number: u64, root: &[&str], signers: &[&str], forged: &[Signature]) -> PolicyFile {
        signed(keyed_policy(number, root), signers, forged)
    }

    #[test]
    fn check_policies_composes_the_helpers_per_version_then_trust_and_expiry() {
        let first = keyed(1, &["alice", "bob"], &["alice", "bob"], &[]);
        let rotated = keyed(2, &["bob", "carol"], &["alice", "bob", "carol"], &[]);
        let self_rotated = keyed(2, &["bob", "carol"], &["bob", "carol"], &[]);
        let copied = keyed(2, &["bob", "carol"], &["bob", "carol"], &first.policy.signatures[..1]);
        let mut carol_unknown = keyed_policy(1, &["alice", "bob"]);
        carol_unknown.keys.remove(&name("carol"));
        let carol_unknown = signed(carol_unknown, &["alice", "bob"], &[]);
        let mut new_alice_key = keyed_policy(2, &["bob", "carol"]);
        new_alice_key.keys.insert(name("alice"), public_key("ci"));
        let new_alice_key = signed(new_alice_key, &["alice", "bob", "carol"], &[]);
        let half_signed = keyed(1, &["alice", "bob"], &["alice"], &[]);
        let mut expired = half_signed.clone();
        expired.policy.expires = Some(at("2026-03-01T00:00:00Z"));
        let now = at("2026-06-01T00:00:00Z");
        let other = RecordId::from_sha256(&[0; 32]);
        let cases: [(&str, Vec<PolicyFile>, Option<&RecordId>, Expect); 9] = [
            ("no versions", vec![], None, &[(Rule::Policy, "there is no policy version 1; run `gitops-ledger init`")]),
            ("version 1 by its root, pinned", vec![first.clone()], Some(&first.id), &[]),
            ("a rotation signed by both roots", vec![first.clone(), rotated.clone()], None, &[]),
            ("a new root signer with a key only in the new version", vec![carol_unknown, rotated.clone()], None, &[]),
            ("a replaced key: the old one vouches for the old root", vec![first.clone(), new_alice_key], None, &[]),
            (
                "a new root that signs itself in",
                vec![first.clone(), self_rotated],
                None,
                &[(
                    Rule::Policy,
                    "rotation to version 2 needs 1 more signature(s) from the root signers of version 1 (alice, bob)",
                )],
            ),
            (
                "a signature copied from version 1",
                vec![first.clone(), copied],
                None,
                &[
                    (Rule::Signature, "policy signature by alice: signature does not verify"),
                    (Rule::Policy, "rotation to version 2 needs 1 more"),
                ],
            ),
            (
                "a gap ends the walk",
                vec![first.clone(), keyed(3, &["bob", "carol"], &[], &[]), keyed(4, &["bob", "carol"], &[], &[])],
                None,
                &[(Rule::Policy, "policy versions jump from 1 to 3")],
            ),
            (
                "per-version findings, then trust, then expiry",
                vec![expired],
                Some(&other),
                &[
                    (Rule::Threshold, "policy version 1 needs 1 more"),
                    (Rule::Trust, "the trust anchor was replaced"),
                    (Rule::Expiry, "the newest policy expired at 2026-03-01T00:00:00Z"),
                ],
            ),
        ];
        for (case, files, pin, expect) in cases {
            assert_violations(case, &check_policies(&files, now, pin), expect);
        }
    }
}
