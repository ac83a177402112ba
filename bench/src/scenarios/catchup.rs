//! Replication catch-up: how fast a region returning from a partition applies what it missed.
//!
//! Two regions. The second is partitioned away (`Admin/Partition`, passed on to both nodes);
//! N writes are made at the first as fast as the closed-loop driver goes; then the partition
//! is healed and the returning region's `applied_seq` for the first is polled
//! (`Admin/Status`) until it reaches the first's log head. Catch-up speed is N divided by the
//! time from heal to caught up (that time includes re-opening the pull stream).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use meridian_client::control::Reach;
use meridian_core::Mode;
use meridian_proto::v1 as pb;

use super::progress;
use crate::{
    driver::{self},
    nodes::{self, REGIONS},
    options::Options,
    results::CatchupResult,
};

/// Longest wait for the returning region to catch up.
const CATCHUP_TIMEOUT: Duration = Duration::from_secs(300);

/// Run the scenario with nodes keeping their state in `storage`.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<CatchupResult> {
    let lag_ms = opts.lags_ms.first().copied().unwrap_or(20.0);
    let cfg = nodes::uniform_cluster(Mode::GlobalTables, &REGIONS[..2], lag_ms, 0.0)?;
    let cluster = nodes::start_with(opts, &format!("catchup-{storage}"), cfg, storage).await?;
    let (origin, returning) = (REGIONS[0], REGIONS[1]);
    let (origin_addr, _) = nodes::node(&cluster, origin)?;
    let (returning_addr, _) = nodes::node(&cluster, returning)?;
    let origin_admin = nodes::admin(origin_addr)?;
    let returning_admin = nodes::admin(returning_addr)?;

    let table = origin_admin
        .partition(returning, None, Reach::Cluster)
        .await
        .context("partition")?;
    if !table.unreachable.is_empty() {
        bail!("the partition did not reach {:?}", table.unreachable);
    }

    let ch = driver::channel(origin_addr)?;
    let written = driver::write_sequential(
        &ch,
        "catchup/",
        opts.catchup_writes,
        opts.inflight,
        opts.payload,
        opts.seed,
    )
    .await?;
    progress(format!(
        "  wrote {} at {origin} while {returning} was cut off ({:.0} writes/s, {} errors)",
        written.calls - written.errors,
        written.rate(),
        written.errors
    ));
    let head = nodes::status(&origin_admin).await?.log_head;
    let applied = |s: &pb::NodeStatus| {
        s.links
            .iter()
            .find(|l| l.origin == origin)
            .map_or(0, |l| l.applied_seq)
    };
    let before = applied(&nodes::status(&returning_admin).await?);
    if before >= head {
        bail!(
            "{returning} had already applied {before} of {head} writes: the partition did not hold"
        );
    }

    origin_admin
        .heal(Some(returning), None, Reach::Cluster)
        .await
        .context("heal")?;
    let healed = Instant::now();
    loop {
        let s = nodes::status(&returning_admin).await?;
        if applied(&s) >= head {
            break;
        }
        if healed.elapsed() > CATCHUP_TIMEOUT {
            bail!(
                "{returning} applied {} of {head} writes within {CATCHUP_TIMEOUT:?}",
                applied(&s)
            );
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let catchup_ms = healed.elapsed().as_secs_f64() * 1000.0;
    let result = CatchupResult {
        storage: storage.to_owned(),
        writes: head - before,
        write_rate: written.rate(),
        errors: written.errors,
        lag_ms,
        catchup_ms,
    };
    progress(format!(
        "  {returning} applied {} writes in {catchup_ms:.0} ms after heal: {:.0} writes/s",
        result.writes,
        result.rate()
    ));
    drop(cluster);
    Ok(result)
}
