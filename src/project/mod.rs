//! The projector: the ledger folded into what Argo CD or Flux reconcile —
//! the files the policy's targets name (kustomize `images:` entries, YAML
//! `image:` fields, keys of values files), and `versions.json`. A pure
//! function of the ledger: projecting twice changes nothing. A record still
//! below its threshold (pending) does not move a file until it is approved.

pub mod image_field;
pub mod overlay;
pub mod targets;
pub mod values;
mod yaml;

use std::collections::BTreeSet;

use rayon::prelude::*;
use serde_json::{json, Value};

use crate::chain::Chain;
use crate::fold_cache::{app_view, FoldCache};
use crate::ledger::Ledger;
use crate::policy::Policy;
use crate::record::Name;
use crate::rules::{Rule, Violation};
use crate::store::{EntryKind, Snapshot, StoreError};
use crate::view::AppView;
use targets::Write;

pub const VERSIONS_PATH: &str = "versions.json";
pub const VERSIONS_SCHEMA: &str = "gitops-ledger/versions/v1";
const MAX_TARGET_BYTES: u64 = 1024 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{path}: {problem}")]
    Target { path: String, problem: String },
    #[error(
        "{path} does not exist: the policy's target {named}; \
         create it (the ledger never invents one), or change the policy's targets"
    )]
    MissingTarget { path: String, named: String },
    #[error("{path}: {problem}; the projector writes only regular files inside the repo")]
    Unsafe { path: String, problem: String },
}

impl ProjectError {
    /// The problem as a rule-7 violation of `verify`.
    pub fn to_violation(&self) -> Violation {
        let path = match self {
            ProjectError::Target { path, .. }
            | ProjectError::MissingTarget { path, .. }
            | ProjectError::Unsafe { path, .. } => path.as_str(),
            ProjectError::Store(_) => VERSIONS_PATH,
        };
        let text = self.to_string();
        let message = text.strip_prefix(path).map_or(text.as_str(), |rest| rest.trim_start_matches(':').trim_start());
        Violation::new(path, None, Rule::Projection, message)
    }
}

/// Every app of the ledger, folded for projection (through `cache` where
/// it holds an app's fold); `changed`, a chain a write is making (perhaps of
/// an app the ledger did not have yet), in place of what the tree holds for
/// that app.
pub fn fold_all(
    ledger: &Ledger,
    changed: Option<&Chain>,
    cache: Option<&FoldCache>,
) -> Result<Vec<AppView>, StoreError> {
    let mut states: Vec<AppView> = ledger
        .apps()
        .par_iter()
        .filter(|app| changed.is_none_or(|c| &c.app != *app))
        .map(|app| app_view(ledger, cache, app, None))
        .collect::<Result<_, StoreError>>()?;
    if let Some(chain) = changed {
        states.push(chain.view(ledger.policies()));
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
    pub contents: Contents,
}

/// What a projected file holds for the ledger.
#[derive(Clone, Debug)]
pub enum Contents {
    Versions,
    /// The writes of the policy's targets into the file.
    Targets(Vec<Write>),
}

impl ProjectedFile {
    pub fn changes(&self) -> bool {
        self.current.as_deref() != Some(self.projected.as_slice())
    }
}

/// An app's entry in `versions.json`: per environment, the newest record
/// that took effect and the whole image state; None when nothing runs yet.
pub fn versions_entry(state: &AppView) -> Option<Value> {
    let mut envs = serde_json::Map::new();
    for (env, view) in &state.envs {
        let Some(newest) = &view.newest else { continue };
        let images: serde_json::Map<String, Value> =
            view.state.iter().map(|(name, s)| (name.to_string(), json!(s.digest.as_str()))).collect();
        envs.insert(
            env.to_string(),
            json!({"seq": newest.seq, "id": newest.id.as_str(), "at": newest.at.to_string(), "images": images}),
        );
    }
    (!envs.is_empty()).then_some(Value::Object(envs))
}

/// `versions.json`: keys sorted, 2-space indent, trailing newline.
pub fn versions_json(states: &[AppView]) -> Vec<u8> {
    let empty = json!({"schema": VERSIONS_SCHEMA, "apps": {}});
    crate::record::pretty_json(&with_entries(empty, states))
}

/// `versions` (a parsed versions.json) with the entries of `states` put in
/// place, each replacing that app's entry or removing it when the app runs
/// nothing. serde_json's map is ordered by key, so the result is sorted.
pub fn with_entries(mut versions: Value, states: &[AppView]) -> Value {
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
pub fn plan(snapshot: &dyn Snapshot, policy: &Policy, states: &[AppView]) -> Vec<Result<ProjectedFile, ProjectError>> {
    let versions = read_optional(snapshot, VERSIONS_PATH).map(|current| ProjectedFile {
        path: VERSIONS_PATH.into(),
        current,
        projected: versions_json(states),
        contents: Contents::Versions,
    });
    let mut files = vec![versions.map_err(ProjectError::from)];
    files.extend(plan_targets(snapshot, policy, states, |_| true));
    files
}

/// What projecting the whole ledger writes, under its newest policy, with
/// `changed` and `cache` as in [`fold_all`].
pub fn plan_ledger(
    ledger: &Ledger,
    changed: Option<&Chain>,
    cache: Option<&FoldCache>,
) -> Result<Vec<ProjectedFile>, ProjectError> {
    let Some(newest) = ledger.newest_policy() else { return Ok(Vec::new()) };
    let states = fold_all(ledger, changed, cache)?;
    plan(ledger.snapshot(), &newest.policy, &states).into_iter().collect()
}

/// The projection after one app's chain changed: that app's target files,
/// and its entry in versions.json with every other app's entry kept as it
/// is (a full `project` or `verify` checks those). This keeps an append's
/// cost independent of the size of the ledger. A file the app shares with
/// other apps is planned with their writes too, so a clash is refused here
/// rather than found later. Without a readable versions.json it falls back
/// to the full projection.
pub fn plan_app(ledger: &Ledger, chain: &Chain) -> Result<Vec<ProjectedFile>, ProjectError> {
    let Some(newest) = ledger.newest_policy() else { return Ok(Vec::new()) };
    let current = read_optional(ledger.snapshot(), VERSIONS_PATH)?;
    let parsed = current.as_deref().and_then(|b| serde_json::from_slice::<Value>(b).ok());
    let Some(versions) = parsed.filter(|v| v.get("apps").is_some_and(Value::is_object)) else {
        return plan_ledger(ledger, Some(chain), None);
    };
    let state = chain.view(ledger.policies());
    let mut files = vec![ProjectedFile {
        path: VERSIONS_PATH.into(),
        current,
        projected: crate::record::pretty_json(&with_entries(versions, std::slice::from_ref(&state))),
        contents: Contents::Versions,
    }];
    let own: BTreeSet<String> = targets::writes(&newest.policy, std::slice::from_ref(&state)).into_keys().collect();
    let sharing = sharing_apps(ledger, &newest.policy, &state);
    let mut states = sharing
        .par_iter()
        .map(|app| Ok(ledger.chain(app)?.view(ledger.policies())))
        .collect::<Result<Vec<_>, StoreError>>()?;
    states.push(state);
    for file in plan_targets(ledger.snapshot(), &newest.policy, &states, |path| own.contains(path)) {
        files.push(file?);
    }
    Ok(files)
}

/// The other apps that a shared target serves alongside `state`'s app.
fn sharing_apps(ledger: &Ledger, policy: &Policy, state: &AppView) -> Vec<Name> {
    let envs: Vec<&Name> = state.envs.keys().collect();
    let shared: Vec<_> = policy
        .targets()
        .iter()
        .filter(|t| t.shared() && envs.iter().any(|env| t.serves(&state.app, env)))
        .cloned()
        .collect();
    if shared.is_empty() {
        return Vec::new();
    }
    ledger
        .apps()
        .iter()
        .filter(|app| **app != state.app && shared.iter().any(|t| t.apps.as_ref().is_none_or(|a| a.contains(app))))
        .cloned()
        .collect()
}

/// The target files of `states` whose path `keep` accepts, without versions.json.
pub fn plan_targets(
    snapshot: &dyn Snapshot,
    policy: &Policy,
    states: &[AppView],
    keep: impl Fn(&str) -> bool,
) -> Vec<Result<ProjectedFile, ProjectError>> {
    targets::writes(policy, states)
        .into_iter()
        .filter(|(path, _)| keep(path))
        .collect::<Vec<_>>()
        .into_par_iter()
        .map(|(path, writes)| plan_file(snapshot, path, writes.into_iter().collect::<Result<Vec<_>, _>>()?))
        .collect()
}

fn plan_file(snapshot: &dyn Snapshot, path: String, writes: Vec<Write>) -> Result<ProjectedFile, ProjectError> {
    let Some(bytes) = read_target(snapshot, &path)? else {
        let Some(first) = writes.first() else {
            return Err(ProjectError::Target { path, problem: "does not exist".into() });
        };
        let named = format!("{} names it for {} in {}", first.template, first.app, first.env);
        return Err(ProjectError::MissingTarget { path, named });
    };
    let text = String::from_utf8(bytes.clone())
        .map_err(|_| ProjectError::Target { path: path.clone(), problem: "is not UTF-8 text".into() })?;
    let projected = targets::edit(&path, &text, &writes)?;
    Ok(ProjectedFile {
        path,
        current: Some(bytes),
        projected: projected.into_bytes(),
        contents: Contents::Targets(writes),
    })
}

/// A target file's bytes (None: it does not exist). Refused when the file,
/// or a directory on the way to it, is a symlink or not a regular file: the
/// projector never writes outside the repo.
fn read_target(snapshot: &dyn Snapshot, path: &str) -> Result<Option<Vec<u8>>, ProjectError> {
    let parts: Vec<&str> = path.split('/').collect();
    for depth in 1..=parts.len() {
        let at = parts[..depth].join("/");
        let is_last = depth == parts.len();
        let expected = if is_last { EntryKind::File } else { EntryKind::Dir };
        match snapshot.kind(&at)? {
            None => return Ok(None),
            Some(kind) if kind == expected => {}
            Some(_) if is_last => {
                return Err(ProjectError::Unsafe { path: path.into(), problem: "is a symlink or special file".into() })
            }
            Some(_) => {
                let problem = format!("passes through a symlink or special file ({at})");
                return Err(ProjectError::Unsafe { path: path.into(), problem });
            }
        }
    }
    Ok(Some(snapshot.read(path, MAX_TARGET_BYTES)?))
}

/// A file's content, None when nothing is there (anything but a regular
/// file there is an error).
pub fn read_optional(snapshot: &dyn Snapshot, path: &str) -> Result<Option<Vec<u8>>, StoreError> {
    match snapshot.kind(path)? {
        None => Ok(None),
        Some(_) => snapshot.read(path, MAX_TARGET_BYTES).map(Some),
    }
}

/// Rule 7: the entries each target owns and `versions.json` (as parsed
/// JSON) must equal the projection. Formatting is free; values are not.
pub fn drift(files: &[ProjectedFile]) -> Vec<Violation> {
    let mut out = Vec::new();
    let mut fail = |path: &str, message: String| out.push(Violation::new(path, None, Rule::Projection, message));
    for file in files {
        match &file.contents {
            Contents::Versions => {
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
            Contents::Targets(writes) => {
                let text = String::from_utf8_lossy(file.current.as_deref().unwrap_or_default());
                let mut seen = BTreeSet::new();
                for message in writes.iter().flat_map(|write| targets::differences(write, &text)) {
                    if seen.insert(message.clone()) {
                        fail(&file.path, message);
                    }
                }
            }
        }
    }
    out
}
