//! The ledger read as history: every record in time order, the state change
//! each caused, and the DORA figures the records already hold.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BinaryHeap, VecDeque};

use rayon::prelude::*;
use serde::Serialize;

use crate::chain::{AppHistory, Chain, Effect, Fate};
use crate::clock::Timestamp;
use crate::ledger::{Ledger, ListedRecord, RecordFile};
use crate::record::{Image, Kind, Name};
use crate::rules::Policies;
use crate::store::StoreError;

/// Every record of `chains`, oldest first; ties broken by app and seq.
pub fn in_time_order(chains: &[Chain]) -> Vec<&RecordFile> {
    let mut records: Vec<&RecordFile> = chains.iter().flat_map(|c| &c.records).collect();
    records.sort_by(|a, b| time_order(a, b));
    records
}

/// The order of the history: by time, then app, then seq.
fn time_order(a: &RecordFile, b: &RecordFile) -> Ordering {
    (a.record.at, &a.record.app, a.record.seq).cmp(&(b.record.at, &b.record.app, b.record.seq))
}

/// Which end of the history [`Merged`] starts from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

/// The records of every app (or one), in [`in_time_order`]'s order or its
/// reverse, read one file at a time: a k-way merge of the per-app chains,
/// whose heap holds one record per app. A chain's times go forward (verify
/// checks it), so each chain read from one end is already in time order and
/// the merge gives what sorting everything would, without holding it; a
/// chain whose times go backwards is shown in chain order among the others.
///
/// Memory: one record and the list of file names per app, plus the fates
/// [`Merged::fate`] keeps (see there).
pub struct Merged<'l, 's> {
    ledger: &'l Ledger<'s>,
    order: Order,
    cursors: Vec<Cursor>,
    heap: BinaryHeap<Head>,
}

/// One app's chain being read from one end.
struct Cursor {
    app: Name,
    /// The files still to read, the next one last.
    files: Vec<ListedRecord>,
    /// The newest seq listed: the fold behind [`Merged::fate`] stops there,
    /// so it judges the chain the listing saw.
    tip: u64,
    /// Filled by the first record whose fate needs the fold, see [`Merged::fate`].
    fates: Option<BTreeMap<u64, Fate>>,
    /// Records read ahead, the next one first.
    ahead: VecDeque<RecordFile>,
    /// How many files the next read-ahead takes: one at first, so the head
    /// of a stream costs one file per app, doubling up to [`MAX_READ_AHEAD`]
    /// so a whole stream reads in parallel batches.
    batch: usize,
}

/// The most records one app's cursor reads ahead.
const MAX_READ_AHEAD: usize = 32;

impl Cursor {
    fn new(app: Name, files: Vec<ListedRecord>, tip: u64) -> Self {
        Cursor { app, files, tip, fates: None, ahead: VecDeque::new(), batch: 1 }
    }

    fn read_next(&mut self, ledger: &Ledger) -> Result<Option<RecordFile>, StoreError> {
        while self.ahead.is_empty() && !self.files.is_empty() {
            let take = self.batch.min(self.files.len());
            let batch = self.files.split_off(self.files.len() - take);
            // A file that is not a well-formed record is verify's to report, not history.
            let read: Vec<Option<RecordFile>> =
                batch.par_iter().rev().map(|listed| ledger.read_record(&self.app, listed)).collect::<Result<_, _>>()?;
            self.ahead.extend(read.into_iter().flatten());
            self.batch = (self.batch * 2).min(MAX_READ_AHEAD);
        }
        Ok(self.ahead.pop_front())
    }
}

/// A record in the heap, and the app it came from.
struct Head {
    file: RecordFile,
    cursor: usize,
    order: Order,
}

impl Ord for Head {
    /// The heap pops its greatest: the newest, or for oldest first the oldest.
    fn cmp(&self, other: &Self) -> Ordering {
        match self.order {
            Order::NewestFirst => time_order(&self.file, &other.file),
            Order::OldestFirst => time_order(&other.file, &self.file),
        }
    }
}

impl PartialOrd for Head {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Head {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Head {}

/// A record [`Merged`] yields, and where it came from, for [`Merged::fate`].
pub struct Merge {
    pub file: RecordFile,
    cursor: usize,
}

impl<'l, 's> Merged<'l, 's> {
    /// Lists every app's directory (or only `only`'s) and reads the first
    /// record of each, in parallel.
    pub fn new(ledger: &'l Ledger<'s>, only: Option<&Name>, order: Order) -> Result<Self, StoreError> {
        let apps: Vec<Name> = match only {
            Some(app) => vec![app.clone()],
            None => ledger.apps().to_vec(),
        };
        let opened: Vec<(Cursor, Option<RecordFile>)> = apps
            .into_par_iter()
            .map(|app| {
                let mut files = ledger.record_files(&app)?;
                let tip = files.last().map_or(0, |listed| listed.seq);
                if order == Order::OldestFirst {
                    files.reverse();
                }
                let mut cursor = Cursor::new(app, files, tip);
                let first = cursor.read_next(ledger)?;
                Ok((cursor, first))
            })
            .collect::<Result<_, StoreError>>()?;
        let mut merged = Merged { ledger, order, cursors: Vec::with_capacity(opened.len()), heap: BinaryHeap::new() };
        for (i, (cursor, first)) in opened.into_iter().enumerate() {
            merged.cursors.push(cursor);
            if let Some(file) = first {
                merged.heap.push(Head { file, cursor: i, order });
            }
        }
        Ok(merged)
    }

    /// What became of a record this stream yielded, as [`AppHistory::fate`]
    /// over its whole chain says.
    ///
    /// Most records need no fold for it ([`AppHistory::fate_needs_fold`]).
    /// For the others the answer depends on later records and, where an
    /// approval completes one, on the state the whole chain before had then
    /// (soak, evidence, what ran upstream), so no suffix of the chain settles
    /// it. The first such record of an app folds that app's chain once, up to
    /// the listed tip, and keeps only the fates of the records that need the
    /// fold (those waiting or approving: a few per promotion that needs
    /// approvals), each dropped when asked for. So `log | head` reads the
    /// tip of every chain plus the chains of the records it shows that need
    /// it, and a whole `log` reads such chains twice but never holds one.
    pub fn fate(&mut self, merge: &Merge) -> Result<Option<Fate>, StoreError> {
        let policies = self.ledger.policies();
        if !AppHistory::fate_needs_fold(&merge.file.record, policies) {
            return Ok(None);
        }
        let Some(cursor) = self.cursors.get_mut(merge.cursor) else { return Ok(None) };
        if cursor.fates.is_none() {
            let chain = self.ledger.chain(&cursor.app)?;
            let tip = cursor.tip;
            let listed = || chain.records.iter().take_while(|f| f.record.seq <= tip);
            let history = AppHistory::of(listed(), policies);
            cursor.fates = Some(
                listed()
                    .filter(|f| AppHistory::fate_needs_fold(&f.record, policies))
                    .filter_map(|f| history.fate(f).map(|fate| (f.record.seq, fate)))
                    .collect(),
            );
        }
        Ok(cursor.fates.as_mut().and_then(|fates| fates.remove(&merge.file.record.seq)))
    }
}

impl Iterator for Merged<'_, '_> {
    type Item = Result<Merge, StoreError>;

    fn next(&mut self) -> Option<Self::Item> {
        let Head { file, cursor, .. } = self.heap.pop()?;
        // The app's next record takes its place before this one is shown.
        if let Some(source) = self.cursors.get_mut(cursor) {
            match source.read_next(self.ledger) {
                Ok(Some(next)) => self.heap.push(Head { file: next, cursor, order: self.order }),
                Ok(None) => {}
                Err(err) => return Some(Err(err)),
            }
        }
        Some(Ok(Merge { file, cursor }))
    }
}

/// One image an event moved: from what to what.
#[derive(Clone, Debug, Serialize)]
pub struct Change {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    pub to: String,
}

/// DORA figures from the records, in seconds where they are durations.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Dora {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// Environment → promotions and rollbacks landed in the window.
    pub deployments: BTreeMap<String, usize>,
    /// Environment → deployments per day over the window.
    pub deployments_per_day: BTreeMap<String, f64>,
    /// From a digest's first record to its production record.
    pub lead_time_median_seconds: Option<i64>,
    pub lead_time_p90_seconds: Option<i64>,
    pub production_promotions: usize,
    pub production_rollbacks: usize,
    pub break_glass_overrides: usize,
    /// (production rollbacks + break-glass overrides) / production promotions.
    pub change_failure_rate: Option<f64>,
    /// From a production promotion to the rollback that undid it.
    pub time_to_restore_median_seconds: Option<i64>,
}

/// A promote or rollback taking effect: the record, and its effective time.
#[derive(Clone, Copy, Debug)]
pub struct Deployment<'a> {
    pub record: &'a RecordFile,
    pub at: Timestamp,
}

/// What one record did, replayed in time order.
#[derive(Clone, Debug)]
pub struct Step<'a> {
    /// The promote or rollback that took effect with it: itself, or the
    /// record an approval completed.
    pub deployment: Option<Deployment<'a>>,
    /// The images that moved then (none for a record that deploys nothing).
    pub changes: Vec<Change>,
}

/// Every app's fold, fed the records in time order one at a time: what
/// `replay` streams, holding the per-app state and nothing of the records.
pub struct Replayer<'p> {
    policies: Policies<'p>,
    histories: BTreeMap<Name, AppHistory>,
}

impl<'p> Replayer<'p> {
    pub fn new(policies: Policies<'p>) -> Self {
        Replayer { policies, histories: BTreeMap::new() }
    }

    /// Each app's fold of the records stepped through, in app order.
    pub fn into_folds(self) -> Vec<(Name, AppHistory)> {
        self.histories.into_iter().collect()
    }

    /// What `file`, the next record in time order, did: the promote or
    /// rollback that took effect with it and the images that moved then;
    /// None for a record that deploys nothing.
    pub fn step(&mut self, file: &RecordFile) -> Option<(Effect, Vec<Change>)> {
        let record = &file.record;
        if !self.histories.contains_key(&record.app) {
            self.histories.insert(record.app.clone(), AppHistory::default());
        }
        let history = self.histories.get_mut(&record.app)?;
        // An approval names the images of what it completes, so the
        // record's own images are those that may move.
        let running = |history: &AppHistory, image: &Image| {
            history.env(&record.env).and_then(|e| e.state().get(&image.name)).map(|s| s.digest.clone())
        };
        let before: Vec<_> = record.images.iter().map(|image| running(history, image)).collect();
        let effect = history.push(file, self.policies).effect?;
        let changes = record
            .images
            .iter()
            .zip(before)
            .filter(|(image, before)| before.as_ref() != Some(&image.digest))
            .map(|(image, before)| Change {
                image: image.name.to_string(),
                from: before.map(|d| d.to_string()),
                to: image.digest.to_string(),
            })
            .collect();
        Some((effect, changes))
    }
}

/// Each of `records` (oldest first), folded per app.
pub fn replay<'a>(records: &[&'a RecordFile], policies: Policies) -> Vec<Step<'a>> {
    let mut replayer = Replayer::new(policies);
    let mut by_seq: BTreeMap<(&Name, u64), &'a RecordFile> = BTreeMap::new();
    records
        .iter()
        .map(|file| {
            let record = &file.record;
            by_seq.insert((&record.app, record.seq), file);
            let Some((effect, changes)) = replayer.step(file) else {
                return Step { deployment: None, changes: Vec::new() };
            };
            let deployment = by_seq.get(&(&record.app, effect.seq)).map(|record| Deployment { record, at: effect.at });
            Step { deployment, changes }
        })
        .collect()
}

/// The DORA figures of every chain together, and of each app with records.
pub fn dora_by_app(
    chains: &[Chain],
    policies: Policies,
    production: &Name,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> (Dora, BTreeMap<Name, Dora>) {
    let overall = dora(&in_time_order(chains), policies, production, since, until);
    let per_app = chains
        .iter()
        .filter(|chain| !chain.records.is_empty())
        .map(|chain| {
            let records = in_time_order(std::slice::from_ref(chain));
            (chain.app.clone(), dora(&records, policies, production, since, until))
        })
        .collect();
    (overall, per_app)
}

/// The DORA figures of `records` (oldest first) within `since..=until`, by
/// effective times; the production environment is the policy's last.
pub fn dora(
    records: &[&RecordFile],
    policies: Policies,
    production: &Name,
    since: Option<Timestamp>,
    until: Option<Timestamp>,
) -> Dora {
    let within = |at: Timestamp| since.is_none_or(|s| at >= s) && until.is_none_or(|u| at <= u);
    let mut out = Dora { since, until, ..Dora::default() };
    let mut first_seen: BTreeMap<(&Name, &crate::record::Digest), Timestamp> = BTreeMap::new();
    let mut last_production: BTreeMap<&Name, Timestamp> = BTreeMap::new();
    let mut lead_times = Vec::new();
    let mut restores = Vec::new();
    for (file, step) in records.iter().zip(replay(records, policies)) {
        for image in &file.record.images {
            first_seen.entry((&file.record.app, &image.digest)).or_insert(file.record.at);
        }
        let Some(Deployment { record: deployed, at }) = step.deployment else { continue };
        let record = &deployed.record;
        let in_window = within(at);
        if in_window {
            *out.deployments.entry(record.env.to_string()).or_default() += 1;
        }
        if &record.env != production {
            continue;
        }
        match record.kind {
            Kind::Promote => {
                if in_window {
                    out.production_promotions += 1;
                    for image in &record.images {
                        if let Some(first) = first_seen.get(&(&record.app, &image.digest)) {
                            lead_times.push(at.seconds_since(*first));
                        }
                    }
                }
            }
            Kind::Rollback => {
                if in_window {
                    out.production_rollbacks += 1;
                    if let Some(broken) = last_production.get(&record.app) {
                        restores.push(at.seconds_since(*broken));
                    }
                }
            }
            Kind::Evidence | Kind::Approval => {}
        }
        if in_window && record.override_.is_some() {
            out.break_glass_overrides += 1;
        }
        last_production.insert(&record.app, at);
    }
    let window_start = since.or_else(|| records.first().map(|r| r.record.at));
    let window_end = until.or_else(|| records.last().map(|r| r.record.at));
    if let (Some(start), Some(end)) = (window_start, window_end) {
        let days = (end.seconds_since(start) as f64 / 86_400.0).max(1.0);
        out.deployments_per_day =
            out.deployments.iter().map(|(env, n)| (env.clone(), round2(*n as f64 / days))).collect();
    }
    out.lead_time_median_seconds = percentile(&mut lead_times, 50);
    out.lead_time_p90_seconds = percentile(&mut lead_times, 90);
    out.time_to_restore_median_seconds = percentile(&mut restores, 50);
    if out.production_promotions > 0 {
        let failures = (out.production_rollbacks + out.break_glass_overrides) as f64;
        out.change_failure_rate = Some(round2(failures / out.production_promotions as f64));
    }
    out
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// The nearest-rank percentile.
fn percentile(values: &mut [i64], p: usize) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let rank = (p * values.len()).div_ceil(100).max(1);
    values.get(rank - 1).copied()
}

/// `1d 2h`, `3h 20m`, `45m`, `12s`: durations as people read them.
pub fn human_duration(seconds: i64) -> String {
    let (d, h, m, s) = (seconds / 86_400, seconds % 86_400 / 3600, seconds % 3600 / 60, seconds % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let mut v = vec![5, 1, 4, 2, 3];
        assert_eq!(percentile(&mut v, 50), Some(3));
        assert_eq!(percentile(&mut v, 90), Some(5));
        assert_eq!(percentile(&mut [], 50), None);
        assert_eq!(percentile(&mut [7], 90), Some(7));
    }

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(human_duration(12), "12s");
        assert_eq!(human_duration(45 * 60), "45m");
        assert_eq!(human_duration(3 * 3600 + 20 * 60), "3h 20m");
        assert_eq!(human_duration(26 * 3600), "1d 2h");
    }
}
