//! The promotion record (`schema/promotion.v1.json`) and the value types its
//! fields are made of. Parsing is strict: unknown fields, duplicate keys,
//! floats, explicit `null` for optional fields and out-of-syntax values are all
//! refused, so that a parsed record re-serializes to exactly the canonical
//! bytes that were signed (see `canonical`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::clock::Timestamp;

pub const RECORD_SCHEMA: &str = "gitops-ledger/promotion/v1";

/// Sequence numbers and policy versions are file names of exactly 8 digits.
/// (That also keeps them far below 2^53, where RFC 8785's IEEE-double numbers
/// would stop being exact.)
pub const MAX_SEQ: u64 = 99_999_999;

/// Input limits: a record is small; anything past these is refused with a
/// clear error instead of being processed.
pub const MAX_RECORD_BYTES: usize = 256 * 1024;
pub const MAX_IMAGES: usize = 64;
pub const MAX_SIGNATURES: usize = 32;
pub const MAX_REASON_CHARS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{path}: not a valid promotion record: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error("{0}")]
    Syntax(String),
}

macro_rules! validated_string {
    ($(#[$doc:meta])* $name:ident, $check:path, $what:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            pub fn parse(text: &str) -> Result<Self, RecordError> {
                if $check(text) {
                    Ok(Self(text.to_string()))
                } else {
                    Err(RecordError::Syntax(format!(concat!("`{}` is not ", $what), text.escape_debug())))
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(&self.0, f)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
                Self::parse(&text).map_err(serde::de::Error::custom)
            }
        }

        impl std::str::FromStr for $name {
            type Err = RecordError;
            fn from_str(text: &str) -> Result<Self, RecordError> {
                Self::parse(text)
            }
        }
    };
}

validated_string!(
    /// An app, environment, signer or evidence-type name: `[a-z0-9][a-z0-9._-]{0,62}`.
    Name, is_name, "a valid name: use 1-63 characters of a-z, 0-9, '.', '_' or '-', starting with a letter or digit"
);
validated_string!(
    /// An image content address: `sha256:` and 64 lower-case hex digits.
    Digest, is_digest, "an image digest: write sha256: followed by 64 lower-case hex digits (a tag is not a digest)"
);
validated_string!(
    /// A record or policy id: `sha256:` and the hex SHA-256 of its canonical form.
    RecordId, is_digest, "an id: write sha256: followed by 64 lower-case hex digits"
);
validated_string!(
    /// An OCI repository name as the base manifests write it (the kustomize
    /// `images[].name` match key): lower case, optional `host[:port]/`, no tag or digest.
    ImageName, is_image_name, "an image name: write a lower-case OCI repository such as ghcr.io/myorg/api, without a tag or digest"
);
validated_string!(
    /// A human tag label; never the artifact.
    Tag, is_tag, "a tag: use 1-128 characters of A-Z, a-z, 0-9, '_', '.' or '-', not starting with '.' or '-'"
);

impl RecordId {
    /// The hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }

    /// `sha256:` and the first 12 hex digits: enough for people, as in commit subjects.
    pub fn short(&self) -> &str {
        &self.0[..19]
    }

    pub fn from_sha256(hash: &[u8]) -> Self {
        let mut text = String::with_capacity(71);
        text.push_str("sha256:");
        for byte in hash {
            text.push(char::from(HEX[usize::from(byte >> 4)]));
            text.push(char::from(HEX[usize::from(byte & 0xf)]));
        }
        RecordId(text)
    }
}

impl Digest {
    pub fn short(&self) -> &str {
        &self.0[..19]
    }

    /// The hex digits, without `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0["sha256:".len()..]
    }
}

const HEX: &[u8; 16] = b"0123456789abcdef";

pub fn is_name(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && (bytes[0].is_ascii_lowercase() || bytes[0].is_ascii_digit())
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-'))
}

fn is_digest(text: &str) -> bool {
    text.strip_prefix("sha256:")
        .is_some_and(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn is_tag(text: &str) -> bool {
    let bytes = text.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 128
        && (bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_')
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
}

/// The OCI distribution grammar, restricted to lower case as DESIGN.md asks.
/// Kustomize matches `images[].name` as an unescaped regex, so anything outside
/// this grammar (and so any regex metacharacter) is refused.
fn is_image_name(text: &str) -> bool {
    if text.is_empty() || text.len() > 255 {
        return false;
    }
    let mut components: Vec<&str> = text.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            if !is_registry_host(first) {
                return false;
            }
            components.remove(0);
        }
    }
    components.iter().all(|c| is_path_component(c))
}

fn is_registry_host(text: &str) -> bool {
    let (host, port) = match text.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (text, None),
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()));
    port_ok
        && !host.is_empty()
        && host.split('.').all(|label| {
            let b = label.as_bytes();
            !b.is_empty()
                && b.len() <= 63
                && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
                && b[0] != b'-'
                && b[b.len() - 1] != b'-'
        })
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn is_path_component(text: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = text.as_bytes();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &text[start..i];
        let allowed = separator == "." || separator == "_" || separator == "__" || separator.bytes().all(|b| b == b'-');
        if !allowed {
            return false;
        }
    }
    true
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Promote,
    Rollback,
    /// A signed check result for what an environment runs; changes no state.
    Evidence,
    /// Signatures for an earlier promote or rollback (`approves`); changes no
    /// state by itself, but may complete the record it approves.
    Approval,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::Promote => "promote",
            Kind::Rollback => "rollback",
            Kind::Evidence => "evidence",
            Kind::Approval => "approval",
        })
    }
}

/// The upstream of an environment: one name, or a list for fan-in. Kept in
/// the form it was written, so it re-serializes to the signed bytes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Upstream {
    One(Name),
    Many(Vec<Name>),
}

impl Upstream {
    pub fn names(&self) -> &[Name] {
        match self {
            Upstream::One(name) => std::slice::from_ref(name),
            Upstream::Many(names) => names,
        }
    }
}

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Upstream::One(name) => write!(f, "{name}"),
            Upstream::Many(names) => {
                write!(f, "[{}]", names.iter().map(Name::as_str).collect::<Vec<_>>().join(", "))
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvidenceResult {
    Pass,
    Fail,
}

impl fmt::Display for EvidenceResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EvidenceResult::Pass => "pass",
            EvidenceResult::Fail => "fail",
        })
    }
}

/// What an evidence record attests. Fields in the schema's order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Evidence {
    #[serde(rename = "type")]
    pub kind: Name,
    pub result: EvidenceResult,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Hex SHA-256 of the report, without a prefix.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Rules a break-glass record may waive.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Waivable {
    Provenance,
    Soak,
    Freeze,
    Evidence,
}

impl fmt::Display for Waivable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Waivable::Provenance => "provenance",
            Waivable::Soak => "soak",
            Waivable::Freeze => "freeze",
            Waivable::Evidence => "evidence",
        })
    }
}

impl std::str::FromStr for Waivable {
    type Err = String;
    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "provenance" => Ok(Waivable::Provenance),
            "soak" => Ok(Waivable::Soak),
            "freeze" => Ok(Waivable::Freeze),
            "evidence" => Ok(Waivable::Evidence),
            _ => Err(format!("`{text}` cannot be waived; choose provenance, soak, freeze or evidence")),
        }
    }
}

/// A break-glass record's declaration: which rules it waives, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Override {
    pub reason: String,
    pub rules: Vec<Waivable>,
}

/// One image a record sets. Fields in the schema's (pretty-printing) order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Image {
    pub name: ImageName,
    pub digest: Digest,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub tag: Option<Tag>,
}

impl Image {
    /// Parses the command line form `NAME@sha256:HEX[=TAG]`.
    pub fn parse_cli(text: &str) -> Result<Self, RecordError> {
        let usage = |problem: String| {
            RecordError::Syntax(format!("--image `{text}`: {problem}; write NAME@sha256:<64 hex>[=TAG]"))
        };
        let (reference, tag) = match text.split_once('=') {
            Some((reference, tag)) => (reference, Some(tag)),
            None => (text, None),
        };
        let (name, digest) = reference
            .split_once('@')
            .ok_or_else(|| usage("no digest: images are promoted by digest, never by a mutable tag".into()))?;
        let last_component = name.rsplit('/').next().unwrap_or(name);
        if last_component.contains(':') {
            return Err(usage(
                "the name carries a tag; put the tag after `=` (it is a label, the digest is the artifact)".into(),
            ));
        }
        let name = ImageName::parse(name).map_err(|e| usage(e.to_string()))?;
        let digest = Digest::parse(digest).map_err(|e| usage(e.to_string()))?;
        let tag = tag.map(Tag::parse).transpose().map_err(|e| usage(e.to_string()))?;
        Ok(Image { name, digest, tag })
    }
}

impl fmt::Display for Image {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.tag {
            Some(tag) => write!(f, "{}:{}@{}", self.name, tag, self.digest),
            None => write!(f, "{}@{}", self.name, self.digest),
        }
    }
}

/// One SSHSIG signature over a record's or policy's signed message.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Signature {
    pub signer: Name,
    /// base64 of the binary SSHSIG blob (PROTOCOL.sshsig), not armored.
    pub sig: String,
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.signer)
    }
}

/// A promotion record. Field order is the schema's, used for the pretty file form.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub schema: String,
    pub app: Name,
    pub seq: u64,
    #[serde(deserialize_with = "nullable")]
    pub prev: Option<RecordId>,
    pub policy: u64,
    pub env: Name,
    #[serde(deserialize_with = "nullable")]
    pub from: Option<Upstream>,
    pub kind: Kind,
    /// For an approval: the id of the promote or rollback it approves.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub approves: Option<RecordId>,
    pub images: Vec<Image>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub evidence: Option<Evidence>,
    #[serde(rename = "override", default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub override_: Option<Override>,
    pub at: Timestamp,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub signatures: Vec<Signature>,
}

impl Record {
    /// Parses and checks one record file. `path` is only used in messages.
    pub fn from_json(path: &str, bytes: &[u8]) -> Result<Record, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::Invalid {
                path: path.into(),
                problem: format!("{} bytes is larger than the {MAX_RECORD_BYTES}-byte limit for a record", bytes.len()),
            });
        }
        let record: Record =
            serde_json::from_slice(bytes).map_err(|source| RecordError::Json { path: path.into(), source })?;
        record.check_fields().map_err(|problem| RecordError::Invalid { path: path.into(), problem })?;
        Ok(record)
    }

    /// Field checks that the JSON types alone do not express.
    pub fn check_fields(&self) -> Result<(), String> {
        if self.schema != RECORD_SCHEMA {
            return Err(format!("schema is {:?}, expected {RECORD_SCHEMA:?}", self.schema));
        }
        if self.seq == 0 || self.seq > MAX_SEQ {
            return Err(format!("seq {} is out of range (1..={MAX_SEQ}, the 8-digit file names)", self.seq));
        }
        if self.policy == 0 || self.policy > MAX_SEQ {
            return Err(format!("policy {} is out of range (1..={MAX_SEQ})", self.policy));
        }
        if (self.seq == 1) != self.prev.is_none() {
            return Err(if self.seq == 1 {
                "prev must be null for seq 1".to_string()
            } else {
                format!("prev is null but seq is {}; only the first record has no predecessor", self.seq)
            });
        }
        if self.images.is_empty() {
            return Err("images is empty: a record sets at least one image".into());
        }
        if self.images.len() > MAX_IMAGES {
            return Err(format!("{} images is more than the limit of {MAX_IMAGES}", self.images.len()));
        }
        for (i, image) in self.images.iter().enumerate() {
            if self.images[..i].iter().any(|other| other.name == image.name) {
                return Err(format!("image {} appears twice", image.name));
            }
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(format!("{} signatures is more than the limit of {MAX_SIGNATURES}", self.signatures.len()));
        }
        if let Some(reason) = &self.reason {
            if reason.chars().count() > MAX_REASON_CHARS {
                return Err(format!("reason is longer than {MAX_REASON_CHARS} characters"));
            }
        }
        match (self.kind, &self.evidence) {
            (Kind::Evidence, None) => return Err("kind is evidence but there is no evidence object".into()),
            (Kind::Evidence, Some(evidence)) => {
                if self.from.is_some() {
                    return Err("an evidence record has from: null".into());
                }
                if self.override_.is_some() {
                    return Err("an evidence record cannot carry an override".into());
                }
                if evidence.url.as_ref().is_some_and(|u| u.is_empty() || u.chars().count() > 2048) {
                    return Err("evidence url must be 1-2048 characters".into());
                }
                if evidence.sha256.as_ref().is_some_and(|h| {
                    !(h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
                }) {
                    return Err("evidence sha256 must be 64 lower-case hex digits".into());
                }
            }
            (_, Some(_)) => return Err(format!("a {} record has no evidence object", self.kind)),
            (_, None) => {}
        }
        match (self.kind, &self.approves) {
            (Kind::Approval, None) => return Err("kind is approval but approves is missing".into()),
            (Kind::Approval, Some(_)) => {
                if self.from.is_some() {
                    return Err("an approval record has from: null".into());
                }
                if self.override_.is_some() {
                    return Err("an approval record cannot carry an override; the record it approves does".into());
                }
            }
            (_, Some(_)) => return Err(format!("a {} record has no approves field", self.kind)),
            (_, None) => {}
        }
        if let Some(declared) = &self.override_ {
            if declared.reason.trim().is_empty() || declared.reason.chars().count() > MAX_REASON_CHARS {
                return Err(format!("override reason must be 1-{MAX_REASON_CHARS} characters"));
            }
            if declared.rules.is_empty() {
                return Err("override rules is empty: name the rules it waives".into());
            }
            for (i, rule) in declared.rules.iter().enumerate() {
                if declared.rules[..i].contains(rule) {
                    return Err(format!("override rule {rule} is listed twice"));
                }
            }
        }
        Ok(())
    }

    /// The file form: pretty-printed, fields in schema order, trailing newline.
    pub fn to_pretty_json(&self) -> Vec<u8> {
        pretty_json(self)
    }

    /// `app@seq`, how messages name a record.
    pub fn label(&self) -> String {
        format!("{}@{}", self.app, self.seq)
    }
}

/// Pretty JSON with a trailing newline. Serializing these plain structs cannot
/// fail (string keys, no custom errors), so a failure would be a bug here.
pub(crate) fn pretty_json<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// For optional fields: absent is `None`, present must be a value (not `null`),
/// so the parsed struct re-serializes to the same members.
pub(crate) fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// For required fields that may be `null`: the member must be present.
pub(crate) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer)
}

/// Path of record `seq` of `app`, relative to the repo root.
pub fn record_path(app: &Name, seq: u64) -> String {
    format!("promotions/apps/{app}/{seq:08}.json")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_design_syntax() {
        for good in ["dev", "api-service", "a", "x.y_z-1", &"a".repeat(63)] {
            assert!(is_name(good), "{good}");
        }
        for bad in ["", "Dev", "-dev", ".x", "a/b", "..", &"a".repeat(64), "dév"] {
            assert!(!is_name(bad), "{bad}");
        }
    }

    #[test]
    fn image_names_are_plain_lower_case_repositories() {
        for good in ["nginx", "ghcr.io/myorg/api-service", "localhost:5000/a/b", "registry.example.com/a__b/c-d"] {
            assert!(is_image_name(good), "{good}");
        }
        for bad in
            ["", "Ghcr.io/x", "ghcr.io/x:1.0", "ghcr.io/x@sha256:00", "x/", "/x", "x//y", "x.*", "a_-b", "host:port/x"]
        {
            assert!(!is_image_name(bad), "{bad}");
        }
    }

    #[test]
    fn cli_images_need_a_digest_and_keep_the_tag_apart() {
        let hex = "a".repeat(64);
        let image = Image::parse_cli(&format!("ghcr.io/o/api@sha256:{hex}=v1.2")).unwrap();
        assert_eq!(image.tag.unwrap().as_str(), "v1.2");
        assert!(Image::parse_cli("ghcr.io/o/api:v1").unwrap_err().to_string().contains("no digest"));
        let tagged = Image::parse_cli(&format!("ghcr.io/o/api:v1@sha256:{hex}")).unwrap_err();
        assert!(tagged.to_string().contains("carries a tag"), "{tagged}");
        assert!(Image::parse_cli("ghcr.io/o/api@sha256:abc").is_err());
        assert!(Image::parse_cli(&format!("ghcr.io/o/api@sha256:{}", "A".repeat(64))).is_err());
        assert!(Image::parse_cli(&format!("ghcr.io/o/api@v1.2.3{}", "")).is_err());
    }

    fn minimal() -> serde_json::Value {
        serde_json::json!({
            "schema": RECORD_SCHEMA, "app": "api", "seq": 1, "prev": null, "policy": 1,
            "env": "dev", "from": null, "kind": "promote",
            "images": [{"name": "ghcr.io/o/api", "digest": format!("sha256:{}", "0".repeat(64))}],
            "at": "2026-11-24T18:00:00Z", "signatures": []
        })
    }

    #[test]
    fn strict_parsing_refuses_what_would_not_round_trip() {
        let parse = |v: &serde_json::Value| Record::from_json("r.json", v.to_string().as_bytes());
        assert!(parse(&minimal()).is_ok());
        let mut missing_prev = minimal();
        missing_prev.as_object_mut().unwrap().remove("prev");
        assert!(parse(&missing_prev).is_err(), "prev must be present even when null");
        let mut null_reason = minimal();
        null_reason["reason"] = serde_json::Value::Null;
        assert!(parse(&null_reason).is_err(), "an optional field is absent, never null");
        let mut unknown = minimal();
        unknown["extra"] = 1.into();
        assert!(parse(&unknown).is_err());
        let mut float = minimal();
        float["seq"] = serde_json::json!(1.0);
        assert!(parse(&float).is_err());
        let mut huge = minimal();
        huge["seq"] = serde_json::json!(MAX_SEQ + 1);
        assert!(parse(&huge).is_err());
        let duplicate = minimal().to_string().replacen("\"app\":\"api\"", "\"app\":\"api\",\"app\":\"web\"", 1);
        assert!(Record::from_json("r.json", duplicate.as_bytes()).is_err());
    }
}
