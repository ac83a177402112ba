//! What the tools print and write: a load run's JSON report, terminal summary and `.hgrm`
//! files, its self-contained HTML page, and the JSON shapes of node replies that
//! `meridian ctl --json` prints. Field names in all of them are a public contract.
//!
//! - [`summary`]: the run's JSON report, terminal summary and `.hgrm` percentile files;
//! - [`html`]: the HTML report with inline SVG charts;
//! - [`replies`]: JSON renderings of node replies (`ctl --json`, embedded in reports);
//! - [`strong`]: multi-Region strong consistency's part of all three.

pub mod html;
pub mod replies;
pub mod strong;
pub mod summary;

pub use summary::{
    hgrm, merged_latency, percentiles_ms, percentiles_us, summary, to_json, write_hgrm_files,
};
