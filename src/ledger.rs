//! The `promotions/` tree read into memory: policy versions and each app's
//! records, with every file that is not a well-formed ledger file reported as
//! a violation (rule `schema`) rather than skipped silently.

use crate::canonical::{record_id, record_message};
use crate::policy::{PolicyFile, MAX_POLICY_BYTES, POLICY_DIR};
use crate::record::{record_path, Name, Record, RecordId, MAX_RECORD_BYTES};
use crate::rules::{Rule, Violation};
use crate::store::{EntryKind, Snapshot, StoreError};

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
        let id = record_id(&record)?;
        let message = record_message(&record)?;
        Ok(RecordFile { path, record, id, message })
    }
}

/// Files and problems found while reading.
#[derive(Debug, Default)]
pub struct Loaded<T> {
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
pub fn load_policies(snapshot: &dyn Snapshot) -> Result<Loaded<Vec<PolicyFile>>, StoreError> {
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

/// One app's records in sequence order.
pub fn load_app(snapshot: &dyn Snapshot, app: &Name) -> Result<Loaded<Vec<RecordFile>>, StoreError> {
    let dir = format!("{APPS_DIR}/{app}");
    let mut problems = Vec::new();
    let mut paths = Vec::new();
    for entry in snapshot.list(&dir)? {
        let path = format!("{dir}/{}", entry.name);
        match (entry.kind, sequence_file_number(&entry.name)) {
            (EntryKind::File, Some(seq)) => paths.push((path, seq)),
            _ if entry.name.starts_with(".gitops-ledger-") && entry.name.ends_with(".tmp") => {
                // A write in progress (or killed mid-write): never part of the ledger.
            }
            _ => problems.push(schema_problem(&path, "is not a record; records are regular files named NNNNNNNN.json")),
        }
    }
    // In chain order on one thread: callers parallelize across apps, and a
    // git pack reads fastest when one app's similar records come in sequence.
    let parsed: Vec<Result<RecordFile, Violation>> =
        paths.into_iter().map(|(path, seq)| read_record(snapshot, app, path, seq)).collect::<Result<_, _>>()?;
    let mut records = Vec::with_capacity(parsed.len());
    for result in parsed {
        match result {
            Ok(file) => records.push(file),
            Err(problem) => problems.push(problem),
        }
    }
    Ok(Loaded { value: records, problems })
}

fn read_record(
    snapshot: &dyn Snapshot,
    app: &Name,
    path: String,
    seq: u64,
) -> Result<Result<RecordFile, Violation>, StoreError> {
    let bytes = match snapshot.read(&path, MAX_RECORD_BYTES as u64) {
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
pub fn list_apps(snapshot: &dyn Snapshot) -> Result<Loaded<Vec<Name>>, StoreError> {
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
