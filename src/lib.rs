//! portscope: Linux port-conflict triage.
//!
//! Data flows one way: [`collect`] reads the kernel into an immutable [`model::Snapshot`];
//! pure analysis derives verdicts from it; the CLI and the TUI present them.

pub mod action;
pub mod analyze;
pub mod cli;
pub mod collect;
pub mod filter;
pub mod model;
pub mod portset;
pub mod reserve;
pub mod tui;
pub mod workload;
