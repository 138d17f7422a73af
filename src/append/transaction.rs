//! The one way the ledger is written. A [`Transaction`] holds the write lock
//! for its whole life, loads the ledger once under it, writes each file
//! atomically, redoes the projection, makes the commit, pushes it, and on
//! any failure puts every file it wrote back as it was. What it writes comes
//! from a [`Change`]: a value that checks itself against a loaded ledger and
//! says what to write, so when a push finds the remote moved on, the same
//! change is made again on the new tip.

use std::time::Duration;

use crate::chain::Chain;
use crate::clock::{Clock, Timestamp};
use crate::fold_cache::FoldCache;
use crate::ledger::Ledger;
use crate::project::ProjectedFile;
use crate::remote::{Pushed, Remote};
use crate::store::{crash_point, uncommitted, Commit, StoreError, WorkTree, WriteLock};

use super::AppendError;

/// A change to the ledger, stated so that it can be made against any base.
pub trait Change: Sized {
    /// What the change reports once made (the record written, the policy signed).
    type Outcome;

    /// Checks the change against `ledger` with the shared rules and says what
    /// to write. Writes nothing.
    fn prepare(&self, ledger: &Ledger, now: Timestamp) -> Result<Prepared<Self::Outcome>, AppendError>;

    /// The change to make again on a moved tip, given what it made the first
    /// time; None: the same change. A promotion keeps the images it resolved.
    fn again(&self, _made: &Self::Outcome) -> Option<Self> {
        None
    }

    /// On a moved tip: why the change has nothing left to do there (another
    /// approval completed the record), if so.
    fn done_on(&self, _ledger: &Ledger) -> Option<String> {
        None
    }
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
    /// What the change read, which its commit needs committed to verify.
    pub reads: Reads,
}

/// Ledger files a change depends on.
#[derive(Debug, Default)]
pub struct Reads {
    /// Files whose content must be as committed.
    pub files: Vec<String>,
    /// Directories whose files must all be committed (compared by name).
    pub dirs: Vec<String>,
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
#[derive(Clone, Debug, Default)]
pub struct WriteOptions {
    /// Redo the projection (overlays, versions.json) of the changed app.
    pub project: bool,
    /// Make one git commit of everything written.
    pub commit: bool,
    /// Push the commit (implies `commit`).
    pub push: Option<PushOptions>,
}

/// Where and how hard to push.
#[derive(Clone, Debug)]
pub struct PushOptions {
    /// The remote's name; None: the branch's upstream remote, else `origin`.
    pub remote: Option<String>,
    /// How many times to rebuild on a moved tip before giving up.
    pub retries: u32,
}

/// A change that was made.
#[derive(Debug)]
pub struct Applied<T> {
    pub outcome: T,
    /// The projected files that changed.
    pub projected: Vec<String>,
    pub commit: Option<String>,
    /// Where the commit was pushed, and how often it was rebuilt on a moved tip first.
    pub pushed: Option<(String, u32)>,
}

/// How a write ended.
#[derive(Debug)]
pub enum Landed<T> {
    Applied(Applied<T>),
    /// Rebuilt on a moved tip, the change had nothing left to do: nothing
    /// was written or pushed. Says why, and the remote branch.
    AlreadyDone {
        why: String,
        remote: String,
    },
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

    /// Makes `change`: its files, then the projection, then the commit, then
    /// the push. On a failure at any step every file written is put back as
    /// it was.
    pub fn apply<C: Change>(
        mut self,
        change: &C,
        options: &WriteOptions,
        clock: Clock,
    ) -> Result<Landed<C::Outcome>, AppendError> {
        let Some(push) = &options.push else {
            let (applied, commit) = self.make_or_undo(change, options, clock.now())?;
            let commit = commit.map(Commit::stage).transpose()?;
            return Ok(Landed::Applied(Applied { commit, ..applied }));
        };
        let remote = Remote::of_work_tree(self.tree.root(), push.remote.as_deref())?;
        let options = WriteOptions { commit: true, ..options.clone() };
        let mut rebuilt: Option<C> = None;
        let mut rebuilds = 0;
        loop {
            let current = rebuilt.as_ref().unwrap_or(change);
            let now = if rebuilds == 0 { clock.now() } else { clock.renewed().now() };
            let made = if rebuilds == 0 {
                self.make_or_undo(current, &options, now)
            } else {
                // Asked only on a moved tip: on the first try nothing was done yet.
                if let Some(why) = current.done_on(&self.ledger) {
                    return Ok(Landed::AlreadyDone { why, remote: remote.display() });
                }
                self.make_or_undo(current, &options, now).map_err(|source| AppendError::Moved {
                    remote: remote.display(),
                    rebuilds,
                    source: Box::new(source),
                })
            };
            let (applied, commit) = made?;
            let commit = commit.ok_or_else(|| AppendError::Usage("--push needs a commit to push".into()))?;
            let pushed = match remote.push(&commit.id().to_string()) {
                Ok(pushed) => pushed,
                Err(source) => {
                    // Nothing is lost: the commit stays on the branch, to push by hand.
                    self.written.clear();
                    let commit = commit.stage()?;
                    return Err(AppendError::NotPushed { commit, source });
                }
            };
            match pushed {
                Pushed::Accepted => {
                    self.written.clear();
                    let commit = commit.stage()?;
                    return Ok(Landed::Applied(Applied {
                        commit: Some(commit),
                        pushed: Some((remote.display(), rebuilds)),
                        ..applied
                    }));
                }
                Pushed::Behind(reason) => {
                    // Never merged as text: taken back, then made again on the new tip.
                    commit.take_back()?;
                    self.put_back().map_err(|failed| AppendError::UndoFailed {
                        source: Box::new(AppendError::Usage(format!(
                            "{} moved on ({reason}), so the commit was taken back to be made again",
                            remote.display()
                        ))),
                        failed,
                    })?;
                    let last = rebuilds == push.retries;
                    if !last {
                        std::thread::sleep(backoff(rebuilds));
                    }
                    remote.catch_up()?;
                    if last {
                        return Err(AppendError::Crowded { remote: remote.display(), attempts: rebuilds + 1, reason });
                    }
                    self.ledger = Ledger::load(self.tree)?;
                    rebuilt = current.again(&applied.outcome).or(rebuilt);
                    rebuilds += 1;
                }
            }
        }
    }

    /// Writes the projection of the whole ledger (`project`), no ledger
    /// file; returns every projected file, changed or not.
    pub fn project_all(mut self, now: Timestamp) -> Result<Vec<ProjectedFile>, AppendError> {
        let cache = FoldCache::open(self.tree, self.ledger.policies());
        let files = super::projection(&self.ledger, now, cache.as_ref())?;
        match self.write_projection(&files) {
            Ok(_) => Ok(files),
            Err(err) => Err(self.undo(err)),
        }
    }

    fn make_or_undo<C: Change>(
        &mut self,
        change: &C,
        options: &WriteOptions,
        now: Timestamp,
    ) -> Result<(Applied<C::Outcome>, Option<Commit>), AppendError> {
        match self.make(change, options, now) {
            Ok(made) => Ok(made),
            Err(err) => Err(self.undo(err)),
        }
    }

    /// Writes the change and its projection, and commits them unstaged. The
    /// files written stay listed until the commit is staged or taken back.
    fn make<C: Change>(
        &mut self,
        change: &C,
        options: &WriteOptions,
        now: Timestamp,
    ) -> Result<(Applied<C::Outcome>, Option<Commit>), AppendError> {
        let prepared = change.prepare(&self.ledger, now)?;
        let projection = match (&prepared.chain, options.project) {
            // Refused before any write, so say that nothing was written, as after an undo.
            (Some(chain), true) => crate::project::plan_app(&self.ledger, chain)
                .map_err(|err| AppendError::Undone(Box::new(err.into())))?,
            _ => Vec::new(),
        };
        if options.commit {
            // A commit must verify on its own: it cannot leave out what the
            // record cites, nor sweep in someone's edit of a projected file.
            let mut files = prepared.reads.files.clone();
            files.extend(projection.iter().map(|f| f.path.clone()));
            let dirty = uncommitted(self.tree, &files, &prepared.reads.dirs)?;
            if !dirty.is_empty() {
                return Err(AppendError::Uncommitted(dirty));
            }
        }
        for file in &prepared.files {
            self.write(file)?;
        }
        crash_point("after-record");
        let projected = self.write_projection(&projection)?;
        let commit = if options.commit {
            let paths: Vec<String> = self.written.iter().map(|(path, _)| path.clone()).collect();
            Some(Commit::make(self.tree.root(), &paths, &prepared.commit_message)?)
        } else {
            None
        };
        // Until a push lands, its files may still be put back.
        if options.push.is_none() {
            self.written.clear();
        }
        Ok((Applied { outcome: prepared.outcome, projected, commit: None, pushed: None }, commit))
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
        match self.put_back() {
            Ok(()) => AppendError::Undone(Box::new(err)),
            Err(failed) => AppendError::UndoFailed { source: Box::new(err), failed },
        }
    }

    /// Puts back every file written, newest first; says which could not be.
    fn put_back(&mut self) -> Result<(), Vec<StoreError>> {
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
            Ok(())
        } else {
            Err(failed)
        }
    }
}

/// How long to wait before rebuilding: a random part, so writers that
/// collided do not collide again in step, growing with each attempt.
fn backoff(attempt: u32) -> Duration {
    use rand_core::RngCore;
    let ceiling = 30u64 << attempt.min(3);
    Duration::from_millis(10 + u64::from(rand_core::OsRng.next_u32()) % ceiling)
}
