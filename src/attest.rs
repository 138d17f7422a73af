//! `attest`: what an environment runs, as an in-toto Statement v1 whose
//! predicate is a SLSA Verification Summary (VSA 1.0), in a DSSE envelope
//! signed with raw ed25519 — the form admission controllers (Kyverno,
//! sigstore's policy-controller through `cosign attest`) and in-toto
//! verifiers take. The statement speaks for the ledger in the tree it was
//! made from: the rules held for the policies and the app's chain there.

use serde::Serialize;
use ssh_encoding::base64::{Base64, Encoding};

use std::collections::{BTreeMap, BTreeSet};

use crate::chain::{AppHistory, ImageState, Outcome};
use crate::clock::Timestamp;
use crate::ledger::{Ledger, RecordFile};
use crate::record::{Digest, ImageName, Name, RecordId};
use crate::rules::Violation;
use crate::sign::{SignError, SigningKey};
use crate::store::StoreError;
use crate::verify::{verify_app, VerifyOptions};

/// The DSSE payload type of an in-toto statement.
pub const PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// SLSA Verification Summary Attestation 1.0.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/verification_summary/v1";
/// The level added when what the environment runs entered through a break-glass override.
pub const BREAK_GLASS_LEVEL: &str = "GITOPS_LEDGER_BREAK_GLASS";

#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error("cannot encode the statement: {0}")]
    Json(#[from] serde_json::Error),
    #[error("there is no policy yet: run `gitops-ledger init`, then `policy sign`")]
    NoPolicy,
    #[error("no app `{app}` under promotions/apps/ ({known}); there is nothing to attest")]
    UnknownApp { app: Name, known: String },
    #[error("`{env}` is not an environment of the newest policy (environments: {known})")]
    UnknownEnv { env: Name, known: String },
    #[error("refused, nothing written: {env} runs nothing of {app} yet, so there is nothing to attest{pending}")]
    NothingRuns { app: Name, env: Name, pending: String },
    #[error(
        "refused, nothing written: rules fail in the policies or {app}'s chain (run `gitops-ledger verify` for the \
         whole ledger):\n{}",
        violations.iter().map(|v| format!("  {v}")).collect::<Vec<_>>().join("\n")
    )]
    Failed { app: Name, violations: Vec<Violation> },
    #[error(
        "refused, nothing written: a digest {env} runs of {app} came in through a break-glass override ({}); \
         pass --allow-override to attest it anyway, marked {BREAK_GLASS_LEVEL}",
        records.join(", ")
    )]
    BreakGlass { app: Name, env: Name, records: Vec<String> },
}

/// What to attest.
#[derive(Clone, Debug)]
pub struct Request {
    pub app: Name,
    pub env: Name,
    /// Attest what entered through a break-glass override, marked as such.
    pub allow_override: bool,
    pub verify: VerifyOptions,
}

/// An in-toto Statement v1 about the images an environment runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Statement {
    #[serde(rename = "_type")]
    pub type_: &'static str,
    pub subject: Vec<Subject>,
    #[serde(rename = "predicateType")]
    pub predicate_type: &'static str,
    pub predicate: Summary,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Subject {
    pub name: String,
    pub digest: DigestSet,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DigestSet {
    pub sha256: String,
}

/// A SLSA VSA 1.0 predicate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub verifier: Verifier,
    pub time_verified: Timestamp,
    pub resource_uri: String,
    pub policy: ResourceDescriptor,
    pub input_attestations: Vec<ResourceDescriptor>,
    pub verification_result: &'static str,
    pub verified_levels: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Verifier {
    pub id: String,
}

/// An in-toto ResourceDescriptor with a uri and a digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ResourceDescriptor {
    pub uri: String,
    pub digest: DigestSet,
}

/// A statement ready to sign, and what the user should know about it.
#[derive(Clone, Debug)]
pub struct Attestation {
    pub statement: Statement,
    /// Trust on first use, break-glass records of the chain.
    pub warnings: Vec<String>,
}

/// A DSSE envelope.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Envelope {
    #[serde(rename = "payloadType")]
    pub payload_type: &'static str,
    /// Standard base64 of the statement's JSON.
    pub payload: String,
    pub signatures: Vec<EnvelopeSignature>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EnvelopeSignature {
    /// The key's `SHA256:` fingerprint, as `ssh-keygen -l` prints it.
    pub keyid: String,
    /// Standard base64 of the raw ed25519 signature over the PAE.
    pub sig: String,
}

/// The verification level an environment's name stands for: upper case,
/// `-` and `.` as `_`.
pub fn env_level(env: &Name) -> String {
    let upper: String =
        env.as_str().chars().map(|c| if c == '-' || c == '.' { '_' } else { c.to_ascii_uppercase() }).collect();
    format!("GITOPS_LEDGER_ENV_{upper}")
}

/// Verifies the policies and `request.app`'s chain, then states what
/// `request.env` runs now, with the records that set it. Refuses when a rule
/// fails there, and when a digest it runs came in through a break-glass
/// override unless the request allows it.
pub fn attest(ledger: &Ledger, request: &Request, now: Timestamp) -> Result<Attestation, AttestError> {
    let Some(policy) = ledger.newest_policy() else {
        // A policy file that does not parse is a failing rule, named as verify names it.
        return Err(match ledger.policy_problems() {
            [] => AttestError::NoPolicy,
            problems => AttestError::Failed { app: request.app.clone(), violations: problems.to_vec() },
        });
    };
    let environments = ledger.environments();
    if !environments.iter().any(|env| env == request.env.as_str()) {
        return Err(AttestError::UnknownEnv { env: request.env.clone(), known: environments.join(", ") });
    }
    if !ledger.apps().contains(&request.app) {
        let known = match ledger.apps() {
            [] => "no app has a record yet: promote one first".to_string(),
            apps => format!("apps: {}", apps.iter().map(Name::as_str).collect::<Vec<_>>().join(", ")),
        };
        return Err(AttestError::UnknownApp { app: request.app.clone(), known });
    }
    let chain = ledger.chain(&request.app)?;
    let check = verify_app(ledger, &chain, &request.verify, now);
    if !check.violations.is_empty() {
        return Err(AttestError::Failed { app: request.app.clone(), violations: check.violations });
    }
    let running = check.view.env(&request.env).map(|env| &env.state).filter(|state| !state.is_empty());
    let Some(running) = running else {
        let pending: Vec<String> = check
            .view
            .pending
            .iter()
            .filter(|note| note.env == request.env.as_str())
            .map(|note| format!("; {} is pending approval: gitops-ledger approve {}", note.record, note.record))
            .collect();
        return Err(AttestError::NothingRuns {
            app: request.app.clone(),
            env: request.env.clone(),
            pending: pending.concat(),
        });
    };
    let overridden = break_glass_records(&chain.records, &check.history, running);
    let mut verified_levels = vec![env_level(&request.env)];
    if !overridden.is_empty() {
        if !request.allow_override {
            let records = overridden.iter().map(|f| format!("{} in {}", f.record.label(), f.path)).collect();
            return Err(AttestError::BreakGlass { app: request.app.clone(), env: request.env.clone(), records });
        }
        verified_levels.push(BREAK_GLASS_LEVEL.to_string());
    }
    let subject = running
        .iter()
        .map(|(name, state)| Subject {
            name: name.to_string(),
            digest: DigestSet { sha256: state.digest.hex().into() },
        })
        .collect();
    let predicate = Summary {
        verifier: Verifier { id: format!("pkg:cargo/gitops-ledger@{}", env!("CARGO_PKG_VERSION")) },
        time_verified: now,
        resource_uri: format!("gitops-ledger:{}/{}", request.app, request.env),
        policy: ResourceDescriptor { uri: policy.path.clone(), digest: DigestSet { sha256: policy.id.hex().into() } },
        input_attestations: input_records(&chain.records, running)
            .map(|f| ResourceDescriptor { uri: f.path.clone(), digest: DigestSet { sha256: f.id.hex().into() } })
            .collect(),
        verification_result: "PASSED",
        verified_levels,
    };
    let statement = Statement { type_: STATEMENT_TYPE, subject, predicate_type: PREDICATE_TYPE, predicate };
    Ok(Attestation { statement, warnings: check.warnings })
}

/// The records that set the running images, and the approvals of them
/// (whose signatures made them take effect), each once, in chain order.
fn input_records<'a>(
    records: &'a [RecordFile],
    running: &BTreeMap<ImageName, ImageState>,
) -> impl Iterator<Item = &'a RecordFile> {
    let setters: BTreeSet<u64> = running.values().map(|state| state.seq).collect();
    let ids: BTreeSet<&RecordId> = records.iter().filter(|f| setters.contains(&f.record.seq)).map(|f| &f.id).collect();
    records.iter().filter(move |f| {
        setters.contains(&f.record.seq) || f.record.approves.as_ref().is_some_and(|id| ids.contains(id))
    })
}

/// Break-glass records that took effect with a digest the environment runs,
/// in any environment: such a digest skipped a rule somewhere on its way,
/// even when an ordinary record (a rollback to it, a promotion from the
/// environment it was forced into) set it here last.
fn break_glass_records<'a>(
    records: &'a [RecordFile],
    history: &AppHistory,
    running: &BTreeMap<ImageName, ImageState>,
) -> Vec<&'a RecordFile> {
    let digests: BTreeSet<&Digest> = running.values().map(|state| &state.digest).collect();
    records
        .iter()
        .filter(|f| f.record.override_.is_some())
        .filter(|f| matches!(history.outcome(&f.id), Some((_, Outcome::Effective { .. }))))
        .filter(|f| f.record.images.iter().any(|image| digests.contains(&image.digest)))
        .collect()
}

/// DSSE's pre-authentication encoding: what the signature covers, binding
/// the payload type to the payload.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

/// The statement in a DSSE envelope signed by `key`.
pub fn envelope(statement: &Statement, key: &SigningKey) -> Result<Envelope, AttestError> {
    let payload = serde_json::to_vec(statement)?;
    let signature = key.sign_raw(&pae(PAYLOAD_TYPE, &payload))?;
    Ok(Envelope {
        payload_type: PAYLOAD_TYPE,
        payload: Base64::encode_string(&payload),
        signatures: vec![EnvelopeSignature {
            keyid: key.public_key().fingerprint(ssh_key::HashAlg::Sha256).to_string(),
            sig: Base64::encode_string(&signature.to_bytes()),
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pae_is_the_dsse_spec_example() {
        // From the DSSE protocol document.
        assert_eq!(
            pae("http://example.com/HelloWorld", b"hello world"),
            b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
        );
    }

    #[test]
    fn env_level_upper_cases_and_replaces_dashes_and_dots() {
        assert_eq!(env_level(&Name::parse("prod-eu.west").unwrap()), "GITOPS_LEDGER_ENV_PROD_EU_WEST");
        assert_eq!(env_level(&Name::parse("staging").unwrap()), "GITOPS_LEDGER_ENV_STAGING");
    }
}
