//! The fold cache: each app's [`AppView`], kept in the repository's git
//! directory, so `status` and `project` read one record per app instead of
//! folding every chain.
//!
//! A record's id commits to its `prev`, the id of the record before it, so
//! the id of an intact chain's last record names every record of the chain;
//! and a fold is a pure function of its records and the policy versions. An
//! entry holds the view of the fold of an intact chain ending at `tip`,
//! under the policy versions (and this version of the tool) its directory's
//! name hashes, and is used only for a chain that ends at that same id.
//! It is only a cache: an entry that cannot be read or written, or that does
//! not parse, is a fold done again. `verify` never uses it.

use std::io::Read;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::canonical::sha256_id;
use crate::chain::{AppHistory, Chain};
use crate::clock::Timestamp;
use crate::ledger::Ledger;
use crate::record::{Name, RecordId};
use crate::rules::Policies;
use crate::store::{StoreError, WorkTree};
use crate::view::AppView;

/// Named in every key: an entry written by another version of the tool,
/// whose fold or view may differ, is never read.
const KEY_SCHEMA: &str = concat!("gitops-ledger/fold-cache/v1 ", env!("CARGO_PKG_VERSION"));
/// Far above any view's size: a larger file is not an entry.
const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// One directory of entries: `<git dir>/gitops-ledger/folds/<key>/`.
#[derive(Clone, Debug)]
pub struct FoldCache {
    dir: PathBuf,
}

/// One app's fold, as `<app>.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// The id of the last record folded.
    tip: RecordId,
    /// The latest `at` of the records folded: a fold as of a moment before
    /// it takes fewer records.
    max_at: Timestamp,
    view: AppView,
}

impl FoldCache {
    /// The cache of `tree`'s repository for folds under `policies`; None
    /// outside a git repository.
    pub fn open(tree: &WorkTree, policies: Policies) -> Option<FoldCache> {
        let mut key = format!("{KEY_SCHEMA}\n");
        for policy in policies.0 {
            key.push_str(policy.id.as_str());
            key.push('\n');
        }
        let key = sha256_id(key.as_bytes());
        let hex = key.as_str().trim_start_matches("sha256:");
        Some(FoldCache { dir: tree.git_dir()?.join("gitops-ledger").join("folds").join(hex) })
    }

    fn path(&self, app: &Name) -> PathBuf {
        self.dir.join(format!("{app}.json"))
    }

    fn load(&self, app: &Name) -> Option<Entry> {
        let file = std::fs::File::open(self.path(app)).ok()?;
        let mut bytes = Vec::new();
        file.take(MAX_ENTRY_BYTES).read_to_end(&mut bytes).ok()?;
        let entry: Entry = serde_json::from_slice(&bytes).ok()?;
        (entry.view.app == *app).then_some(entry)
    }

    /// Writes `entry` atomically, or not at all.
    fn store(&self, app: &Name, entry: &Entry) {
        if let Ok(bytes) = serde_json::to_vec(entry) {
            crate::store::persist_best_effort(&self.path(app), &bytes);
        }
    }

    /// The cached view of `app` as of `until`, when the entry folded
    /// exactly the records a fold as of `until` takes: reading the chain
    /// back from its tip to the last record at or before `until` (record j),
    /// the entry's tip must be j and every record it folded at or before
    /// `until`, so from the first on those are the records up to j, and
    /// record j+1 (read on the way) is later. A gap in the sequence numbers
    /// is a miss: the fold then takes other records than the chain ending at j.
    fn hit(&self, ledger: &Ledger, app: &Name, until: Option<Timestamp>) -> Result<Option<AppView>, StoreError> {
        let Some(entry) = self.load(app) else { return Ok(None) };
        let mut seqs = ledger.record_seqs(app)?;
        if !seqs.is_gapless() {
            return Ok(None);
        }
        let taken = |at: Timestamp| until.is_none_or(|u| at <= u);
        while let Some(seq) = seqs.pop_newest() {
            let Some(file) = ledger.read_record(app, seq)? else { return Ok(None) };
            if taken(file.record.at) {
                let hit = file.id == entry.tip && taken(entry.max_at);
                return Ok(hit.then_some(entry.view));
            }
            if file.id == entry.tip {
                // The entry's tip is later than `until`: no record before it can be its tip.
                return Ok(None);
            }
        }
        Ok(None)
    }

    /// Keeps `view`, the fold of `chain`'s first `folded` records, when they
    /// form an intact chain in an app directory without problems: a broken
    /// chain's tip does not name the records before it.
    fn keep(&self, chain: &Chain, folded: usize, view: &AppView) {
        let records = &chain.records[..folded];
        let Some(tip) = records.last() else { return };
        let linked = records.iter().zip(1..).all(|(file, seq)| file.record.seq == seq)
            && records.first().is_some_and(|first| first.record.prev.is_none())
            && records.windows(2).all(|pair| pair[1].record.prev.as_ref() == Some(&pair[0].id));
        if !chain.problems.is_empty() || !linked {
            return;
        }
        let max_at = records.iter().map(|f| f.record.at).max().unwrap_or(tip.record.at);
        self.store(&chain.app, &Entry { tip: tip.id.clone(), max_at, view: view.clone() });
    }
}

/// `app`'s view as of `until` (None: of all its records): from `cache` when
/// it holds the fold of exactly the records a fold as of `until` takes,
/// else folded from the chain, and then kept in `cache`.
pub fn app_view(
    ledger: &Ledger,
    cache: Option<&FoldCache>,
    app: &Name,
    until: Option<Timestamp>,
) -> Result<AppView, StoreError> {
    if let Some(cache) = cache {
        if let Some(view) = cache.hit(ledger, app, until)? {
            return Ok(view);
        }
    }
    let chain = ledger.chain(app)?;
    let folded = chain.records_until(until);
    let view = AppView::of(app, &AppHistory::of(folded, ledger.policies()), ledger.policies());
    if let Some(cache) = cache {
        cache.keep(&chain, folded.len(), &view);
    }
    Ok(view)
}
