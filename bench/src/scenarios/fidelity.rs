//! Replication-lag fidelity: does the emulated link deliver at the configured latency?
//!
//! The built-in three-region cluster (one-way latencies 38, 60 and 95 ms with ±2–3 ms of
//! jitter) runs a moderate open-loop put load; every link's observed lag (apply time minus the
//! origin's commit time, as the receiving node measures it) is set against its configured
//! latency. Jitter is symmetric, so the observed p50 should sit on the configured latency.

use meridian_core::Mode;

use super::{global::link_lags, matrix, progress};
use crate::{nodes, options::Options, results::FidelityResult};

/// Run the scenario with nodes keeping their state in `storage`.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<FidelityResult> {
    let cluster = nodes::start_with(
        opts,
        &format!("fidelity-{storage}"),
        nodes::builtin_cluster(Mode::GlobalTables),
        storage,
    )
    .await?;
    let config = matrix::load_config(
        opts,
        &cluster.cluster,
        matrix::LoadSpec {
            rate: opts.fidelity_rate,
            concurrency: matrix::workers_for(opts.fidelity_rate, 3, 0.0),
            keys: 10_000,
            dist: "uniform",
            mix: "put=100",
            prefix: "fidelity/".into(),
        },
    )?;
    let r = meridian_client::load::run(config).await?;
    let links = link_lags(&r.nodes, None);
    for l in &links {
        progress(format!(
            "  {}: configured {:.0} ± {:.0} ms, observed p50 {:.2} ms ({:+.2}), p99 {:.2} ms over {} writes",
            l.link,
            l.configured_ms,
            l.jitter_ms,
            l.p50_ms,
            l.p50_ms - l.configured_ms,
            l.p99_ms,
            l.count
        ));
    }
    drop(cluster);
    Ok(FidelityResult {
        storage: storage.to_owned(),
        links,
    })
}
