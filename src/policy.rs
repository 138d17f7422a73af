//! The policy (`schema/policy.v1.json`): who may sign what, thresholds, soak,
//! freeze windows and where overlays live. Versions are append-only files
//! `promotions/policy/NNNNNNNN.json`; version 1 is the trust anchor.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use crate::canonical::{self, jcs, sha256_id};
use crate::clock::{Span, Timestamp};
use crate::record::{present, Name, RecordId, Signature, Upstream, MAX_SEQ, MAX_SIGNATURES};
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
    /// The one-target shorthand: `"overlay": T` means `"targets": [{"path": T}]`.
    #[serde(default, skip_serializing_if = "Overlay::is_absent")]
    pub overlay: Overlay,
    /// Where the projection writes (see [`Target`]); absent: `overlay` says.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub targets: Option<Vec<Target>>,
    pub signatures: Vec<Signature>,
}

/// The policy's `overlay` member. Absent and `null` differ in the signed
/// bytes, so both are kept as written.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Overlay {
    #[default]
    Absent,
    Null,
    Template(String),
}

impl Overlay {
    pub fn is_absent(&self) -> bool {
        matches!(self, Overlay::Absent)
    }

    pub fn template(&self) -> Option<&str> {
        match self {
            Overlay::Template(t) => Some(t),
            _ => None,
        }
    }
}

impl From<Option<String>> for Overlay {
    fn from(template: Option<String>) -> Self {
        template.map_or(Overlay::Null, Overlay::Template)
    }
}

impl Serialize for Overlay {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.template().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Overlay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Option::<String>::deserialize(deserializer).map(Overlay::from)
    }
}

/// One place the projection writes: a file per environment (and per app,
/// when the path has `{app}`), edited as its `kind` says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub path: String,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub kind: Option<TargetKind>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub apps: Option<Vec<Name>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub envs: Option<Vec<Name>>,
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub images: Option<Vec<String>>,
    /// `yaml`: the image of the state the target takes.
    #[serde(default, deserialize_with = "present", skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// `yaml`: dotted key path → value template.
    #[serde(default, deserialize_with = "set_without_duplicates", skip_serializing_if = "Option::is_none")]
    pub set: Option<BTreeMap<String, String>>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TargetKind {
    /// The `images:` entries of a kustomization.
    Kustomize,
    /// Every YAML `image:` value whose repository is an image of the state.
    ImageField,
    /// Dotted key paths set from value templates (Helm values and the like).
    Yaml,
}

impl fmt::Display for TargetKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TargetKind::Kustomize => "kustomize",
            TargetKind::ImageField => "image-field",
            TargetKind::Yaml => "yaml",
        })
    }
}

/// The placeholders a `yaml` target's value templates may use.
pub const VALUE_PLACEHOLDERS: [&str; 4] = ["{name}", "{digest}", "{tag}", "{ref}"];

impl Target {
    /// A `kustomize` target at `path`: what `overlay` means.
    pub fn kustomize(path: &str) -> Target {
        Target { path: path.into(), kind: None, apps: None, envs: None, images: None, image: None, set: None }
    }

    pub fn kind(&self) -> TargetKind {
        self.kind.unwrap_or(TargetKind::Kustomize)
    }

    /// Whether the target serves `app` in `env` (its `apps` and `envs` filters).
    pub fn serves(&self, app: &Name, env: &Name) -> bool {
        self.apps.as_ref().is_none_or(|apps| apps.contains(app))
            && self.envs.as_ref().is_none_or(|envs| envs.contains(env))
    }

    /// Whether the target writes image `name` (its `images` filter).
    pub fn serves_image(&self, name: &str) -> bool {
        self.images.as_ref().is_none_or(|images| images.iter().any(|i| i == name))
    }

    /// Whether apps share the target's files (the path has no `{app}`).
    pub fn shared(&self) -> bool {
        !self.path.contains("{app}")
    }

    /// The file the target names for `app` in `env`.
    pub fn path_for(&self, app: &Name, env: &Name) -> String {
        self.path.replace("{app}", app.as_str()).replace("{env}", env.as_str())
    }

    /// The app (None: the path has no `{app}`) and environment whose file
    /// `path` is, when it is one of the target's files.
    pub fn file_of(&self, path: &str) -> Option<(Option<Name>, Name)> {
        let mut bound = (None, None);
        matches_template(&self.path, path, &mut bound).then_some(())?;
        Some((bound.0, bound.1?))
    }

    /// Consistency of the target within `policy`.
    fn check(&self, policy: &Policy) -> Result<(), String> {
        let what = format!("target {:?}", self.path);
        let escapes = self.path.starts_with('/')
            || self.path.split('/').any(|part| part.is_empty() || part == "." || part == "..")
            || self.path.contains('\\');
        let placeholders_ok = self.path.replace("{app}", "").replace("{env}", "").chars().all(|c| c != '{' && c != '}');
        if escapes || !placeholders_ok || !self.path.contains("{env}") {
            return Err(format!(
                "{what}: path must be a relative path inside the repo containing {{env}} (and optionally {{app}}), \
                 like env/{{env}}/kustomization.yaml"
            ));
        }
        for env in self.envs.iter().flatten() {
            if policy.environment(env).is_none() {
                return Err(format!("{what}: envs names {env}, which is not an environment of the policy"));
            }
        }
        for (list, name) in [
            (self.apps.as_ref().map(|l| l.iter().map(Name::as_str).collect::<Vec<_>>()), "apps"),
            (self.envs.as_ref().map(|l| l.iter().map(Name::as_str).collect()), "envs"),
            (self.images.as_ref().map(|l| l.iter().map(String::as_str).collect()), "images"),
        ] {
            let Some(list) = list else { continue };
            if list.is_empty() {
                return Err(format!("{what}: {name} is an empty list, which serves nothing; omit it to serve all"));
            }
            if let Some(twice) = list.iter().enumerate().find(|(i, item)| list[..*i].contains(item)) {
                return Err(format!("{what}: {name} lists {} twice", twice.1));
            }
            if list.iter().any(|item| item.trim().is_empty()) {
                return Err(format!("{what}: {name} has an empty entry"));
            }
        }
        match (self.kind(), &self.set) {
            (TargetKind::Yaml, None) => {
                return Err(format!("{what}: a yaml target needs set (dotted key path → value template)"))
            }
            (TargetKind::Yaml, Some(set)) if set.is_empty() => {
                return Err(format!("{what}: set is empty; a yaml target sets at least one key"))
            }
            (TargetKind::Yaml, Some(set)) => {
                for (key, template) in set {
                    crate::project::values::KeyPath::parse(key).map_err(|e| format!("{what}: set key {key:?}: {e}"))?;
                    let mut rest = template.clone();
                    for placeholder in VALUE_PLACEHOLDERS {
                        rest = rest.replace(placeholder, "");
                    }
                    if rest.contains('{') || rest.contains('}') {
                        return Err(format!(
                            "{what}: set {key:?} has the template {template:?}; templates may use only {}",
                            VALUE_PLACEHOLDERS.join(", ")
                        ));
                    }
                }
            }
            (kind, _) => {
                for (field, present) in [("image", self.image.is_some()), ("set", self.set.is_some())] {
                    if present {
                        return Err(format!("{what}: {field} is for yaml targets, not {kind}"));
                    }
                }
            }
        }
        Ok(())
    }
}

/// Whether `path` is `template` with names in place of `{app}` and `{env}`
/// (a name never spans a `/`; the same placeholder twice takes one name).
fn matches_template(template: &str, path: &str, bound: &mut (Option<Name>, Option<Name>)) -> bool {
    let placeholder = if template.starts_with("{app}") {
        Some(true)
    } else if template.starts_with("{env}") {
        Some(false)
    } else {
        None
    };
    let Some(is_app) = placeholder else {
        return match (template.chars().next(), path.chars().next()) {
            (None, None) => true,
            (Some(t), Some(p)) if t == p => matches_template(&template[t.len_utf8()..], &path[p.len_utf8()..], bound),
            _ => false,
        };
    };
    let rest = &template[5..];
    let segment = path.find('/').unwrap_or(path.len());
    for end in (1..=segment).filter(|end| path.is_char_boundary(*end)) {
        let Ok(name) = Name::parse(&path[..end]) else { continue };
        let slot = if is_app { &mut bound.0 } else { &mut bound.1 };
        if slot.as_ref().is_some_and(|held| held != &name) {
            continue;
        }
        let previous = slot.replace(name);
        if matches_template(rest, &path[end..], bound) {
            return true;
        }
        *(if is_app { &mut bound.0 } else { &mut bound.1 }) = previous;
    }
    false
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
        match (&self.overlay, &self.targets) {
            (Overlay::Absent, None) => {
                return Err("has neither overlay nor targets: say where the projection writes \
                     (\"overlay\": \"apps/{app}/overlays/{env}/kustomization.yaml\", targets, or \"overlay\": null for versions.json only)"
                    .into())
            }
            (Overlay::Template(_), Some(_)) => {
                return Err("has both overlay and targets; overlay is the one-target shorthand: \
                     move it into targets as {\"path\": …} and remove overlay"
                    .into())
            }
            (Overlay::Template(template), None) => {
                let target = Target::kustomize(template);
                target.check(self).map_err(|e| e.replacen("target", "overlay", 1))?;
                if target.shared() {
                    return Err(format!(
                        "overlay {template:?} has no {{app}}; a file shared by apps, or a repo per app, \
                         is written with targets: \"targets\": [{{\"path\": {template:?}}}]"
                    ));
                }
            }
            (_, targets) => {
                for target in targets.iter().flatten() {
                    target.check(self)?;
                }
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

    /// Where the projection writes: `targets`, or the one `overlay` means.
    pub fn targets(&self) -> std::borrow::Cow<'_, [Target]> {
        match (&self.targets, self.overlay.template()) {
            (Some(targets), _) => std::borrow::Cow::Borrowed(targets),
            (None, Some(template)) => std::borrow::Cow::Owned(vec![Target::kustomize(template)]),
            (None, None) => std::borrow::Cow::Borrowed(&[]),
        }
    }
}

/// A JSON object read into a map that refuses a repeated member instead of
/// keeping the last one (readers disagree on which wins).
struct UniqueMap<K, V> {
    expecting: &'static str,
    /// What a member is called in the error: "key", "set key".
    member: &'static str,
    _types: std::marker::PhantomData<(K, V)>,
}

impl<'de, K, V> Visitor<'de> for UniqueMap<K, V>
where
    K: Deserialize<'de> + Ord + fmt::Display,
    V: Deserialize<'de>,
{
    type Value = BTreeMap<K, V>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.expecting)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = BTreeMap::new();
        while let Some((key, value)) = map.next_entry::<K, V>()? {
            if out.contains_key(&key) {
                return Err(serde::de::Error::custom(format!("{} {key} is listed twice", self.member)));
            }
            out.insert(key, value);
        }
        Ok(out)
    }
}

/// `keys`: signer name → public key.
fn keys_without_duplicates<'de, D>(deserializer: D) -> Result<BTreeMap<Name, PolicyKey>, D::Error>
where
    D: Deserializer<'de>,
{
    let expecting = "an object of signer name to ssh-ed25519 public key";
    deserializer.deserialize_map(UniqueMap { expecting, member: "key", _types: std::marker::PhantomData })
}

/// A `yaml` target's `set`: dotted key path → value template.
fn set_without_duplicates<'de, D>(deserializer: D) -> Result<Option<BTreeMap<String, String>>, D::Error>
where
    D: Deserializer<'de>,
{
    let expecting = "an object of dotted key path to value template";
    deserializer.deserialize_map(UniqueMap { expecting, member: "set key", _types: std::marker::PhantomData }).map(Some)
}

/// The policy `init` writes: version 1, unsigned, dev → staging → production,
/// with the given keys as root and human signers, projecting to `kustomize`
/// targets at `targets` (none: the seed's overlay layout). It is a template
/// to edit: dev needs its CI signer before `policy sign` accepts it. Err:
/// a target path that cannot be one.
pub fn template(
    keys: BTreeMap<Name, PolicyKey>,
    ci: Vec<Name>,
    targets: &[String],
    at: Timestamp,
) -> Result<Policy, String> {
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
    let mut policy = Policy {
        schema: POLICY_SCHEMA.into(),
        version: 1,
        at,
        expires: None,
        keys,
        root: SignerGroup { signers: humans, threshold: pair.max(1) },
        environments,
        break_glass: None,
        overlay: Overlay::Template("apps/{app}/overlays/{env}/kustomization.yaml".into()),
        targets: None,
        signatures: Vec::new(),
    };
    if !targets.is_empty() {
        let targets: Vec<Target> = targets.iter().map(|path| Target::kustomize(path)).collect();
        for target in &targets {
            target.check(&policy)?;
        }
        policy.overlay = Overlay::Absent;
        policy.targets = Some(targets);
    }
    Ok(policy)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> Name {
        Name::parse(text).unwrap()
    }

    fn policy_with(targets: serde_json::Value) -> Result<Policy, String> {
        let mut value = serde_json::to_value(
            template(BTreeMap::new(), Vec::new(), &[], Timestamp::parse("2026-11-01T00:00:00Z").unwrap()).unwrap(),
        )
        .unwrap();
        value.as_object_mut().unwrap().remove("overlay");
        value["targets"] = targets;
        let policy: Policy = serde_json::from_value(value).map_err(|e| e.to_string())?;
        // Only the targets are under test: the template's empty signer lists are not.
        match &policy.targets {
            Some(targets) => targets.iter().try_for_each(|t| t.check(&policy)).map(|_| policy.clone()),
            None => Ok(policy),
        }
    }

    #[test]
    fn a_target_path_gives_back_its_app_and_environment() {
        type Case<'a> = (&'a str, &'a str, Option<(Option<&'a str>, &'a str)>);
        let cases: &[Case] = &[
            (
                "apps/{app}/overlays/{env}/kustomization.yaml",
                "apps/api/overlays/prod/kustomization.yaml",
                Some((Some("api"), "prod")),
            ),
            ("env/{env}/kustomization.yaml", "env/qa/kustomization.yaml", Some((None, "qa"))),
            ("charts/{app}/values-{env}.yaml", "charts/web-ui/values-prod-eu.yaml", Some((Some("web-ui"), "prod-eu"))),
            ("{app}-{env}.yaml", "a-b-c.yaml", Some((Some("a"), "b-c"))),
            ("{env}/{app}/{env}.yaml", "qa/api/prod.yaml", None),
            ("{env}/{app}/{env}.yaml", "qa/api/qa.yaml", Some((Some("api"), "qa"))),
            ("env/{env}/kustomization.yaml", "env/qa/sub/kustomization.yaml", None),
            ("env/{env}/kustomization.yaml", "env/qa/kustomization.yml", None),
            ("env/{env}/kustomization.yaml", "env/QA!/kustomization.yaml", None),
        ];
        for (template, path, expected) in cases {
            let target = Target::kustomize(template);
            let got = target.file_of(path);
            let expected = expected.map(|(app, env)| (app.map(name), name(env)));
            assert_eq!(got, expected, "{template} against {path}");
            if let Some((Some(app), env)) = got {
                assert_eq!(target.path_for(&app, &env), *path);
            }
        }
    }

    #[test]
    fn targets_are_checked_within_the_policy() {
        let refused = |targets: serde_json::Value, expected: &str| {
            let err = policy_with(targets.clone()).unwrap_err();
            assert!(err.contains(expected), "{targets}: {err}");
        };
        refused(serde_json::json!([{"path": "../outside/{env}.yaml"}]), "relative path inside the repo");
        refused(serde_json::json!([{"path": "/etc/{env}.yaml"}]), "relative path inside the repo");
        refused(serde_json::json!([{"path": "env/kustomization.yaml"}]), "containing {env}");
        refused(serde_json::json!([{"path": "env/{stage}/k.yaml"}]), "containing {env}");
        refused(serde_json::json!([{"path": "env/{env}/k.yaml", "envs": ["qa"]}]), "envs names qa");
        refused(serde_json::json!([{"path": "env/{env}/k.yaml", "apps": []}]), "apps is an empty list");
        refused(serde_json::json!([{"path": "env/{env}/k.yaml", "images": ["a", "a"]}]), "images lists a twice");
        refused(serde_json::json!([{"path": "env/{env}/k.yaml", "kind": "yaml"}]), "a yaml target needs set");
        refused(serde_json::json!([{"path": "env/{env}/k.yaml", "kind": "helm"}]), "unknown variant");
        refused(
            serde_json::json!([{"path": "env/{env}/k.yaml", "image": "x"}]),
            "image is for yaml targets, not kustomize",
        );
        refused(
            serde_json::json!([{"path": "v-{env}.yaml", "kind": "yaml", "set": {"image.tag": "{version}"}}]),
            "templates may use only",
        );
        refused(
            serde_json::json!([{"path": "v-{env}.yaml", "kind": "yaml", "set": {"image..tag": "{tag}"}}]),
            "set key",
        );
        let ok = policy_with(serde_json::json!([
            {"path": "env/{env}/kustomization.yaml"},
            {"path": "envs/{env}/version.yml", "kind": "image-field", "envs": ["staging", "production"]},
            {"path": "charts/{app}/values-{env}.yaml", "kind": "yaml", "apps": ["api"], "image": "ghcr.io/o/api",
             "set": {"image.repository": "{name}", "image.digest": "{digest}", "image.tag": "{tag}"}}
        ]))
        .unwrap();
        assert_eq!(ok.targets().len(), 3);
    }

    #[test]
    fn overlay_absent_null_and_set_round_trip_to_the_same_signed_bytes() {
        let base = serde_json::to_value(
            template(BTreeMap::new(), Vec::new(), &[], Timestamp::parse("2026-11-01T00:00:00Z").unwrap()).unwrap(),
        )
        .unwrap();
        for overlay in [None, Some(serde_json::Value::Null), Some(serde_json::json!("apps/{app}/o/{env}/k.yaml"))] {
            let mut value = base.clone();
            let object = value.as_object_mut().unwrap();
            object.remove("overlay");
            if let Some(overlay) = overlay {
                object.insert("overlay".into(), overlay);
            } else {
                object.insert("targets".into(), serde_json::json!([{"path": "env/{env}/k.yaml"}]));
            }
            let policy: Policy = serde_json::from_value(value.clone()).unwrap();
            assert_eq!(serde_json::to_value(&policy).unwrap(), value, "what was signed is what is kept");
        }
        let shorthand: Policy = serde_json::from_value(base).unwrap();
        assert_eq!(shorthand.targets().as_ref(), [Target::kustomize("apps/{app}/overlays/{env}/kustomization.yaml")]);
    }
}
