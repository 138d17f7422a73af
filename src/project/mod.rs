//! The projector: the ledger folded into what Argo CD or Flux reconcile —
//! the `images:` entries of each overlay the policy names, and
//! `versions.json`. A pure function of the ledger: projecting twice changes
//! nothing. A record still below its threshold (only the newest of an app can
//! be) does not move an overlay until it is approved.

pub mod overlay;
mod yaml;

use std::borrow::Borrow;
use std::collections::BTreeMap;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::chain::AppHistory;
use crate::ledger::{list_apps, load_app, RecordFile};
use crate::policy::Policy;
use crate::record::Name;
use crate::rules::{missing_approvals, signature_verdicts, Policies, Rule, Violation};
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

/// Folds an app's chain for projection: every record, except a newest one
/// that is still below its environment's threshold.
pub fn fold_for_projection<R: std::borrow::Borrow<RecordFile>>(
    app: &Name,
    records: &[R],
    policies: Policies,
) -> AppState {
    let tail_pending = records.last().map(Borrow::borrow).is_some_and(|last: &RecordFile| {
        policies.get(last.record.policy).is_some_and(|policy| {
            let verdicts = signature_verdicts(&policy.policy, &last.message, &last.record.signatures);
            missing_approvals(&last.record, &policy.policy, &verdicts) > 0
        })
    });
    let counted = if tail_pending { &records[..records.len() - 1] } else { records };
    let mut history = AppHistory::default();
    for file in counted {
        let file: &RecordFile = file.borrow();
        history.apply(&file.record, &file.id);
    }
    AppState { app: app.clone(), history }
}

/// Every app of the tree, folded for projection.
pub fn fold_all(snapshot: &dyn Snapshot, policies: Policies) -> Result<Vec<AppState>, StoreError> {
    let apps = list_apps(snapshot)?.value;
    apps.par_iter().map(|app| Ok(fold_for_projection(app, &load_app(snapshot, app)?.value, policies))).collect()
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

/// `versions.json`: keys sorted, 2-space indent, trailing newline.
pub fn versions_json(states: &[AppState]) -> Vec<u8> {
    let mut apps = serde_json::Map::new();
    for state in states {
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
        if !envs.is_empty() {
            apps.insert(state.app.to_string(), Value::Object(envs));
        }
    }
    // serde_json's map is ordered by key, so this is sorted at every level.
    crate::record::pretty_json(&json!({"schema": VERSIONS_SCHEMA, "apps": apps}))
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
                    let describe = |tag: &Option<String>, digest: &Option<String>| {
                        let digest = digest.as_deref().map_or("no digest".to_string(), short);
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
                                    describe(tag, digest),
                                    describe(&want.tag, &Some(want.digest.clone()))
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
