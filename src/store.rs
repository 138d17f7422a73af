//! Where ledger bytes come from and go to: the work tree (read, atomic write)
//! and git (commits made through gix, never a shelled-out `git`).

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::fsmonitor::{FsMonitorError, KnownIds, Monitor};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("{path} already exists: another promotion took this sequence number first; run the command again")]
    Exists { path: String },
    #[error("{path} is a symlink or special file; the ledger only reads regular files inside the repo")]
    NotRegular { path: String },
    #[error("{path} is larger than the {limit}-byte limit for a ledger file")]
    TooLarge { path: String, limit: u64 },
    #[error("git: {context}: {source}")]
    Git { context: String, source: gix::Error },
    #[error("git: {0}")]
    GitSetup(String),
    #[error("another gitops-ledger command is writing to this repo (it holds {path}); nothing was written: run this again when it finishes")]
    Busy { path: String },
}

/// Fault injection for the crash-safety tests: with `GITOPS_LEDGER_CRASH_AT`
/// set to `name`, the process aborts here, as a kill would stop it.
pub fn crash_point(name: &str) {
    if std::env::var_os("GITOPS_LEDGER_CRASH_AT").is_some_and(|point| point == name) {
        std::process::abort();
    }
}

/// What a directory listing says about an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    /// Symlinks, sockets, submodules: never followed, always reported.
    Other,
}

#[derive(Clone, Debug)]
pub struct DirEntry {
    pub name: String,
    pub kind: EntryKind,
    /// The git object id, where the entry comes from a git tree. Equal ids
    /// mean equal content, which lets a pull-request check skip whole
    /// unchanged directories.
    pub id: Option<gix::ObjectId>,
}

/// A read-only view of one tree of the config repo.
pub trait Snapshot: Sync {
    /// Entries of `dir` (repo-relative, `/`-separated), sorted by name; an absent
    /// directory lists as empty.
    fn list(&self, dir: &str) -> Result<Vec<DirEntry>, StoreError>;
    /// `visit` with the name, kind and (from a git tree) object id of each
    /// entry of `dir`, in no particular order: for a directory of thousands
    /// of records, whose reader wants numbers, not a sorted list of names.
    fn visit(
        &self,
        dir: &str,
        visit: &mut dyn FnMut(&str, EntryKind, Option<gix::ObjectId>),
    ) -> Result<(), StoreError> {
        for entry in self.list(dir)? {
            visit(&entry.name, entry.kind, entry.id);
        }
        Ok(())
    }
    /// Contents of a regular file, at most `limit` bytes.
    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, StoreError>;
    /// [`Snapshot::read`] of a file that a listing of this tree just gave
    /// with `id`: a git tree then reads that blob without looking the path up.
    fn read_listed(&self, path: &str, _id: Option<gix::ObjectId>, limit: u64) -> Result<Vec<u8>, StoreError> {
        self.read(path, limit)
    }
    /// What is at `path` (None: nothing), not following a symlink there.
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, StoreError>;

    /// The hash of the repository this tree belongs to, in which [`Snapshot::blob_id`]
    /// names blobs. SHA-1 by default, which is right for the work tree without
    /// opening its repository: blob ids are only compared with ids from a
    /// [`GitTree`], and gix is built here without SHA-256, so every repository
    /// a `GitTree` can come from is SHA-1 (a SHA-256 one fails to open). With
    /// SHA-256 enabled, the work tree must ask its repository.
    fn object_hash(&self) -> gix::hash::Kind {
        gix::hash::Kind::Sha1
    }

    /// The git blob id of a file's content.
    fn blob_id(&self, path: &str, limit: u64) -> Result<gix::ObjectId, StoreError> {
        hash_blob(self, path, limit)
    }
}

/// The git blob id of a file's content, read and hashed.
fn hash_blob(tree: &(impl Snapshot + ?Sized), path: &str, limit: u64) -> Result<gix::ObjectId, StoreError> {
    let bytes = tree.read(path, limit)?;
    gix::objs::compute_hash(tree.object_hash(), gix::objs::Kind::Blob, &bytes)
        .map_err(|e| StoreError::GitSetup(format!("hashing {path}: {e}")))
}

/// `bytes` in a temp file in `dir`, written and synced: renamed over a file
/// there, it replaces that file whole.
fn staged(dir: &Path, bytes: &[u8]) -> std::io::Result<tempfile::NamedTempFile> {
    let mut temp = tempfile::Builder::new().prefix(".gitops-ledger-").suffix(".tmp").tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    Ok(temp)
}

/// Writes a file the user named (`attest --out`) or a cache, atomically: a
/// reader sees the old content or the new, never part of it. Its directory
/// must exist: a mistyped path is an error, not a new directory. A new file
/// is readable by all (0644, as a shell's `>` makes it under the usual
/// umask); a replaced one keeps its mode.
pub(crate) fn persist(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let temp = staged(dir, bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path).map(|meta| meta.permissions().mode() & 0o7777).unwrap_or(0o644);
        temp.as_file().set_permissions(std::fs::Permissions::from_mode(mode))?;
    }
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// [`persist`] for a cache file, its directory made first, or nothing: a
/// cache that cannot be written is work done again.
pub(crate) fn persist_best_effort(path: &Path, bytes: &[u8]) {
    if let Some(dir) = path.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = persist(path, bytes);
}

/// The config repo's work tree.
#[derive(Clone, Debug)]
pub struct WorkTree {
    root: PathBuf,
}

impl WorkTree {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        WorkTree { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.root.join(relative)
    }

    /// Writes `bytes` to `relative` atomically: a temp file in the same
    /// directory, synced, then renamed over the target. With `create_new`, an
    /// existing target is an error (two appends racing for one sequence number).
    pub fn write_atomic(&self, relative: &str, bytes: &[u8], create_new: bool) -> Result<(), StoreError> {
        let target = self.path(relative);
        let wrap = |source| StoreError::Write { path: relative.to_string(), source };
        let dir = target.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).map_err(wrap)?;
        let temp = staged(dir, bytes).map_err(wrap)?;
        crash_point("before-rename");
        if create_new {
            temp.persist_noclobber(&target).map_err(|e| match e.error.kind() {
                std::io::ErrorKind::AlreadyExists => StoreError::Exists { path: relative.to_string() },
                _ => wrap(e.error),
            })?;
        } else {
            temp.persist(&target).map_err(|e| wrap(e.error))?;
        }
        // Make the rename itself durable.
        if let Ok(handle) = std::fs::File::open(dir) {
            let _ = handle.sync_all();
        }
        Ok(())
    }

    /// Removes a file this process wrote (the undo of a failed write).
    pub fn remove(&self, relative: &str) -> Result<(), StoreError> {
        std::fs::remove_file(self.path(relative))
            .map_err(|source| StoreError::Write { path: relative.to_string(), source })
    }

    /// The git directory of the repository the tree is in (for a linked
    /// worktree, its own); None outside a git repository.
    pub fn git_dir(&self) -> Option<PathBuf> {
        gix::discover(&self.root).ok().map(|repo| repo.git_dir().to_path_buf())
    }

    /// Reads a file that may not exist yet.
    pub fn read_optional(&self, relative: &str, limit: u64) -> Result<Option<Vec<u8>>, StoreError> {
        match std::fs::symlink_metadata(self.path(relative)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path: relative.to_string(), source }),
            Ok(_) => self.read(relative, limit).map(Some),
        }
    }
}

/// Held while a command writes the ledger: two appends in one work tree
/// cannot interleave. An advisory lock on a file in the git directory, so it
/// never shows in `git status` and a killed process releases it.
#[derive(Debug)]
pub struct WriteLock {
    _file: std::fs::File,
}

impl WorkTree {
    pub fn lock(&self) -> Result<WriteLock, StoreError> {
        let path = match self.git_dir() {
            Some(git_dir) => git_dir.join("gitops-ledger.lock"),
            None => self.root.join(".gitops-ledger.lock"),
        };
        let shown = path.display().to_string();
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|source| StoreError::Write { path: shown.clone(), source })?;
        match file.try_lock() {
            Ok(()) => Ok(WriteLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::Busy { path: shown }),
            Err(std::fs::TryLockError::Error(source)) => Err(StoreError::Write { path: shown, source }),
        }
    }
}

impl Snapshot for WorkTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, StoreError> {
        match std::fs::symlink_metadata(self.path(path)) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Read { path: path.to_string(), source }),
            Ok(meta) if meta.file_type().is_file() => Ok(Some(EntryKind::File)),
            Ok(meta) if meta.file_type().is_dir() => Ok(Some(EntryKind::Dir)),
            Ok(_) => Ok(Some(EntryKind::Other)),
        }
    }

    fn list(&self, dir: &str) -> Result<Vec<DirEntry>, StoreError> {
        let mut entries = Vec::new();
        self.visit_with(dir, &mut |name, kind, _| entries.push(DirEntry { name: name.to_string(), kind, id: None }))?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    fn visit(
        &self,
        dir: &str,
        visit: &mut dyn FnMut(&str, EntryKind, Option<gix::ObjectId>),
    ) -> Result<(), StoreError> {
        self.visit_with(dir, &mut |name, kind, _| visit(name, kind, None))
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        use std::io::Read;
        let full = self.path(path);
        let wrap = |source| StoreError::Read { path: path.to_string(), source };
        let meta = std::fs::symlink_metadata(&full).map_err(wrap)?;
        if !meta.file_type().is_file() {
            return Err(StoreError::NotRegular { path: path.to_string() });
        }
        if meta.len() > limit {
            return Err(StoreError::TooLarge { path: path.to_string(), limit });
        }
        let mut bytes = Vec::with_capacity(meta.len() as usize);
        // `take` bounds the read even if the file grows between stat and read.
        std::fs::File::open(&full).and_then(|f| f.take(limit + 1).read_to_end(&mut bytes)).map_err(wrap)?;
        if bytes.len() as u64 > limit {
            return Err(StoreError::TooLarge { path: path.to_string(), limit });
        }
        Ok(bytes)
    }
}

impl WorkTree {
    /// Each entry of `dir` in directory order, with its name, kind and the
    /// entry itself (whose metadata is read relative to the open directory,
    /// without walking the path again); an absent directory has none.
    fn visit_with(
        &self,
        dir: &str,
        visit: &mut dyn FnMut(&str, EntryKind, &std::fs::DirEntry),
    ) -> Result<(), StoreError> {
        let wrap = |source| StoreError::Read { path: dir.to_string(), source };
        let read_dir = match std::fs::read_dir(self.path(dir)) {
            Ok(read_dir) => read_dir,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(wrap(e)),
        };
        for entry in read_dir {
            let entry = entry.map_err(wrap)?;
            let file_type = entry.file_type().map_err(wrap)?;
            let kind = if file_type.is_file() {
                EntryKind::File
            } else if file_type.is_dir() {
                EntryKind::Dir
            } else {
                EntryKind::Other
            };
            visit(&entry.file_name().to_string_lossy(), kind, &entry);
        }
        Ok(())
    }
}

/// The work tree, with git's index as a cache of blob ids: a file whose
/// stat data matches its index entry (and is not racily clean) has that
/// entry's blob id, as `git status` decides, so comparing the work tree with
/// a commit reads only the files that changed. With a file-system monitor
/// configured (`core.fsmonitor`), a directory it saw untouched since the
/// last run has the tree id that run found, so comparing it with a commit
/// stats nothing inside it.
pub struct IndexedWorkTree<'t> {
    tree: &'t WorkTree,
    repo: gix::ThreadSafeRepository,
    /// Read on first use: with a monitor, a check that lists no changed
    /// directory never needs it (at a million files it is 100 MB). An index
    /// that cannot be read vouches for nothing, and every file is hashed.
    index: std::sync::OnceLock<Option<gix::index::File>>,
    /// Where the config repo sits in the repository: index paths are repo-relative.
    prefix: String,
    options: gix::index::entry::stat::Options,
    object_hash: gix::hash::Kind,
    watched: Option<Watched>,
    /// Why the configured monitor could not be used this time.
    pub monitor_problem: Option<FsMonitorError>,
}

/// Larger files are left unhashed when listing: the directory's id is then
/// not learned, and the file is compared as without a monitor.
const MAX_HASHED_BYTES: u64 = 16 * 1024 * 1024;

/// What the file-system monitor vouches for, and what this run learned.
struct Watched {
    monitor: Monitor,
    git_dir: PathBuf,
    /// Paths (repo-relative) untouched since the last run, with their ids,
    /// and the monitor's token, taken before this run read anything.
    known: KnownIds,
    /// Directories listed whole and files hashed by this run, with their ids.
    learned: std::sync::Mutex<KnownIds>,
}

impl<'t> IndexedWorkTree<'t> {
    /// The work tree with its repository's index; None outside a git repo
    /// or without an index (then there is nothing to take ids from).
    pub fn open(tree: &'t WorkTree) -> Result<Option<Self>, StoreError> {
        let Ok(repo) = gix::discover(tree.root()) else { return Ok(None) };
        if repo.workdir().is_none() || !repo.index_path().exists() {
            return Ok(None);
        }
        let setup = |e: &dyn std::fmt::Display| StoreError::GitSetup(format!("reading the index: {e}"));
        let options = repo.stat_options().map_err(|e| setup(&e))?;
        let prefix = prefix_in_repo(&repo, tree.root())?.to_string_lossy().replace('\\', "/");
        let prefix = if prefix.is_empty() { prefix } else { format!("{prefix}/") };
        let (watched, monitor_problem) = match Monitor::configured(&repo) {
            None => (None, None),
            Some(monitor) => {
                let git_dir = repo.git_dir().to_path_buf();
                let known = KnownIds::load(&git_dir, &monitor);
                match monitor.changed_since(known.token()) {
                    Ok(answer) => {
                        let known = known.still_known(&answer);
                        let learned = std::sync::Mutex::default();
                        (Some(Watched { monitor, git_dir, known, learned }), None)
                    }
                    Err(problem) => (None, Some(problem)),
                }
            }
        };
        Ok(Some(IndexedWorkTree {
            tree,
            object_hash: repo.object_hash(),
            repo: repo.into_sync(),
            index: std::sync::OnceLock::new(),
            prefix,
            options,
            watched,
            monitor_problem,
        }))
    }

    fn index(&self) -> Option<&gix::index::File> {
        self.index.get_or_init(|| self.repo.to_thread_local().open_index().ok()).as_ref()
    }

    /// Keeps what this run found for the next one, with the monitor's
    /// token: the paths still untouched and those it learned.
    pub fn remember(&self) {
        let Some(watched) = &self.watched else { return };
        let learned = watched.learned.lock().unwrap_or_else(|e| e.into_inner());
        let mut known = watched.known.clone();
        known.dirs.extend(learned.dirs.iter().map(|(path, id)| (path.clone(), *id)));
        known.files.extend(learned.files.iter().map(|(path, id)| (path.clone(), *id)));
        known.save(&watched.git_dir, &watched.monitor);
    }

    /// `path` (config-repo-relative) as the monitor names it: relative to
    /// the repository's work tree, without a trailing `/`.
    fn repo_path(&self, path: &str) -> String {
        match path {
            "" => self.prefix.trim_end_matches('/').to_string(),
            _ => format!("{}{path}", self.prefix),
        }
    }

    /// The tree id of `dir` (config-repo-relative) the monitor vouches for.
    fn known_dir(&self, dir: &str) -> Option<gix::ObjectId> {
        self.watched.as_ref()?.known.dirs.get(&self.repo_path(dir)).copied()
    }

    /// The blob id the index vouches for, if the file is unchanged since it
    /// was staged (a missing file needs no index).
    fn indexed_id(&self, path: &str) -> Option<gix::ObjectId> {
        use gix::bstr::ByteSlice;
        let metadata = std::fs::symlink_metadata(self.tree.path(path)).ok()?;
        let index = self.index()?;
        let entry = index.entry_by_path(self.repo_path(path).as_bytes().as_bstr())?;
        self.unchanged(index, entry, &metadata)
    }

    /// `entry`'s id, when the file's stat data is what the index recorded
    /// and the entry is not racily clean (written in the second the index was).
    fn unchanged(
        &self,
        index: &gix::index::File,
        entry: &gix::index::Entry,
        metadata: &std::fs::Metadata,
    ) -> Option<gix::ObjectId> {
        let stat = stat_of(metadata)?;
        let unchanged = entry.stat.matches(&stat, self.options)
            && !entry.stat.is_racy(index.timestamp(), self.options)
            && entry.mode == gix::index::entry::Mode::FILE;
        unchanged.then_some(entry.id)
    }

    /// The entries of the tree `id`, when the repository has it.
    fn tree_entries(&self, id: gix::ObjectId) -> Option<Vec<DirEntry>> {
        let repo = self.repo.to_thread_local();
        let tree = repo.find_tree(id).ok()?;
        let mut entries = Vec::new();
        for entry in tree.iter() {
            let entry = entry.ok()?;
            let name = entry.inner.filename.to_string();
            entries.push(DirEntry { name, kind: kind_of(entry.inner.mode), id: Some(entry.inner.oid.to_owned()) });
        }
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Some(entries)
    }

    /// The listing of `dir` read from the disk: each file the index vouches
    /// for with its blob id, each directory the monitor vouches for with its
    /// tree id.
    fn list_from_disk(&self, dir: &str) -> Result<Vec<DirEntry>, StoreError> {
        use gix::bstr::ByteSlice;
        let dir_prefix = if dir.is_empty() { self.prefix.clone() } else { format!("{}{dir}/", self.prefix) };
        // The index is read for the first file: a listing of directories alone needs none.
        let staged = std::cell::OnceCell::new();
        let id_of = |name: &str, entry: &std::fs::DirEntry| {
            let (index, staged) = (*staged.get_or_init(|| {
                let index = self.index()?;
                Some((index, index.prefixed_entries(dir_prefix.as_bytes().as_bstr())?))
            }))?;
            let path = format!("{dir_prefix}{name}");
            let found = staged.binary_search_by(|e| e.path(index).cmp(path.as_bytes().as_bstr())).ok()?;
            let metadata = entry.metadata().ok()?;
            self.unchanged(index, &staged[found], &metadata)
        };
        let mut entries = Vec::new();
        self.tree.visit_with(dir, &mut |name, kind, entry| {
            let id = match kind {
                // With a monitor, a file the index cannot vouch for (changed,
                // or racily clean) is hashed, so the directory's id is
                // learned and the next run reads none of it.
                EntryKind::File if self.watched.is_some() => id_of(name, entry).or_else(|| {
                    let path = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
                    hash_blob(self, &path, MAX_HASHED_BYTES).ok()
                }),
                EntryKind::File => id_of(name, entry),
                EntryKind::Dir => {
                    self.known_dir(&if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") })
                }
                EntryKind::Other => None,
            };
            entries.push(DirEntry { name: name.to_string(), kind, id });
        })?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// Notes `dir`'s tree id when its listing knows every entry's id.
    fn learn(&self, dir: &str, entries: &[DirEntry]) {
        let Some(watched) = &self.watched else { return };
        if entries.is_empty() {
            return;
        }
        let mut tree = gix::objs::Tree::empty();
        for entry in entries {
            let (Some(oid), mode) = (entry.id, entry.kind) else { return };
            let mode = match mode {
                EntryKind::File => gix::objs::tree::EntryKind::Blob,
                EntryKind::Dir => gix::objs::tree::EntryKind::Tree,
                EntryKind::Other => return,
            };
            tree.entries.push(gix::objs::tree::Entry { mode: mode.into(), filename: entry.name.as_str().into(), oid });
        }
        tree.entries.sort();
        let mut bytes = Vec::new();
        if gix::objs::WriteTo::write_to(&tree, &mut bytes).is_err() {
            return;
        }
        if let Ok(id) = gix::objs::compute_hash(self.object_hash, gix::objs::Kind::Tree, &bytes) {
            watched.learned.lock().unwrap_or_else(|e| e.into_inner()).dirs.insert(self.repo_path(dir), id);
        }
    }
}

impl Snapshot for IndexedWorkTree<'_> {
    /// The listing, each unchanged file with its id: comparing a directory
    /// with a commit's then needs no file read. A directory the monitor
    /// vouches for is listed from its tree, without touching the disk.
    fn list(&self, dir: &str) -> Result<Vec<DirEntry>, StoreError> {
        if let Some(entries) = self.known_dir(dir).and_then(|id| self.tree_entries(id)) {
            return Ok(entries);
        }
        let entries = self.list_from_disk(dir)?;
        self.learn(dir, &entries);
        Ok(entries)
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        self.tree.read(path, limit)
    }

    fn kind(&self, path: &str) -> Result<Option<EntryKind>, StoreError> {
        self.tree.kind(path)
    }

    fn object_hash(&self) -> gix::hash::Kind {
        self.object_hash
    }

    /// The id the monitor vouches for, or the index, or the content's hash.
    fn blob_id(&self, path: &str, limit: u64) -> Result<gix::ObjectId, StoreError> {
        let Some(watched) = &self.watched else {
            return self.indexed_id(path).map_or_else(|| hash_blob(self, path, limit), Ok);
        };
        let repo_path = self.repo_path(path);
        if let Some(id) = watched.known.files.get(&repo_path) {
            return Ok(*id);
        }
        let id = self.indexed_id(path).map_or_else(|| hash_blob(self, path, limit), Ok)?;
        watched.learned.lock().unwrap_or_else(|e| e.into_inner()).files.insert(repo_path, id);
        Ok(id)
    }
}

/// The index's stat data of a file, truncated to 32 bits as git records it.
#[cfg(unix)]
fn stat_of(metadata: &std::fs::Metadata) -> Option<gix::index::entry::Stat> {
    use gix::index::entry::stat::Time;
    use std::os::unix::fs::MetadataExt;
    let time = |secs: i64, nsecs: i64| Time { secs: secs as u32, nsecs: nsecs as u32 };
    Some(gix::index::entry::Stat {
        mtime: time(metadata.mtime(), metadata.mtime_nsec()),
        ctime: time(metadata.ctime(), metadata.ctime_nsec()),
        dev: metadata.dev() as u32,
        ino: metadata.ino() as u32,
        uid: metadata.uid(),
        gid: metadata.gid(),
        size: metadata.size() as u32,
    })
}

/// Elsewhere the index's stat data is not compared: every file is read.
#[cfg(not(unix))]
fn stat_of(_: &std::fs::Metadata) -> Option<gix::index::entry::Stat> {
    None
}

/// The tree of one commit, read through git objects: no checkout needed, so
/// it works in a bare or shallow clone that has the objects.
pub struct GitTree {
    shared: gix::ThreadSafeRepository,
    tree: gix::ObjectId,
    /// One repository handle (with its pack caches) per thread, kept with
    /// the thread so each worker's delta-base cache stays warm; shared by the
    /// trees of one repository, so a walk over many commits keeps it warm too.
    handles: Handles,
    /// Blob ids of the files of each directory a file was read from by
    /// path: whoever reads one file of a directory by path (audit, a pull
    /// request's changes) mostly reads its neighbours, and a path lookup
    /// decodes every tree on the way. A chain read from its listing passes
    /// the ids itself ([`Snapshot::read_listed`]), so verify holds none.
    files: std::sync::Mutex<FileIds>,
    /// What `--rev` said and the commit it named, for messages.
    pub rev: String,
    pub commit: String,
}

/// Blob ids by path, of every file of the directories in `dirs`.
#[derive(Default)]
struct FileIds {
    dirs: std::collections::HashSet<String>,
    ids: std::collections::HashMap<String, gix::ObjectId>,
}

/// Runs `f` with this thread's handle of `shared`, opened on first use and
/// again once the last one has read [`STORE_READ_BUDGET`].
fn with_handle<T>(shared: &gix::ThreadSafeRepository, handles: &Handles, f: impl FnOnce(&mut Handle) -> T) -> T {
    let thread = std::thread::current().id();
    let handle = handles.lock().unwrap_or_else(|e| e.into_inner()).remove(&thread);
    let mut handle = handle.unwrap_or_else(|| Handle::open(shared));
    let out = f(&mut handle);
    if handle.read < STORE_READ_BUDGET {
        handles.lock().unwrap_or_else(|e| e.into_inner()).insert(thread, handle);
    }
    out
}

/// A handle's object store keeps every page of pack and pack index it has
/// touched mapped, and so in the process's resident memory, for as long as
/// it lives: reading a million records through one store held 400 MB of
/// them. Past this many bytes of blobs read, the handle is dropped with its
/// store and the thread's next read opens a fresh one (a few milliseconds).
const STORE_READ_BUDGET: u64 = 32 << 20;

/// The most one object read from a ledger's repository may make gix
/// allocate. A delta of a few bytes can claim gigabytes as its result: past
/// this, the read fails instead. Far above any record (256 KiB) or any tree a
/// ledger of millions of records holds (under 50 MB for a million files in
/// one directory).
const OBJECT_ALLOC_LIMIT: usize = 256 << 20;

/// One thread's repository, over an object store of its own.
struct Handle {
    repo: gix::Repository,
    /// Bytes of blobs read through it.
    read: u64,
}

impl Handle {
    fn open(shared: &gix::ThreadSafeRepository) -> Self {
        let first = shared.to_thread_local();
        // A store of its own, so dropping the handle unmaps what it read;
        // should the repository not open again, sharing the first store
        // only costs memory.
        let mut repo = gix::ThreadSafeRepository::open_opts(first.git_dir(), first.open_options().clone())
            .map(|own| own.to_thread_local())
            .unwrap_or(first);
        // Records of one app are near-identical, so git packs them as long
        // delta chains; a roomy delta-base cache keeps each base inflated once.
        repo.objects.set_pack_cache(|| Box::new(gix::odb::pack::cache::lru::MemoryCappedHashmap::new(32 << 20)));
        Handle { repo, read: 0 }
    }
}

type Handles = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<std::thread::ThreadId, Handle>>>;

/// A git repository holding the config repo (at its root, or in a
/// subdirectory: `-C` may point below the work tree's root).
#[derive(Clone)]
pub struct GitRepo {
    shared: gix::ThreadSafeRepository,
    handles: Handles,
    /// Where the config repo sits inside the repository's trees.
    prefix: PathBuf,
}

/// What `audit` needs to know about a commit.
#[derive(Clone, Debug)]
pub struct CommitInfo {
    pub id: gix::ObjectId,
    pub tree: gix::ObjectId,
    pub parents: Vec<gix::ObjectId>,
    /// Committer time: when the commit landed where it is.
    pub time: i64,
    pub author: String,
}

impl GitRepo {
    pub fn discover(dir: &Path) -> Result<Self, StoreError> {
        let limit = [format!("gitoxide.objects.allocLimit={OBJECT_ALLOC_LIMIT}")];
        let trust = gix::sec::trust::Mapping::<gix::open::Options>::default();
        let trust = gix::sec::trust::Mapping {
            full: trust.full.config_overrides(limit.clone()),
            reduced: trust.reduced.config_overrides(limit),
        };
        let repo = gix::ThreadSafeRepository::discover_opts(dir, Default::default(), trust)
            .map(gix::Repository::from)
            .map_err(|e| StoreError::GitSetup(format!("{}: {e}", dir.display())))?;
        let prefix = match (repo.workdir(), dir.canonicalize()) {
            (Some(workdir), Ok(dir)) => workdir
                .canonicalize()
                .ok()
                .and_then(|w| dir.strip_prefix(w).ok().map(Path::to_path_buf))
                .unwrap_or_default(),
            _ => PathBuf::new(),
        };
        Ok(GitRepo { shared: repo.into_sync(), handles: Handles::default(), prefix })
    }

    fn git(context: String) -> impl FnOnce(gix::Error) -> StoreError {
        move |source| StoreError::Git { context, source }
    }

    /// The commit `rev` names (anything `git rev-parse` takes).
    pub fn resolve(&self, rev: &str) -> Result<gix::ObjectId, StoreError> {
        with_handle(&self.shared, &self.handles, |h| Self::resolve_in(&h.repo, rev))
    }

    fn resolve_in(repo: &gix::Repository, rev: &str) -> Result<gix::ObjectId, StoreError> {
        let object = repo
            .rev_parse_single(rev)
            .map_err(|e| StoreError::GitSetup(format!("cannot resolve revision {rev:?}: {e}")))?
            .object()
            .map_err(Self::git(format!("reading {rev}")))?;
        let commit = object.peel_to_commit().map_err(Self::git(format!("{rev} is not a commit")))?;
        Ok(commit.id)
    }

    pub fn commit(&self, id: gix::ObjectId) -> Result<CommitInfo, StoreError> {
        with_handle(&self.shared, &self.handles, |h| Self::commit_in(&h.repo, id))
    }

    fn commit_in(repo: &gix::Repository, id: gix::ObjectId) -> Result<CommitInfo, StoreError> {
        let commit = repo.find_commit(id).map_err(Self::git(format!("reading commit {id}")))?;
        let tree = commit.tree_id().map_err(Self::git(format!("reading commit {id}")))?.detach();
        let parents = commit.parent_ids().map(|p| p.detach()).collect();
        let time = commit.time().map_err(Self::git(format!("reading commit {id}")))?.seconds;
        let author = commit
            .author()
            .map(|a| format!("{} <{}>", a.name, a.email))
            .map_err(Self::git(format!("reading commit {id}")))?;
        Ok(CommitInfo { id, tree, parents, time, author })
    }

    /// The config repo's tree in `commit`: the subtree at the prefix, or an
    /// empty tree when the commit predates it.
    pub fn tree_of(&self, commit: &CommitInfo, rev: &str) -> Result<GitTree, StoreError> {
        let tree = with_handle(&self.shared, &self.handles, |h| self.subtree_in(&h.repo, commit))?;
        Ok(GitTree {
            shared: self.shared.clone(),
            tree,
            handles: self.handles.clone(),
            files: Default::default(),
            rev: rev.to_string(),
            commit: commit.id.to_string(),
        })
    }

    fn subtree_in(&self, repo: &gix::Repository, commit: &CommitInfo) -> Result<gix::ObjectId, StoreError> {
        Ok(if self.prefix.as_os_str().is_empty() {
            commit.tree
        } else {
            let git = Self::git("reading the tree".into());
            let found = repo.find_tree(commit.tree).map_err(git)?.lookup_entry_by_path(&self.prefix);
            match found.map_err(Self::git("reading the tree".into()))? {
                Some(entry) if entry.mode().is_tree() => entry.object_id(),
                _ => gix::ObjectId::empty_tree(repo.object_hash()),
            }
        })
    }
}

impl GitTree {
    /// The tree of `rev` (anything `git rev-parse` takes) in the repo at or above `dir`.
    pub fn open(dir: &Path, rev: &str) -> Result<Self, StoreError> {
        let repo = GitRepo::discover(dir)?;
        let commit = repo.commit(repo.resolve(rev)?)?;
        repo.tree_of(&commit, rev)
    }

    fn with_repo<T>(&self, f: impl FnOnce(&gix::Repository) -> T) -> T {
        with_handle(&self.shared, &self.handles, |h| f(&h.repo))
    }

    /// The blob id of the file at `path`, from the ids of its directory
    /// (listed and kept on its first read); None when it is not a regular file there.
    fn file_id(&self, path: &str) -> Result<Option<gix::ObjectId>, StoreError> {
        let files = || self.files.lock().unwrap_or_else(|e| e.into_inner());
        let dir = path.rsplit_once('/').map_or("", |(dir, _)| dir);
        if !files().dirs.contains(dir) {
            let listed: Vec<(String, gix::ObjectId)> = self
                .list(dir)?
                .into_iter()
                .filter(|e| e.kind == EntryKind::File)
                .filter_map(|e| Some((if dir.is_empty() { e.name } else { format!("{dir}/{}", e.name) }, e.id?)))
                .collect();
            let mut files = files();
            files.ids.extend(listed);
            files.dirs.insert(dir.to_string());
        }
        Ok(files().ids.get(path).copied())
    }

    /// The blob `id` at `path`, at most `limit` bytes.
    fn read_blob(&self, path: &str, id: gix::ObjectId, limit: u64) -> Result<Vec<u8>, StoreError> {
        with_handle(&self.shared, &self.handles, |handle| {
            let git = |source: gix::Error| StoreError::Git { context: format!("reading {path}"), source };
            // No `find_header` first: for a delta it inflates the delta's
            // start once more, a tenth of `verify --rev`'s time outside the
            // signatures. The repository's allocation limit
            // ([`OBJECT_ALLOC_LIMIT`]) bounds what a hostile blob can make us hold.
            let data = handle.repo.find_blob(id).map_err(git)?.take_data();
            handle.read += data.len() as u64;
            if data.len() as u64 > limit {
                return Err(StoreError::TooLarge { path: path.to_string(), limit });
            }
            Ok(data)
        })
    }

    fn entry_id(&self, repo: &gix::Repository, path: &str) -> Result<Option<(gix::ObjectId, EntryKind)>, StoreError> {
        let git = |source: gix::Error| StoreError::Git { context: format!("reading {path}"), source };
        if path.is_empty() {
            return Ok(Some((self.tree, EntryKind::Dir)));
        }
        let entry = repo.find_tree(self.tree).map_err(git)?.lookup_entry_by_path(path).map_err(git)?;
        Ok(entry.map(|e| (e.object_id(), kind_of(e.mode()))))
    }
}

fn kind_of(mode: gix::object::tree::EntryMode) -> EntryKind {
    if mode.is_tree() {
        EntryKind::Dir
    } else if mode.is_blob() || mode.is_executable() {
        EntryKind::File
    } else {
        EntryKind::Other
    }
}

impl Snapshot for GitTree {
    fn kind(&self, path: &str) -> Result<Option<EntryKind>, StoreError> {
        self.with_repo(|repo| Ok(self.entry_id(repo, path)?.map(|(_, kind)| kind)))
    }

    fn list(&self, dir: &str) -> Result<Vec<DirEntry>, StoreError> {
        self.with_repo(|repo| {
            let git = |source: gix::Error| StoreError::Git { context: format!("listing {dir}"), source };
            let Some((id, EntryKind::Dir)) = self.entry_id(repo, dir)? else { return Ok(Vec::new()) };
            let tree = repo.find_tree(id).map_err(git)?;
            let mut entries = Vec::new();
            for entry in tree.iter() {
                let entry = entry.map_err(git)?;
                let name = entry.inner.filename.to_string();
                let kind = kind_of(entry.inner.mode);
                entries.push(DirEntry { name, kind, id: Some(entry.inner.oid.to_owned()) });
            }
            entries.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(entries)
        })
    }

    fn read(&self, path: &str, limit: u64) -> Result<Vec<u8>, StoreError> {
        let id = match self.file_id(path)? {
            Some(id) => id,
            None => self.with_repo(|repo| match self.entry_id(repo, path)? {
                Some((id, EntryKind::File)) => Ok(id),
                Some(_) => Err(StoreError::NotRegular { path: path.to_string() }),
                None => Err(StoreError::Read {
                    path: path.to_string(),
                    source: std::io::Error::new(std::io::ErrorKind::NotFound, format!("not in {}", self.rev)),
                }),
            })?,
        };
        self.read_blob(path, id, limit)
    }

    /// The blob the listing named: no path lookup through the trees again.
    fn read_listed(&self, path: &str, id: Option<gix::ObjectId>, limit: u64) -> Result<Vec<u8>, StoreError> {
        match id {
            Some(id) => self.read_blob(path, id, limit),
            None => self.read(path, limit),
        }
    }

    fn object_hash(&self) -> gix::hash::Kind {
        self.with_repo(|repo| repo.object_hash())
    }

    fn blob_id(&self, path: &str, _limit: u64) -> Result<gix::ObjectId, StoreError> {
        match self.file_id(path)? {
            Some(id) => Ok(id),
            None => self.with_repo(|repo| match self.entry_id(repo, path)? {
                Some((id, _)) => Ok(id),
                None => Err(StoreError::GitSetup(format!("{path} is not in {}", self.rev))),
            }),
        }
    }
}

/// How a file differs between two trees.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    Added,
    Modified,
    Deleted,
}

/// Files under `dir` that differ between `base` and `head`, skipping
/// directories whose git tree ids are equal.
pub fn changed_files(
    base: &dyn Snapshot,
    head: &dyn Snapshot,
    dir: &str,
    out: &mut BTreeMap<String, Change>,
) -> Result<(), StoreError> {
    let base_entries = base.list(dir)?;
    let head_entries = head.list(dir)?;
    // Both listings are sorted by name: walk them side by side (an app
    // directory holds thousands of records, so a lookup per name would be quadratic).
    let (mut base_iter, mut head_iter) = (base_entries.iter().peekable(), head_entries.iter().peekable());
    let mut subdirs = Vec::new();
    loop {
        let (b, h) = match (base_iter.peek(), head_iter.peek()) {
            (None, None) => break,
            (Some(b), Some(h)) if b.name == h.name => (base_iter.next(), head_iter.next()),
            (Some(b), Some(h)) if b.name < h.name => (base_iter.next(), None),
            (Some(_), None) => (base_iter.next(), None),
            _ => (None, head_iter.next()),
        };
        let Some(name) = b.or(h).map(|e| e.name.as_str()) else { break };
        let path = if dir.is_empty() { name.to_string() } else { format!("{dir}/{name}") };
        match (b, h) {
            (Some(b), Some(h)) if b.id.is_some() && b.id == h.id => {}
            (Some(b), Some(h)) if b.kind == EntryKind::Dir && h.kind == EntryKind::Dir => subdirs.push(path),
            (Some(b), Some(h)) if b.kind == EntryKind::File && h.kind == EntryKind::File => {
                let limit = 16 * 1024 * 1024;
                let same = match (b.id, head.blob_id(&path, limit)) {
                    (Some(base_id), Ok(head_id)) => base_id == head_id,
                    _ => false,
                };
                if !same {
                    out.insert(path, Change::Modified);
                }
            }
            (Some(b), _) => {
                mark_all(base, &path, b.kind, Change::Deleted, out)?;
                if let Some(h) = h {
                    mark_all(head, &path, h.kind, Change::Added, out)?;
                }
            }
            (None, Some(h)) => mark_all(head, &path, h.kind, Change::Added, out)?,
            (None, None) => {}
        }
    }
    // Directories present on both sides (one per app) are compared in
    // parallel: in the work tree each costs a stat per file.
    use rayon::prelude::*;
    let nested: Vec<BTreeMap<String, Change>> = subdirs
        .par_iter()
        .map(|path| {
            let mut changes = BTreeMap::new();
            changed_files(base, head, path, &mut changes).map(|()| changes)
        })
        .collect::<Result<_, _>>()?;
    out.extend(nested.into_iter().flatten());
    Ok(())
}

fn mark_all(
    tree: &dyn Snapshot,
    path: &str,
    kind: EntryKind,
    change: Change,
    out: &mut BTreeMap<String, Change>,
) -> Result<(), StoreError> {
    if kind == EntryKind::Dir {
        for entry in tree.list(path)? {
            mark_all(tree, &format!("{path}/{}", entry.name), entry.kind, change.clone(), out)?;
        }
    } else {
        // A path deleted as a file and added as a directory (or the reverse) is a modification.
        let merged = match (out.get(path), &change) {
            (Some(Change::Deleted), Change::Added) => Change::Modified,
            _ => change,
        };
        out.insert(path.to_string(), merged);
    }
    Ok(())
}

/// Commits `files` (paths relative to `work_tree`, already written) on top of
/// HEAD as one commit, and stages them in the index so `git status` stays
/// clean. Other staged or unstaged changes are neither committed nor touched.
pub fn commit_files(work_tree: &Path, files: &[String], message: &str) -> Result<String, StoreError> {
    Commit::make(work_tree, files, message)?.stage()
}

/// A commit made on HEAD's branch whose files are not staged yet: until a
/// push lands it, it can be taken back without touching the index.
pub struct Commit {
    repo: gix::Repository,
    id: gix::ObjectId,
    parent: Option<gix::ObjectId>,
    staged: Vec<(String, PathBuf, gix::ObjectId)>,
}

impl Commit {
    /// Commits `files` on top of HEAD (see [`commit_files`]); the index is left as it was.
    pub fn make(work_tree: &Path, files: &[String], message: &str) -> Result<Self, StoreError> {
        let git = |context: &str| {
            let context = context.to_string();
            move |source: gix::Error| StoreError::Git { context, source }
        };
        let repo =
            gix::discover(work_tree).map_err(|e| StoreError::GitSetup(format!("{}: {e}", work_tree.display())))?;
        let prefix = prefix_in_repo(&repo, work_tree)?;
        let in_repo = |file: &str| -> String {
            let joined = prefix.join(file);
            joined.to_string_lossy().replace('\\', "/")
        };

        let parent = match repo.head_id() {
            Ok(id) => Some(id.detach()),
            Err(_) if repo.head().map(|h| h.is_unborn()).unwrap_or(false) => None,
            Err(source) => return Err(git("reading HEAD")(source)),
        };
        let base_tree = match parent {
            Some(_) => repo.head_tree_id().map_err(|e| git("reading HEAD's tree")(e))?.detach(),
            None => gix::ObjectId::empty_tree(repo.object_hash()),
        };
        let mut editor = repo.edit_tree(base_tree).map_err(git("editing the tree"))?;
        let mut staged = Vec::with_capacity(files.len());
        for file in files {
            let full = work_tree.join(file);
            let bytes = std::fs::read(&full).map_err(|source| StoreError::Read { path: file.clone(), source })?;
            let blob = repo.write_blob(&bytes).map_err(git("writing a blob"))?.detach();
            let path = in_repo(file);
            editor.upsert(path.as_str(), gix::object::tree::EntryKind::Blob, blob).map_err(git("editing the tree"))?;
            staged.push((path, full, blob));
        }
        let tree = editor.write().map_err(git("writing the tree"))?.detach();
        crash_point("before-commit");
        let id = repo
            .commit("HEAD", message, tree, parent)
            .map_err(|source| {
                StoreError::GitSetup(format!(
                    "cannot commit ({source}); set user.name and user.email in the repository's git config"
                ))
            })?
            .detach();
        Ok(Commit { repo, id, parent, staged })
    }

    pub fn id(&self) -> gix::ObjectId {
        self.id
    }

    /// Stages the committed files, so `git status` shows them as committed.
    pub fn stage(self) -> Result<String, StoreError> {
        stage_in_index(&self.repo, &self.staged)?;
        Ok(self.id.to_string())
    }

    /// Takes the commit back: HEAD's branch returns to the parent. Refused
    /// when something else moved the branch meanwhile, so no one's commit is lost.
    pub fn take_back(self) -> Result<(), StoreError> {
        use gix::refs::transaction::PreviousValue;
        let git = |source: gix::Error| StoreError::Git { context: "taking back the commit".into(), source };
        let parent = self.parent.ok_or_else(|| {
            StoreError::GitSetup("cannot take back the first commit of a branch; commit something first".into())
        })?;
        let head =
            self.repo.head_name().map_err(git)?.ok_or_else(|| {
                StoreError::GitSetup("HEAD is detached; check out a branch to commit and push".into())
            })?;
        self.repo
            .reference(
                head,
                parent,
                PreviousValue::MustExistAndMatch(self.id.into()),
                "gitops-ledger: take back a commit the remote refused",
            )
            .map_err(git)?;
        Ok(())
    }
}

/// Where `work_tree` sits inside its repository's work tree.
fn prefix_in_repo(repo: &gix::Repository, work_tree: &Path) -> Result<PathBuf, StoreError> {
    let repo_root = repo
        .workdir()
        .ok_or_else(|| StoreError::GitSetup("--commit needs a repository with a work tree, not a bare one".into()))?
        .to_path_buf();
    let canonical =
        |p: &Path| p.canonicalize().map_err(|source| StoreError::Read { path: p.display().to_string(), source });
    canonical(work_tree)?
        .strip_prefix(canonical(&repo_root)?)
        .map(Path::to_path_buf)
        .map_err(|_| StoreError::GitSetup(format!("{} is outside its repository's work tree", work_tree.display())))
}

/// Of `files`, and of the names in `dirs`: what the work tree holds other
/// than HEAD does (changed, new or deleted), sorted. Files in `dirs` are
/// compared by name only: their contents are bound by the record chain.
pub fn uncommitted(tree: &WorkTree, files: &[String], dirs: &[String]) -> Result<Vec<String>, StoreError> {
    // Ledger and target files are all far smaller; a larger file is refused as it is on read.
    const LIMIT: u64 = 16 << 20;
    let repo =
        gix::discover(tree.root()).map_err(|e| StoreError::GitSetup(format!("{}: {e}", tree.root().display())))?;
    let head = match repo.head_id() {
        Ok(_) => Some(GitTree::open(tree.root(), "HEAD")?),
        Err(_) => None,
    };
    let mut out = BTreeSet::new();
    for dir in dirs {
        let names = |entries: Vec<DirEntry>| -> BTreeSet<String> {
            entries.into_iter().filter(|e| e.kind == EntryKind::File).map(|e| format!("{dir}/{}", e.name)).collect()
        };
        let committed = match &head {
            Some(head) => names(head.list(dir)?),
            None => BTreeSet::new(),
        };
        out.extend(names(tree.list(dir)?).symmetric_difference(&committed).cloned());
    }
    for file in files {
        let on_disk = tree.kind(file)?.map(|_| tree.blob_id(file, LIMIT)).transpose()?;
        let committed = match &head {
            Some(head) => head.kind(file)?.map(|_| head.blob_id(file, LIMIT)).transpose()?,
            None => None,
        };
        if on_disk != committed {
            out.insert(file.clone());
        }
    }
    Ok(out.into_iter().collect())
}

fn stage_in_index(repo: &gix::Repository, staged: &[(String, PathBuf, gix::ObjectId)]) -> Result<(), StoreError> {
    use gix::index::entry::{Flags, Mode, Stat};
    let index_error = |e: &dyn std::fmt::Display| StoreError::GitSetup(format!("updating the index: {e}"));
    let index_path = repo.index_path();
    let mut index = if index_path.exists() {
        repo.open_index().map_err(|e| index_error(&e))?
    } else {
        gix::index::File::from_state(gix::index::State::new(repo.object_hash()), index_path)
    };
    for (path, full, blob) in staged {
        let metadata = gix::index::fs::Metadata::from_path_no_follow(full).map_err(|e| index_error(&e))?;
        let stat = Stat::from_fs(&metadata).map_err(|e| index_error(&e))?;
        match index.entry_index_by_path(path.as_str().into()) {
            Ok(position) => {
                let entry = &mut index.entries_mut()[position];
                entry.id = *blob;
                entry.stat = stat;
                entry.mode = Mode::FILE;
            }
            Err(_) => {
                index.dangerously_push_entry(stat, *blob, Flags::empty(), Mode::FILE, path.as_str().into());
                index.sort_entries();
            }
        }
    }
    // The cached trees no longer match the entries; git rebuilds them when needed.
    index.remove_tree();
    // Honour `index.skipHash` as git does: on a very large repo the checksum
    // over the whole index is a large part of a commit's cost.
    let skip_hash = repo.config_snapshot().boolean("index.skipHash").unwrap_or(false);
    let options = gix::index::write::Options { skip_hash, ..Default::default() };
    index.write(options).map_err(|e| index_error(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) {
        let status = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.invalid")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.invalid")
            .status()
            .unwrap();
        assert!(status.success(), "git {args:?}");
    }

    /// Writes `path` with `text`, its mtime an hour back, so the index entry made of it is not racy.
    fn write_backdated(root: &Path, path: &str, text: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, text).unwrap();
        let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options().write(true).open(&full).unwrap().set_modified(an_hour_ago).unwrap();
    }

    #[test]
    fn the_index_vouches_for_an_unchanged_file_and_not_for_a_changed_one() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        git(root, &["init", "-q"]);
        write_backdated(root, "promotions/apps/api/00000001.json", "{\"seq\": 1}\n");
        git(root, &["add", "-A"]);
        git(root, &["commit", "-qm", "one"]);
        let tree = WorkTree::new(root);
        let path = "promotions/apps/api/00000001.json";
        let committed = GitTree::open(root, "HEAD").unwrap().blob_id(path, 1024).unwrap();

        let indexed = IndexedWorkTree::open(&tree).unwrap().unwrap();
        assert_eq!(indexed.indexed_id(path), Some(committed), "unchanged since staged: no read needed");
        assert_eq!(indexed.blob_id(path, 1024).unwrap(), committed);

        // Same size, mtime put back: the ctime still moved, as git sees it
        // (to the second, as git compares it on Linux: so wait one out).
        std::thread::sleep(std::time::Duration::from_millis(1100));
        write_backdated(root, path, "{\"seq\": 2}\n");
        let indexed = IndexedWorkTree::open(&tree).unwrap().unwrap();
        assert_eq!(indexed.indexed_id(path), None, "a rewritten file is read and hashed");
        assert_ne!(indexed.blob_id(path, 1024).unwrap(), committed);
        assert_eq!(indexed.blob_id(path, 1024).unwrap(), tree.blob_id(path, 1024).unwrap());
    }
}
