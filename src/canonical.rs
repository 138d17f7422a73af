//! RFC 8785 (JCS) canonical forms, the bytes that are signed and hashed.
//!
//! Records are canonicalized from their typed form: structs whose fields are
//! declared in sorted key order, written by compact `serde_json`. For records
//! (ASCII keys, integers below 2^53, strings) that gives exactly the JCS bytes,
//! several times faster than canonicalizing a `serde_json::Value`; the tests
//! compare the two on every record shape. Policies, which are few, go through
//! `serde_json_canonicalizer` directly.

use serde::Serialize;
use sha2::{Digest as _, Sha256};

use crate::clock::Timestamp;
use crate::record::{
    Digest, Evidence, EvidenceResult, Image, ImageName, Kind, Name, Override, Record, RecordId, Signature, Tag,
    Upstream,
};

#[derive(Debug, thiserror::Error)]
pub enum CanonicalError {
    #[error("cannot write the canonical form: {0}")]
    Serialize(#[from] serde_json::Error),
}

/// JCS of any serializable value (UTF-16 key order, ES6 number form).
pub fn jcs<T: Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    Ok(serde_json_canonicalizer::to_vec(value)?)
}

/// `sha256:` + hex SHA-256 of `bytes`.
pub fn sha256_id(bytes: &[u8]) -> RecordId {
    RecordId::from_sha256(&Sha256::digest(bytes))
}

// Field declaration order below is the JCS order (sorted by UTF-16 code units;
// all keys are ASCII so that is byte order). Keep it sorted when adding fields.

#[derive(Serialize)]
struct CanonicalImage<'a> {
    digest: &'a Digest,
    name: &'a ImageName,
    #[serde(skip_serializing_if = "Option::is_none")]
    tag: Option<&'a Tag>,
}

#[derive(Serialize)]
struct CanonicalSignature<'a> {
    sig: &'a str,
    signer: &'a Name,
}

#[derive(Serialize)]
struct CanonicalEvidence<'a> {
    result: EvidenceResult,
    #[serde(skip_serializing_if = "Option::is_none")]
    sha256: Option<&'a str>,
    #[serde(rename = "type")]
    kind: &'a Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    url: Option<&'a str>,
}

/// `reason` < `rules`: already in JCS order, so the struct serializes as is.
type CanonicalOverride<'a> = &'a Override;

#[derive(Serialize)]
struct CanonicalRecord<'a> {
    app: &'a Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    approves: Option<&'a RecordId>,
    at: Timestamp,
    env: &'a Name,
    #[serde(skip_serializing_if = "Option::is_none")]
    evidence: Option<CanonicalEvidence<'a>>,
    from: Option<&'a Upstream>,
    images: Vec<CanonicalImage<'a>>,
    kind: Kind,
    #[serde(rename = "override", skip_serializing_if = "Option::is_none")]
    override_: Option<CanonicalOverride<'a>>,
    policy: u64,
    prev: Option<&'a RecordId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    schema: &'a str,
    seq: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    signatures: Option<Vec<CanonicalSignature<'a>>>,
}

fn canonical_record(record: &Record, with_signatures: bool) -> Result<Vec<u8>, CanonicalError> {
    let images = record
        .images
        .iter()
        .map(|Image { name, digest, tag }| CanonicalImage { digest, name, tag: tag.as_ref() })
        .collect();
    let signatures = with_signatures.then(|| {
        record.signatures.iter().map(|Signature { signer, sig }| CanonicalSignature { sig, signer }).collect()
    });
    let evidence = record.evidence.as_ref().map(|Evidence { kind, result, url, sha256 }| CanonicalEvidence {
        result: *result,
        sha256: sha256.as_deref(),
        kind,
        url: url.as_deref(),
    });
    let view = CanonicalRecord {
        app: &record.app,
        approves: record.approves.as_ref(),
        at: record.at,
        env: &record.env,
        evidence,
        from: record.from.as_ref(),
        images,
        kind: record.kind,
        override_: record.override_.as_ref(),
        policy: record.policy,
        prev: record.prev.as_ref(),
        reason: record.reason.as_deref(),
        schema: &record.schema,
        seq: record.seq,
        signatures,
    };
    // A record's form is a few hundred bytes (an image digest alone is 71):
    // grown from empty, it took six reallocations to reach this capacity.
    let mut out = Vec::with_capacity(512);
    serde_json::to_writer(&mut out, &view)?;
    Ok(out)
}

/// The signed message: JCS of the record without its `signatures` member.
pub fn record_message(record: &Record) -> Result<Vec<u8>, CanonicalError> {
    canonical_record(record, false)
}

/// The record id: `sha256:` of the JCS of the whole record, signatures included.
pub fn record_id(record: &Record) -> Result<RecordId, CanonicalError> {
    Ok(sha256_id(&canonical_record(record, true)?))
}

/// [`record_message`] and [`record_id`] from one serialization, for every
/// record read: `signatures` is the last member in JCS order, so the whole
/// record's form is the message with that member added before its closing
/// brace, and the id hashes the message and the signatures in turn.
pub fn message_and_id(record: &Record) -> Result<(Vec<u8>, RecordId), CanonicalError> {
    let message = record_message(record)?;
    // The message is an object with members (`app` at least), so `body`
    // ends with one and a comma goes before `signatures`.
    let Some((b'}', body)) = message.split_last() else {
        let id = record_id(record)?;
        return Ok((message, id));
    };
    let signatures: Vec<CanonicalSignature> =
        record.signatures.iter().map(|Signature { signer, sig }| CanonicalSignature { sig, signer }).collect();
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.update(b",\"signatures\":");
    serde_json::to_writer(&mut hasher, &signatures)?;
    hasher.update(b"}");
    Ok((message, RecordId::from_sha256(&hasher.finalize())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record_json(reason: Option<&str>, tag: Option<&str>, signatures: usize) -> serde_json::Value {
        let mut image = serde_json::json!({"name": "ghcr.io/o/api", "digest": format!("sha256:{}", "e".repeat(64))});
        if let Some(tag) = tag {
            image["tag"] = tag.into();
        }
        let mut value = serde_json::json!({
            "schema": crate::record::RECORD_SCHEMA, "app": "api", "seq": 2,
            "prev": format!("sha256:{}", "1".repeat(64)), "policy": 3, "env": "staging",
            "from": "dev", "kind": "rollback", "images": [image, {"name": "docker.io/x/sidecar", "digest": format!("sha256:{}", "f".repeat(64))}],
            "at": "2026-11-24T18:00:00Z",
            "signatures": (0..signatures).map(|i| serde_json::json!({"signer": format!("s{i}"), "sig": "AAAA"})).collect::<Vec<_>>(),
        });
        if let Some(reason) = reason {
            value["reason"] = reason.into();
        }
        value
    }

    #[test]
    fn evidence_override_and_fan_in_shapes_canonicalize_like_jcs() {
        let mut evidence = record_json(None, None, 1);
        evidence["kind"] = "evidence".into();
        evidence["from"] = serde_json::Value::Null;
        evidence["evidence"] = serde_json::json!({"type": "smoke-test", "result": "pass", "url": "https://ci.example/runs/1", "sha256": "ab".repeat(32)});
        let mut minimal_evidence = evidence.clone();
        minimal_evidence["evidence"] = serde_json::json!({"type": "scan", "result": "fail"});
        let mut with_override = record_json(Some("hotfix"), Some("v1"), 2);
        with_override["kind"] = "promote".into();
        with_override["override"] = serde_json::json!({"reason": "outage", "rules": ["provenance", "soak"]});
        let mut fan_in = record_json(None, None, 1);
        fan_in["kind"] = "promote".into();
        fan_in["from"] = serde_json::json!(["staging-eu", "staging-us"]);
        for value in [evidence, minimal_evidence, with_override, fan_in] {
            let record = Record::from_json("t.json", value.to_string().as_bytes()).unwrap();
            assert_eq!(record_id(&record).unwrap(), sha256_id(&jcs(&value).unwrap()), "{value}");
            assert_eq!(
                message_and_id(&record).unwrap(),
                (record_message(&record).unwrap(), record_id(&record).unwrap())
            );
            assert_eq!(
                serde_json::from_slice::<serde_json::Value>(&record.to_pretty_json()).unwrap(),
                value,
                "round trip"
            );
        }
    }

    /// The typed fast path must give the canonicalizer's bytes on every shape.
    #[test]
    fn typed_canonical_form_equals_jcs_of_the_parsed_json() {
        for reason in [None, Some("weekly release"), Some("quote \" backslash \\ tab \t nl \n ctl \u{1} é € 😀 \u{7f}")]
        {
            for tag in [None, Some("v1.4.2")] {
                for signatures in [0, 1, 3] {
                    let value = record_json(reason, tag, signatures);
                    let record = Record::from_json("t.json", value.to_string().as_bytes()).unwrap();
                    let mut unsigned = value.clone();
                    unsigned.as_object_mut().unwrap().remove("signatures");
                    assert_eq!(record_message(&record).unwrap(), jcs(&unsigned).unwrap());
                    assert_eq!(record_id(&record).unwrap(), sha256_id(&jcs(&value).unwrap()));
                    assert_eq!(
                        message_and_id(&record).unwrap(),
                        (record_message(&record).unwrap(), record_id(&record).unwrap())
                    );
                }
            }
        }
    }
}
