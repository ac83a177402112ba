//! The load generator: simulated clients in chosen regions drive a running cluster through
//! real gRPC, then wait for quiescence and collect what the checker and reports need.
//!
//! **Open loop** (`rate > 0`): every worker follows its own arrival schedule (Poisson by
//! default; a superposition of Poisson streams is Poisson at the summed rate). Latency is
//! measured from each request's *intended* start, so a stalled server shows up in the
//! percentiles instead of silently slowing the client down (coordinated omission corrected, as
//! wrk2 does). **Closed loop** (`rate == 0`): each worker sends back to back and latency is
//! measured from the actual send.
//!
//! Workers keep their own histograms and write records (no shared locks on the hot path apart
//! from a sharded "latest acknowledged version" map used to measure read staleness).
//!
//! # Layout
//! - [`config`]: what a run needs ([`LoadConfig`], with defaults) and its validation;
//! - [`result`]: what a run measured ([`LoadResult`]) and the µs histograms;
//! - [`run`](mod@run): the run as named steps (connect, send, gather, settle, check, predict);
//! - [`clients`]: the clients of each sending region, and following a moving Aurora writer;
//! - [`worker`]: one simulated client's request loop;
//! - [`staleness`]: the latest acknowledged versions, to tell stale reads;
//! - [`probe`], [`progress`]: visibility probes and the live progress line;
//! - [`live`]: what a dashboard beside the run reads as it goes (latency, counts per region);
//! - [`collect`]: after the load: quiescence, final states, conflict feeds, `meridian check`;
//! - [`resolve`]: unknown-outcome writes looked up in the regions' logs;
//! - [`strong`]: multi-Region strong consistency — the witness, nearest participants,
//!   conflict and no-quorum refusals, retries; [`strong_steps`]: its steps of a run.

pub mod clients;
pub mod collect;
pub mod config;
pub mod live;
pub mod probe;
pub mod progress;
pub mod resolve;
pub mod result;
pub mod run;
pub mod staleness;
pub mod strong;
pub mod strong_steps;
pub mod worker;

pub use collect::{check_history, cluster_status, dump, events_since, wait_quiescent};
pub use config::{Arrivals, AuroraWrites, LoadConfig};
pub use live::LiveLoad;
pub use result::{LoadResult, histogram};
pub use run::run;
pub use strong::{StrongResult, StrongSetup, StrongTally};
