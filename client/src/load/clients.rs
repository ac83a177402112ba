//! The clients of each sending region: one for reads in the region, one for writes (the
//! region's own node, the Aurora Global primary's, or the region's node forwarding), and how
//! a client writing to the primary follows the writer when a role change moves it.

use std::{collections::HashMap, net::SocketAddr, sync::Arc, time::Duration};

use meridian_core::config::ClusterConfig;
use tonic::Code;

use super::config::{AuroraWrites, LoadConfig};
use crate::{
    control::{client::RegionClient, session::Session},
    error::{Result, ResultExt},
};

/// Clients of one sending region, every request with the run's deadline.
#[derive(Clone)]
pub struct RegionClients {
    /// The region the clients sit in.
    pub region: String,
    /// Its own node (reads).
    pub local: RegionClient,
    /// Where its writes go.
    pub writer: RegionClient,
    /// The region `writer` talks to (the primary, when clients write to it).
    pub writer_region: String,
    /// Aurora Global, clients writing to the primary: how to follow the writer when it moves.
    pub follow: Option<Arc<Follow>>,
}

impl RegionClients {
    /// The clients of each region of `cfg.regions`; `primary`: the Aurora Global primary.
    pub fn for_run(cfg: &LoadConfig, primary: Option<&str>) -> Result<Vec<Self>> {
        let cluster = &cfg.cluster;
        cfg.regions
            .iter()
            .map(|region| Self::new(cfg, cluster, region, primary))
            .collect()
    }

    fn new(
        cfg: &LoadConfig,
        cluster: &ClusterConfig,
        region: &str,
        primary: Option<&str>,
    ) -> Result<Self> {
        let listen = cluster
            .region(region)
            .with_context(|| format!("{region:?} is not a region of the cluster"))?
            .listen;
        let base = Session {
            client_region: Some(region.to_owned()),
            consistency: cfg.consistency,
            forward: false,
            admin_token: None,
        };
        let client = |addr, session: &Session| -> Result<RegionClient> {
            Ok(RegionClient::new(addr, session)?.with_timeout(cfg.timeout))
        };
        let local = client(listen, &base)?;
        let writer = match (primary, cfg.aurora_writes) {
            (Some(p), AuroraWrites::Primary) if p != region => client(
                cluster.region(p).context("primary is a region")?.listen,
                &base,
            )?,
            (Some(p), AuroraWrites::Forward) if p != region => client(
                listen,
                &Session {
                    forward: true,
                    ..base.clone()
                },
            )?,
            _ => local.clone(),
        };
        let follow = (primary.is_some() && cfg.aurora_writes == AuroraWrites::Primary).then(|| {
            Arc::new(Follow {
                addrs: cluster
                    .regions
                    .iter()
                    .map(|r| (r.name.clone(), r.listen))
                    .collect(),
                session: base.clone(),
                timeout: cfg.timeout,
            })
        });
        let writer_region = match (primary, cfg.aurora_writes) {
            (Some(p), AuroraWrites::Primary) => p.to_owned(),
            _ => region.to_owned(),
        };
        Ok(Self {
            region: region.to_owned(),
            local,
            writer,
            writer_region,
            follow,
        })
    }
}

/// Aurora's global writer endpoint keeps its name through switchover and failover; these
/// clients keep writing to the writer the same way: a write refused because the region is no
/// longer the primary goes again to the primary the refusal names, and one refused because a
/// switchover is draining the writer waits and goes again (until the request's timeout). The
/// switchover then shows as a short unavailability (latency), not as a flood of errors.
pub struct Follow {
    /// gRPC address of every region.
    addrs: HashMap<String, SocketAddr>,
    /// The session of the clients.
    session: Session,
    /// The deadline of their requests.
    timeout: Duration,
}

impl Follow {
    /// A client for `region`'s node, with the clients' session.
    pub fn client(&self, region: &str) -> Option<RegionClient> {
        let c = RegionClient::new(*self.addrs.get(region)?, &self.session).ok()?;
        Some(c.with_timeout(self.timeout))
    }

    /// What to do after `status`: `Some(Some(region))` go to that primary, `Some(None)` wait
    /// and retry here, `None` give up.
    pub fn after(&self, status: &tonic::Status, writer_region: &str) -> Option<Option<String>> {
        match status.code() {
            Code::FailedPrecondition => {
                let primary = status
                    .message()
                    .split_once("the primary is ")?
                    .1
                    .split([' ', ')', ';', ','])
                    .next()?;
                (primary != writer_region && self.addrs.contains_key(primary))
                    .then(|| Some(primary.to_owned()))
            }
            Code::Unavailable if status.message().contains("writes are paused") => Some(None),
            _ => None,
        }
    }
}

/// How long a following client waits before it tries a paused writer again.
pub const FOLLOW_RETRY: Duration = Duration::from_millis(2);
