//! The `gitops-ledger` command line: one file per subcommand, each holding its
//! clap `Args` and a `run` that calls the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod approve;
mod attest;
mod audit;
mod completions;
mod error;
mod evidence;
mod exit_codes;
mod init;
mod keygen;
mod log;
mod man;
mod policy;
mod project;
mod promote;
mod reference;
mod replay;
mod report;
mod stats;
mod status;
mod util;
mod verify;

pub use error::{CliError, CommandError, ExitKind};
pub use exit_codes::{exit_codes, ExitCodeRow, ExitCodes};
pub use reference::reference_markdown;

use crate::clock::Clock;
use crate::store::WorkTree;
use util::{Context, Output};

#[derive(Debug, Parser)]
#[command(
    name = "gitops-ledger",
    // The commit it was built from follows the version (build.rs).
    version = concat!(env!("CARGO_PKG_VERSION"), env!("GITOPS_LEDGER_COMMIT")),
    about = "Signed, hash-chained record of GitOps environment promotions, kept in the config repo",
    long_about = "Signed, hash-chained record of GitOps environment promotions, kept in the config repo.\n\n\
        Exit codes: 0 everything holds (pending approvals are reported, not failures), \
        1 a rule failed (or drift), 2 usage or I/O error; each command's --help lists the ones it can return.",
    propagate_version = true
)]
pub struct Cli {
    /// The config repo to work on.
    #[arg(short = 'C', global = true, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    Keygen(keygen::Args),
    Init(init::Args),
    #[command(subcommand)]
    Policy(policy::Command),
    Promote(promote::Args),
    Approve(approve::Args),
    Evidence(evidence::Args),
    Project(project::Args),
    Status(status::Args),
    Log(log::Args),
    Replay(replay::Args),
    Stats(stats::Args),
    Audit(audit::Args),
    Report(report::Args),
    Verify(verify::Args),
    Attest(attest::Args),
    Completions(completions::Args),
    Man(man::Args),
}

/// `--format` of the read-side commands.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum OutputFormat {
    /// For people.
    Text,
    /// For machines.
    Json,
}

/// A time window, `--since` and `--until` (both inclusive).
#[derive(Debug, clap::Args)]
pub struct Window {
    /// Only records at or after this moment (RFC 3339 UTC, whole seconds).
    #[arg(long, value_name = "RFC3339", value_parser = util::parse_at)]
    pub since: Option<crate::clock::Timestamp>,
    /// Only records at or before this moment.
    #[arg(long, value_name = "RFC3339", value_parser = util::parse_at)]
    pub until: Option<crate::clock::Timestamp>,
}

/// Parses the process arguments, runs the command, and maps the outcome to
/// the exit code: 0 holds, 1 a rule failed, 2 usage or I/O.
pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return ExitCode::from(if err.use_stderr() { 2 } else { 0 });
        }
    };
    let kind = execute(cli).unwrap_or_else(|err| {
        let _ = writeln!(std::io::stderr().lock(), "{err}");
        err.exit_kind()
    });
    ExitCode::from(kind.code())
}

fn execute(cli: Cli) -> Result<ExitKind, CommandError> {
    let clock = Clock::from_env()?;
    let mut context = Context { tree: WorkTree::new(cli.dir), clock, out: Output::new(Box::new(std::io::stdout())) };
    let kind = match cli.command {
        Command::Keygen(args) => keygen::run(&mut context, args),
        Command::Init(args) => init::run(&mut context, args),
        Command::Policy(command) => policy::run(&mut context, command),
        Command::Promote(args) => promote::run(&mut context, args),
        Command::Approve(args) => approve::run(&mut context, args),
        Command::Evidence(args) => evidence::run(&mut context, args),
        Command::Project(args) => project::run(&mut context, args),
        Command::Status(args) => status::run(&mut context, args),
        Command::Log(args) => log::run(&mut context, args),
        Command::Replay(args) => replay::run(&mut context, args),
        Command::Stats(args) => stats::run(&mut context, args),
        Command::Audit(args) => audit::run(&mut context, args),
        Command::Report(args) => report::run(&mut context, args),
        Command::Verify(args) => verify::run(&mut context, args),
        Command::Attest(args) => attest::run(&mut context, args),
        Command::Completions(args) => completions::run(&mut context, args),
        Command::Man(args) => man::run(&mut context, args),
    }?;
    context.out.flush().map_err(CliError::Output)?;
    Ok(kind)
}

/// The clap command tree, for the generated reference.
pub fn command() -> clap::Command {
    Cli::command()
}
