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
use crate::clock::Timestamp;
use crate::ledger::{Ledger, RecordFile, APPS_DIR};
use crate::policy::{Policy, Target, POLICY_DIR};
use crate::project::targets::{self, managed_files, Managed};
use crate::project::{drift, plan_targets, read_optional, versions_entry, VERSIONS_PATH};
use crate::record::{Name, Record};
use crate::rules::Policies;
use crate::store::{changed_files, Change, CommitInfo, GitRepo, GitTree, Snapshot, StoreError};
use crate::view::AppView;

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
    // The tip's id was read from the repository, so it is in the repository's hash.
    let empty_tree = gix::ObjectId::empty_tree(tip.kind());
    let empty = CommitInfo { id: empty_tree, tree: empty_tree, parents: Vec::new(), time: 0, author: String::new() };
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
            let diff = Diff { parent: &parent, head: &head, changes: &changes };
            check_commit(commit, &diff, options, &mut records, &mut report)?;
        }
        trees.insert(commit.id, head);
    }
    Ok(report)
}

/// What one commit changed: the config repo's tree before and after it, and
/// the files that differ.
struct Diff<'t> {
    parent: &'t GitTree,
    head: &'t GitTree,
    changes: &'t BTreeMap<String, Change>,
}

/// The findings and landings of one commit, each stamped with that commit.
struct Findings<'r> {
    commit: &'r CommitInfo,
    time: Timestamp,
    out: &'r mut AuditReport,
}

impl<'r> Findings<'r> {
    fn new(commit: &'r CommitInfo, out: &'r mut AuditReport) -> Self {
        // A commit time no calendar date can show should not stop the audit.
        let time = Timestamp::from_unix(commit.time).unwrap_or(Timestamp::EPOCH);
        Findings { commit, time, out }
    }

    fn push(&mut self, kind: FindingKind, error: bool, file: &str, message: String) {
        self.out.findings.push(Finding {
            kind,
            error,
            commit: self.commit.id.to_string(),
            author: self.commit.author.clone(),
            time: self.time,
            file: file.to_string(),
            message,
        });
    }

    fn land(&mut self, record: &Record) {
        let landing =
            Landing { commit: self.commit.id.to_string(), time: self.time, author: self.commit.author.clone() };
        self.out.landed.insert(record.label(), landing);
    }
}

fn check_commit(
    commit: &CommitInfo,
    diff: &Diff,
    options: &AuditOptions,
    records: &mut RecordCache,
    report: &mut AuditReport,
) -> Result<(), StoreError> {
    let mut findings = Findings::new(commit, report);
    let touched_apps = check_ledger_files(&mut findings, diff, options);
    // Projected files are checked against the ledger as it stands after the
    // commit; before the first policy there is nothing to project.
    let ledger = Ledger::load(diff.head)?;
    let Some(policy) = ledger.newest_policy().map(|p| &p.policy) else { return Ok(()) };
    check_targets(&mut findings, diff, &ledger, policy, records)?;
    check_versions(&mut findings, diff, &touched_apps, ledger.policies(), records)
}

/// Ledger files: added records land; modified or deleted ledger files were
/// rewritten, except an approval (signatures added to a record). Returns the
/// apps whose records the commit touched.
fn check_ledger_files(findings: &mut Findings, diff: &Diff, options: &AuditOptions) -> BTreeSet<Name> {
    let mut touched_apps = BTreeSet::new();
    for (path, change) in diff.changes {
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
                if let Some(record) = read_record(diff.head, path, None) {
                    check_landing(findings, path, &record, options);
                }
            }
            Change::Added => {}
            Change::Modified => {
                if !is_approval(diff, path) {
                    findings.push(
                        FindingKind::Rewritten,
                        true,
                        path,
                        "a landed ledger file was edited by this commit; the ledger is append-only".into(),
                    );
                }
            }
            Change::Deleted => findings.push(
                FindingKind::Deleted,
                true,
                path,
                "a landed ledger file was deleted by this commit; the ledger is append-only".into(),
            ),
        }
    }
    touched_apps
}

/// Lands `record` at this commit, and reports an `at` far from the commit's time.
fn check_landing(findings: &mut Findings, path: &str, record: &Record, options: &AuditOptions) {
    findings.land(record);
    let time = findings.time;
    let ahead = record.at.seconds_since(time);
    if ahead > options.skew_seconds {
        findings.push(
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
        findings.push(
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

/// Whether the commit only added signatures to the record at `path`.
fn is_approval(diff: &Diff, path: &str) -> bool {
    match (read_record(diff.parent, path, None), read_record(diff.head, path, None)) {
        (Some(before), Some(after)) => only_adds_signatures(&before, &after),
        _ => false,
    }
}

/// Changed target files of the apps the ledger manages (an app without
/// records is not the ledger's yet, as in verify: [`managed_files`]): what
/// each app writes there must be what the ledger at this commit projects,
/// and a managed file it writes nothing into must not be given new values.
fn check_targets(
    findings: &mut Findings,
    diff: &Diff,
    ledger: &Ledger,
    policy: &Policy,
    records: &mut RecordCache,
) -> Result<(), StoreError> {
    // The templates only narrow down whose files changed, so that only those
    // apps are folded; managed_files decides which of them are the ledger's.
    let targets = policy.targets();
    let mut candidates: BTreeSet<Name> = BTreeSet::new();
    for path in diff.changes.keys() {
        for target in targets.iter() {
            match target.file_of(path) {
                Some((Some(app), _)) => {
                    candidates.insert(app);
                }
                Some((None, _)) => candidates.extend(ledger.apps().iter().cloned()),
                None => {}
            }
        }
    }
    let mut projected: BTreeSet<String> = BTreeSet::new();
    let mut managed: BTreeMap<String, Managed> = BTreeMap::new();
    for app in candidates {
        let state = records.state(diff.head, &app, ledger.policies())?;
        let changed: Vec<Managed> =
            managed_files(policy, &state).into_iter().filter(|f| diff.changes.contains_key(&f.path)).collect();
        if changed.is_empty() {
            continue;
        }
        let paths: BTreeSet<&str> = changed.iter().map(|f| f.path.as_str()).collect();
        let files: Vec<_> = plan_targets(diff.head, policy, std::slice::from_ref(&state), |p| paths.contains(p))
            .into_iter()
            .filter_map(Result::ok)
            .collect();
        projected.extend(files.iter().map(|f| f.path.clone()));
        for violation in drift(&files) {
            findings.push(
                FindingKind::UnbackedChange,
                true,
                &violation.file,
                format!("{} (commit changes it without a record to project it)", violation.message),
            );
        }
        for file in changed {
            managed.entry(file.path.clone()).or_insert(file);
        }
    }
    // A managed file no app writes into (an environment its app has no
    // record for yet) must keep its values; a file apps share is judged once
    // every app's writes are known.
    for (path, file) in managed {
        if !projected.contains(&path)
            && diff.changes.get(&path) != Some(&Change::Deleted)
            && sets_new_values(diff, &path, &file.target)?
        {
            let whose = if file.target.shared() { String::new() } else { format!(" for {}", file.app) };
            findings.push(
                FindingKind::UnbackedChange,
                true,
                &path,
                format!("sets images{whose} that the ledger at this commit does not project"),
            );
        }
    }
    Ok(())
}

/// Whether the commit changes what `target` reads in the file at `path`,
/// to something. A file that does not parse sets nothing.
fn sets_new_values(diff: &Diff, path: &str, target: &Target) -> Result<bool, StoreError> {
    let values = |tree: &GitTree| -> Result<_, StoreError> {
        Ok(read_optional(tree, path)?.and_then(|b| targets::values_read(target, &String::from_utf8_lossy(&b))))
    };
    let (before, after) = (values(diff.parent)?, values(diff.head)?);
    Ok(before != after && after.is_some())
}

/// A changed versions.json: each entry that moved, and the entry of each app
/// whose records the commit touched, must be what the ledger at this commit
/// projects. The file is wholly the ledger's, as verify compares it: an app
/// without records (a key that names no app has none) has no entry, so
/// there is no adopting one that was there before.
fn check_versions(
    findings: &mut Findings,
    diff: &Diff,
    touched_apps: &BTreeSet<Name>,
    policies: Policies,
    records: &mut RecordCache,
) -> Result<(), StoreError> {
    if !diff.changes.contains_key(VERSIONS_PATH) {
        return Ok(());
    }
    let (before, after) = (records.versions(diff.parent)?, records.versions(diff.head)?);
    let mut apps: BTreeSet<String> = touched_apps.iter().map(ToString::to_string).collect();
    for side in [&before, &after] {
        apps.extend(side["apps"].as_object().into_iter().flat_map(|m| m.keys().cloned()));
    }
    for app in apps {
        if before["apps"].get(&app) == after["apps"].get(&app) && !touched_apps.iter().any(|a| a.as_str() == app) {
            continue;
        }
        let projected = match Name::parse(&app) {
            Ok(name) => versions_entry(&records.state(diff.head, &name, policies)?),
            Err(_) => None,
        };
        if projected.as_ref() != after["apps"].get(&app) {
            findings.push(
                FindingKind::UnbackedChange,
                true,
                VERSIONS_PATH,
                format!("the entry for {app} is not what the ledger at this commit projects"),
            );
        }
    }
    Ok(())
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

    /// What the ledger in `tree` projects for `app`.
    fn state(&mut self, tree: &GitTree, app: &Name, policies: Policies) -> Result<AppView, StoreError> {
        let chain = self.chain(tree, app)?;
        Ok(AppView::of(app, &AppHistory::of(chain.iter().map(|r| &**r), policies), policies))
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
            let Some(record) = read_record(tree, &path, Some(id)) else { continue };
            let Ok(file) = RecordFile::new(path, record) else { continue };
            let file = std::rc::Rc::new(file);
            self.by_blob.insert(id, file.clone());
            chain.push(file);
        }
        chain.sort_by_key(|f| f.record.seq);
        Ok(chain)
    }
}

/// The record at `path`, read by its blob `id` when a listing gave it.
fn read_record(tree: &GitTree, path: &str, id: Option<gix::ObjectId>) -> Option<Record> {
    let bytes = tree.read_listed(path, id, crate::record::MAX_RECORD_BYTES as u64).ok()?;
    Record::from_json(path, &bytes).ok()
}

/// A legacy approval: before approvals were records of their own, `approve`
/// added a signature to the newest record. History written that way is
/// still accepted here; a pull request may no longer do it.
fn only_adds_signatures(landed: &Record, now: &Record) -> bool {
    let mut without = now.clone();
    without.signatures.truncate(landed.signatures.len());
    without == *landed && now.signatures.len() > landed.signatures.len()
}
