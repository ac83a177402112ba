//! Multi-Region strong consistency against eventual, measured in the same run on the built-in
//! cluster (three regions, unequal realistic latencies with jitter).
//!
//! - **Throughput**: flat out, every region's node driven closed loop at the run's requests in
//!   flight, all puts over one key space — first on an eventual cluster, then on a strong one.
//!   The ratio of acknowledged writes per second is what waiting for a second region costs.
//!   With a fixed number in flight a strong region cannot exceed in-flight / round trip (Little's
//!   law), so that bound is reported beside it: a ratio near the bound is the round trip's
//!   doing, not the node's.
//! - **Latency at moderate load**: on the strong cluster, puts paced at the lag-fidelity rate
//!   (latency from each request's intended start); per region, p50 minus the configured round
//!   trip to its nearest participant — what the node adds on top of the emulated physics
//!   (target ≤ 2 ms).
//!
//! Every figure comes from fresh clusters, stopped when the scenario ends.

use std::collections::BTreeMap;

use meridian_client::load::strong::nearest;
use meridian_core::{Consistency, Mode};

use super::{global::drive, progress};
use crate::{
    driver::{self, Outcome, Until},
    nodes,
    options::Options,
    results::{StrongRegion, StrongResult},
};

/// One cluster of `consistency`, its channels (per region, in cluster order) and one-way
/// configured latencies per "from>to".
async fn cluster(
    opts: &Options,
    storage: &str,
    consistency: Consistency,
) -> anyhow::Result<(
    meridian_client::control::scenario::LocalCluster,
    Vec<(String, tonic::transport::Channel)>,
    BTreeMap<String, f64>,
)> {
    let mut config = nodes::builtin_cluster(Mode::GlobalTables);
    config.multi_region_consistency = consistency;
    let c = nodes::start_with(
        opts,
        &format!("strong-{}-{storage}", consistency.name()),
        config,
        storage,
    )
    .await?;
    let mut channels = Vec::new();
    for n in &c.state.nodes {
        channels.push((n.region.clone(), driver::channel(n.addr)?));
    }
    let first = c.state.nodes.first().map(|n| n.addr);
    let links = match first {
        Some(addr) => nodes::admin(addr)?.links().await?,
        None => anyhow::bail!("the cluster has no nodes"),
    };
    let one_way = links
        .links
        .iter()
        .map(|l| (format!("{}>{}", l.from, l.to), l.latency_ms))
        .collect();
    Ok((c, channels, one_way))
}

/// Flat out on `channels`: a warm-up, then the measured run (all regions merged).
async fn flat_out(
    opts: &Options,
    channels: &[(String, tonic::transport::Channel)],
) -> anyhow::Result<Outcome> {
    drive(opts, channels, Until::Elapsed(opts.warmup), None).await?;
    let parts = drive(opts, channels, Until::Elapsed(opts.duration), None).await?;
    Ok(Outcome::merge(&parts))
}

/// Run the scenario with nodes keeping their state in `storage`.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<StrongResult> {
    let (eventual_cluster, channels, _) = cluster(opts, storage, Consistency::Eventual).await?;
    let eventual = flat_out(opts, &channels).await?;
    drop(eventual_cluster);

    let (strong_cluster, channels, one_way) = cluster(opts, storage, Consistency::Strong).await?;
    let names: Vec<&str> = channels.iter().map(|(r, _)| r.as_str()).collect();
    let rate = opts.fidelity_rate;
    drive(opts, &channels, Until::Elapsed(opts.warmup), Some(rate)).await?;
    let parts = drive(opts, &channels, Until::Elapsed(opts.duration), Some(rate)).await?;
    let mut paced = Vec::new();
    for ((region, _), puts) in channels.iter().zip(parts) {
        let n = nearest(region, &names, &one_way)
            .ok_or_else(|| anyhow::anyhow!("{region} has no other participant"))?;
        paced.push(StrongRegion {
            region: region.clone(),
            nearest: n.region,
            rtt_ms: n.rtt_ms,
            puts,
        });
    }
    let strong = flat_out(opts, &channels).await?;
    drop(strong_cluster);

    let strong_bound = paced
        .iter()
        .map(|p| opts.inflight as f64 / (p.rtt_ms / 1000.0).max(1e-9))
        .sum();
    let result = StrongResult {
        storage: storage.to_owned(),
        eventual,
        strong,
        strong_bound,
        paced_rate: rate,
        paced,
    };
    progress(format!(
        "  flat out: eventual {:.0} acked writes/s, strong {:.0} ({:.2}×; Little's-law bound {:.0}; {} strong errors, first {}); at {rate:.0} ops/s p50 − nearest RTT: {}",
        StrongResult::acked_rate(&result.eventual),
        StrongResult::acked_rate(&result.strong),
        result.ratio(),
        result.strong_bound,
        result.strong.errors,
        result.strong.first_error.as_deref().unwrap_or("none"),
        result
            .paced
            .iter()
            .map(|p| format!(
                "{} {:+.2} ms (RTT {:.0})",
                p.region,
                p.p50_over_rtt_ms(),
                p.rtt_ms
            ))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    Ok(result)
}
