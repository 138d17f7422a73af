//! The projector: the ledger folded into what Argo CD or Flux reconcile —
//! the `images:` entries of each overlay the policy names, and
//! `versions.json`. A pure function of the ledger: projecting twice changes
//! nothing. A record still below its threshold (pending) does not move an
//! overlay until it is approved.

pub mod image_field;
pub mod overlay;
pub mod values;
mod yaml;

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::chain::{AppHistory, Chain};
use crate::ledger::Ledger;
use crate::policy::Policy;
use crate::record::Name;
use crate::rules::{Rule, Violation};
use crate::store::{Snapshot, StoreError};
use overlay::{FoundImage, WantedImage};

pub const VERSIONS_PATH: &str = "versions.json";
pub const VERSIONS_SCHEMA: &str = "gitops-ledger/versions/v1";
const MAX_OVERLAY_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {problem}")]
    Overlay { path: String, problem: String },
    #[error(
        "{path} does not exist: the policy's overlay template names it for {app} in {env}; \
         create that overlay (the ledger never invents one), or set the policy's overlay to null"
    )]
    MissingOverlay { path: String, app: Name, env: Name },
}

impl ProjectError {
    /// The problem as a rule-7 violation of `verify`.
    pub fn to_violation(&self) -> Violation {
        let (path, message) = match self {
            ProjectError::Overlay { path, problem } => (path.as_str(), problem.clone()),
            ProjectError::MissingOverlay { path, .. } => {
                let text = self.to_string();
                (path.as_str(), text.strip_prefix(path.as_str()).unwrap_or(&text).trim_start().to_string())
            }
            ProjectError::Store(err) => (VERSIONS_PATH, err.to_string()),
        };
        Violation::new(path, None, Rule::Projection, message)
    }
}

/// The state an app's records fold to, as projected.
#[derive(Clone, Debug)]
pub struct AppState {
    pub app: Name,
    pub history: AppHistory,
}

/// Every app of the ledger, folded for projection; `changed`, a chain a
/// write is making (perhaps of an app the ledger did not have yet), in place
/// of what the tree holds for that app.
pub fn fold_all(ledger: &Ledger, changed: Option<&Chain>) -> Result<Vec<AppState>, StoreError> {
    let policies = ledger.policies();
    let mut states: Vec<AppState> = ledger
        .apps()
        .par_iter()
        .filter(|app| changed.is_none_or(|c| &c.app != *app))
        .map(|app| Ok(ledger.chain(app)?.fold_for_projection(policies)))
        .collect::<Result<_, StoreError>>()?;
    if let Some(chain) = changed {
        states.push(chain.fold_for_projection(policies));
        states.sort_by(|a, b| a.app.cmp(&b.app));
    }
    Ok(states)
}

/// One file the projection decides.
#[derive(Clone, Debug)]
pub struct ProjectedFile {
    pub path: String,
    /// The bytes there now (None: the file does not exist).
    pub current: Option<Vec<u8>>,
    pub projected: Vec<u8>,
    pub target: Target,
}

#[derive(Clone, Debug)]
pub enum Target {
    Versions,
    Overlay { app: Name, env: Name, wanted: BTreeMap<String, WantedImage> },
}

impl ProjectedFile {
    pub fn changes(&self) -> bool {
        self.current.as_deref() != Some(self.projected.as_slice())
    }
}

/// An app's entry in `versions.json`: per environment, the newest record
/// that took effect and the whole image state; None when nothing runs yet.
pub fn versions_entry(state: &AppState) -> Option<Value> {
    let mut envs = serde_json::Map::new();
    for (env, history) in state.history.envs() {
        let Some(newest) = history.newest() else { continue };
        let images: serde_json::Map<String, Value> =
            history.state().iter().map(|(name, s)| (name.to_string(), json!(s.digest.as_str()))).collect();
        envs.insert(
            env.to_string(),
            json!({"seq": newest.seq, "id": newest.id.as_str(), "at": newest.at.to_string(), "images": images}),
        );
    }
    (!envs.is_empty()).then_some(Value::Object(envs))
}

/// `versions.json`: keys sorted, 2-space indent, trailing newline.
pub fn versions_json(states: &[AppState]) -> Vec<u8> {
    let empty = json!({"schema": VERSIONS_SCHEMA, "apps": {}});
    crate::record::pretty_json(&with_entries(empty, states))
}

/// `versions` (a parsed versions.json) with the entries of `states` put in
/// place, each replacing that app's entry or removing it when the app runs
/// nothing. serde_json's map is ordered by key, so the result is sorted.
pub fn with_entries(mut versions: Value, states: &[AppState]) -> Value {
    if let Some(apps) = versions.get_mut("apps").and_then(Value::as_object_mut) {
        for state in states {
            match versions_entry(state) {
                Some(entry) => apps.insert(state.app.to_string(), entry),
                None => apps.remove(state.app.as_str()),
            };
        }
    }
    versions
}

/// What every projected file should hold, read against `snapshot`; a file
/// that cannot be projected is an error in its place.
pub fn plan(snapshot: &dyn Snapshot, policy: &Policy, states: &[AppState]) -> Vec<Result<ProjectedFile, ProjectError>> {
    let versions = read_optional(snapshot, VERSIONS_PATH).map(|current| ProjectedFile {
        path: VERSIONS_PATH.into(),
        current,
        projected: versions_json(states),
        target: Target::Versions,
    });
    let mut files = vec![versions.map_err(ProjectError::from)];
    files.extend(plan_overlays(snapshot, policy, states));
    files
}

/// What projecting the whole ledger writes, under its newest policy, with
/// `changed` as in [`fold_all`].
pub fn plan_ledger(ledger: &Ledger, changed: Option<&Chain>) -> Result<Vec<ProjectedFile>, ProjectError> {
    let Some(newest) = ledger.newest_policy() else { return Ok(Vec::new()) };
    let states = fold_all(ledger, changed)?;
    plan(ledger.snapshot(), &newest.policy, &states).into_iter().collect()
}

/// The projection after one app's chain changed: that app's overlays, and
/// its entry in versions.json with every other app's entry kept as it is (a
/// full `project` or `verify` checks those). This keeps an append's cost
/// independent of the size of the ledger. Without a readable versions.json
/// it falls back to the full projection.
pub fn plan_app(ledger: &Ledger, chain: &Chain) -> Result<Vec<ProjectedFile>, ProjectError> {
    let Some(newest) = ledger.newest_policy() else { return Ok(Vec::new()) };
    let current = read_optional(ledger.snapshot(), VERSIONS_PATH)?;
    let parsed = current.as_deref().and_then(|b| serde_json::from_slice::<Value>(b).ok());
    let Some(versions) = parsed.filter(|v| v.get("apps").is_some_and(Value::is_object)) else {
        return plan_ledger(ledger, Some(chain));
    };
    let state = chain.fold_for_projection(ledger.policies());
    let states = std::slice::from_ref(&state);
    let mut files = vec![ProjectedFile {
        path: VERSIONS_PATH.into(),
        current,
        projected: crate::record::pretty_json(&with_entries(versions, states)),
        target: Target::Versions,
    }];
    for file in plan_overlays(ledger.snapshot(), &newest.policy, states) {
        files.push(file?);
    }
    Ok(files)
}

/// The overlays of `states`, without versions.json.
pub fn plan_overlays(
    snapshot: &dyn Snapshot,
    policy: &Policy,
    states: &[AppState],
) -> Vec<Result<ProjectedFile, ProjectError>> {
    let mut files = Vec::new();
    for state in states {
        let mut envs: Vec<_> = state.history.envs().collect();
        envs.sort_by(|a, b| a.0.cmp(b.0));
        for (env, history) in envs {
            let Some(path) = policy.overlay_path(&state.app, env) else { continue };
            if history.state().is_empty() {
                continue;
            }
            files.push(plan_overlay(snapshot, path, &state.app, env, history));
        }
    }
    files
}

fn plan_overlay(
    snapshot: &dyn Snapshot,
    path: String,
    app: &Name,
    env: &Name,
    history: &crate::chain::EnvHistory,
) -> Result<ProjectedFile, ProjectError> {
    let wanted: BTreeMap<String, WantedImage> = history
        .state()
        .iter()
        .map(|(name, s)| {
            (name.to_string(), WantedImage { digest: s.digest.to_string(), tag: s.tag.as_ref().map(|t| t.to_string()) })
        })
        .collect();
    let bytes = read_optional(snapshot, &path)?.ok_or_else(|| ProjectError::MissingOverlay {
        path: path.clone(),
        app: app.clone(),
        env: env.clone(),
    })?;
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| ProjectError::Overlay { path: path.clone(), problem: "is not UTF-8 text".into() })?;
    let projected =
        overlay::apply(&text, &wanted).map_err(|problem| ProjectError::Overlay { path: path.clone(), problem })?;
    Ok(ProjectedFile {
        path,
        current: Some(bytes),
        projected: projected.into_bytes(),
        target: Target::Overlay { app: app.clone(), env: env.clone(), wanted },
    })
}

pub fn read_optional(snapshot: &dyn Snapshot, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
    let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
    if !snapshot.list(dir)?.iter().any(|e| e.name == name) {
        return Ok(None);
    }
    snapshot.read(path, MAX_OVERLAY_BYTES).map(Some)
}

/// Rule 7: overlays' `images` entries and `versions.json` (as parsed JSON)
/// must equal the projection. Formatting is free; values are not.
pub fn drift(files: &[ProjectedFile]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |path: &str, message: String| out.push(Violation::new(path, None, Rule::Projection, message));
    for file in files {
        match &file.target {
            Target::Versions => {
                let current: Option<Value> = file.current.as_ref().and_then(|b| serde_json::from_slice(b).ok());
                let projected: Option<Value> = serde_json::from_slice(&file.projected).ok();
                let nothing_promoted =
                    projected.as_ref().and_then(|p| p["apps"].as_object()).is_some_and(|a| a.is_empty());
                match current {
                    None if file.current.is_none() && nothing_promoted => {}
                    None if file.current.is_none() => {
                        fail(&file.path, "is missing; run `gitops-ledger project` and commit it".into())
                    }
                    None => fail(&file.path, "is not valid JSON; run `gitops-ledger project` to rewrite it".into()),
                    Some(current) if Some(&current) != projected.as_ref() => fail(
                        &file.path,
                        "does not match the ledger (edited by hand, or a promotion without `project`); run `gitops-ledger project`"
                            .into(),
                    ),
                    Some(_) => {}
                }
            }
            Target::Overlay { app, env, wanted } => {
                let text = String::from_utf8_lossy(file.current.as_deref().unwrap_or_default());
                let found = match overlay::read_images(&text) {
                    Ok(found) => found,
                    Err(problem) => {
                        fail(&file.path, format!("cannot be read as YAML ({problem})"));
                        continue;
                    }
                };
                for (name, want) in wanted {
                    // Short digests, unless the two sides share their short form.
                    let same_short = |found: &Option<String>| {
                        found.as_deref().is_some_and(|d| short(d) == short(&want.digest) && d != want.digest)
                    };
                    let describe = |tag: &Option<String>, digest: &Option<String>, full: bool| {
                        let digest = match digest.as_deref() {
                            None => "no digest".to_string(),
                            Some(d) if full => d.to_string(),
                            Some(d) => short(d),
                        };
                        match tag {
                            Some(tag) => format!("{tag} {digest}"),
                            None => digest,
                        }
                    };
                    match found.get(name) {
                        None => fail(
                            &file.path,
                            format!(
                                "has no images entry for {name}, which the ledger says {app} runs in {env} at {}; run `gitops-ledger project`",
                                short(&want.digest)
                            ),
                        ),
                        Some(FoundImage { digest, tag }) if digest.as_deref() != Some(&want.digest) || tag != &want.tag => {
                            fail(
                                &file.path,
                                format!(
                                    "{name} is set to {} but the ledger says {app} runs {} in {env}: an edit behind the ledger's back; run `gitops-ledger project` to restore it, or promote what you meant",
                                    describe(tag, digest, same_short(digest)),
                                    describe(&want.tag, &Some(want.digest.clone()), same_short(digest))
                                ),
                            )
                        }
                        Some(_) => {}
                    }
                }
            }
        }
    }
    out
}

/// `sha256:` and 12 hex digits, as people read digests.
fn short(digest: &str) -> String {
    digest.chars().take(19).collect()
}
