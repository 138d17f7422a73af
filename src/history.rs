//! The ledger read as history: every record in time order, the state change
//! each caused, and the DORA figures the records already hold.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::chain::{AppHistory, Chain};
use crate::clock::Timestamp;
use crate::ledger::RecordFile;
use crate::record::{Kind, Name};
use crate::rules::Policies;

/// Every record of `chains`, oldest first; ties broken by app and seq.
pub fn in_time_order(chains: &[Chain]) -> Vec<&RecordFile> {
    let mut records: Vec<&RecordFile> = chains.iter().flat_map(|c| &c.records).collect();
    records.sort_by(|a, b| (a.record.at, &a.record.app, a.record.seq).cmp(&(b.record.at, &b.record.app, b.record.seq)));
    records
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

/// Each of `records` (oldest first), folded per app.
pub fn replay<'a>(records: &[&'a RecordFile], policies: Policies) -> Vec<Step<'a>> {
    let mut histories: BTreeMap<&Name, AppHistory> = BTreeMap::new();
    let mut by_seq: BTreeMap<(&Name, u64), &'a RecordFile> = BTreeMap::new();
    records
        .iter()
        .map(|file| {
            let record = &file.record;
            by_seq.insert((&record.app, record.seq), file);
            let history = histories.entry(&record.app).or_default();
            // An approval names the images of what it completes, so the
            // record's own images are those that may move.
            let running = |history: &AppHistory, image: &crate::record::Image| {
                history.env(&record.env).and_then(|e| e.state().get(&image.name)).map(|s| s.digest.clone())
            };
            let before: Vec<_> = record.images.iter().map(|image| running(history, image)).collect();
            let Some(effect) = history.push(file, policies).effect else {
                return Step { deployment: None, changes: Vec::new() };
            };
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
