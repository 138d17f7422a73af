//! `stats`: the DORA figures the ledger already holds.

use std::io::Write;

use super::exit_codes::{self, ExitCodes};
use super::util::{say, Context};
use super::{CommandError, ExitKind, OutputFormat, Window};
use crate::escape;
use crate::history::{dora_by_app, human_duration, Dora};
use crate::ledger::Ledger;
use crate::record::Name;

const EXIT_CODES: ExitCodes = &[
    (0, "shown"),
    (2, "usage or I/O error (no policy yet, bad flag, name or time, a ledger file that cannot be read)"),
];

/// DORA figures from the ledger: deployment frequency, lead time, change failure rate, time to restore.
#[derive(Debug, clap::Args)]
#[command(after_long_help = exit_codes::help(EXIT_CODES))]
pub struct Args {
    /// Only this app's records (default: every app).
    #[arg(long, value_name = "APP")]
    pub app: Option<Name>,
    #[command(flatten)]
    pub window: Window,
    /// Text for people, or one JSON object (overall and per app) for scripts.
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let ledger = Ledger::load(&context.tree)?;
    let production = ledger
        .production()
        .cloned()
        .ok_or_else(|| CommandError::usage("there is no policy, so no production environment to measure"))?;
    let (since, until) = (args.window.since, args.window.until);
    let figures = dora_by_app(&ledger, args.app.as_ref(), &production, since, until)?;
    let (overall, per_app) = (figures.overall, figures.apps);
    match args.format {
        OutputFormat::Json => {
            let apps: serde_json::Map<String, serde_json::Value> =
                per_app.iter().map(|(app, d)| (app.to_string(), serde_json::to_value(d).unwrap_or_default())).collect();
            let value = serde_json::json!({"production": production, "overall": overall, "apps": apps});
            let text = escape::json_pretty(&value)?;
            say!(context, "{text}");
        }
        OutputFormat::Text => {
            write_figures(context, "overall", &overall)?;
            for (app, figures) in &per_app {
                write_figures(context, app.as_str(), figures)?;
            }
        }
    }
    Ok(ExitKind::Holds)
}

fn write_figures(context: &mut Context, title: &str, d: &Dora) -> Result<(), CommandError> {
    let duration = |s: Option<i64>| s.map_or("-".to_string(), human_duration);
    say!(context, "{title}:");
    let frequency: Vec<String> = d
        .deployments
        .iter()
        .map(|(env, n)| format!("{env} {n} ({}/day)", d.deployments_per_day.get(env).copied().unwrap_or_default()))
        .collect();
    say!(context, "  deployments: {}", if frequency.is_empty() { "none".into() } else { frequency.join(", ") });
    say!(
        context,
        "  lead time to production: median {}, p90 {}",
        duration(d.lead_time_median_seconds),
        duration(d.lead_time_p90_seconds)
    );
    say!(
        context,
        "  change failure rate: {} ({} rollbacks + {} break-glass overrides / {} promotions)",
        d.change_failure_rate.map_or("-".to_string(), |r| r.to_string()),
        d.production_rollbacks,
        d.break_glass_overrides,
        d.production_promotions
    );
    say!(context, "  time to restore: median {}", duration(d.time_to_restore_median_seconds));
    Ok(())
}
