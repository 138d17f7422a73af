//! Error kinds and the exit codes they map to.

use std::fmt;

use crate::append::AppendError;
use crate::project::ProjectError;
use crate::sign::SignError;
use crate::store::StoreError;
use crate::verify::VerifyError;

/// How a command ended, as its exit code says it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    /// 0: everything holds.
    Holds,
    /// 1: a rule failed, drift, or approvals are pending.
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

#[derive(Debug)]
pub struct CommandError {
    pub kind: ExitKind,
    pub message: String,
}

impl CommandError {
    pub fn usage(message: impl fmt::Display) -> Self {
        CommandError { kind: ExitKind::Usage, message: message.to_string() }
    }

    pub fn io(err: std::io::Error) -> Self {
        CommandError { kind: ExitKind::Usage, message: format!("cannot write output: {err}") }
    }

    pub fn rule(message: impl fmt::Display) -> Self {
        CommandError { kind: ExitKind::RuleFailed, message: message.to_string() }
    }
}

impl From<AppendError> for CommandError {
    fn from(err: AppendError) -> Self {
        match err {
            AppendError::Refused(_) => CommandError::rule(err),
            // A ledger file that does not parse is a broken rule of the repo, not a usage error.
            AppendError::Record(_) | AppendError::Policy(_) => CommandError::rule(err),
            AppendError::Store(StoreError::Exists { .. }) => CommandError::rule(err),
            // An overlay the projector cannot or may not edit: refused like a rule.
            AppendError::Project(ProjectError::Overlay { .. } | ProjectError::MissingOverlay { .. }) => {
                CommandError::rule(err)
            }
            AppendError::Project(ProjectError::Store(_)) => CommandError::usage(err),
            AppendError::Usage(_) | AppendError::Store(_) | AppendError::Sign(_) | AppendError::Canonical(_) => {
                CommandError::usage(err)
            }
        }
    }
}

impl From<StoreError> for CommandError {
    fn from(err: StoreError) -> Self {
        match err {
            // Refused like a rule: nothing was written, and running it again is the fix.
            StoreError::Busy { .. } | StoreError::Exists { .. } => CommandError::rule(err),
            other => CommandError::usage(other),
        }
    }
}

impl From<SignError> for CommandError {
    fn from(err: SignError) -> Self {
        CommandError::usage(err)
    }
}

impl From<VerifyError> for CommandError {
    fn from(err: VerifyError) -> Self {
        CommandError::usage(err)
    }
}

impl From<crate::record::RecordError> for CommandError {
    fn from(err: crate::record::RecordError) -> Self {
        CommandError::usage(err)
    }
}
