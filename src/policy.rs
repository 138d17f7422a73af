//! The policy (`schema/policy.v1.json`): who may sign what, thresholds, soak,
//! freeze windows and where overlays live. Versions are append-only files
//! `promotions/policy/NNNNNNNN.json`; version 1 is the trust anchor.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::canonical::{self, jcs, sha256_id};
use crate::clock::{Span, Timestamp};
use crate::record::{nullable, present, Name, RecordId, Signature, Upstream, MAX_SEQ, MAX_SIGNATURES};
use crate::sign::PolicyKey;

pub const POLICY_SCHEMA: &str = "gitops-ledger/policy/v1";
pub const POLICY_DIR: &str = "promotions/policy";
pub const MAX_POLICY_BYTES: usize = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("{path}: not a valid policy: {source}")]
    Json { path: String, source: serde_json::Error },
    #[error("{path}: {problem}")]
    Invalid { path: String, problem: String },
    #[error(transparent)]
    Canonical(#[from] canonical::CanonicalError),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignerGroup {
    pub signers: Vec<Name>,
    pub threshold: u64,
}

/// A freeze window: absolute (`start`/`end`) or recurring (`cron` in a time
/// zone, lasting `duration`). A window covers `start <= at < end`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Freeze {
    Absolute(AbsoluteFreeze),
    Recurring(RecurringFreeze),
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AbsoluteFreeze {
    pub start: Timestamp,
    pub end: Timestamp,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub allow_rollback: Option<bool>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecurringFreeze {
    /// Five-field cron (minute hour day-of-month month day-of-week), in `timezone`.
    pub cron: String,
    pub duration: Span,
    /// An IANA zone such as Europe/Berlin: windows follow its daylight-saving time.
    pub timezone: String,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub allow_rollback: Option<bool>,
}

impl Freeze {
    pub fn allows_rollback(&self) -> bool {
        match self {
            Freeze::Absolute(w) => w.allow_rollback == Some(true),
            Freeze::Recurring(w) => w.allow_rollback == Some(true),
        }
    }

    /// The window (start, end) that covers `at`, if one does.
    pub fn window_at(&self, at: Timestamp) -> Option<(Timestamp, Timestamp)> {
        match self {
            Freeze::Absolute(w) => (w.start <= at && at < w.end).then_some((w.start, w.end)),
            Freeze::Recurring(w) => w.window_at(at),
        }
    }
}

impl RecurringFreeze {
    fn schedule(&self) -> Result<(croner::Cron, chrono_tz::Tz), String> {
        if self.cron.split_whitespace().count() != 5 {
            return Err(format!("cron {:?} must have five fields (minute hour day month weekday)", self.cron));
        }
        let cron = self.cron.parse::<croner::Cron>().map_err(|e| format!("cron {:?}: {e}", self.cron))?;
        let zone = self
            .timezone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| format!("timezone {:?} is not an IANA zone", self.timezone))?;
        Ok((cron, zone))
    }

    /// The first window opening after `at`, if the schedule ever matches.
    fn window_after(&self, at: Timestamp) -> Option<Timestamp> {
        use chrono::TimeZone;
        let (cron, zone) = self.schedule().ok()?;
        let from = zone.timestamp_opt(at.unix(), 0).single()?;
        let opened = cron.find_next_occurrence(&from, false).ok()?;
        Timestamp::from_unix(opened.timestamp())
    }

    /// The window opened by the last cron match at or before `at`, if it is still open:
    /// the first match after `at - duration` that is not after `at`.
    fn window_at(&self, at: Timestamp) -> Option<(Timestamp, Timestamp)> {
        use chrono::TimeZone;
        let (cron, zone) = self.schedule().ok()?;
        let seconds = self.duration.seconds();
        let from = zone.timestamp_opt(at.unix().saturating_sub(seconds), 0).single()?;
        let opened = cron.find_next_occurrence(&from, false).ok()?;
        let opened = Timestamp::from_unix(opened.timestamp())?;
        (opened <= at).then(|| (opened, opened.plus_seconds(seconds)))
    }
}

/// How a fan-in environment treats its upstreams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FromMode {
    /// The digest went through every listed upstream (the default).
    All,
    /// Through at least one.
    Any,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Environment {
    pub name: Name,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub from: Option<Upstream>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub from_mode: Option<FromMode>,
    pub signers: Vec<Name>,
    pub threshold: u64,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub soak: Option<Span>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub freeze: Option<Vec<Freeze>>,
    /// Who may sign evidence records for this environment (one signature each).
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub evidence_signers: Option<Vec<Name>>,
    /// Evidence types a digest needs, passed in its upstream(s), to enter here.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub requires: Option<Vec<Name>>,
}

impl Environment {
    pub fn soak_seconds(&self) -> i64 {
        self.soak.as_ref().map_or(0, Span::seconds)
    }

    pub fn freezes(&self) -> &[Freeze] {
        self.freeze.as_deref().unwrap_or_default()
    }

    pub fn upstreams(&self) -> &[Name] {
        self.from.as_ref().map_or(&[], Upstream::names)
    }

    pub fn from_mode(&self) -> FromMode {
        self.from_mode.unwrap_or(FromMode::All)
    }

    pub fn evidence_signers(&self) -> &[Name] {
        self.evidence_signers.as_deref().unwrap_or_default()
    }

    pub fn requires(&self) -> &[Name] {
        self.requires.as_deref().unwrap_or_default()
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    pub schema: String,
    pub version: u64,
    pub at: Timestamp,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub expires: Option<Timestamp>,
    #[serde(deserialize_with = "keys_without_duplicates")]
    pub keys: BTreeMap<Name, PolicyKey>,
    pub root: SignerGroup,
    pub environments: Vec<Environment>,
    /// Who may sign, together with an environment's signers, a record that
    /// waives rules (`override`): the hotfix path, never silent.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<SignerGroup>,
    #[serde(deserialize_with = "nullable")]
    pub overlay: Option<String>,
    pub signatures: Vec<Signature>,
}

/// A policy as found in the repo.
#[derive(Clone, Debug)]
pub struct PolicyFile {
    pub path: String,
    pub policy: Policy,
    pub id: RecordId,
    pub message: Vec<u8>,
}

impl PolicyFile {
    pub fn from_json(path: &str, bytes: &[u8]) -> Result<Self, PolicyError> {
        let invalid = |problem: String| PolicyError::Invalid { path: path.into(), problem };
        if bytes.len() > MAX_POLICY_BYTES {
            return Err(invalid(format!("{} bytes is larger than the {MAX_POLICY_BYTES}-byte limit", bytes.len())));
        }
        let policy: Policy =
            serde_json::from_slice(bytes).map_err(|source| PolicyError::Json { path: path.into(), source })?;
        policy.check().map_err(invalid)?;
        let expected = policy_path(policy.version);
        if path != expected {
            return Err(invalid(format!("holds version {} but that version belongs in {expected}", policy.version)));
        }
        Self::new(path.to_string(), policy)
    }

    pub fn new(path: String, policy: Policy) -> Result<Self, PolicyError> {
        let message = policy.message()?;
        let id = policy.id()?;
        Ok(PolicyFile { path, policy, id, message })
    }
}

pub fn policy_path(version: u64) -> String {
    format!("{POLICY_DIR}/{version:08}.json")
}

impl Policy {
    pub fn environment(&self, name: &Name) -> Option<&Environment> {
        self.environments.iter().find(|e| &e.name == name)
    }

    /// The signed message: JCS of the policy without `signatures`.
    pub fn message(&self) -> Result<Vec<u8>, PolicyError> {
        let mut value = serde_json::to_value(self).map_err(canonical::CanonicalError::from)?;
        if let Some(object) = value.as_object_mut() {
            object.remove("signatures");
        }
        Ok(jcs(&value)?)
    }

    /// The policy id (what `--trust` pins): `sha256:` of the JCS of the whole policy.
    pub fn id(&self) -> Result<RecordId, PolicyError> {
        Ok(sha256_id(&jcs(self)?))
    }

    pub fn to_pretty_json(&self) -> Vec<u8> {
        crate::record::pretty_json(self)
    }

    /// Consistency of one version on its own: every name resolves, thresholds
    /// are reachable, the environment graph has no cycles.
    pub fn check(&self) -> Result<(), String> {
        if self.schema != POLICY_SCHEMA {
            return Err(format!("schema is {:?}, expected {POLICY_SCHEMA:?}", self.schema));
        }
        if self.version == 0 || self.version > MAX_SEQ {
            return Err(format!("version {} is out of range (1..={MAX_SEQ}, the 8-digit file names)", self.version));
        }
        if self.signatures.len() > MAX_SIGNATURES {
            return Err(format!("{} signatures is more than the limit of {MAX_SIGNATURES}", self.signatures.len()));
        }
        self.check_group("root", &self.root)?;
        if self.environments.is_empty() {
            return Err("environments is empty: list at least one environment".into());
        }
        for (i, env) in self.environments.iter().enumerate() {
            let earlier = &self.environments[..i];
            if earlier.iter().any(|e| e.name == env.name) {
                return Err(format!("environment {} is listed twice", env.name));
            }
            for (j, from) in env.upstreams().iter().enumerate() {
                if !earlier.iter().any(|e| &e.name == from) {
                    return Err(format!(
                        "environment {}: from {from} must name an environment listed before it",
                        env.name
                    ));
                }
                if env.upstreams()[..j].contains(from) {
                    return Err(format!("environment {}: from lists {from} twice", env.name));
                }
            }
            if matches!(&env.from, Some(Upstream::Many(names)) if names.is_empty()) {
                return Err(format!(
                    "environment {}: from is an empty list; omit it for an entry environment",
                    env.name
                ));
            }
            if env.from_mode.is_some() && env.from.is_none() {
                return Err(format!("environment {}: from_mode needs a from", env.name));
            }
            self.check_group(
                &format!("environment {}", env.name),
                &SignerGroup { signers: env.signers.clone(), threshold: env.threshold },
            )?;
            for (j, signer) in env.evidence_signers().iter().enumerate() {
                if !self.keys.contains_key(signer) {
                    return Err(format!("environment {}: evidence signer {signer} has no entry in keys", env.name));
                }
                if env.evidence_signers()[..j].contains(signer) {
                    return Err(format!("environment {}: evidence signer {signer} is listed twice", env.name));
                }
            }
            for (j, kind) in env.requires().iter().enumerate() {
                if env.requires()[..j].contains(kind) {
                    return Err(format!("environment {}: requires lists {kind} twice", env.name));
                }
            }
            if !env.requires().is_empty() {
                for upstream in env.upstreams() {
                    let signs_evidence =
                        earlier.iter().any(|e| &e.name == upstream && !e.evidence_signers().is_empty());
                    if !signs_evidence {
                        return Err(format!(
                            "environment {} requires evidence, but its upstream {upstream} has no evidence_signers to sign it",
                            env.name
                        ));
                    }
                }
                if env.from.is_none() {
                    return Err(format!(
                        "environment {} requires evidence but has no upstream to pass it in",
                        env.name
                    ));
                }
            }
            for window in env.freezes() {
                match window {
                    Freeze::Absolute(w) if w.start >= w.end => {
                        return Err(format!(
                            "environment {}: freeze window {}..{} ends before it starts",
                            env.name, w.start, w.end
                        ))
                    }
                    Freeze::Recurring(w) => {
                        w.schedule().map_err(|e| format!("environment {}: freeze {e}", env.name))?;
                        if w.window_after(self.at).is_none() {
                            return Err(format!(
                                "environment {}: freeze cron {:?} never matches in {}; a window that never opens protects nothing",
                                env.name, w.cron, w.timezone
                            ));
                        }
                        if w.duration.seconds() == 0 {
                            return Err(format!(
                                "environment {}: a recurring freeze needs a duration above 0",
                                env.name
                            ));
                        }
                    }
                    Freeze::Absolute(_) => {}
                }
            }
        }
        if let Some(group) = &self.break_glass {
            self.check_group("break_glass", group)?;
        }
        if let Some(template) = &self.overlay {
            let escapes = template.starts_with('/')
                || template.split('/').any(|part| part.is_empty() || part == "..")
                || template.contains('\\');
            if escapes || !template.contains("{app}") || !template.contains("{env}") {
                return Err(format!(
                    "overlay {template:?} must be a relative path inside the repo containing {{app}} and {{env}}, \
                     like apps/{{app}}/overlays/{{env}}/kustomization.yaml (or null)"
                ));
            }
        }
        Ok(())
    }

    fn check_group(&self, what: &str, group: &SignerGroup) -> Result<(), String> {
        if group.signers.is_empty() {
            return Err(format!("{what} has no signers"));
        }
        for (i, signer) in group.signers.iter().enumerate() {
            if !self.keys.contains_key(signer) {
                return Err(format!("{what}: signer {signer} has no entry in keys"));
            }
            if group.signers[..i].contains(signer) {
                return Err(format!("{what}: signer {signer} is listed twice"));
            }
        }
        if group.threshold == 0 || group.threshold > group.signers.len() as u64 {
            return Err(format!(
                "{what}: threshold {} cannot be met by {} signer(s); use 1..={}",
                group.threshold,
                group.signers.len(),
                group.signers.len()
            ));
        }
        Ok(())
    }

    /// The name the policy gives `key`, for `--signer` defaults.
    pub fn signer_for_key(&self, key: &ssh_key::PublicKey) -> Option<&Name> {
        self.keys.iter().find(|(_, k)| k.same_key(key)).map(|(name, _)| name)
    }

    /// The overlay file of `app` in `env`, if the policy projects overlays.
    pub fn overlay_path(&self, app: &Name, env: &Name) -> Option<String> {
        self.overlay.as_ref().map(|t| t.replace("{app}", app.as_str()).replace("{env}", env.as_str()))
    }
}

/// `keys` as a map that refuses a repeated name instead of keeping the last one.
fn keys_without_duplicates<'de, D>(deserializer: D) -> Result<BTreeMap<Name, PolicyKey>, D::Error>
where
    D: Deserializer<'de>,
{
    struct KeysVisitor;
    impl<'de> Visitor<'de> for KeysVisitor {
        type Value = BTreeMap<Name, PolicyKey>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of signer name to ssh-ed25519 public key")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut keys = BTreeMap::new();
            while let Some((name, key)) = map.next_entry::<Name, PolicyKey>()? {
                if keys.contains_key(&name) {
                    return Err(serde::de::Error::custom(format!("key {name} is listed twice")));
                }
                keys.insert(name, key);
            }
            Ok(keys)
        }
    }
    deserializer.deserialize_map(KeysVisitor)
}

/// The policy `init` writes: version 1, unsigned, dev → staging → production,
/// with the given keys as root and human signers. It is a template to edit:
/// dev needs its CI signer before `policy sign` accepts it.
pub fn template(keys: BTreeMap<Name, PolicyKey>, ci: Vec<Name>, at: Timestamp) -> Policy {
    let humans: Vec<Name> = keys.keys().filter(|name| !ci.contains(name)).cloned().collect();
    let pair = humans.len().min(2) as u64;
    let name = |text: &str| Name::parse(text).ok();
    let environments = [
        ("dev", None, ci.clone(), 1, None),
        ("staging", name("dev"), humans.clone(), 1, None),
        ("production", name("staging"), humans.clone(), pair.max(1), Span::parse("24h").ok()),
    ]
    .into_iter()
    .filter_map(|(env, from, signers, threshold, soak)| {
        Some(Environment {
            name: name(env)?,
            from: from.map(Upstream::One),
            from_mode: None,
            signers,
            threshold,
            soak,
            freeze: None,
            evidence_signers: None,
            requires: None,
        })
    })
    .collect();
    Policy {
        schema: POLICY_SCHEMA.into(),
        version: 1,
        at,
        expires: None,
        keys,
        root: SignerGroup { signers: humans, threshold: pair.max(1) },
        environments,
        break_glass: None,
        overlay: Some("apps/{app}/overlays/{env}/kustomization.yaml".into()),
        signatures: Vec::new(),
    }
}
