//! Three-region Global Tables aggregate throughput, with replication keeping up.
//!
//! The built-in cluster (three regions, unequal realistic latencies with jitter) in Global
//! Tables mode; every region's node is driven at the same number of requests in flight as the
//! single-region run, all puts, over one shared key space (so writes conflict as they would in
//! a real multi-writer table). "Keeping up" means every link's p99 replication lag over the
//! step stays within its configured latency plus an allowance (10 ms): the replicas are not
//! falling behind while the writers run.
//!
//! First flat out (closed loop). When lag does not keep up there, the load is paced at falling
//! fractions of the flat-out rate, each on a fresh cluster (the nodes' lag histograms are
//! cumulative), until it does: the figure is the highest throughput at which it kept up.

use std::time::{Duration, Instant};

use meridian_client::{control::RegionClient, load::wait_quiescent};
use meridian_core::Mode;
use meridian_proto::v1 as pb;

use super::progress;
use crate::{
    driver::{self, Keys, Outcome, PutCall, Until, closed_loop, paced_loop},
    nodes,
    options::Options,
    results::{GlobalResult, GlobalStep, LinkLag},
};

/// Fractions of the flat-out rate tried, in order, until replication keeps up.
const PACED_FRACTIONS: [f64; 5] = [0.8, 0.6, 0.45, 0.3, 0.15];

/// Allowance over the configured latency within which lag "keeps up", ms.
pub const ALLOWANCE_MS: f64 = 10.0;
/// Key prefix.
const PREFIX: &str = "global/";

/// Every inbound link's lag from the nodes' statuses; `pending` from `at_stop` when given.
pub fn link_lags(statuses: &[pb::NodeStatus], at_stop: Option<&[pb::NodeStatus]>) -> Vec<LinkLag> {
    let mut out = Vec::new();
    for s in statuses {
        for l in &s.links {
            let lag = l.lag.unwrap_or_default();
            let setting = l.setting.clone().unwrap_or_default();
            let pending = at_stop
                .and_then(|a| a.iter().find(|x| x.region == s.region))
                .and_then(|x| x.links.iter().find(|y| y.origin == l.origin))
                .map_or(l.pending, |y| y.pending);
            out.push(LinkLag {
                link: format!("{}>{}", l.origin, s.region),
                configured_ms: setting.latency_ms,
                jitter_ms: setting.jitter_ms,
                count: lag.count,
                p50_ms: lag.p50,
                p99_ms: lag.p99,
                pending,
            });
        }
    }
    out
}

/// Statuses of all `clients`' nodes.
pub async fn statuses(clients: &[RegionClient]) -> anyhow::Result<Vec<pb::NodeStatus>> {
    let mut out = Vec::new();
    for c in clients {
        out.push(nodes::status(c).await?);
    }
    Ok(out)
}

/// Drive every region's node at `inflight` (closed loop, or paced at `rate` ops/s over all
/// regions) until `until`, all puts over the run's key space.
pub(crate) async fn drive(
    opts: &Options,
    channels: &[(String, tonic::transport::Channel)],
    until: Until,
    rate: Option<f64>,
) -> anyhow::Result<Vec<Outcome>> {
    let per_region = rate.map(|r| r / channels.len().max(1) as f64);
    let runs = channels.iter().enumerate().map(|(ri, (_, ch))| {
        let make = move |i: usize| {
            PutCall::new(
                ch.clone(),
                PREFIX,
                Keys::Random(opts.keys),
                opts.payload,
                opts.seed,
                (ri * opts.inflight + i) as u64,
            )
        };
        async move {
            match per_region {
                Some(r) => paced_loop(opts.inflight, until, r, make).await,
                None => closed_loop(opts.inflight, until, make).await,
            }
        }
    });
    futures::future::join_all(runs).await.into_iter().collect()
}

/// One load level on a fresh cluster.
async fn step(
    opts: &Options,
    storage: &str,
    index: usize,
    rate: Option<f64>,
) -> anyhow::Result<GlobalStep> {
    let cluster = nodes::start_with(
        opts,
        &format!("global-{storage}-{index}"),
        nodes::builtin_cluster(Mode::GlobalTables),
        storage,
    )
    .await?;
    let mut channels = Vec::new();
    let mut admins = Vec::new();
    for n in &cluster.state.nodes {
        channels.push((n.region.clone(), driver::channel(n.addr)?));
        admins.push(nodes::admin(n.addr)?);
    }
    drive(opts, &channels, Until::Elapsed(opts.warmup), rate).await?;
    let parts = drive(opts, &channels, Until::Elapsed(opts.duration), rate).await?;
    let at_stop = statuses(&admins).await?;
    let stopped = Instant::now();
    let pairs: Vec<(RegionClient, pb::NodeStatus)> = admins
        .iter()
        .cloned()
        .zip(at_stop.iter().cloned())
        .collect();
    let drain_ms = wait_quiescent(&pairs, Duration::from_secs(60))
        .await
        .then(|| stopped.elapsed().as_millis() as u64);
    let end = statuses(&admins).await?;
    let s = GlobalStep {
        offered: rate,
        per_region: channels
            .iter()
            .zip(&parts)
            .map(|((r, _), o)| (r.clone(), o.rate()))
            .collect(),
        links: link_lags(&end, Some(&at_stop)),
        drain_ms,
        total: Outcome::merge(&parts),
    };
    progress(format!(
        "  {}: {:.0} ops/s ({}), p99 {:.1} ms, {} errors; lag p99/configured per link: {}; kept up: {}",
        rate.map_or("flat out".into(), |r| format!("paced at {r:.0} ops/s")),
        s.total.rate(),
        s.per_region
            .iter()
            .map(|(r, x)| format!("{r} {x:.0}"))
            .collect::<Vec<_>>()
            .join(", "),
        s.total.quantile_ms(0.99),
        s.total.errors,
        s.links
            .iter()
            .map(|l| format!("{} {:.1}/{:.0}", l.link, l.p99_ms, l.configured_ms))
            .collect::<Vec<_>>()
            .join(", "),
        s.kept_up(ALLOWANCE_MS)
    ));
    drop(cluster);
    Ok(s)
}

/// Run the scenario with nodes keeping their state in `storage`.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<GlobalResult> {
    let flat = step(opts, storage, 0, None).await?;
    let flat_rate = flat.total.rate();
    let mut result = GlobalResult {
        storage: storage.to_owned(),
        steps: vec![flat],
        allowance_ms: ALLOWANCE_MS,
    };
    for (i, f) in PACED_FRACTIONS.iter().enumerate() {
        if result.best_kept_up().is_some() {
            break;
        }
        result
            .steps
            .push(step(opts, storage, i + 1, Some(flat_rate * f)).await?);
    }
    Ok(result)
}
