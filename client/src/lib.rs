//! Meridian's client side: everything that talks to nodes from outside — the typed client,
//! the Aurora Global control plane, local clusters — and what is built on it: the load
//! generator, the checker, and the reports.
//!
//! # Layout
//! - [`control`]: connecting to nodes and driving clusters — [`control::RegionClient`] (the
//!   typed client) and its session metadata, the Aurora Global control plane
//!   ([`control::aurora`]), local multi-process clusters ([`control::processes`]), scenario
//!   clusters stopped on drop ([`control::scenario`]), tokio runtimes ([`control::runtime`]);
//! - [`workload`]: what a run sends — operation kinds, mixes, key distributions, seeded
//!   randomness;
//! - [`load`]: the open/closed-loop load generator, from configuration to collected result,
//!   with unknown outcomes resolved against the regions' logs;
//! - [`check`]: what the client saw ([`check::history`]), the post-run verification of SPEC §4
//!   ([`check::checker`]) and the analytic model ([`check::model`]) — pure, no network;
//! - [`report`]: JSON report, terminal summary, `.hgrm` files, HTML with SVG charts, and the
//!   JSON shapes of node replies (`ctl --json`);
//! - [`dashboard`]: the live web page of a running cluster (and the static replay of a run):
//!   snapshots derived from every region's status, an HTTP server with server-sent events,
//!   and controls that call the admin API;
//! - [`error`]: the one error type of the library.
//!
//! Dependencies run one way: `dashboard` → `load`, `report`, `control`;
//! `report` → `load` → `control`, `check`, `workload`;
//! `control` → `check` (the set-aside writes it reports); `check` → `workload`.

pub mod check;
pub mod control;
pub mod dashboard;
pub mod error;
pub mod load;
pub mod report;
pub mod workload;

pub use error::{Error, Result};
