//! `status [--at T]`: what each environment runs (at a moment), and its evidence.

use std::io::Write;

use super::promote::parse_at;
use super::{say, CommandError, Context, ExitKind, OutputFormat};
use crate::clock::Timestamp;

/// Show what each app runs in each environment (now, or --at a moment), with the record and evidence behind it.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The moment to look at (default: now), RFC 3339 UTC with whole seconds.
    #[arg(long, value_name = "RFC3339", value_parser = parse_at)]
    pub at: Option<Timestamp>,
    #[arg(long, value_enum, default_value = "text")]
    pub format: OutputFormat,
}

pub fn run(context: &mut Context, args: Args) -> Result<ExitKind, CommandError> {
    let at = args.at.unwrap_or(context.clock.now());
    let status = crate::status::status(&context.tree, at).map_err(CommandError::usage)?;
    match args.format {
        OutputFormat::Json => {
            let text = serde_json::to_string_pretty(&status).map_err(CommandError::usage)?;
            say!(context, "{text}");
        }
        OutputFormat::Text => print_table(context, &status)?,
    }
    Ok(ExitKind::Holds)
}

/// The status as a table, one running image a row.
pub(crate) fn print_table(context: &mut Context, status: &crate::status::Status) -> Result<(), CommandError> {
    {
        {
            say!(context, "as of {}", status.at);
            let header = ["APP", "ENV", "IMAGE", "TAG", "DIGEST", "RECORD", "SINCE", "EVIDENCE"];
            let mut rows = vec![header.map(String::from).to_vec()];
            let rank = |env: &str| status.environments.iter().position(|e| e == env).unwrap_or(usize::MAX);
            for (app, envs) in &status.apps {
                let mut ordered: Vec<_> = envs.iter().collect();
                ordered.sort_by_key(|(env, _)| (rank(env), env.as_str()));
                for (env, env_status) in ordered {
                    for (name, image) in &env_status.images {
                        let evidence: Vec<String> =
                            image.evidence.iter().map(|(kind, seen)| format!("{kind}:{}", seen.result)).collect();
                        rows.push(vec![
                            app.clone(),
                            env.clone(),
                            name.clone(),
                            image.tag.clone().unwrap_or_else(|| "-".into()),
                            image.digest.chars().take(19).collect(),
                            format!("{app}@{}", image.seq),
                            env_status.set_at.to_string(),
                            if evidence.is_empty() { "-".into() } else { evidence.join(",") },
                        ]);
                    }
                }
            }
            if rows.len() == 1 {
                say!(context, "nothing promoted yet");
                return Ok(());
            }
            let widths: Vec<usize> =
                (0..header.len()).map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0)).collect();
            for row in rows {
                let cells: Vec<String> = row.iter().zip(&widths).map(|(cell, w)| format!("{cell:<w$}")).collect();
                say!(context, "{}", cells.join("  ").trim_end());
            }
        }
    }
    Ok(())
}
