//! Why a command failed, and the one place that decides its exit code.

use std::fmt;

use crate::append::AppendError;
use crate::attest::AttestError;
use crate::audit::AuditError;
use crate::clock::ClockError;
use crate::escape;
use crate::project::ProjectError;
use crate::record::RecordError;
use crate::sign::SignError;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// How a command ended, as its exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ExitKind {
    /// 0: everything holds (pending approvals are reported, not failures).
    Holds,
    /// 1: a rule failed, or drift.
    RuleFailed,
    /// 2: the command line was wrong, or reading/writing failed.
    Usage,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Holds => 0,
            ExitKind::RuleFailed => 1,
            ExitKind::Usage => 2,
        }
    }
}

/// What went wrong, with the library's error kept as it was.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Append(#[from] AppendError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sign(#[from] SignError),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    #[error(transparent)]
    Audit(#[from] AuditError),
    #[error(transparent)]
    Attest(#[from] AttestError),
    #[error(transparent)]
    Project(#[from] ProjectError),
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error(transparent)]
    Clock(#[from] ClockError),
    /// Something clap cannot check alone (a flag that needs another).
    #[error("{0}")]
    Usage(String),
    #[error("cannot read {path}: {source}")]
    Read { path: String, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    #[error("cannot encode JSON output: {0}")]
    Json(#[from] serde_json::Error),
}

impl CliError {
    /// The exit class of every error, decided here and nowhere else.
    pub fn exit_kind(&self) -> ExitKind {
        match self {
            CliError::Append(err) => append_exit_kind(err),
            CliError::Store(err) => store_exit_kind(err),
            CliError::Project(err) => project_exit_kind(err),
            CliError::Attest(err) => attest_exit_kind(err),
            // A ledger file (or a record about to be written) outside its schema.
            CliError::Record(_) => ExitKind::RuleFailed,
            CliError::Sign(_)
            | CliError::Verify(_)
            | CliError::Audit(_)
            | CliError::Clock(_)
            | CliError::Usage(_)
            | CliError::Read { .. }
            | CliError::Write { .. }
            | CliError::Output(_)
            | CliError::Json(_) => ExitKind::Usage,
        }
    }
}

fn append_exit_kind(err: &AppendError) -> ExitKind {
    match err {
        AppendError::Refused(_) => ExitKind::RuleFailed,
        // A ledger file that does not parse is a broken rule of the repo, not a usage error.
        AppendError::Record(_) | AppendError::Policy(_) => ExitKind::RuleFailed,
        AppendError::Store(err) => store_exit_kind(err),
        AppendError::Project(err) => project_exit_kind(err),
        AppendError::Undone(source) | AppendError::UndoFailed { source, .. } | AppendError::Moved { source, .. } => {
            append_exit_kind(source)
        }
        // Refused with nothing written or pushed; committing first, or running again, is the fix.
        AppendError::Uncommitted(_) | AppendError::Crowded { .. } => ExitKind::RuleFailed,
        AppendError::Usage(_)
        | AppendError::Sign(_)
        | AppendError::Canonical(_)
        | AppendError::Remote(_)
        | AppendError::NotPushed { .. } => ExitKind::Usage,
    }
}

fn attest_exit_kind(err: &AttestError) -> ExitKind {
    match err {
        // Refused with nothing written: the ledger does not vouch for what runs.
        AttestError::Failed { .. } | AttestError::BreakGlass { .. } | AttestError::NothingRuns { .. } => {
            ExitKind::RuleFailed
        }
        AttestError::Store(err) => store_exit_kind(err),
        AttestError::Sign(_)
        | AttestError::Json(_)
        | AttestError::NoPolicy
        | AttestError::UnknownApp { .. }
        | AttestError::UnknownEnv { .. } => ExitKind::Usage,
    }
}

fn store_exit_kind(err: &StoreError) -> ExitKind {
    match err {
        // Refused like a rule: nothing was written, and running it again is the fix.
        StoreError::Busy { .. } | StoreError::Exists { .. } => ExitKind::RuleFailed,
        _ => ExitKind::Usage,
    }
}

fn project_exit_kind(err: &ProjectError) -> ExitKind {
    match err {
        // A target file the projector cannot or may not edit: refused like a rule.
        ProjectError::Target { .. } | ProjectError::MissingTarget { .. } | ProjectError::Unsafe { .. } => {
            ExitKind::RuleFailed
        }
        ProjectError::Store(err) => store_exit_kind(err),
    }
}

/// A failed command: the error, and what the user can do about it.
#[derive(Debug)]
pub struct CommandError {
    pub error: CliError,
    pub hints: Vec<String>,
}

impl CommandError {
    pub fn usage(message: impl Into<String>) -> Self {
        CliError::Usage(message.into()).into()
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hints.push(hint.into());
        self
    }

    pub fn exit_kind(&self) -> ExitKind {
        self.error.exit_kind()
    }
}

impl<E: Into<CliError>> From<E> for CommandError {
    fn from(err: E) -> Self {
        CommandError { error: err.into(), hints: Vec::new() }
    }
}

impl fmt::Display for CommandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // An error may quote a record (a parse error names the bad value);
        // its own line breaks (a list of refusals) are layout.
        let lines: Vec<String> = self.error.to_string().split('\n').map(escape::terminal).collect();
        write!(f, "error: {}", lines.join("\n"))?;
        for hint in &self.hints {
            write!(f, "\nhint: {}", escape::terminal(hint))?;
        }
        Ok(())
    }
}
