//! The one integration test binary: the built `gitops-ledger` run as a user
//! would, on real temporary git repositories, with a fixed clock and keys.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

mod action;
mod agent;
mod approvals;
mod attest;
mod attest_docs;
mod audit;
mod cli_help;
mod cli_reference;
mod closed_pipe;
mod conformance;
mod exit_codes;
mod fold_cache;
mod fsmonitor;
mod gates;
mod hardening;
mod history;
mod install;
mod interop;
mod listing_cache;
mod output_safety;
mod package;
mod pr_check;
mod projection;
mod promote_flow;
mod properties;
mod push;
mod refusals;
mod report;
mod targets;
mod tools;
mod verify_markdown;
mod verify_rules;
