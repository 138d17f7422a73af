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
use crate::listing_cache::ListingCache;
use crate::policy::{PolicyFile, MAX_POLICY_BYTES, POLICY_DIR};
use crate::record::{record_path, Name, Record, RecordId, MAX_RECORD_BYTES};
use crate::rules::{check_policies, Policies, Rule, Violation};
use crate::store::{EntryKind, Snapshot, StoreError, WorkTree};

/// One tree's ledger: its policy versions and the names of its apps.
pub struct Ledger<'s> {
    snapshot: &'s dyn Snapshot,
    policies: Vec<PolicyFile>,
    apps: Vec<Name>,
    /// Files in policy/ that are not policy versions.
    policy_problems: Vec<Violation>,
    /// App directories and stray entries in promotions/ that do not belong.
    layout_problems: Vec<Violation>,
    /// Where [`Ledger::record_seqs`] finds an unchanged directory's seqs.
    listings: Option<ListingCache>,
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
            listings: None,
        })
    }

    /// [`Ledger::load`] of the work tree, with each app's record seqs
    /// found through the listing cache: for the read-side commands that
    /// start from each chain's tip (`log`, `replay`, `status`, `project`).
    pub fn load_listed(tree: &'s WorkTree) -> Result<Self, StoreError> {
        let mut ledger = Ledger::load(tree)?;
        ledger.listings = ListingCache::open(tree);
        Ok(ledger)
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

    /// The seqs of one app's record files, listed but not read: for the
    /// commands that read a chain one record at a time. Entries that are not
    /// records are left out; [`Ledger::chain`] reports them.
    pub fn record_seqs(&self, app: &Name) -> Result<RecordSeqs, StoreError> {
        let list = || {
            let mut seqs = RecordSeqs::default();
            for listed in list_app(self.snapshot, app)?.value {
                seqs.push(listed.seq);
            }
            Ok(seqs)
        };
        match &self.listings {
            Some(cache) => cache.seqs(app, list),
            None => list(),
        }
    }

    /// One record file of `app`, read now; None when it is not a well-formed
    /// record of that app and seq, a problem [`Ledger::chain`] reports.
    pub fn read_record(&self, app: &Name, seq: u64) -> Result<Option<RecordFile>, StoreError> {
        Ok(read_record(self.snapshot, app, ListedRecord { seq, id: None })?.ok())
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

/// The seqs of an app's record files, as runs of consecutive numbers: one
/// run for a chain without gaps, so a reader streaming a million-record
/// ledger holds a few numbers per app rather than every file name.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RecordSeqs {
    /// Inclusive `(first, last)` runs, ascending, neither overlapping nor touching.
    runs: std::collections::VecDeque<(u64, u64)>,
}

impl RecordSeqs {
    /// Adds `seq`, greater than every seq added before.
    fn push(&mut self, seq: u64) {
        match self.runs.back_mut() {
            Some((_, last)) if last.checked_add(1) == Some(seq) => *last = seq,
            _ => self.runs.push_back((seq, seq)),
        }
    }

    /// Whether the seqs are 1, 2, … n with none missing.
    pub fn is_gapless(&self) -> bool {
        self.runs.len() <= 1 && self.runs.front().is_none_or(|(first, _)| *first == 1)
    }

    pub fn newest(&self) -> Option<u64> {
        self.runs.back().map(|(_, last)| *last)
    }

    /// Takes the newest seq out.
    pub fn pop_newest(&mut self) -> Option<u64> {
        let (first, last) = self.runs.back_mut()?;
        let seq = *last;
        if first == last {
            self.runs.pop_back();
        } else {
            *last -= 1;
        }
        Some(seq)
    }

    /// Takes the oldest seq out.
    pub fn pop_oldest(&mut self) -> Option<u64> {
        let (first, last) = self.runs.front_mut()?;
        let seq = *first;
        if first == last {
            self.runs.pop_front();
        } else {
            *first += 1;
        }
        Some(seq)
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

/// A record file as an app's directory lists it, not read yet: its path is
/// [`record_path`] of its seq.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct ListedRecord {
    /// The sequence number its name gives.
    seq: u64,
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

/// The seqs of one app's record files in sequence order (each file is
/// [`record_path`]), listed without reading them, and the entries of its
/// directory that are not records.
fn list_app(snapshot: &dyn Snapshot, app: &Name) -> Result<Loaded<Vec<ListedRecord>>, StoreError> {
    let dir = format!("{APPS_DIR}/{app}");
    let mut loaded: Loaded<Vec<ListedRecord>> = Loaded::default();
    snapshot.visit(&dir, &mut |name, kind, id| match (kind, sequence_file_number(name)) {
        (EntryKind::File, Some(seq)) => loaded.value.push(ListedRecord { seq, id }),
        _ if name.starts_with(".gitops-ledger-") && name.ends_with(".tmp") => {
            // A write in progress (or killed mid-write): never part of the ledger.
        }
        _ => loaded.problems.push(schema_problem(
            &format!("{dir}/{name}"),
            "is not a record; records are regular files named NNNNNNNN.json",
        )),
    })?;
    // Names are NNNNNNNN.json, so seq order is name order.
    loaded.value.sort_unstable();
    loaded.problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(loaded)
}

/// One app's records in sequence order.
fn load_app(snapshot: &dyn Snapshot, app: &Name) -> Result<Chain, StoreError> {
    let Loaded { value: listed, mut problems } = list_app(snapshot, app)?;
    // In chain order on one thread: callers parallelize across apps, and a
    // git pack reads fastest when one app's similar records come in sequence.
    let parsed: Vec<Result<RecordFile, Violation>> =
        listed.into_iter().map(|listed| read_record(snapshot, app, listed)).collect::<Result<_, _>>()?;
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
    ListedRecord { seq, id }: ListedRecord,
) -> Result<Result<RecordFile, Violation>, StoreError> {
    let path = record_path(app, seq);
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
    Ok(match message_and_id(&record) {
        Ok((message, id)) => Ok(RecordFile { path, record, id, message }),
        Err(err) => Err(schema_problem(&path, err.to_string())),
    })
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

#[cfg(test)]
mod tests {
    use super::RecordSeqs;

    #[test]
    fn record_seqs_keep_runs_and_yield_every_seq_from_either_end() {
        let mut seqs = RecordSeqs::default();
        for seq in [1, 2, 3, 5, 9, 10] {
            seqs.push(seq);
        }
        assert_eq!(seqs.runs, [(1, 3), (5, 5), (9, 10)]);
        assert_eq!(seqs.newest(), Some(10));
        assert!(!seqs.is_gapless());
        let mut newest_first = seqs.clone();
        let down: Vec<u64> = std::iter::from_fn(|| newest_first.pop_newest()).collect();
        assert_eq!(down, [10, 9, 5, 3, 2, 1]);
        let up: Vec<u64> = std::iter::from_fn(|| seqs.pop_oldest()).collect();
        assert_eq!(up, [1, 2, 3, 5, 9, 10]);
        assert_eq!(seqs.newest(), None);
        assert!(seqs.is_gapless());
        let mut whole = RecordSeqs::default();
        (1..=4).for_each(|seq| whole.push(seq));
        assert!(whole.is_gapless());
        let mut late = RecordSeqs::default();
        (2..=4).for_each(|seq| late.push(seq));
        assert!(!late.is_gapless());
    }
}
