//! The live dashboard (`meridian dashboard`, `cluster up --dashboard`, `demo --dashboard`): a
//! web page that follows a running cluster — regions and links with their state in words,
//! charts of client latency, throughput, replication lag, pending writes, conflicts and RPO
//! lag, the conflict feed, the role changes — and controls that call the admin API. The same
//! page, fed a recording instead of the live feed, is the static replay of a finished run.
//!
//! How it fits: every update (500 ms by default) the poller reads every region at once, each
//! within a deadline, into a raw sample; the pure [`state::State`] turns successive samples
//! into a [`model::Snapshot`] (rates, the lag of the writes applied in between, words for
//! states) and keeps the history; the snapshot goes out on a watch channel that each page's
//! event stream follows. Controls are the library calls `ctl` and `cluster` make.
//!
//! # Layout
//! - [`model`]: the JSON the page draws (snapshot, views, chart points, recording);
//! - [`sample`]: what is watched ([`sample::Target`]) and what one update read, raw;
//! - [`derive`](mod@derive): rates, interval lag and the words for states, from two samples (pure);
//! - [`feed`]: cursors into each node's conflict feed; each conflict once (pure);
//! - [`state`]: samples in, snapshots out; history, role changes, actions (pure);
//! - [`poller`]: one update's reads, every region in parallel, bounded;
//! - [`metrics_text`]: reads per second from a node's Prometheus page;
//! - [`hub`]: the running dashboard: state, watch channel, update loop;
//! - [`actions`]: the controls and the calls that do them;
//! - [`server`]: the HTTP routes and their guards;
//! - [`assets`]: the embedded page, script, styles and uPlot, and the static replay page.

pub mod actions;
pub mod assets;
pub mod derive;
pub mod feed;
pub mod hub;
pub mod metrics_text;
pub mod model;
pub mod poller;
pub mod sample;
pub mod server;
pub mod state;

#[cfg(test)]
mod tests;

pub use actions::Action;
pub use assets::replay_page;
pub use hub::{DEFAULT_INTERVAL, Dashboard, Options};
pub use model::{Recording, RoleChange, Snapshot};
pub use sample::{RegionTarget, Target};
pub use server::{TOKEN_HEADER, router, serve};
