//! The one way the ledger is written. A [`Transaction`] holds the write lock
//! for its whole life, loads the ledger once under it, writes each file
//! atomically, redoes the projection, makes the commit, and on any failure
//! puts every file it wrote back as it was. What it writes comes from a
//! [`Change`]: a value that checks itself against a loaded ledger and says
//! what to write, so the same change can be made again on another base.

use crate::chain::Chain;
use crate::clock::Timestamp;
use crate::ledger::Ledger;
use crate::project::ProjectedFile;
use crate::store::{commit_files, crash_point, WorkTree, WriteLock};

use super::AppendError;

/// A change to the ledger, stated so that it can be made against any base.
pub trait Change {
    /// What the change reports once made (the record written, the policy signed).
    type Outcome;

    /// Checks the change against `ledger` with the shared rules and says what
    /// to write. Writes nothing.
    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<Self::Outcome>, AppendError>;
}

/// What a [`Change`] writes.
#[derive(Debug)]
pub struct Prepared<T> {
    pub outcome: T,
    pub files: Vec<NewFile>,
    /// The chain of the app the change appended to, as it is after the change:
    /// its projection is redone from it without reading the chain again.
    pub chain: Option<Chain>,
    /// The message of the commit, when one is asked for.
    pub commit_message: String,
}

/// One file to write.
#[derive(Debug)]
pub struct NewFile {
    pub path: String,
    pub bytes: Vec<u8>,
    /// A new record or policy version: an existing file at the path means
    /// another writer took it first, and is an error.
    pub create_new: bool,
}

/// What the command line asks of a write besides the change itself.
#[derive(Clone, Copy, Debug)]
pub struct WriteOptions {
    /// Redo the projection (overlays, versions.json) of the changed app.
    pub project: bool,
    /// Make one git commit of everything written.
    pub commit: bool,
}

/// A change that was made.
#[derive(Debug)]
pub struct Applied<T> {
    pub outcome: T,
    /// The projected files that changed.
    pub projected: Vec<String>,
    pub commit: Option<String>,
}

/// The lock, the ledger loaded under it, and the files written so far.
pub struct Transaction<'t> {
    tree: &'t WorkTree,
    _lock: WriteLock,
    ledger: Ledger<'t>,
    /// Each file written and what it held before (None: it was new).
    written: Vec<(String, Option<Vec<u8>>)>,
}

impl<'t> Transaction<'t> {
    /// Takes the write lock, then loads the ledger: what is read cannot
    /// change under the transaction.
    pub fn begin(tree: &'t WorkTree) -> Result<Self, AppendError> {
        let lock = tree.lock()?;
        let ledger = Ledger::load(tree)?;
        Ok(Transaction { tree, _lock: lock, ledger, written: Vec::new() })
    }

    pub fn ledger(&self) -> &Ledger<'t> {
        &self.ledger
    }

    /// Makes `change`: its files, then the projection, then the commit. On a
    /// failure at any step every file written is put back as it was.
    pub fn apply<C: Change>(
        mut self,
        change: &C,
        options: WriteOptions,
        now: Timestamp,
    ) -> Result<Applied<C::Outcome>, AppendError> {
        match self.make(change, options, now) {
            Ok(applied) => Ok(applied),
            Err(err) => Err(self.undo(err)),
        }
    }

    /// Writes the projection of the whole ledger (`project`), no ledger
    /// file; returns every projected file, changed or not.
    pub fn project_all(mut self, now: Timestamp) -> Result<Vec<ProjectedFile>, AppendError> {
        let files = super::projection(&self.ledger, now)?;
        match self.write_projection(&files) {
            Ok(_) => Ok(files),
            Err(err) => Err(self.undo(err)),
        }
    }

    fn make<C: Change>(
        &mut self,
        change: &C,
        options: WriteOptions,
        now: Timestamp,
    ) -> Result<Applied<C::Outcome>, AppendError> {
        let prepared = change.prepare(&self.ledger, now)?;
        for file in &prepared.files {
            self.write(file)?;
        }
        crash_point("after-record");
        let projected = match (&prepared.chain, options.project) {
            (Some(chain), true) => {
                let files = crate::project::plan_app(&self.ledger, chain)?;
                self.write_projection(&files)?
            }
            _ => Vec::new(),
        };
        let commit = if options.commit {
            let paths: Vec<String> = self.written.iter().map(|(path, _)| path.clone()).collect();
            Some(commit_files(self.tree.root(), &paths, &prepared.commit_message)?)
        } else {
            None
        };
        self.written.clear();
        Ok(Applied { outcome: prepared.outcome, projected, commit })
    }

    fn write(&mut self, file: &NewFile) -> Result<(), AppendError> {
        let previous = if file.create_new {
            None
        } else {
            self.tree.read_optional(&file.path, crate::policy::MAX_POLICY_BYTES as u64)?
        };
        self.tree.write_atomic(&file.path, &file.bytes, file.create_new)?;
        self.written.push((file.path.clone(), previous));
        Ok(())
    }

    fn write_projection(&mut self, files: &[ProjectedFile]) -> Result<Vec<String>, AppendError> {
        let mut paths = Vec::new();
        for file in files.iter().filter(|f| f.changes()) {
            self.tree.write_atomic(&file.path, &file.projected, false)?;
            self.written.push((file.path.clone(), file.current.clone()));
            paths.push(file.path.clone());
        }
        Ok(paths)
    }

    /// Puts back every file written, newest first, and says so in the error
    /// (or that it could not, and which files are left as written).
    fn undo(&mut self, err: AppendError) -> AppendError {
        if self.written.is_empty() {
            return err;
        }
        let mut failed = Vec::new();
        for (path, previous) in self.written.drain(..).rev() {
            let restored = match previous {
                Some(bytes) => self.tree.write_atomic(&path, &bytes, false),
                None => self.tree.remove(&path),
            };
            if let Err(undo_err) = restored {
                failed.push(undo_err);
            }
        }
        if failed.is_empty() {
            AppendError::Undone(Box::new(err))
        } else {
            AppendError::UndoFailed { source: Box::new(err), failed }
        }
    }
}
