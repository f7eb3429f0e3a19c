//! portscope: Linux port-conflict triage.
//!
//! Data flows one way: [`collect`] reads the kernel into an immutable [`model::Snapshot`];
//! pure analysis derives verdicts from it; the CLI and the TUI present them.

// Tests may unwrap: a panic there is the failure report.
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod action;
pub mod addr;
pub mod analyze;
pub mod ask;
pub mod cli;
pub mod collect;
pub mod config;
pub mod escape;
pub mod filter;
pub mod guard;
pub mod history;
pub mod human;
pub mod kernel_file;
pub mod model;
pub mod paths;
pub mod report;
pub mod reserve;
pub mod safefs;
pub mod subprocess;
pub mod sys;
pub mod target;
pub mod tools;
pub mod tui;
pub mod watch;

// Plain values that moved into `model`, kept at their old paths for callers.
pub use model::{portset, workload};
