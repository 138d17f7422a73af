//! `audit`: the git history of the config repo, checked against the ledger.
//! For each commit: overlays or `versions.json` changed without the ledger
//! at that commit projecting the change (an edit behind the ledger's back);
//! landed records or policies modified or deleted later; records whose `at`
//! is far from the commit that landed them; and, for each record, that
//! commit. It reads only what each commit changed: trees whose ids equal
//! their parent's are skipped.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use crate::chain::AppHistory;
use crate::ledger::{Ledger, RecordFile, APPS_DIR};
use crate::policy::POLICY_DIR;
use crate::project::overlay::read_images;
use crate::project::{drift, plan_overlays, read_optional, versions_entry, AppState, VERSIONS_PATH};
use crate::record::{Name, Record};
use crate::rules::Policies;
use crate::store::{changed_files, Change, CommitInfo, GitRepo, GitTree, Snapshot, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

#[derive(Clone, Debug)]
pub struct AuditOptions {
    /// Walk every ancestor, not only the first-parent line.
    pub all_parents: bool,
    /// A record may claim an `at` at most this far after its landing commit.
    pub skew_seconds: i64,
    /// A record claiming an `at` this far before its landing commit is reported.
    pub backdate_seconds: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FindingKind {
    /// An overlay or versions.json change the ledger does not project.
    UnbackedChange,
    /// A landed record or policy edited by a later commit.
    Rewritten,
    /// A landed record or policy deleted by a later commit.
    Deleted,
    /// `at` later than the landing commit by more than the skew.
    ForwardDated,
    /// `at` earlier than the landing commit by more than the window (a warning).
    Backdated,
}

#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    pub kind: FindingKind,
    /// Errors make `audit` exit 1; warnings do not.
    pub error: bool,
    pub commit: String,
    pub author: String,
    pub time: crate::clock::Timestamp,
    pub file: String,
    pub message: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct Landing {
    pub commit: String,
    pub time: crate::clock::Timestamp,
    pub author: String,
}

#[derive(Clone, Debug, Serialize)]
pub struct AuditReport {
    pub rev: String,
    pub commits: usize,
    pub findings: Vec<Finding>,
    /// Each record (`app@seq`) and the commit that landed it.
    pub landed: BTreeMap<String, Landing>,
}

impl AuditReport {
    pub fn holds(&self) -> bool {
        !self.findings.iter().any(|f| f.error)
    }
}

/// The commits to check, oldest first.
fn commits(repo: &GitRepo, tip: gix::ObjectId, all_parents: bool) -> Result<Vec<CommitInfo>, StoreError> {
    let mut out = Vec::new();
    if all_parents {
        let mut seen = BTreeSet::new();
        let mut queue = vec![tip];
        while let Some(id) = queue.pop() {
            if !seen.insert(id) {
                continue;
            }
            let commit = repo.commit(id)?;
            queue.extend(commit.parents.iter().copied());
            out.push(commit);
        }
        out.sort_by_key(|c| c.time);
    } else {
        let mut next = Some(tip);
        while let Some(id) = next {
            let commit = repo.commit(id)?;
            next = commit.parents.first().copied();
            out.push(commit);
        }
        out.reverse();
    }
    Ok(out)
}

/// Whether `path` is an overlay the template names, and for which app and env.
fn overlay_of(template: &str, path: &str) -> Option<(Name, Name)> {
    let parts: Vec<&str> = template.split('/').collect();
    let actual: Vec<&str> = path.split('/').collect();
    if parts.len() != actual.len() {
        return None;
    }
    let (mut app, mut env) = (None, None);
    for (pattern, value) in parts.iter().zip(&actual) {
        if pattern.contains("{app}") || pattern.contains("{env}") {
            // Components like "{app}" or "{env}" (the template's usual form).
            match *pattern {
                "{app}" => app = Some(Name::parse(value).ok()?),
                "{env}" => env = Some(Name::parse(value).ok()?),
                _ => return None,
            }
        } else if pattern != value {
            return None;
        }
    }
    Some((app?, env?))
}

fn app_of(path: &str) -> Option<Name> {
    let rest = path.strip_prefix(APPS_DIR)?.strip_prefix('/')?;
    Name::parse(rest.split('/').next()?).ok()
}

/// Walks the history of `rev` and reports every finding.
pub fn audit(repo: &GitRepo, rev: &str, options: &AuditOptions) -> Result<AuditReport, AuditError> {
    let tip = repo.resolve(rev)?;
    let commits = commits(repo, tip, options.all_parents)?;
    let mut report =
        AuditReport { rev: rev.to_string(), commits: commits.len(), findings: Vec::new(), landed: BTreeMap::new() };
    let empty = CommitInfo {
        id: gix::ObjectId::empty_tree(gix::hash::Kind::Sha1),
        tree: gix::ObjectId::empty_tree(gix::hash::Kind::Sha1),
        parents: Vec::new(),
        time: 0,
        author: String::new(),
    };
    // Trees of commits already seen, so each is opened once.
    let mut trees: HashMap<gix::ObjectId, GitTree> = HashMap::new();
    // Records by blob id: a chain is mostly the same blobs from commit to commit.
    let mut records = RecordCache::default();
    for commit in &commits {
        let parent_info = match commit.parents.first() {
            Some(parent) => repo.commit(*parent)?,
            None => empty.clone(),
        };
        let parent = match trees.remove(&parent_info.id) {
            Some(tree) => tree,
            None => repo.tree_of(&parent_info, "parent")?,
        };
        let head = repo.tree_of(commit, &commit.id.to_string())?;
        let mut changes = BTreeMap::new();
        changed_files(&parent, &head, "", &mut changes)?;
        if !changes.is_empty() {
            check_commit(commit, &parent, &head, &changes, options, &mut records, &mut report)?;
        }
        trees.insert(commit.id, head);
    }
    Ok(report)
}

fn check_commit(
    commit: &CommitInfo,
    parent: &GitTree,
    head: &GitTree,
    changes: &BTreeMap<String, Change>,
    options: &AuditOptions,
    records: &mut RecordCache,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let time = crate::clock::Timestamp::from_unix(commit.time).unwrap_or(crate::clock::Timestamp::EPOCH);
    let mut finding = |kind: FindingKind, error: bool, file: &str, message: String| {
        report.findings.push(Finding {
            kind,
            error,
            commit: commit.id.to_string(),
            author: commit.author.clone(),
            time,
            file: file.to_string(),
            message,
        })
    };
    // Ledger files: added ones land; modified or deleted ones were rewritten,
    // except an approval (signatures added to an app's newest record).
    let mut touched_apps = BTreeSet::new();
    for (path, change) in changes {
        let is_record = path.starts_with(&format!("{APPS_DIR}/"));
        let is_policy = path.starts_with(&format!("{POLICY_DIR}/"));
        if !is_record && !is_policy {
            continue;
        }
        if let Some(app) = app_of(path) {
            touched_apps.insert(app);
        }
        match change {
            Change::Added if is_record => {
                let Some(record) = read_record(head, path) else { continue };
                report.landed.insert(
                    record.label(),
                    Landing { commit: commit.id.to_string(), time, author: commit.author.clone() },
                );
                let ahead = record.at.seconds_since(time);
                if ahead > options.skew_seconds {
                    finding(
                        FindingKind::ForwardDated,
                        true,
                        path,
                        format!(
                            "{} claims at {} but landed at {time}, {} later than the commit; a forward-dated record can fake a soak",
                            record.label(),
                            record.at,
                            crate::history::human_duration(ahead)
                        ),
                    );
                } else if -ahead > options.backdate_seconds {
                    finding(
                        FindingKind::Backdated,
                        false,
                        path,
                        format!(
                            "{} claims at {} but landed only at {time}, {} later; check it was not backdated around a freeze",
                            record.label(),
                            record.at,
                            crate::history::human_duration(-ahead)
                        ),
                    );
                }
            }
            Change::Added => {}
            Change::Modified => {
                let before = read_record(parent, path);
                let after = read_record(head, path);
                let approval = match (&before, &after) {
                    (Some(b), Some(a)) => crate::verify::only_adds_signatures(b, a),
                    _ => false,
                };
                if !approval {
                    finding(
                        FindingKind::Rewritten,
                        true,
                        path,
                        "a landed ledger file was edited by this commit; the ledger is append-only".into(),
                    );
                }
            }
            Change::Deleted => finding(
                FindingKind::Deleted,
                true,
                path,
                "a landed ledger file was deleted by this commit; the ledger is append-only".into(),
            ),
        }
    }

    // Projected files: each changed one must be what the ledger at this commit projects.
    let ledger = Ledger::load(head)?;
    let Some(policy) = ledger.newest_policy().map(|p| p.policy.clone()) else { return Ok(()) };
    let policy_set = ledger.policies();
    let mut overlays: BTreeMap<Name, Vec<String>> = BTreeMap::new();
    if let Some(template) = &policy.overlay {
        for path in changes.keys() {
            if let Some((app, _env)) = overlay_of(template, path) {
                overlays.entry(app).or_default().push(path.clone());
            }
        }
    }
    for (app, paths) in overlays {
        let state = fold_for_projection(&app, &records.chain(head, &app)?, policy_set);
        let files: Vec<_> = plan_overlays(head, &policy, std::slice::from_ref(&state))
            .into_iter()
            .filter_map(Result::ok)
            .filter(|f| paths.contains(&f.path))
            .collect();
        let projected: BTreeSet<&String> = files.iter().map(|f| &f.path).collect();
        for violation in drift(&files) {
            finding(
                FindingKind::UnbackedChange,
                true,
                &violation.file,
                format!("{} (commit changes it without a record to project it)", violation.message),
            );
        }
        // A changed overlay of an image the ledger does not set is outside the ledger's concern,
        // but a changed overlay for an environment with no state at all is unbacked.
        for path in &paths {
            if !projected.contains(path) && changes.get(path) != Some(&Change::Deleted) {
                let before = read_optional(parent, path)?.and_then(|b| read_images(&String::from_utf8_lossy(&b)).ok());
                let after = read_optional(head, path)?.and_then(|b| read_images(&String::from_utf8_lossy(&b)).ok());
                if before != after && after.as_ref().is_some_and(|a| !a.is_empty()) {
                    finding(
                        FindingKind::UnbackedChange,
                        true,
                        path,
                        format!("sets images for {app} that the ledger at this commit does not project"),
                    );
                }
            }
        }
    }
    if changes.contains_key(VERSIONS_PATH) {
        let (before, after) = (records.versions(parent)?, records.versions(head)?);
        let mut apps: BTreeSet<String> = BTreeSet::new();
        for side in [&before, &after] {
            apps.extend(side["apps"].as_object().into_iter().flat_map(|m| m.keys().cloned()));
        }
        for app in apps {
            if before["apps"].get(&app) == after["apps"].get(&app) && !touched_apps.iter().any(|a| a.as_str() == app) {
                continue;
            }
            let Ok(name) = Name::parse(&app) else { continue };
            let state = fold_for_projection(&name, &records.chain(head, &name)?, policy_set);
            if versions_entry(&state).as_ref() != after["apps"].get(&app) {
                finding(
                    FindingKind::UnbackedChange,
                    true,
                    VERSIONS_PATH,
                    format!("the entry for {app} is not what the ledger at this commit projects"),
                );
            }
        }
    }
    Ok(())
}

/// An app's chain folded for projection.
fn fold_for_projection(app: &Name, chain: &[std::rc::Rc<RecordFile>], policies: Policies) -> AppState {
    AppState { app: app.clone(), history: AppHistory::of(chain.iter().map(|r| &**r), policies) }
}

/// Parsed records by git blob id, shared across the commits audit walks.
#[derive(Default)]
struct RecordCache {
    by_blob: HashMap<gix::ObjectId, std::rc::Rc<RecordFile>>,
    /// The last versions.json read (a commit's is its child's parent's).
    versions: Option<(gix::ObjectId, std::rc::Rc<serde_json::Value>)>,
}

impl RecordCache {
    /// versions.json of `tree`, parsed (null when absent or not JSON).
    fn versions(&mut self, tree: &GitTree) -> Result<std::rc::Rc<serde_json::Value>, StoreError> {
        let entry = tree.list("")?.into_iter().find(|e| e.name == VERSIONS_PATH);
        let Some(id) = entry.and_then(|e| e.id) else { return Ok(std::rc::Rc::new(serde_json::Value::Null)) };
        if let Some((cached, value)) = &self.versions {
            if *cached == id {
                return Ok(value.clone());
            }
        }
        let bytes = tree.read(VERSIONS_PATH, 64 * 1024 * 1024)?;
        let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let value = std::rc::Rc::new(value);
        self.versions = Some((id, value.clone()));
        Ok(value)
    }

    /// An app's chain in `tree`, in sequence order, parsing only blobs not seen before.
    /// Files that are not valid records are left out: `verify` reports them.
    fn chain(&mut self, tree: &GitTree, app: &Name) -> Result<Vec<std::rc::Rc<RecordFile>>, StoreError> {
        let dir = format!("{APPS_DIR}/{app}");
        let mut chain = Vec::new();
        for entry in tree.list(&dir)? {
            let Some(id) = entry.id else { continue };
            if let Some(file) = self.by_blob.get(&id) {
                chain.push(file.clone());
                continue;
            }
            let path = format!("{dir}/{}", entry.name);
            let Some(record) = read_record(tree, &path) else { continue };
            let Ok(file) = RecordFile::new(path, record) else { continue };
            let file = std::rc::Rc::new(file);
            self.by_blob.insert(id, file.clone());
            chain.push(file);
        }
        chain.sort_by_key(|f| f.record.seq);
        Ok(chain)
    }
}

fn read_record(tree: &GitTree, path: &str) -> Option<Record> {
    let bytes = tree.read(path, crate::record::MAX_RECORD_BYTES as u64).ok()?;
    Record::from_json(path, &bytes).ok()
}
