//! The listing cache: each app directory's record seqs, kept with the
//! directory's stat data in the repository's git directory, so `log`,
//! `status` and `project` find each chain's tip without listing thousands of
//! names (at a million records, listing every app directory is most of what
//! `log | head -1` costs).
//!
//! Adding, removing or renaming an entry of a directory changes its mtime and
//! ctime, which is what git's untracked cache relies on too; rewriting a file
//! in place does not, and needs not: only names are kept, every record is
//! still read from disk. A directory changed within [`RACY`] of when it was
//! listed is not kept: a later change in the same clock tick would leave its
//! times as they were. It is only a cache: a file that cannot be read,
//! written or parsed is a listing done again, and `verify` never uses it.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

use crate::ledger::RecordSeqs;
use crate::record::Name;
use crate::store::WorkTree;

/// Named in the file: one written by another version of the tool is not read.
const SCHEMA: &str = concat!("gitops-ledger/listing-cache/v1 ", env!("CARGO_PKG_VERSION"));
/// Far above any real cache (a few numbers per app): a larger file is ignored.
const MAX_CACHE_BYTES: u64 = 64 * 1024 * 1024;
/// How much older than its listing a directory's last change must be for the
/// listing to be kept: far above any file system's timestamp granularity.
const RACY: Duration = Duration::from_secs(2);

/// What identifies a directory's entries: its stat data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
struct DirStamp {
    mtime_ns: i128,
    ctime_ns: i128,
    ino: u64,
    dev: u64,
}

impl DirStamp {
    #[cfg(unix)]
    fn of(path: &std::path::Path) -> Option<DirStamp> {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::symlink_metadata(path).ok()?;
        let ns = |secs: i64, nsecs: i64| i128::from(secs) * 1_000_000_000 + i128::from(nsecs);
        meta.is_dir().then(|| DirStamp {
            mtime_ns: ns(meta.mtime(), meta.mtime_nsec()),
            ctime_ns: ns(meta.ctime(), meta.ctime_nsec()),
            ino: meta.ino(),
            dev: meta.dev(),
        })
    }

    /// Elsewhere nothing is kept: every directory is listed.
    #[cfg(not(unix))]
    fn of(_: &std::path::Path) -> Option<DirStamp> {
        None
    }

    /// Whether the directory last changed at least [`RACY`] before `listed_at`.
    fn settled_before(&self, listed_at: SystemTime) -> bool {
        let Ok(since_epoch) = listed_at.duration_since(SystemTime::UNIX_EPOCH) else { return false };
        let limit = since_epoch.saturating_sub(RACY).as_nanos() as i128;
        self.mtime_ns < limit && self.ctime_ns < limit
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Entry {
    stamp: DirStamp,
    seqs: RecordSeqs,
}

#[derive(Default, Serialize, Deserialize)]
struct CacheFile {
    schema: String,
    apps: BTreeMap<String, Entry>,
}

/// The cache of one work tree, read when opened and written, if anything
/// was listed anew, when dropped.
pub struct ListingCache {
    root: PathBuf,
    path: PathBuf,
    apps: Mutex<BTreeMap<String, Entry>>,
    /// Whether an entry was added or replaced since the file was read.
    changed: std::sync::atomic::AtomicBool,
}

impl ListingCache {
    /// The cache of `tree`'s repository; None outside a git repository.
    pub fn open(tree: &WorkTree) -> Option<ListingCache> {
        let path = tree.git_dir()?.join("gitops-ledger").join("listings.json");
        let read = || -> Option<BTreeMap<String, Entry>> {
            use std::io::Read;
            let mut bytes = Vec::new();
            std::fs::File::open(&path).ok()?.take(MAX_CACHE_BYTES).read_to_end(&mut bytes).ok()?;
            let file: CacheFile = serde_json::from_slice(&bytes).ok()?;
            (file.schema == SCHEMA).then_some(file.apps)
        };
        let apps = Mutex::new(read().unwrap_or_default());
        Some(ListingCache { root: tree.root().to_path_buf(), path, apps, changed: Default::default() })
    }

    /// `app`'s seqs as kept, when its directory is as it was when listed;
    /// else `list()`'s, kept for next time when the directory has settled.
    pub fn seqs<E>(&self, app: &Name, list: impl FnOnce() -> Result<RecordSeqs, E>) -> Result<RecordSeqs, E> {
        let listed_at = SystemTime::now();
        let dir = self.root.join(format!("{}/{app}", crate::ledger::APPS_DIR));
        let Some(stamp) = DirStamp::of(&dir) else { return list() };
        let mut apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(entry) = apps.get(app.as_str()).filter(|entry| entry.stamp == stamp) {
            return Ok(entry.seqs.clone());
        }
        drop(apps);
        let seqs = list()?;
        // Stamped before listing: a change during the listing moves the
        // times past the stamp, so the entry is never used.
        if stamp.settled_before(listed_at) {
            apps = self.apps.lock().unwrap_or_else(|e| e.into_inner());
            apps.insert(app.to_string(), Entry { stamp, seqs: seqs.clone() });
            self.changed.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(seqs)
    }
}

impl Drop for ListingCache {
    /// Writes the cache for the next command, or nothing (it is only a cache).
    fn drop(&mut self) {
        if !self.changed.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        let apps = std::mem::take(self.apps.get_mut().unwrap_or_else(|e| e.into_inner()));
        if let Ok(bytes) = serde_json::to_vec(&CacheFile { schema: SCHEMA.to_string(), apps }) {
            crate::store::persist_best_effort(&self.path, &bytes);
        }
    }
}
