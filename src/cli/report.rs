//! `report --out FILE.html`: the auditor's timeline, one self-contained file.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use super::{say, CommandError, Context, ExitKind};
use crate::history::{all_records, dora};
use crate::report::{render, ReportInput};
use crate::verify::{verify, VerifyOptions};

/// Write an HTML timeline for auditors: what ran where, who signed, evidence, overrides, figures, verification.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The HTML file to write.
    #[arg(long, value_name = "FILE.html")]
    pub out: PathBuf,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let now = context.clock.now();
    let policies = crate::ledger::load_policies(&context.tree).map_err(CommandError::usage)?.value;
    let environments: Vec<String> =
        policies.last().map(|p| p.policy.environments.iter().map(|e| e.name.to_string()).collect()).unwrap_or_default();
    let production = policies
        .last()
        .and_then(|p| p.policy.environments.last())
        .map(|e| e.name.clone())
        .ok_or_else(|| CommandError::usage("there is no policy to report on"))?;
    let records = all_records(&context.tree, None).map_err(CommandError::usage)?;
    let verification = verify(&context.tree, &VerifyOptions::default(), now)?;
    let overall = dora(&records, &production, None, None);
    let mut per_app = BTreeMap::new();
    for app in records.iter().map(|r| r.record.app.to_string()).collect::<std::collections::BTreeSet<_>>() {
        let own: Vec<_> = records.iter().filter(|r| r.record.app.as_str() == app).cloned().collect();
        per_app.insert(app, dora(&own, &production, None, None));
    }
    let html = render(&ReportInput {
        generated: now,
        environments: &environments,
        records: &records,
        verification: &verification,
        overall: &overall,
        per_app: &per_app,
    });
    std::fs::write(&args.out, html)
        .map_err(|e| CommandError::usage(format!("cannot write {}: {e}", args.out.display())))?;
    say!(context, "wrote {} ({} records of {} apps)", args.out.display(), records.len(), per_app.len());
    Ok(ExitKind::Holds)
}
