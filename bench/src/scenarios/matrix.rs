//! The matrix: mode × lag × key skew × rate, each cell a short open-loop run of the load
//! generator ([`meridian_client::load::run`]) against a fresh three-region cluster whose
//! links all have the cell's latency. Per cell: achieved throughput, write latency
//! (coordinated-omission corrected), conflict rate measured (checker) vs predicted (model),
//! lost writes, the largest link's p99 replication lag, and the checker's verdict.
//!
//! A fresh cluster per cell keeps the nodes' cumulative lag histograms and conflict counters
//! to that cell. In Aurora Global mode clients outside the primary write to the primary and
//! pay the round trip, so workers per region are sized from the rate and the lag to keep the
//! open loop from running out of workers.

use std::time::Duration;

use meridian_client::{
    load::{self, Arrivals, AuroraWrites, LoadConfig, LoadResult},
    workload::{KeyDist, Mix, Workload},
};
use meridian_core::{ClusterConfig, Mode};

use super::{attempt, progress};
use crate::{
    nodes::{self, REGIONS},
    options::Options,
    results::{Failure, MatrixCell},
};

/// What one open-loop run sends.
#[derive(Clone, Debug)]
pub struct LoadSpec<'a> {
    /// Target ops/s over all regions.
    pub rate: f64,
    /// Workers per region.
    pub concurrency: usize,
    /// Keys.
    pub keys: u64,
    /// Key distribution text.
    pub dist: &'a str,
    /// Operation mix text.
    pub mix: &'a str,
    /// Key prefix (unique per run).
    pub prefix: String,
}

/// A load configuration for `cluster` from every region.
pub fn load_config(
    opts: &Options,
    cluster: &ClusterConfig,
    spec: LoadSpec<'_>,
) -> anyhow::Result<LoadConfig> {
    let workload = Workload::new(
        spec.keys,
        KeyDist::parse(spec.dist)?,
        Mix::parse(spec.mix)?,
        opts.payload,
        opts.seed,
        spec.prefix,
    )?;
    Ok(LoadConfig {
        cluster: cluster.clone(),
        regions: cluster.regions.iter().map(|r| r.name.clone()).collect(),
        duration: opts.duration,
        rate: spec.rate,
        concurrency: spec.concurrency,
        workload,
        arrivals: Arrivals::Poisson,
        aurora_writes: AuroraWrites::Primary,
        consistency: None,
        probe_interval: None,
        timeout: Duration::from_secs(10),
        converge_timeout: Duration::from_secs(60),
        progress: false,
        admin_token: None,
        live: None,
        retry_conflicts: 0,
        consistent_reads: None,
    })
}

/// Workers per region for an open loop at `rate` over `regions` regions whose requests may
/// take a round trip of `2 × lag_ms`: four times the mean number in flight, at least 16.
pub fn workers_for(rate: f64, regions: usize, lag_ms: f64) -> usize {
    let per_region = rate / regions.max(1) as f64;
    let in_flight = per_region * (2.0 * lag_ms + 10.0) / 1000.0;
    ((in_flight * 4.0).ceil() as usize).clamp(16, 4096)
}

/// Largest p99 replication lag over the links that carried writes, ms.
pub fn max_lag_p99(r: &LoadResult) -> f64 {
    r.nodes
        .iter()
        .flat_map(|n| &n.links)
        .filter_map(|l| l.lag.as_ref())
        .filter(|l| l.count > 0)
        .map(|l| l.p99)
        .fold(0.0, f64::max)
}

/// The cell's figures from a load result.
pub fn cell(
    mode: Mode,
    lag_ms: f64,
    dist: &str,
    rate: f64,
    concurrency: usize,
    r: &LoadResult,
) -> MatrixCell {
    let mut writes = load::histogram();
    for ((_, op), h) in &r.latency {
        if op.is_write() {
            let _ = writes.add(h);
        }
    }
    let q = |x: f64| writes.value_at_quantile(x) as f64 / 1000.0;
    MatrixCell {
        mode: mode.name().to_owned(),
        lag_ms,
        dist: dist.to_owned(),
        rate,
        concurrency,
        // Per second of the load window: the run's elapsed time also covers the replies still
        // in flight when the window closed (up to two round trips in Aurora Global mode).
        throughput: r.ops as f64 / r.config.duration.as_secs_f64().max(1e-9),
        write_p50_ms: q(0.5),
        write_p99_ms: q(0.99),
        conflict_rate: r.checker.conflict_rate,
        predicted_conflict_rate: r.predicted_conflict_rate,
        lost_writes: r.checker.lost_writes,
        lag_p99_ms: max_lag_p99(r),
        errors: r.errors.values().sum(),
        checker_ok: r.checker.ok,
        checker_detail: if r.checker.ok {
            String::new()
        } else {
            format!("{:?}", r.checker.violation_counts)
        },
    }
}

async fn one(
    opts: &Options,
    index: usize,
    mode: Mode,
    lag_ms: f64,
    dist: &str,
    rate: f64,
) -> anyhow::Result<MatrixCell> {
    let cfg = nodes::uniform_cluster(mode, &REGIONS, lag_ms, 0.0)?;
    let cluster = nodes::start(opts, &format!("matrix-{index:02}"), cfg).await?;
    let concurrency = workers_for(rate, REGIONS.len(), lag_ms);
    let config = load_config(
        opts,
        &cluster.cluster,
        LoadSpec {
            rate,
            concurrency,
            keys: opts.matrix_keys,
            dist,
            mix: &opts.matrix_mix,
            prefix: format!("matrix-{index}/"),
        },
    )?;
    let r = load::run(config).await?;
    let c = cell(mode, lag_ms, dist, rate, concurrency, &r);
    progress(format!(
        "  {:.0} ops/s, write p50 {:.1} ms p99 {:.1} ms, conflicts {:.2}% (model {:.2}%), {} lost, lag p99 {:.1} ms, checker {}",
        c.throughput,
        c.write_p50_ms,
        c.write_p99_ms,
        c.conflict_rate * 100.0,
        c.predicted_conflict_rate * 100.0,
        c.lost_writes,
        c.lag_p99_ms,
        if c.checker_ok { "OK" } else { "FAILED" }
    ));
    drop(cluster);
    Ok(c)
}

/// Run every cell; failed cells are recorded in `failures`.
pub async fn run(opts: &Options, failures: &mut Vec<Failure>) -> Vec<MatrixCell> {
    let mut cells = Vec::new();
    let total = opts.modes.len() * opts.lags_ms.len() * opts.dists.len() * opts.rates.len();
    let mut index = 0;
    for &mode in &opts.modes {
        for &lag in &opts.lags_ms {
            for dist in &opts.dists {
                for &rate in &opts.rates {
                    index += 1;
                    let name = format!(
                        "matrix {index}/{total}: {} lag {lag} ms, {dist}, {rate} ops/s",
                        mode.name()
                    );
                    if let Some(c) =
                        attempt(failures, &name, one(opts, index, mode, lag, dist, rate)).await
                    {
                        cells.push(c);
                    }
                }
            }
        }
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_cover_the_round_trip_with_room() {
        assert_eq!(workers_for(200.0, 3, 20.0), 16);
        // 333 ops/s per region × 0.21 s round trip ≈ 70 in flight: four times that.
        assert_eq!(workers_for(1000.0, 3, 100.0), 280);
    }
}
