//! The rules of DESIGN.md, "What verify proves", in one place. `promote`,
//! `approve` and `policy sign` check a record or policy with these functions
//! before writing it, and `verify` checks every landed one with the same
//! functions, so append and verify can never disagree.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use crate::chain::{AppHistory, ChainLink};
use crate::clock::Timestamp;
use crate::policy::{Policy, PolicyFile};
use crate::record::{Kind, Name, Record, RecordId, Signature};
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
    /// Enough distinct signers (below it the record is pending).
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

/// How many more distinct signers `record` needs to meet its environment's
/// threshold (0 when met or when the environment is unknown).
pub fn missing_approvals(record: &Record, policy: &Policy, verdicts: &SignatureVerdicts) -> u64 {
    let Some(env) = policy.environment(&record.env) else { return 0 };
    let have = valid_distinct(&record.signatures, verdicts, &env.signers).len() as u64;
    env.threshold.saturating_sub(have)
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

/// Every rule about one record that the repo alone decides: chain order,
/// policy, signatures and threshold, provenance, soak, rollback, freeze.
/// `history` is the fold of the app's records before this one.
pub fn check_record(candidate: &Candidate, history: &AppHistory, policies: Policies, now: Timestamp) -> Vec<Violation> {
    let Candidate { path, record, verdicts } = candidate;
    let label = Some(record.label());
    let mut out = check_link(path, record, history.last(), now);
    let mut fail = |rule: Rule, message: String| out.push(Violation::new(path, label.clone(), rule, message));

    let Some(policy_file) = policies.get(record.policy) else {
        fail(Rule::Policy, format!("cites policy version {}, which does not exist", record.policy));
        return out;
    };
    let policy = &policy_file.policy;
    let Some(env) = policy.environment(&record.env) else {
        fail(
            Rule::Policy,
            format!(
                "environment {} is not in policy version {}; add it to a new policy version first",
                record.env, policy.version
            ),
        );
        return out;
    };
    if record.at < policy.at {
        fail(
            Rule::Policy,
            format!("at {} is before policy version {} existed ({})", record.at, policy.version, policy.at),
        );
    }
    if record.from != env.from {
        let show = |n: &Option<Name>| n.as_ref().map_or("null".to_string(), |n| n.to_string());
        fail(
            Rule::Policy,
            format!(
                "from is {} but policy version {} says {} comes from {}",
                show(&record.from),
                policy.version,
                record.env,
                show(&env.from)
            ),
        );
    }

    // Signatures: each must verify and be by someone who may sign here.
    let mut seen = BTreeSet::new();
    for (signature, verdict) in record.signatures.iter().zip(verdicts.iter()) {
        if let Err(problem) = verdict {
            fail(Rule::Signature, format!("signature by {}: {problem}", signature.signer));
        } else if !env.signers.contains(&signature.signer) {
            fail(
                Rule::Signature,
                format!(
                    "{} may not sign for {} (policy version {} allows {})",
                    signature.signer,
                    record.env,
                    policy.version,
                    join(&env.signers)
                ),
            );
        }
        if !seen.insert(&signature.signer) {
            fail(Rule::Signature, format!("{} signed twice; a signer counts once", signature.signer));
        }
    }
    // With a bad signature the record was altered or forged: that is the
    // finding, and asking for approvals of it would be the wrong advice.
    let missing = missing_approvals(record, policy, verdicts);
    if missing > 0 && verdicts.iter().all(Result::is_ok) {
        fail(
            Rule::Threshold,
            format!(
                "pending: {} needs {} distinct signers of {}, {missing} more; run `gitops-ledger approve {}`",
                record.env,
                env.threshold,
                join(&env.signers),
                record.label()
            ),
        );
    }

    match record.kind {
        Kind::Promote => {
            if let Some(upstream) = &env.from {
                for image in &record.images {
                    match history.entered(upstream, &image.digest) {
                        None => fail(
                            Rule::Provenance,
                            format!(
                                "{} digest {} ({}) was never promoted to {upstream}; promote it to {upstream} first",
                                record.env,
                                image.digest.short(),
                                image.name
                            ),
                        ),
                        Some(entered) if record.at.seconds_since(entered) < env.soak_seconds() => fail(
                            Rule::Soak,
                            format!(
                                "digest {} entered {upstream} at {entered}, less than the {} soak before {}; promote at {} or later",
                                image.digest.short(),
                                env.soak.as_ref().map_or("0s".to_string(), |s| s.to_string()),
                                record.at,
                                entered.plus_seconds(env.soak_seconds())
                            ),
                        ),
                        Some(_) => {}
                    }
                }
            }
        }
        Kind::Rollback => {
            for image in &record.images {
                if history.entered(&record.env, &image.digest).is_none() {
                    fail(
                        Rule::Rollback,
                        format!(
                            "rollback to {} ({}), which {} never ran; a rollback returns to a digest the environment ran before",
                            image.digest.short(),
                            image.name,
                            record.env
                        ),
                    );
                }
            }
        }
    }

    for window in env.freezes() {
        let waived = record.kind == Kind::Rollback && window.allow_rollback == Some(true);
        if window.covers(record.at) && !waived {
            fail(
                Rule::Freeze,
                format!(
                    "{} is frozen from {} until {} (policy version {}){}",
                    record.env,
                    window.start,
                    window.end,
                    policy.version,
                    if window.allow_rollback == Some(true) { "; only rollbacks may land" } else { "" }
                ),
            );
        }
    }
    out
}

/// The policy chain: versions 1..n with no gaps, version 1 signed by its own
/// root threshold, each later version by the root threshold of the version
/// before it and of itself (TUF-style rotation), `at` in order, not expired,
/// and version 1 equal to the pinned id when there is one.
pub fn check_policies(policies: &[PolicyFile], now: Timestamp, trust: Option<&RecordId>) -> Vec<Violation> {
    let mut out = Vec::new();
    if policies.is_empty() {
        out.push(Violation::new(
            crate::policy::POLICY_DIR,
            None,
            Rule::Policy,
            "there is no policy version 1; run `gitops-ledger init` and sign it with `gitops-ledger policy sign`",
        ));
        return out;
    }
    for (index, file) in policies.iter().enumerate() {
        let policy = &file.policy;
        let label = Some(format!("policy@{}", policy.version));
        let mut fail = |rule: Rule, message: String| out.push(Violation::new(&file.path, label.clone(), rule, message));
        let expected = index as u64 + 1;
        if policy.version != expected {
            fail(
                Rule::Policy,
                format!(
                    "policy versions jump from {} to {}; versions run 1, 2, 3 without gaps",
                    expected - 1,
                    policy.version
                ),
            );
            break;
        }
        let verdicts = signature_verdicts(policy, &file.message, &policy.signatures);
        let previous = index.checked_sub(1).and_then(|i| policies.get(i)).map(|p| &p.policy);
        // The previous version's keys vouch for its root signers' signatures here.
        let verdicts_by_previous = previous.map(|p| signature_verdicts(p, &file.message, &policy.signatures));
        for (i, signature) in policy.signatures.iter().enumerate() {
            if policy.signatures[..i].iter().any(|s| s.signer == signature.signer) {
                fail(Rule::Signature, format!("{} signed twice; a signer counts once", signature.signer));
                continue;
            }
            let valid_here = verdicts[i].is_ok() && policy.root.signers.contains(&signature.signer);
            let valid_before = match (previous, &verdicts_by_previous) {
                (Some(p), Some(v)) => v[i].is_ok() && p.root.signers.contains(&signature.signer),
                _ => false,
            };
            if valid_here || valid_before {
                continue;
            }
            let problem = match (&verdicts[i], verdicts_by_previous.as_ref().map(|v| &v[i])) {
                (Err(SignatureProblem::UnknownSigner), Some(Err(before))) => Some(before.clone()),
                (Err(here), _) => Some(here.clone()),
                (Ok(()), Some(Err(before))) if !policy.root.signers.contains(&signature.signer) => Some(before.clone()),
                _ => None,
            };
            match problem {
                Some(problem) if problem != SignatureProblem::UnknownSigner => {
                    fail(Rule::Signature, format!("policy signature by {}: {problem}", signature.signer))
                }
                _ => fail(
                    Rule::Signature,
                    format!(
                        "{} is not a root signer of this or the previous version, so may not sign it",
                        signature.signer
                    ),
                ),
            }
        }
        let count_here = missing_root(policy, policy, &verdicts);
        if count_here > 0 {
            fail(
                Rule::Threshold,
                format!(
                    "policy version {} needs {count_here} more signature(s) from its root signers {}; run `gitops-ledger policy sign`",
                    policy.version,
                    join(&policy.root.signers)
                ),
            );
        }
        if let (Some(previous), Some(verdicts_by_previous)) = (previous, &verdicts_by_previous) {
            let count_before = missing_root(previous, policy, verdicts_by_previous);
            if count_before > 0 {
                fail(
                    Rule::Policy,
                    format!(
                        "rotation to version {} needs {count_before} more signature(s) from the root signers of version {} ({})",
                        policy.version,
                        previous.version,
                        join(&previous.root.signers)
                    ),
                );
            }
            if policy.at < previous.at {
                fail(
                    Rule::Policy,
                    format!("at {} is earlier than version {}'s {}", policy.at, previous.version, previous.at),
                );
            }
        }
        if policy.at.seconds_since(now) > MAX_CLOCK_SKEW_SECONDS {
            fail(Rule::Policy, format!("at {} is in the future (now is {now})", policy.at));
        }
    }
    if let (Some(pin), Some(first)) = (trust, policies.first()) {
        if &first.id != pin {
            out.push(Violation::new(
                &first.path,
                Some("policy@1".into()),
                Rule::Trust,
                format!("policy version 1 has id {} but --trust pins {pin}: the trust anchor was replaced", first.id),
            ));
        }
    }
    if let Some(newest) = policies.last() {
        if let Some(expires) = newest.policy.expires {
            if expires < now {
                out.push(Violation::new(
                    &newest.path,
                    Some(format!("policy@{}", newest.policy.version)),
                    Rule::Expiry,
                    format!("the newest policy expired at {expires}; sign a new version (`gitops-ledger policy new`)"),
                ));
            }
        }
    }
    out
}

/// How many more valid signatures from `group_owner`'s root signers `policy` needs.
fn missing_root(group_owner: &Policy, policy: &Policy, verdicts: &SignatureVerdicts) -> u64 {
    let have = valid_distinct(&policy.signatures, verdicts, &group_owner.root.signers).len() as u64;
    group_owner.root.threshold.saturating_sub(have)
}

pub(crate) fn join(names: &[Name]) -> String {
    names.iter().map(Name::as_str).collect::<Vec<_>>().join(", ")
}
