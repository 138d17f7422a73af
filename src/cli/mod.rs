//! The `gitops-ledger` command line: one file per subcommand, each holding its
//! clap `Args` and a `run` that calls the library.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

mod approve;
mod audit;
mod error;
mod evidence;
mod init;
mod keygen;
mod log;
mod policy;
mod project;
mod promote;
mod reference;
mod replay;
mod report;
mod stats;
mod status;
mod verify;

pub use error::{CommandError, ExitKind};
pub use reference::reference_markdown;

use crate::clock::Clock;
use crate::store::WorkTree;

#[derive(Debug, Parser)]
#[command(
    name = "gitops-ledger",
    version,
    about = "Signed, hash-chained record of GitOps environment promotions, kept in the config repo",
    long_about = "Signed, hash-chained record of GitOps environment promotions, kept in the config repo.\n\n\
        Exit codes, for every command: 0 everything holds, 1 a rule failed (or drift, or pending approvals), \
        2 usage or I/O error.",
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
    #[arg(long, value_name = "RFC3339", value_parser = promote::parse_at)]
    pub since: Option<crate::clock::Timestamp>,
    /// Only records at or before this moment.
    #[arg(long, value_name = "RFC3339", value_parser = promote::parse_at)]
    pub until: Option<crate::clock::Timestamp>,
}

/// What every subcommand gets.
pub struct Context {
    pub tree: WorkTree,
    pub clock: Clock,
    pub out: Box<dyn Write>,
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
    match execute(cli) {
        Ok(kind) => ExitCode::from(kind.code()),
        Err(err) => {
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {}", err.message);
            ExitCode::from(err.kind.code())
        }
    }
}

fn execute(cli: Cli) -> Result<ExitKind, CommandError> {
    let clock = Clock::from_env().map_err(CommandError::usage)?;
    let mut context = Context { tree: WorkTree::new(cli.dir), clock, out: Box::new(std::io::stdout()) };
    let writes = matches!(
        cli.command,
        Command::Init(_)
            | Command::Policy(_)
            | Command::Promote(_)
            | Command::Approve(_)
            | Command::Evidence(_)
            | Command::Project(project::Args { check: false })
    );
    // Held until the command returns, projection and commit included.
    let _lock = if writes { Some(context.tree.lock().map_err(CommandError::from)?) } else { None };
    match cli.command {
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
    }
}

/// The clap command tree, for the generated reference.
pub fn command() -> clap::Command {
    Cli::command()
}

/// Writes a line to the command's output; a closed stdout is an I/O error.
macro_rules! say {
    ($context:expr, $($arg:tt)*) => {
        writeln!($context.out, $($arg)*).map_err($crate::cli::CommandError::io)?
    };
}
pub(crate) use say;

/// Loads `--key` with the passphrase from the environment, if any.
/// Like ssh-keygen, it warns about a private key others can read; unlike
/// ssh-keygen it still signs, since CI secrets are often mounted 0644.
pub(crate) fn load_key(path: &std::path::Path) -> Result<crate::sign::SigningKey, CommandError> {
    let key = crate::sign::SigningKey::load(path, crate::sign::SigningKey::passphrase_from_env())?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path) {
            let mode = meta.permissions().mode() & 0o777;
            if mode & 0o077 != 0 {
                eprintln!(
                    "warning: private key {} is readable by others (mode {mode:04o}); run chmod 600 on it",
                    path.display()
                );
            }
        }
    }
    Ok(key)
}
