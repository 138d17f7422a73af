//! The `promotions/` tree read into memory: policy versions and each app's
//! records, with every file that is not a well-formed ledger file reported as
//! a violation (rule `schema`) rather than skipped silently.
//!
//! A command loads the [`Ledger`] once and passes it around: the policies
//! are read once, and each app's [`Chain`] is read when it is needed and
//! dropped after, so memory stays bounded by the largest chain.

use rayon::prelude::*;

use crate::canonical::message_and_id;
use crate::chain::Chain;
use crate::clock::Timestamp;
use crate::policy::{PolicyFile, MAX_POLICY_BYTES, POLICY_DIR};
use crate::record::{record_path, Name, Record, RecordId, MAX_RECORD_BYTES};
use crate::rules::{check_policies, Policies, Rule, Violation};
use crate::store::{EntryKind, Snapshot, StoreError};

/// One tree's ledger: its policy versions and the names of its apps.
pub struct Ledger<'s> {
    snapshot: &'s dyn Snapshot,
    policies: Vec<PolicyFile>,
    apps: Vec<Name>,
    /// Files in policy/ that are not policy versions.
    policy_problems: Vec<Violation>,
    /// App directories and stray entries in promotions/ that do not belong.
    layout_problems: Vec<Violation>,
}

impl<'s> Ledger<'s> {
    /// Reads the policy versions and lists the apps; chains are read on demand.
    pub fn load(snapshot: &'s dyn Snapshot) -> Result<Self, StoreError> {
        let policies = load_policies(snapshot)?;
        let apps = list_apps(snapshot)?;
        Ok(Ledger {
            snapshot,
            policies: policies.value,
            apps: apps.value,
            policy_problems: policies.problems,
            layout_problems: apps.problems,
        })
    }

    pub fn snapshot(&self) -> &'s dyn Snapshot {
        self.snapshot
    }

    pub fn policies(&self) -> Policies<'_> {
        Policies(&self.policies)
    }

    pub fn policy_files(&self) -> &[PolicyFile] {
        &self.policies
    }

    pub fn newest_policy(&self) -> Option<&PolicyFile> {
        self.policies.last()
    }

    /// Environment names in the newest policy's order (dev before production).
    pub fn environments(&self) -> Vec<String> {
        self.newest_policy()
            .map(|p| p.policy.environments.iter().map(|e| e.name.to_string()).collect())
            .unwrap_or_default()
    }

    /// The environment the DORA figures measure: the newest policy's last.
    pub fn production(&self) -> Option<&Name> {
        self.newest_policy().and_then(|p| p.policy.environments.last()).map(|e| &e.name)
    }

    pub fn apps(&self) -> &[Name] {
        &self.apps
    }

    /// Files in policy/ that are not policy versions.
    pub fn policy_problems(&self) -> &[Violation] {
        &self.policy_problems
    }

    /// App directories and entries of promotions/ that do not belong there.
    pub fn layout_problems(&self) -> &[Violation] {
        &self.layout_problems
    }

    /// The policy files that did not read, and every policy-chain rule
    /// (rule 3, trust, expiry).
    pub fn policy_violations(&self, now: Timestamp, trust: Option<&RecordId>) -> Vec<Violation> {
        let mut out = self.policy_problems.clone();
        out.extend(check_policies(&self.policies, now, trust));
        out
    }

    /// One app's chain, read now.
    pub fn chain(&self, app: &Name) -> Result<Chain, StoreError> {
        load_app(self.snapshot, app)
    }

    /// One app's record files in sequence order, listed but not read: for
    /// the commands that read a chain one record at a time. Entries that are
    /// not records are left out; [`Ledger::chain`] reports them.
    pub fn record_files(&self, app: &Name) -> Result<Vec<ListedRecord>, StoreError> {
        Ok(list_app(self.snapshot, app)?.value)
    }

    /// One listed record file of `app`, read now; None when it is not a
    /// well-formed record of that app and seq, a problem [`Ledger::chain`] reports.
    pub fn read_record(&self, app: &Name, listed: &ListedRecord) -> Result<Option<RecordFile>, StoreError> {
        Ok(read_record(self.snapshot, app, listed.clone())?.ok())
    }

    /// Every app's chain (or only `app`'s), read in parallel: for the
    /// read-side commands that show the whole history at once.
    pub fn chains(&self, only: Option<&Name>) -> Result<Vec<Chain>, StoreError> {
        match only {
            Some(app) => Ok(vec![self.chain(app)?]),
            None => self.apps.par_iter().map(|app| self.chain(app)).collect(),
        }
    }

    /// `f` over every app's chain in parallel, in [`Ledger::apps`] order:
    /// over `held` when the caller has read them all already, else each chain
    /// read, used and dropped, so memory holds one chain per core.
    pub fn map_chains<T: Send>(
        &self,
        held: Option<&[Chain]>,
        f: impl Fn(&Chain) -> T + Sync + Send,
    ) -> Result<Vec<T>, StoreError> {
        match held {
            Some(chains) => Ok(chains.par_iter().map(f).collect()),
            None => self.apps.par_iter().map(|app| Ok(f(&self.chain(app)?))).collect(),
        }
    }
}

pub const PROMOTIONS_DIR: &str = "promotions";
pub const APPS_DIR: &str = "promotions/apps";

/// A record as found in the repo, with its id and signed message.
#[derive(Clone, Debug)]
pub struct RecordFile {
    pub path: String,
    pub record: Record,
    pub id: RecordId,
    pub message: Vec<u8>,
}

impl RecordFile {
    pub fn new(path: String, record: Record) -> Result<Self, crate::canonical::CanonicalError> {
        let (message, id) = message_and_id(&record)?;
        Ok(RecordFile { path, record, id, message })
    }
}

/// A record file as an app's directory lists it, not read yet.
#[derive(Clone, Debug)]
pub struct ListedRecord {
    pub path: String,
    /// The sequence number its name gives.
    pub seq: u64,
    /// Its blob, where the listing comes from a git tree.
    id: Option<gix::ObjectId>,
}

/// Files and problems found while reading.
#[derive(Debug, Default)]
struct Loaded<T> {
    pub value: T,
    pub problems: Vec<Violation>,
}

/// `NNNNNNNN.json` → N.
fn sequence_file_number(name: &str) -> Option<u64> {
    let digits = name.strip_suffix(".json")?;
    (digits.len() == 8 && digits.bytes().all(|b| b.is_ascii_digit())).then(|| digits.parse().ok()).flatten()
}

fn schema_problem(path: &str, message: impl Into<String>) -> Violation {
    Violation::new(path, None, Rule::Schema, message)
}

/// Every policy version, in order. Broken files are problems, not errors.
fn load_policies(snapshot: &dyn Snapshot) -> Result<Loaded<Vec<PolicyFile>>, StoreError> {
    let mut loaded: Loaded<Vec<PolicyFile>> = Loaded::default();
    for entry in snapshot.list(POLICY_DIR)? {
        let path = format!("{POLICY_DIR}/{}", entry.name);
        if entry.kind != EntryKind::File || sequence_file_number(&entry.name).is_none() {
            loaded.problems.push(schema_problem(
                &path,
                "is not a policy file; policy versions are regular files named NNNNNNNN.json",
            ));
            continue;
        }
        match snapshot.read(&path, MAX_POLICY_BYTES as u64) {
            Ok(bytes) => match PolicyFile::from_json(&path, &bytes) {
                Ok(file) => loaded.value.push(file),
                Err(err) => loaded.problems.push(schema_problem(&path, strip_path(&err.to_string(), &path))),
            },
            Err(err @ (StoreError::NotRegular { .. } | StoreError::TooLarge { .. })) => {
                loaded.problems.push(schema_problem(&path, strip_path(&err.to_string(), &path)))
            }
            Err(err) => return Err(err),
        }
    }
    Ok(loaded)
}

/// Messages from lower layers start with the path; the violation names it already.
fn strip_path(message: &str, path: &str) -> String {
    message
        .strip_prefix(path)
        .map(|m| m.trim_start_matches([':', ' ']).to_string())
        .unwrap_or_else(|| message.to_string())
}

/// One app's record files in sequence order, listed without reading them,
/// and the entries of its directory that are not records.
fn list_app(snapshot: &dyn Snapshot, app: &Name) -> Result<Loaded<Vec<ListedRecord>>, StoreError> {
    let dir = format!("{APPS_DIR}/{app}");
    let mut loaded: Loaded<Vec<ListedRecord>> = Loaded::default();
    for entry in snapshot.list(&dir)? {
        let path = format!("{dir}/{}", entry.name);
        match (entry.kind, sequence_file_number(&entry.name)) {
            (EntryKind::File, Some(seq)) => loaded.value.push(ListedRecord { path, seq, id: entry.id }),
            _ if entry.name.starts_with(".gitops-ledger-") && entry.name.ends_with(".tmp") => {
                // A write in progress (or killed mid-write): never part of the ledger.
            }
            _ => loaded
                .problems
                .push(schema_problem(&path, "is not a record; records are regular files named NNNNNNNN.json")),
        }
    }
    Ok(loaded)
}

/// One app's records in sequence order.
fn load_app(snapshot: &dyn Snapshot, app: &Name) -> Result<Chain, StoreError> {
    let Loaded { value: paths, mut problems } = list_app(snapshot, app)?;
    // In chain order on one thread: callers parallelize across apps, and a
    // git pack reads fastest when one app's similar records come in sequence.
    let parsed: Vec<Result<RecordFile, Violation>> =
        paths.into_iter().map(|listed| read_record(snapshot, app, listed)).collect::<Result<_, _>>()?;
    let mut records = Vec::with_capacity(parsed.len());
    for result in parsed {
        match result {
            Ok(file) => records.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    Ok(Chain { app: app.clone(), records, problems })
}

fn read_record(
    snapshot: &dyn Snapshot,
    app: &Name,
    ListedRecord { path, seq, id }: ListedRecord,
) -> Result<Result<RecordFile, Violation>, StoreError> {
    let bytes = match snapshot.read_listed(&path, id, MAX_RECORD_BYTES as u64) {
        Ok(bytes) => bytes,
        Err(err @ (StoreError::NotRegular { .. } | StoreError::TooLarge { .. })) => {
            return Ok(Err(schema_problem(&path, strip_path(&err.to_string(), &path))))
        }
        Err(err) => return Err(err),
    };
    let record = match Record::from_json(&path, &bytes) {
        Ok(record) => record,
        Err(err) => return Ok(Err(schema_problem(&path, strip_path(&err.to_string(), &path)))),
    };
    if &record.app != app || record.seq != seq {
        let expected = record_path(&record.app, record.seq);
        return Ok(Err(Violation::new(
            &path,
            Some(record.label()),
            Rule::Schema,
            format!("holds {} but that record belongs in {expected}", record.label()),
        )));
    }
    Ok(RecordFile::new(path.clone(), record).map_err(|e| schema_problem(&path, e.to_string())))
}

/// Every app under `promotions/apps/`.
fn list_apps(snapshot: &dyn Snapshot) -> Result<Loaded<Vec<Name>>, StoreError> {
    let mut loaded: Loaded<Vec<Name>> = Loaded::default();
    for entry in snapshot.list(APPS_DIR)? {
        let path = format!("{APPS_DIR}/{}", entry.name);
        match (entry.kind, Name::parse(&entry.name)) {
            (EntryKind::Dir, Ok(name)) => loaded.value.push(name),
            _ => loaded.problems.push(schema_problem(
                &path,
                "is not an app directory; promotions/apps/ holds one directory per app, named like api-service",
            )),
        }
    }
    for entry in snapshot.list(PROMOTIONS_DIR)? {
        if !(entry.kind == EntryKind::Dir && (entry.name == "apps" || entry.name == "policy")) {
            loaded.problems.push(schema_problem(
                &format!("{PROMOTIONS_DIR}/{}", entry.name),
                "does not belong in promotions/, which holds only policy/ and apps/",
            ));
        }
    }
    Ok(loaded)
}
