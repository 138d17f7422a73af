//! `report`: one self-contained HTML file for auditors — per app, a timeline
//! of which digest each environment ran (a lane per environment, the path of
//! each digest across them), who signed and approved, the evidence, every
//! break-glass override highlighted, the DORA figures and the verification
//! result. No scripts, fonts or other files: it opens offline and prints.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::chain::{AppHistory, Fate};
use crate::clock::Timestamp;
use crate::escape;
use crate::history::{human_duration, replay, Deployment, Dora};
use crate::ledger::RecordFile;
use crate::record::{Digest, EvidenceResult, Kind, RecordId};
use crate::rules::Policies;
use crate::verify::Report;

/// What the report says before the apps: when, over what, and the verdict.
pub struct ReportHead<'a> {
    pub generated: Timestamp,
    /// The records shown and the apps they belong to.
    pub records: usize,
    pub apps: usize,
    /// The window: records and deployments at or after `since` and at or
    /// before `until` (effective times for deployments).
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub verification: &'a Report,
    pub overall: &'a Dora,
}

/// One app's part of the report.
pub struct AppPart<'a> {
    /// Environments in the policy's order.
    pub environments: &'a [String],
    /// All the app's records, oldest first: its fold needs the whole chain,
    /// whatever the window shows.
    pub records: &'a [&'a RecordFile],
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    pub policies: Policies<'a>,
    pub figures: Option<&'a Dora>,
}

/// A stable color per digest, so one digest reads the same in every lane.
fn hue(digest: &Digest) -> u32 {
    u32::from_str_radix(digest.hex().get(..4).unwrap_or("0"), 16).unwrap_or(0) * 360 / 65_536
}

const STYLE: &str = "
body { font: 14px/1.4 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px; color: #1d2430; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin: 28px 0 8px; }
.meta { color: #5b6472; } .ok { color: #176b2c; font-weight: 600; } .fail { color: #b3261e; font-weight: 600; }
.warn { background: #fff4e5; border-left: 4px solid #d9730d; padding: 6px 10px; margin: 6px 0; }
.violation { background: #fdecea; border-left: 4px solid #b3261e; padding: 6px 10px; margin: 6px 0; }
table { border-collapse: collapse; width: 100%; margin: 8px 0 16px; font-size: 12.5px; }
th, td { border-bottom: 1px solid #e2e5ea; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f4f6f8; } tr.breakglass td { background: #fff4e5; } code { font-size: 12px; }
svg { width: 100%; height: auto; background: #fbfcfd; border: 1px solid #e2e5ea; }
section.app { page-break-inside: avoid; }
@media print { body { margin: 0; } svg { border: none; } }
";

/// The report's start: the document head, the verdict and the figures of all apps.
pub fn head(input: &ReportHead) -> String {
    let mut html = String::new();
    let ReportHead { generated, records, apps, since, until, verification, overall } = input;
    let _ = writeln!(html, "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Promotion ledger report</title><style>{STYLE}</style></head><body>"
    );
    let window = match (since, until) {
        (None, None) => String::new(),
        (since, until) => format!(
            ", {} to {}",
            since.map_or("the first record".to_string(), |s| s.to_string()),
            until.map_or("the last".to_string(), |u| u.to_string())
        ),
    };
    let _ = writeln!(
        html,
        "<h1>Promotion ledger report</h1><p class=\"meta\">Generated {generated} from {records} records of {apps} apps{window}.</p>",
    );
    if verification.holds() {
        let _ = writeln!(
            html,
            "<p>Verification: <span class=\"ok\">every rule holds</span> ({} signatures checked).</p>",
            verification.counts.signatures
        );
    } else {
        let _ = writeln!(
            html,
            "<p>Verification: <span class=\"fail\">{} violation(s)</span>.</p>",
            verification.violations.len()
        );
        for v in &verification.violations {
            let _ = writeln!(html, "<div class=\"violation\">{}</div>", escape::html(&v.to_string()));
        }
    }
    for note in &verification.overrides {
        // The note reads "break-glass override: FILE (app@seq) for ENV ...".
        let _ = writeln!(html, "<div class=\"warn\"><strong>{}</strong></div>", escape::html(&note.to_string()));
    }
    html.push_str("<h2>Delivery figures (all apps)</h2>\n");
    html.push_str(&dora_table(overall));
    html
}

/// The records of `records` (one app's, oldest first) the window shows.
fn shown<'r>(records: &[&'r RecordFile], since: Option<Timestamp>, until: Option<Timestamp>) -> Vec<&'r RecordFile> {
    records.iter().copied().filter(|r| within(since, until, r.record.at)).collect()
}

fn within(since: Option<Timestamp>, until: Option<Timestamp>, at: Timestamp) -> bool {
    since.is_none_or(|s| at >= s) && until.is_none_or(|u| at <= u)
}

/// One app's section: its timeline, records and figures; None when the
/// window shows none of its records.
pub fn app_section(part: &AppPart) -> Option<String> {
    let AppPart { environments, records, since, until, policies, figures } = part;
    let shown_records = shown(records, *since, *until);
    let app = &shown_records.first()?.record.app;
    let mut html = String::new();
    let _ = writeln!(html, "<section class=\"app\"><h2>{}</h2>", escape::html(app.as_str()));
    let deployed: Vec<Deployment> = replay(records, *policies)
        .into_iter()
        .filter_map(|s| s.deployment)
        .filter(|d| within(*since, *until, d.at))
        .collect();
    html.push_str(&timeline(environments, &shown_records, &deployed));
    let history = AppHistory::of(records.iter().copied(), *policies);
    html.push_str(&record_table(&shown_records, records, &history));
    if let Some(figures) = figures {
        html.push_str(&dora_table(figures));
    }
    html.push_str("</section>\n");
    Some(html)
}

/// The report's end.
pub const TAIL: &str = "</body></html>\n";

fn dora_table(d: &Dora) -> String {
    let duration = |s: Option<i64>| s.map_or("–".to_string(), human_duration);
    let deployments: Vec<String> = d
        .deployments
        .iter()
        .map(|(env, n)| {
            format!("{} {n} ({}/day)", escape::html(env), d.deployments_per_day.get(env).copied().unwrap_or_default())
        })
        .collect();
    format!(
        "<table><tr><th>Deployments</th><th>Lead time to production (median / p90)</th><th>Change failure rate</th><th>Time to restore (median)</th></tr>\
         <tr><td>{}</td><td>{} / {}</td><td>{} ({} rollbacks + {} overrides / {} promotions)</td><td>{}</td></tr></table>\n",
        if deployments.is_empty() { "none".into() } else { deployments.join(", ") },
        duration(d.lead_time_median_seconds),
        duration(d.lead_time_p90_seconds),
        d.change_failure_rate.map_or("–".to_string(), |r| r.to_string()),
        d.production_rollbacks,
        d.break_glass_overrides,
        d.production_promotions,
        duration(d.time_to_restore_median_seconds)
    )
}

/// An SVG with a lane per environment: a bar for each digest an environment
/// ran, from the record that set it to the next; dashed lines follow each
/// digest from lane to lane; dots mark evidence.
/// Lanes per environment; a bar per promote or rollback from its effective
/// time until the next one of its environment; evidence as dots.
fn timeline(environments: &[String], records: &[&RecordFile], deployed: &[Deployment]) -> String {
    const LEFT: f64 = 120.0;
    const WIDTH: f64 = 1000.0;
    const LANE: f64 = 46.0;
    let mut lanes: Vec<String> = environments.to_vec();
    for r in records {
        if !lanes.contains(&r.record.env.to_string()) {
            lanes.push(r.record.env.to_string());
        }
    }
    let (Some(first), Some(last)) = (records.first(), records.last()) else { return String::new() };
    let start = first.record.at.unix();
    let span = (last.record.at.unix() - start).max(3600) as f64;
    let end = start as f64 + span * 1.08;
    let x = |at: Timestamp| LEFT + (at.unix() - start) as f64 / (end - start as f64) * (WIDTH - LEFT - 10.0);
    let lane_y = |env: &str| 24.0 + lanes.iter().position(|l| l == env).unwrap_or(0) as f64 * LANE;
    let height = 34.0 + lanes.len() as f64 * LANE;
    let mut svg = format!(
        "<svg viewBox=\"0 0 {WIDTH} {height}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"timeline\" font-size=\"11\">\n"
    );
    let _ = write!(svg, "<text x=\"{LEFT}\" y=\"14\" fill=\"#5b6472\">{}</text>", first.record.at);
    let _ = writeln!(
        svg,
        "<text x=\"{}\" y=\"14\" fill=\"#5b6472\" text-anchor=\"end\">{}</text>",
        WIDTH - 10.0,
        last.record.at
    );
    for lane in &lanes {
        let y = lane_y(lane);
        let _ = writeln!(svg, "<text x=\"8\" y=\"{}\" font-weight=\"600\">{}</text><line x1=\"{LEFT}\" y1=\"{}\" x2=\"{}\" y2=\"{}\" stroke=\"#e2e5ea\"/>",
            y + 20.0,
            escape::html(lane),
            y + LANE - 6.0,
            WIDTH - 10.0,
            y + LANE - 6.0
        );
    }
    // Bars: each promote/rollback sets its env's (first) image from the moment
    // it takes effect until the next one there.
    let mut entries: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (i, Deployment { record: file, at }) in deployed.iter().enumerate() {
        let record = &file.record;
        let Some(image) = record.images.first() else { continue };
        let next = deployed[i + 1..]
            .iter()
            .find(|n| n.record.record.env == record.env)
            .map(|n| x(n.at))
            .unwrap_or(WIDTH - 10.0);
        let (x0, y) = (x(*at), lane_y(record.env.as_str()));
        let label = image.tag.as_ref().map_or_else(|| image.digest.short().to_string(), |t| t.to_string());
        let breakglass = record.override_.is_some();
        let _ = writeln!(svg, "<g><title>{} {} {} {}{}</title><rect x=\"{x0:.1}\" y=\"{}\" width=\"{:.1}\" height=\"22\" rx=\"3\" fill=\"hsl({} 65% 78%)\" stroke=\"{}\" stroke-width=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{}\">{}{}</text></g>",
            escape::html(&record.label()),
            record.kind,
            escape::html(&image.to_string()),
            escape::html(&record.signatures.iter().map(|s| s.signer.as_str()).collect::<Vec<_>>().join(", ")),
            if breakglass { " BREAK-GLASS" } else { "" },
            y + 6.0,
            (next - x0).max(2.0),
            hue(&image.digest),
            if breakglass { "#b3261e" } else { "#5b6472" },
            if breakglass { 2.5 } else { 0.6 },
            x0 + 3.0,
            y + 21.0,
            if record.kind == Kind::Rollback { "↺ " } else { "" },
            escape::html(&label),
        );
        // Where the digest first entered each lane: its path through the environments.
        let path = entries.entry(image.digest.to_string()).or_default();
        if !path.iter().any(|(_, py)| (*py - (y + 17.0)).abs() < f64::EPSILON) {
            path.push((x0, y + 17.0));
        }
    }
    // The path of each digest across lanes, in the order it entered them.
    for points in entries.values().filter(|p| p.len() > 1) {
        let path: Vec<String> = points.iter().map(|(px, py)| format!("{px:.1},{py:.1}")).collect();
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"#1d2430\" stroke-dasharray=\"3 3\" stroke-width=\"1\"/>",
            path.join(" ")
        );
    }
    for file in records.iter().filter(|r| r.record.kind == Kind::Evidence) {
        let Some(evidence) = &file.record.evidence else { continue };
        let color = if evidence.result == EvidenceResult::Pass { "#176b2c" } else { "#b3261e" };
        let _ = writeln!(
            svg,
            "<circle cx=\"{:.1}\" cy=\"{}\" r=\"4\" fill=\"{color}\"><title>{} {} {} ({})</title></circle>",
            x(file.record.at),
            lane_y(file.record.env.as_str()) + 34.0,
            escape::html(evidence.kind.as_str()),
            evidence.result,
            file.record.at,
            escape::html(&file.record.label())
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// The `shown` records of an app; who promoted and who approved (co-signers
/// and approval records alike, from all its `records`); a record still
/// waiting, or superseded, says so.
fn record_table(shown: &[&RecordFile], records: &[&RecordFile], history: &AppHistory) -> String {
    let mut table = String::from(
        "<table><tr><th>At</th><th>Record</th><th>Environment</th><th>Kind</th><th>Image</th><th>Promoted by</th><th>Approved by</th><th>Note</th></tr>\n",
    );
    let mut approvals: BTreeMap<&RecordId, Vec<String>> = BTreeMap::new();
    for file in records {
        if let Some(id) = &file.record.approves {
            approvals.entry(id).or_default().extend(file.record.signatures.iter().map(|s| s.signer.to_string()));
        }
    }
    for file in shown {
        let record = &file.record;
        let mut signers = record.signatures.iter().map(|s| s.signer.to_string());
        let promoter = signers.next().unwrap_or_default();
        let mut approvers: Vec<String> = signers.collect();
        approvers.extend(approvals.get(&file.id).into_iter().flatten().cloned());
        let images: Vec<String> =
            record.images.iter().map(|i| format!("<code>{}</code>", escape::html(&i.to_string()))).collect();
        let fate = history.fate(file);
        let kind = match (&record.evidence, &fate) {
            (Some(e), _) => format!("evidence: {} {}", escape::html(e.kind.as_str()), e.result),
            (None, Some(Fate::Approves { record })) => format!("approval of {}", escape::html(record)),
            (None, _) => record.kind.to_string(),
        };
        let mut note = match (&record.override_, &record.reason) {
            (Some(o), _) => {
                let rules: Vec<String> = o.rules.iter().map(ToString::to_string).collect();
                format!("<strong>BREAK-GLASS</strong> waives {}: {}", rules.join(", "), escape::html(&o.reason))
            }
            (None, Some(reason)) => escape::html(reason),
            (None, None) => String::new(),
        };
        match &fate {
            Some(Fate::Pending) => note.push_str(" <strong>waiting for approval</strong>"),
            Some(Fate::Superseded { why }) => {
                let _ = write!(note, " <strong>superseded</strong>: {}", escape::html(why));
            }
            Some(Fate::TookEffect { at }) => {
                let _ = write!(note, " took effect at {at}");
            }
            Some(Fate::Approves { .. }) | None => {}
        }
        let _ = writeln!(table, "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{kind}</td><td>{}</td><td>{}</td><td>{}</td><td>{note}</td></tr>",
            if record.override_.is_some() { " class=\"breakglass\"" } else { "" },
            record.at,
            escape::html(&record.label()),
            escape::html(record.env.as_str()),
            images.join("<br>"),
            escape::html(&promoter),
            escape::html(&approvers.join(", ")),
        );
    }
    table.push_str("</table>\n");
    table
}
