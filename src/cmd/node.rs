//! `meridian node`: run one region's node.

use std::{net::SocketAddr, process::ExitCode};

use anyhow::Context;
use clap::Args;
use meridian_core::Mode;
use meridian_node::{NodeOptions, Startup, StorageMode};

use super::ClusterArgs;

/// Where a node keeps its state (`--storage`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Storage {
    /// fjall in --data-dir, group commit.
    Durable,
    /// In memory: gone when the node stops.
    Memory,
}

/// Options of `meridian node`.
#[derive(Args, Debug)]
pub struct NodeArgs {
    /// The region this node serves (a region of the cluster).
    #[arg(long)]
    region: String,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Listen here instead of the cluster file's address (peers still use the file's).
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Tokio worker threads. On a small machine running several nodes, 1 each avoids
    /// scheduler stalls; raise it for a single-node throughput test.
    #[arg(long, default_value_t = 1, value_parser = super::count(1, 64))]
    workers: usize,
    /// Require this token (metadata `meridian-admin-token`) for admin calls that change links,
    /// partitions or roles.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN", value_parser = super::admin_token)]
    admin_token: Option<String>,
    /// Conflict events kept in the node's feed.
    #[arg(long, default_value_t = meridian_core::events::DEFAULT_FEED_CAPACITY, value_parser = super::count(1, 10_000_000))]
    conflict_feed: usize,
    /// Bytes the conflict feed may use: the oldest events give up their values first, then go.
    #[arg(long, default_value_t = meridian_core::events::DEFAULT_FEED_BYTES, value_parser = super::count(4096, 1 << 40))]
    conflict_feed_bytes: usize,
    /// Serve the DynamoDB endpoint here instead of the cluster file's `dynamodb` address.
    #[arg(long, value_name = "ADDR")]
    dynamodb: Option<SocketAddr>,
    /// Serve Prometheus metrics at http://ADDR/metrics.
    #[arg(long, value_name = "ADDR")]
    metrics_addr: Option<SocketAddr>,
    /// Where state lives: `durable` (fjall in --data-dir, group commit) or `memory`.
    #[arg(long, value_enum, default_value_t = Storage::Durable)]
    storage: Storage,
    /// Data directory of a durable node. Default: meridian-data/REGION.
    #[arg(long, value_name = "DIR")]
    data_dir: Option<std::path::PathBuf>,
    /// Most writes per replication batch.
    #[arg(long, default_value_t = 512, value_parser = super::count(1, 100_000))]
    max_batch: usize,
}

pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    // The storage engine's own INFO lines (journal, compaction) are noise at the default level.
    super::init_logging("info,fjall=warn,lsm_tree=warn");
    let cluster = args.cluster.load()?;
    let region = cluster.region(&args.region).with_context(|| {
        format!(
            "unknown region {:?}; the cluster's regions are {}",
            args.region,
            cluster.names()
        )
    })?;
    let listen = args.listen.unwrap_or(region.listen);
    let dynamodb_addr = region.dynamodb;
    let mut opts = NodeOptions::new(&args.region, cluster);
    opts.admin_token = args.admin_token;
    opts.feed_capacity = args.conflict_feed.max(1);
    opts.feed_bytes = args.conflict_feed_bytes;
    opts.max_batch = args.max_batch;
    opts.storage = match args.storage {
        Storage::Memory => StorageMode::Memory,
        Storage::Durable => StorageMode::Durable(
            args.data_dir
                .clone()
                .unwrap_or_else(|| std::path::PathBuf::from("meridian-data").join(&args.region)),
        ),
    };
    let data_dir = match &opts.storage {
        StorageMode::Durable(d) => Some(d.clone()),
        StorageMode::Memory => None,
    };
    let rt = super::runtime(args.workers)?;
    rt.block_on(async move {
        // Storage first: a node that cannot open its data says so before it claims to serve.
        let opened = meridian_node::open(opts)?;
        let startup = opened.startup();
        if let Some(dir) = &data_dir {
            check_role_flags(&args.cluster, &startup, dir)?;
        }
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        let metrics = match args.metrics_addr {
            Some(m) => Some(
                meridian_node::bind_metrics(m)
                    .await
                    .with_context(|| format!("cannot serve metrics on {m}"))?,
            ),
            None => None,
        };
        let dynamodb = match args.dynamodb.or(dynamodb_addr) {
            Some(d) => Some(
                tokio::net::TcpListener::bind(d)
                    .await
                    .with_context(|| format!("cannot serve DynamoDB on {d}"))?,
            ),
            None => None,
        };
        let dynamodb_note = match &dynamodb {
            Some(d) => format!(", DynamoDB on http://{}", d.local_addr()?),
            None => String::new(),
        };
        let metrics_note = match &metrics {
            Some(m) => format!(", metrics on http://{}/metrics", m.local_addr()?),
            None => String::new(),
        };
        let role_note = match &startup.primary {
            Some(p) if *p == startup.region => format!(", primary (epoch {})", startup.epoch),
            Some(p) => format!(", secondary of {p} (epoch {})", startup.epoch),
            None => String::new(),
        };
        let storage_note = match &data_dir {
            Some(d) => format!("durable in {}", d.display()),
            None => "memory".to_owned(),
        };
        println!(
            "meridian node {} serving on {addr} (mode {}{role_note}{}, clock {}, storage {storage_note}){dynamodb_note}{metrics_note}",
            startup.region,
            startup.mode.name(),
            if startup.frozen { ", writes paused" } else { "" },
            startup.clock.name()
        );
        let listeners = meridian_node::Listeners {
            grpc: listener,
            metrics,
            dynamodb,
        };
        meridian_node::serve(opened, listeners, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
}

/// A role persisted by a switchover or failover wins over the cluster file (the cluster
/// agreed on it). A `--mode` or `--primary` flag that says otherwise is refused, never
/// silently ignored.
fn check_role_flags(
    flags: &ClusterArgs,
    startup: &Startup,
    dir: &std::path::Path,
) -> anyhow::Result<()> {
    let Some(primary) = &startup.recovered_aurora_role else {
        return Ok(());
    };
    let held = match primary {
        Some(p) => format!(
            "the Aurora Global role with primary {p} (epoch {})",
            startup.epoch
        ),
        None => format!("an Aurora Global role (epoch {})", startup.epoch),
    };
    if let Some(m) = flags.mode
        && m != Mode::AuroraGlobal
    {
        anyhow::bail!(
            "--mode {}: the data directory {} holds {held}; start without --mode to keep it, or use a fresh --data-dir",
            m.name(),
            dir.display()
        );
    }
    if let Some(p) = &flags.primary
        && primary.as_deref() != Some(p.as_str())
    {
        anyhow::bail!(
            "--primary {p}: the data directory {} holds {held}, set by a switchover or failover; start without --primary to keep it, or use a fresh --data-dir",
            dir.display()
        );
    }
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("install SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
