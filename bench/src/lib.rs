//! Meridian's benchmark: scenarios against real `meridian node` processes, with a raw gRPC echo
//! service measured in the same run by the same client, so that node overhead is a ratio
//! rather than a guess.
//!
//! Every throughput figure comes from one closed-loop driver ([`driver`]) over one HTTP/2
//! channel with a fixed number of requests in flight; the echo server and the nodes run as
//! separate processes with the same number of tokio workers, so the only difference between
//! the baseline and a node is the node's own work.
//!
//! # Layout
//! - [`options`]: what a run measures and how hard (durations, counts, worker counts);
//! - [`echo`]: the baseline echo service (`meridian-bench echo-server`, its own process);
//! - [`driver`]: the closed-loop driver and the calls it makes (echo, put, get);
//! - [`http`], [`dynalite`]: the lean HTTP client of the DynamoDB figures, and the emulator
//!   they are compared with;
//! - [`nodes`]: clusters of real node processes for a scenario, their status and memory;
//! - [`scenarios`]: one module per scenario;
//! - [`results`]: what the scenarios measured, typed;
//! - [`table`]: tables rendered as markdown, CSV and HTML;
//! - [`report`]: tables, charts, and the `results.md`, `results.csv` and `results.html` files.

pub mod driver;
pub mod dynalite;
pub mod echo;
pub mod http;
pub mod nodes;
pub mod options;
pub mod report;
pub mod results;
pub mod scenarios;
pub mod table;
