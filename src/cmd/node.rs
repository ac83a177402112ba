//! `meridian node`: run one region's node.

use std::{net::SocketAddr, process::ExitCode};

use anyhow::Context;
use clap::Args;
use meridian_node::{server, state::NodeOptions};

use super::ClusterArgs;

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
    #[arg(long, default_value_t = 1)]
    workers: usize,
    /// Require this token (metadata `meridian-admin-token`) for admin calls that change links,
    /// partitions or roles.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Conflict events kept in the node's feed.
    #[arg(long, default_value_t = meridian_node::events::DEFAULT_FEED_CAPACITY)]
    conflict_feed: usize,
    /// Most writes per replication batch.
    #[arg(long, default_value_t = 512)]
    max_batch: usize,
}

pub fn run(args: NodeArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("info");
    let cluster = args.cluster.load()?;
    let region = cluster.region(&args.region).with_context(|| {
        format!(
            "unknown region {:?}; the cluster's regions are {}",
            args.region,
            cluster.names()
        )
    })?;
    let listen = args.listen.unwrap_or(region.listen);
    if !(1..=1_000_000_000).contains(&args.max_batch) {
        anyhow::bail!("--max-batch must be at least 1");
    }
    let mut opts = NodeOptions::new(&args.region, cluster);
    opts.admin_token = args.admin_token.filter(|t| !t.is_empty());
    opts.feed_capacity = args.conflict_feed.max(1);
    opts.max_batch = args.max_batch;
    let rt = super::runtime(args.workers)?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        println!(
            "meridian node {} serving on {addr} (mode {}, clock {})",
            opts.region,
            opts.cluster.mode.name(),
            opts.cluster.clock.name()
        );
        server::run(opts, listener, shutdown_signal()).await?;
        Ok(ExitCode::SUCCESS)
    })
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
