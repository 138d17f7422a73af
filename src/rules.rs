//! The rules of DESIGN.md, "What verify proves", in one place. `promote`,
//! `approve` and `policy sign` check a record or policy with these functions
//! before writing it, and `verify` checks every landed one with the same
//! functions, so append and verify can never disagree.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::chain::{AppHistory, ChainLink};
use crate::clock::Timestamp;
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
    pub what: String,
    pub signers: &'p [Name],
    pub threshold: u64,
}

/// The signer groups a record must satisfy under `policy`: the environment's
/// signers (or, for evidence, one of its evidence signers), and for a record
/// that waives rules, the break-glass group too.
pub fn requirements<'p>(record: &Record, policy: &'p Policy) -> Vec<Requirement<'p>> {
    let Some(env) = policy.environment(&record.env) else { return Vec::new() };
    if record.kind == Kind::Evidence {
        return vec![Requirement {
            what: format!("evidence for {}", env.name),
            signers: env.evidence_signers(),
            threshold: 1,
        }];
    }
    let mut out = vec![Requirement { what: env.name.to_string(), signers: &env.signers, threshold: env.threshold }];
    if record.override_.is_some() {
        if let Some(group) = &policy.break_glass {
            out.push(Requirement { what: "break-glass".into(), signers: &group.signers, threshold: group.threshold });
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

/// The signer groups whose threshold `record` does not meet under `policy`:
/// the threshold rule (4), and the one definition of "pending". Signers are
/// counted by name, once each, where the group allows them; whether each
/// signature is valid is the signature rule's finding, so a forged signature
/// fails verification but never changes what the ledger projects.
pub fn missing_approvals<'p>(record: &Record, policy: &'p Policy) -> Vec<MissingApproval<'p>> {
    requirements(record, policy)
        .into_iter()
        .filter_map(|requirement| {
            let have = record
                .signatures
                .iter()
                .map(|s| &s.signer)
                .filter(|signer| requirement.signers.contains(signer))
                .collect::<BTreeSet<_>>()
                .len() as u64;
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
    out.extend(signature_violations(candidate, policy));
    out.extend(kind_violations(candidate, env, history));
    out.extend(freeze_violations(candidate, policy, env));
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
    if record.kind != Kind::Evidence && record.from != env.from {
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
fn signature_violations(candidate: &Candidate, policy: &Policy) -> Vec<Violation> {
    let record = candidate.record;
    let groups = requirements(record, policy);
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
    if record.kind == Kind::Evidence || waives(record, Waivable::Freeze) {
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
