//! Soak: three durable regions at half of their keep-up rate for a long while (10 minutes by
//! default, `--soak-secs`), over a fixed key space, sampling every node's RSS and data-dir size
//! every few seconds. A node whose memory and disk stay flat while the key space is fixed is
//! bounded; a slope is growth that would eventually exhaust the machine. The figure is the
//! change after warm-up (the first fifth of the run, and at least the log retention window
//! plus 10 s), per node, and its slope per minute. The nodes keep a smaller conflict feed than
//! the default (see [`SOAK_FEED_EVENTS`]).

use std::{
    path::Path,
    time::{Duration, Instant},
};

use meridian_core::Mode;

use super::{global, progress};
use crate::{
    driver::{self, Outcome, Until},
    nodes,
    options::Options,
    results::{SoakNode, SoakResult},
};

/// Conflict events each soak node keeps. The feed is bounded (100,000 events by default),
/// but at the soak's conflict rate (about 150 events/s) it takes ten minutes to fill, and
/// until it is full it grows like a leak would; with this bound it is full within warm-up, so
/// what the figures show is the rest of the node.
const SOAK_FEED_EVENTS: usize = 10_000;

/// Time between samples.
const SAMPLE_EVERY: Duration = Duration::from_secs(5);

/// Bytes of every file under `dir`.
fn dir_bytes(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_bytes(&e.path()),
            Ok(m) => m.len(),
            Err(_) => 0,
        })
        .sum()
}

/// The scenario; `keep_up` is the aggregate rate at which three regions kept up in this run
/// (the global scenario), if it ran.
pub async fn run(
    opts: &Options,
    storage: &str,
    keep_up: Option<f64>,
) -> anyhow::Result<SoakResult> {
    let name = format!("soak-{storage}");
    let config = nodes::builtin_cluster(Mode::GlobalTables);
    // The own log grows until its entries age out of the retention window: warm-up lasts
    // at least that long, and a little more.
    let min_warmup_s = config.log_retention_ms as f64 / 1000.0 + 10.0;
    let mut args = opts.node_args(storage);
    args.extend(["--conflict-feed".to_owned(), SOAK_FEED_EVENTS.to_string()]);
    let cluster = nodes::start_with_args(opts, &name, config, args).await?;
    let data_root = opts.out.join("clusters").join(&name).join("data");
    let mut channels = Vec::new();
    let mut pids = Vec::new();
    for n in &cluster.state.nodes {
        channels.push((n.region.clone(), driver::channel(n.addr)?));
        pids.push((n.region.clone(), n.pid));
    }
    let rate = match (opts.soak_rate, keep_up) {
        (Some(r), _) => r,
        (None, Some(k)) => k / 2.0,
        (None, None) => {
            // No keep-up figure this run: a quarter of a short flat-out run of every region
            // (keep-up is about half of flat out for three durable regions on this machine).
            let flat = global::drive(
                opts,
                &channels,
                Until::Elapsed(Duration::from_secs(3)),
                None,
            )
            .await?;
            flat.iter().map(Outcome::rate).sum::<f64>() / 4.0
        }
    };
    progress(format!(
        "  {:.0} ops/s over {} regions for {:.0} s, {} keys",
        rate,
        channels.len(),
        opts.soak.as_secs_f64(),
        opts.keys
    ));
    let load = global::drive(opts, &channels, Until::Elapsed(opts.soak), Some(rate));
    let start = Instant::now();
    let sampler = async {
        let mut samples: Vec<Vec<(f64, u64, u64)>> = vec![Vec::new(); pids.len()];
        loop {
            let t = start.elapsed().as_secs_f64();
            for (i, (region, pid)) in pids.iter().enumerate() {
                let rss = nodes::rss_bytes(*pid).unwrap_or(0);
                samples[i].push((t, rss, dir_bytes(&data_root.join(region))));
            }
            if start.elapsed() >= opts.soak {
                return samples;
            }
            tokio::time::sleep(SAMPLE_EVERY.min(opts.soak / 10)).await;
        }
    };
    let (outcomes, samples) = tokio::join!(load, sampler);
    let outcomes = outcomes?;
    let completed = outcomes.iter().map(Outcome::rate).sum();
    let errors = outcomes.iter().map(|o| o.errors).sum();
    let nodes = pids
        .iter()
        .zip(samples)
        .map(|((region, _), s)| SoakNode::from_samples(region, s, min_warmup_s))
        .collect();
    drop(cluster);
    Ok(SoakResult {
        storage: storage.to_owned(),
        offered: rate,
        completed,
        errors,
        seconds: opts.soak.as_secs_f64(),
        nodes,
    })
}
