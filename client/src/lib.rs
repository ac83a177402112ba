//! Meridian's client side: a typed client for one region's node, JSON renderings of replies
//! for `meridian ctl --json`, and (in later modules) the load generator, checker and reports.
//!
//! # Layout
//! - [`client`]: connecting to a region's node, request metadata (client region, consistency);
//! - [`json`]: stable JSON shapes of replies (the public contract of `--json` output).

pub mod aurora;
pub mod client;
pub mod json;
