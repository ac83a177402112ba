//! Node memory per key: the resident memory (`VmRSS`) a one-region node gains while K distinct
//! keys with fixed-size values are written into it, per key and per million keys, and as a
//! ratio to the raw key + value bytes. What the node keeps per write (its log for replication,
//! version, causal context, write id; with durable storage also the engine's memtables and
//! caches) is all in the figure: that is what a key costs.

use std::time::Duration;

use meridian_core::Mode;

use super::progress;
use crate::{
    driver::{self, key_name},
    nodes::{self, REGIONS},
    options::Options,
    results::MemoryResult,
};

/// Key prefix.
const PREFIX: &str = "mem/";
/// Pause before reading memory, so the allocator and the node settle.
const SETTLE: Duration = Duration::from_millis(300);

/// Run the scenario.
pub async fn run(opts: &Options, storage: &str) -> anyhow::Result<MemoryResult> {
    let cfg = nodes::uniform_cluster(Mode::GlobalTables, &REGIONS[..1], 0.0, 0.0)?;
    let cluster = nodes::start_with(opts, &format!("memory-{storage}"), cfg, storage).await?;
    let (addr, pid) = nodes::node(&cluster, REGIONS[0])?;
    let admin = nodes::admin(addr)?;
    nodes::status(&admin).await?;
    tokio::time::sleep(SETTLE).await;
    let rss_before = nodes::rss_bytes(pid)?;
    let ch = driver::channel(addr)?;
    let written = driver::write_sequential(
        &ch,
        PREFIX,
        opts.memory_keys,
        opts.inflight,
        opts.payload,
        opts.seed,
    )
    .await?;
    written.ensure_no_errors("memory fill")?;
    tokio::time::sleep(SETTLE).await;
    let rss_after = nodes::rss_bytes(pid)?;
    let items = nodes::status(&admin).await?.items;
    let result = MemoryResult {
        storage: storage.to_owned(),
        keys: opts.memory_keys,
        items,
        key_bytes: key_name(PREFIX, 0).len() as u64,
        value_bytes: opts.payload as u64,
        rss_before,
        rss_after,
        write_rate: written.rate(),
    };
    progress(format!(
        "  {} keys: RSS {:.1} → {:.1} MiB, {:.0} B/key ({:.2}× the raw {} B)",
        result.keys,
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        result.bytes_per_key(),
        result.ratio_to_raw(),
        result.key_bytes + result.value_bytes
    ));
    drop(cluster);
    Ok(result)
}
