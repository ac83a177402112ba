//! Wiring of a node: state, services, replication tasks, listener and structured shutdown.
//!
//! [`run`] takes the listener and the shutdown signal from its caller (so tests bind port 0
//! and stop the node when they like). On shutdown the token is cancelled, the server stops
//! accepting and drains, and every replication task is awaited.

use std::{sync::Arc, time::Duration};

use meridian_proto::{
    FILE_DESCRIPTOR_SET,
    v1::{admin_server::AdminServer, kv_server::KvServer, replication_server::ReplicationServer},
};
use tokio::{net::TcpListener, task::JoinSet};
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tokio_util::sync::CancellationToken;
use tonic::transport::{Channel, Server};
use tracing::info;

use meridian_core::{clock::ClockMode, region::RegionId, replica::Mode};

use crate::{
    error::{Error, Result},
    options::{NodeOptions, StorageMode},
    peer::{MAX_REPLICATION_MESSAGE, channel_to},
    replication::pull_loop,
    service::{Node, admin::AdminService, kv::KvService, replication::ReplicationService},
    state::NodeState,
    storage::{Persister, RecoveredRole, Storage},
};

/// How often anti-entropy compares digests with every peer.
const ANTI_ENTROPY_EVERY: Duration = Duration::from_secs(30);

/// Largest client message accepted (a 400 KiB value plus headroom).
const MAX_CLIENT_MESSAGE: usize = 1024 * 1024;
/// How often the RPO lag histograms are sampled (Aurora publishes its RPO lag as a time series;
/// sampling at a fixed rate weighs the histogram by time, not by write rate).
const RPO_SAMPLE_INTERVAL: Duration = Duration::from_millis(100);

/// A node's state, opened from its storage (or fresh in memory), before it serves.
pub struct Opened {
    state: Arc<NodeState>,
    fresh: bool,
    recovered_role: Option<RecoveredRole>,
}

/// What a node is about to serve as, for its start-up line and for checks of its flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Startup {
    /// The region.
    pub region: String,
    /// The replication mode.
    pub mode: Mode,
    /// Aurora Global: the primary.
    pub primary: Option<String>,
    /// Aurora Global: the role's epoch.
    pub epoch: u64,
    /// Writes paused (a switchover or an admin freeze).
    pub frozen: bool,
    /// How the region stamps its writes.
    pub clock: ClockMode,
    /// Nothing was recovered (a new or wiped data directory, or memory mode).
    pub fresh: bool,
    /// The data directory held an Aurora Global role set by a switchover or failover (epoch > 0):
    /// its primary, if it names one. Such a role wins over the cluster file.
    pub recovered_aurora_role: Option<Option<String>>,
}

impl Opened {
    /// What the node is about to serve as.
    pub fn startup(&self) -> Startup {
        let state = &self.state;
        let role = state.replica().role().clone();
        let name = |r: RegionId| state.regions.name(r).to_owned();
        Startup {
            region: state.region_name().to_owned(),
            mode: role.mode,
            primary: role
                .primary
                .filter(|_| role.mode == Mode::AuroraGlobal)
                .map(name),
            epoch: role.epoch,
            frozen: role.frozen,
            clock: state.opts.cluster.clock,
            fresh: self.fresh,
            recovered_aurora_role: self
                .recovered_role
                .as_ref()
                .filter(|r| r.epoch > 0)
                .map(|r| r.primary.map(name)),
        }
    }
}

/// Open a node's storage and build its state. Errors name the data directory.
pub fn open(opts: NodeOptions) -> Result<Opened> {
    Ok(match &opts.storage {
        StorageMode::Memory => Opened {
            state: Arc::new(NodeState::new(opts)?),
            fresh: true,
            recovered_role: None,
        },
        StorageMode::Durable(dir) => {
            let (storage, recovered) =
                Storage::open(dir, opts.cluster.region_set()).map_err(|e| match e {
                    Error::Internal(m) => Error::FailedPrecondition(format!(
                        "cannot open the data directory {}: {m}",
                        dir.display()
                    )),
                    other => other,
                })?;
            info!(
                dir = %dir.display(),
                fresh = recovered.fresh,
                log = recovered.log.len(),
                keys = recovered.items.len(),
                "storage opened"
            );
            let (fresh, recovered_role) = (recovered.fresh, recovered.role.clone());
            let state =
                NodeState::with_storage(opts.clone(), recovered, Persister::start(storage))?;
            Opened {
                state: Arc::new(state),
                fresh,
                recovered_role,
            }
        }
    })
}

/// Where a node serves.
pub struct Listeners {
    /// The gRPC API (kv, replication, admin, health, reflection).
    pub grpc: TcpListener,
    /// Prometheus metrics, if any.
    pub metrics: Option<TcpListener>,
    /// The DynamoDB endpoint, if any.
    pub dynamodb: Option<TcpListener>,
}

impl Listeners {
    /// gRPC only.
    pub fn grpc(grpc: TcpListener) -> Self {
        Self {
            grpc,
            metrics: None,
            dynamodb: None,
        }
    }
}

/// Run a node on `listeners` until `shutdown` resolves.
pub async fn run(
    opts: NodeOptions,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    serve(open(opts)?, listeners, shutdown).await
}

/// Serve an opened node on `listeners` until `shutdown` resolves.
pub async fn serve(
    opened: Opened,
    listeners: Listeners,
    shutdown: impl Future<Output = ()>,
) -> Result<()> {
    let Listeners {
        grpc: listener,
        metrics,
        dynamodb,
    } = listeners;
    let Opened { state, fresh, .. } = opened;
    let peers: Vec<Channel> = state
        .regions
        .names()
        .iter()
        .map(|name| {
            channel_to(
                state
                    .opts
                    .cluster
                    .region(name)
                    .expect("region of the cluster")
                    .listen,
            )
        })
        .collect();
    let token = CancellationToken::new();
    let node = Node {
        state: state.clone(),
        peers: Arc::new(peers),
        shutdown: token.clone(),
    };

    crate::resync::learn_links(&node).await;
    let mut tasks = JoinSet::new();
    for origin in state.peers().collect::<Vec<_>>() {
        tasks.spawn(pull_loop(
            state.clone(),
            origin,
            node.replication_client(origin),
            token.clone(),
        ));
    }

    tasks.spawn(crate::anti_entropy::run(
        node.clone(),
        fresh,
        ANTI_ENTROPY_EVERY,
    ));

    if let Some(m) = metrics {
        let (state, token) = (state.clone(), token.clone());
        tasks.spawn(async move {
            if let Err(e) = crate::metrics::serve(m, state, token).await {
                tracing::warn!(error = %e, "metrics server failed");
            }
        });
    }
    if let Some(d) = dynamodb {
        let (node, token) = (node.clone(), token.clone());
        tasks.spawn(async move {
            if let Err(e) = crate::dynamodb::http::serve(d, node, token).await {
                tracing::warn!(error = %e, "DynamoDB endpoint failed");
            }
        });
    }
    if state.opts.cluster.collects_tombstones() {
        tasks.spawn(crate::tombstones::run(node.clone()));
    }
    tasks.spawn(sample_rpo_lag(state.clone(), token.clone()));
    crate::strong::spawn_senders(&node, &mut tasks);
    crate::strong::spawn_catch_up(&node, &mut tasks);

    let (health_reporter, health_service) = tonic_health::server::health_reporter();
    health_reporter.set_serving::<KvServer<KvService>>().await;
    health_reporter
        .set_serving::<AdminServer<AdminService>>()
        .await;
    health_reporter
        .set_serving::<ReplicationServer<ReplicationService>>()
        .await;
    // Both reflection versions: grpcurl asks for v1, many other clients still for v1alpha.
    let reflection_builder = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection = reflection_builder()
        .build_v1()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;
    let reflection_alpha = reflection_builder()
        .build_v1alpha()
        .map_err(|e| Error::Internal(format!("reflection: {e}")))?;

    let addr = listener
        .local_addr()
        .map_err(|e| Error::Internal(e.to_string()))?;
    info!(region = state.region_name(), %addr, mode = state.opts.cluster.mode.name(), "node serving");
    // The builder's `tcp_nodelay` only reaches connections it accepts itself; these come from
    // our listener, so set it here. Without it, Nagle's algorithm meets the peer's delayed ACK
    // and a reply written in several pieces (headers, data, trailers) waits ~40 ms.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(stream) = &conn {
            let _ = stream.set_nodelay(true);
        }
        conn
    });
    let stop = token.clone();
    let result = Server::builder()
        .layer(crate::grpc_only::GrpcOnlyLayer)
        .tcp_nodelay(true)
        .add_service(health_service)
        .add_service(reflection)
        .add_service(reflection_alpha)
        .add_service(
            KvServer::new(KvService::new(node.clone()))
                .max_decoding_message_size(MAX_CLIENT_MESSAGE),
        )
        .add_service(
            ReplicationServer::new(ReplicationService::new(node.clone()))
                .max_encoding_message_size(MAX_REPLICATION_MESSAGE),
        )
        .add_service(AdminServer::new(AdminService::new(node.clone())))
        .serve_with_incoming_shutdown(incoming, async move {
            tokio::select! {
                _ = shutdown => {}
                _ = stop.cancelled() => {}
            }
            // End the long-lived pull streams so the server's graceful drain can finish.
            stop.cancel();
        })
        .await;
    token.cancel();
    while tasks.join_next().await.is_some() {}
    info!(region = state.region_name(), "node stopped");
    result.map_err(|e| Error::Internal(format!("server: {e}")))
}

/// Housekeeping every [`RPO_SAMPLE_INTERVAL`] until `shutdown`: Aurora Global RPO lag
/// samples, and truncation of the own log's acknowledged front.
async fn sample_rpo_lag(state: Arc<NodeState>, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(RPO_SAMPLE_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tick.tick() => {
                state.sample_rpo_lag();
                state.truncate_log();
            }
        }
    }
}
