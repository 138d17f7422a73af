//! gitops-ledger: a tamper-evident, signed ledger of GitOps environment
//! promotions, kept in the Kustomize config repo itself.
//!
//! The library is the whole tool; `src/main.rs` only calls [`cli::run`].
#![forbid(unsafe_code)]

pub mod append;
pub mod attest;
pub mod audit;
pub mod canonical;
pub mod chain;
pub mod cli;
pub mod clock;
pub mod escape;
pub mod fold_cache;
pub mod fsmonitor;
pub mod history;
pub mod ledger;
pub mod listing_cache;
pub mod policy;
pub mod project;
pub mod record;
pub mod remote;
pub mod report;
pub mod rules;
pub mod sign;
pub mod status;
pub mod store;
pub mod verify;
pub mod view;
