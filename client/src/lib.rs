//! Meridian's client side: a typed client for one region's node, JSON renderings of replies
//! for `meridian ctl --json`, and (in later modules) the load generator, checker and reports.
//!
//! # Layout
//! - [`client`]: connecting to a region's node, request metadata (client region, consistency);
//! - [`json`]: stable JSON shapes of replies (the public contract of `--json` output);
//! - [`rng`], [`workload`]: seeded keys, operation mixes and values;
//! - [`history`]: what the client saw (writes, outcomes, contexts) and what regions hold;
//! - [`checker`]: the post-run verification of SPEC §4, pure and unit-tested;
//! - [`model`]: the analytic conflict / lost-write predictions;
//! - [`load`]: the open/closed-loop load generator and post-run collection;
//! - [`resolve`]: unknown-outcome writes looked up in the regions' logs after a run;
//! - [`runtime`]: tokio runtimes with an explicit worker count;
//! - [`processes`]: local multi-process clusters (start, record, stop);
//! - [`scenario`]: a cluster owned by a scenario (demo, benchmark), stopped on drop;
//! - [`report`], [`html`]: JSON report, terminal summary, `.hgrm` files, HTML with SVG charts.

pub mod aurora;
pub mod checker;

pub mod client;
pub mod history;
pub mod html;
pub mod json;
pub mod load;
pub mod model;
pub mod processes;
pub mod report;
pub mod resolve;
pub mod rng;
pub mod runtime;
pub mod scenario;
pub mod workload;
