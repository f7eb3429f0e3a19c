//! The integration tests, as one test binary (`cargo test --test suite`; filter as usual, e.g.
//! `cargo test --test suite tui_render`). One binary links the crate and its dependencies once
//! per `cargo test` instead of once per test file, and every helper of the kit in `common` is
//! used by some module (no `dead_code` allowance). Each module is a former `tests/NAME.rs`,
//! and its tests keep their names (`reserve_kernel::the_terminal_prompt_defaults_to_no`).
//!
//! All modules run in one process, in parallel threads: a test changes nothing process-wide
//! (environment, working directory, signal dispositions, umask). What it changes is its own
//! thread's: the network namespace (`common::private_netns`), and sysctls inside it.
//! Process-wide limits that a test raises (RLIMIT_NOFILE) only ever go up, which no other test
//! depends on. Spawns go through `common::SPAWN_LOCK` (see there), now for the whole suite.
// Pedantic lints are for the product (src/): test code favours plain, local steps.
#![allow(clippy::pedantic)]

#[macro_use]
mod common;

mod action_kernel;
mod allns_kernel;
mod connect_kernel;
mod containers_kernel;
mod docs;
mod failures_kernel;
mod filter_kernel;
mod fix_kernel;
mod fleet_ansible;
mod grace_unit;
mod guard_assets;
mod guard_kernel;
mod guard_services;
mod hidden_owners;
mod hostile_names;
mod incremental_kernel;
mod input_and_output;
mod kept_kernel;
mod listener_health;
mod nat_kernel;
mod netlink_kernel;
mod process_context_kernel;
mod reach_kernel;
mod report_browser;
mod reserve_attack;
mod reserve_kernel;
mod reserve_property;
mod signal_kernel;
mod snapshot_kernel;
mod structure;
mod tui_busy_ports;
mod tui_cadence_kernel;
mod tui_conns;
mod tui_context;
mod tui_context_kernel;
mod tui_copy_blocks;
mod tui_e2e;
mod tui_failures;
mod tui_live;
mod tui_modes;
mod tui_narrow;
mod tui_process;
mod tui_reach;
mod tui_record;
mod tui_render;
mod tui_signals;
mod tui_sizes;
mod tui_state;
mod tui_travel;
mod tui_views_ipv6;
mod tui_why_actions;
mod user_attacks;
mod watch_kernel;
mod why_binds;
mod why_incidents;
mod why_inherited;
mod why_kernel;
mod why_protect;
mod why_reuseport;
