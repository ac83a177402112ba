//! The controls: what the page may ask for (`POST /api/action`, one JSON [`Action`]), and
//! the library calls that do it — the same ones `ctl` makes (link table changes sent to one
//! node, which passes them on; the Aurora Global control plane) and `cluster` makes (kill and
//! restart of a recorded node process). Nothing here re-implements them.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::model::RoleChange;
use crate::{
    control::{
        LinkSpec, Reach, RegionClient, Session,
        aurora::{self, FailoverReport, Fleet, RejoinReport, SwitchoverReport},
        processes::Launcher,
    },
    error::{Error, Result, invalid},
    report::replies,
};

/// What the page may ask for. JSON: `{"action": "partition", "region": "ap-south-1"}`.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(tag = "action", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Action {
    /// Cut `region` off from every other region (or only from `peer`, both directions).
    Partition {
        /// The region.
        region: String,
        /// Only from this one.
        #[serde(default)]
        peer: Option<String>,
    },
    /// Heal partitions: every one (no region), one region's, or one pair's.
    Heal {
        /// The region (None: every partition).
        #[serde(default)]
        region: Option<String>,
        /// Only the pair with this one.
        #[serde(default)]
        peer: Option<String>,
    },
    /// Set a link's latency, jitter and loss (both directions unless `one_way`).
    SetLink {
        /// Origin.
        from: String,
        /// Receiving region.
        to: String,
        /// One-way latency, ms.
        latency_ms: f64,
        /// Jitter, ms.
        #[serde(default)]
        jitter_ms: f64,
        /// Fraction of batches lost.
        #[serde(default)]
        loss: f64,
        /// Only `from` → `to`.
        #[serde(default)]
        one_way: bool,
    },
    /// Aurora Global: planned switchover of the primary to `to`.
    Switchover {
        /// The new primary.
        to: String,
        /// Give up if `to` has not caught up by then, ms (default 30 000).
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Aurora Global: unplanned failover to `to` (the primary is cut off and treated as lost).
    Failover {
        /// The new primary.
        to: String,
        /// Give up if `to`'s stream from the lost primary has not stopped by then, ms.
        #[serde(default)]
        timeout_ms: Option<u64>,
    },
    /// Aurora Global: a primary lost to a failover comes back as a secondary.
    Rejoin {
        /// The region.
        region: String,
    },
    /// SIGKILL a region's node (a cluster started by `cluster up`).
    Kill {
        /// The region.
        region: String,
    },
    /// Restart a region's node on its address (a cluster started by `cluster up`).
    Restart {
        /// The region.
        region: String,
    },
}

/// Longest a switchover or failover may wait by default.
const ROLE_TIMEOUT: Duration = Duration::from_secs(30);

impl Action {
    /// The action in words ("partition ap-south-1", "set link a -> b to 300 ms ±10, loss 0").
    pub fn describe(&self) -> String {
        match self {
            Action::Partition { region, peer: None } => format!("partition {region}"),
            Action::Partition {
                region,
                peer: Some(p),
            } => format!("partition {region} from {p}"),
            Action::Heal { region: None, .. } => "heal every partition".to_owned(),
            Action::Heal {
                region: Some(r),
                peer: None,
            } => format!("heal {r}"),
            Action::Heal {
                region: Some(r),
                peer: Some(p),
            } => format!("heal {r} <-> {p}"),
            Action::SetLink {
                from,
                to,
                latency_ms,
                jitter_ms,
                loss,
                one_way,
            } => format!(
                "set link {from} {} {to} to {latency_ms} ms ±{jitter_ms}, loss {loss}",
                if *one_way { "->" } else { "<->" }
            ),
            Action::Switchover { to, .. } => format!("switchover to {to}"),
            Action::Failover { to, .. } => format!("failover to {to}"),
            Action::Rejoin { region } => format!("rejoin {region}"),
            Action::Kill { region } => format!("kill {region}"),
            Action::Restart { region } => format!("restart {region}"),
        }
    }
}

/// What an action did.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// In words.
    pub message: String,
    /// As JSON (the same shapes `ctl --json` prints).
    pub result: Value,
    /// The role change it made, for the dashboard's list.
    pub role_change: Option<RoleChange>,
}

/// What an action runs against.
pub struct Context<'a> {
    /// Every region's name and address, in the order to try them (the ones that answered
    /// the last update first).
    pub regions: Vec<(String, std::net::SocketAddr)>,
    /// The session (admin token).
    pub session: &'a Session,
    /// How to kill and restart nodes, when the cluster was started by `cluster up`.
    pub processes: Option<&'a Launcher>,
}

impl Context<'_> {
    fn clients(&self) -> Result<Vec<(String, RegionClient)>> {
        self.regions
            .iter()
            .map(|(name, addr)| Ok((name.clone(), RegionClient::new(*addr, self.session)?)))
            .collect()
    }

    fn processes(&self) -> Result<&Launcher> {
        self.processes.ok_or_else(|| {
            Error::Invalid(
                "kill and restart need a cluster started by `meridian cluster up` (the dashboard watches its state directory)"
                    .to_owned(),
            )
        })
    }

    /// A link-table change at the first node that answers: it passes the change on.
    async fn link_change<F, Fut>(&self, call: F) -> Result<Value>
    where
        F: Fn(RegionClient) -> Fut,
        Fut: std::future::Future<Output = Result<meridian_proto::v1::LinkTable>>,
    {
        let mut last = None;
        for (name, client) in self.clients()? {
            let client = client.with_timeout(Duration::from_secs(5));
            match call(client).await {
                Ok(t) => {
                    return Ok(json!({
                        "answered_by": name,
                        "links": t.links.iter().map(replies::link).collect::<Vec<_>>(),
                        "unreachable": t.unreachable,
                        "source": t.source,
                    }));
                }
                // A node that is down: ask the next one.
                Err(e)
                    if e.status().is_some_and(|s| {
                        matches!(
                            s.code(),
                            tonic::Code::Unavailable | tonic::Code::DeadlineExceeded
                        )
                    }) =>
                {
                    last = Some(e)
                }
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| Error::Failed("the cluster has no regions".to_owned())))
    }

    fn fleet(&self, timeout_ms: Option<u64>) -> Result<Fleet> {
        let opts = aurora::Options {
            catch_up_timeout: timeout_ms.map_or(ROLE_TIMEOUT, Duration::from_millis),
            ..aurora::Options::default()
        };
        Ok(Fleet::new(self.clients()?, opts))
    }
}

/// Run `action`.
pub async fn execute(action: &Action, ctx: &Context<'_>) -> Result<Outcome> {
    let known = |r: &str| -> Result<()> {
        if ctx.regions.iter().any(|(n, _)| n == r) {
            Ok(())
        } else {
            let names: Vec<&str> = ctx.regions.iter().map(|(n, _)| n.as_str()).collect();
            invalid!(
                "{r:?} is not a region of the cluster ({})",
                names.join(", ")
            )
        }
    };
    let links = |message: String, result: Value| {
        let unreachable = result["unreachable"].as_array().map_or(0, Vec::len);
        let message = if unreachable > 0 {
            format!(
                "{message} (could not tell {unreachable} region(s): {})",
                result["unreachable"]
            )
        } else {
            message
        };
        Ok(Outcome {
            message,
            result,
            role_change: None,
        })
    };
    match action {
        Action::Partition { region, peer } => {
            known(region)?;
            if let Some(p) = peer {
                known(p)?;
            }
            let result = ctx
                .link_change(|c| {
                    let (region, peer) = (region.clone(), peer.clone());
                    async move { c.partition(&region, peer.as_deref(), Reach::Cluster).await }
                })
                .await?;
            links(format!("{} done", action.describe()), result)
        }
        Action::Heal { region, peer } => {
            if peer.is_some() && region.is_none() {
                invalid!("heal: a peer needs a region");
            }
            for r in region.iter().chain(peer) {
                known(r)?;
            }
            let result = ctx
                .link_change(|c| {
                    let (region, peer) = (region.clone(), peer.clone());
                    async move {
                        c.heal(region.as_deref(), peer.as_deref(), Reach::Cluster)
                            .await
                    }
                })
                .await?;
            links(format!("{} done", action.describe()), result)
        }
        Action::SetLink {
            from,
            to,
            latency_ms,
            jitter_ms,
            loss,
            one_way,
        } => {
            known(from)?;
            known(to)?;
            let spec = LinkSpec {
                latency_ms: *latency_ms,
                jitter_ms: *jitter_ms,
                loss: *loss,
            };
            let result = ctx
                .link_change(|c| {
                    let (from, to) = (from.clone(), to.clone());
                    async move { c.set_link(&from, &to, spec, !one_way, Reach::Cluster).await }
                })
                .await?;
            links(format!("{} done", action.describe()), result)
        }
        Action::Switchover { to, timeout_ms } => {
            known(to)?;
            let r = aurora::switchover(&ctx.fleet(*timeout_ms)?, to).await?;
            Ok(Outcome {
                message: format!(
                    "switchover {} -> {} done (epoch {}): RPO {} writes ({:.1} ms), RTO {:.1} ms",
                    r.from, r.to, r.epoch, r.rpo_writes, r.rpo_ms, r.rto_ms
                ),
                result: aurora::to_json(&r),
                role_change: Some(RoleChange::of_switchover(&r, "dashboard")),
            })
        }
        Action::Failover { to, timeout_ms } => {
            known(to)?;
            let r = aurora::failover(&ctx.fleet(*timeout_ms)?, to).await?;
            Ok(Outcome {
                message: format!(
                    "failover {} -> {} done (epoch {}): RPO {} acknowledged writes lost ({:.1} ms), RTO {:.1} ms; {} is cut off and still believes it is the primary (rejoin it when done)",
                    r.from, r.to, r.epoch, r.rpo_writes, r.rpo_ms, r.rto_ms, r.from
                ),
                result: aurora::to_json(&r),
                role_change: Some(RoleChange::of_failover(&r, "dashboard")),
            })
        }
        Action::Rejoin { region } => {
            known(region)?;
            let r = aurora::rejoin(&ctx.fleet(None)?, region).await?;
            Ok(Outcome {
                message: format!(
                    "{} rejoined as a secondary of {} (epoch {}); {} divergent writes set aside",
                    r.region,
                    r.primary,
                    r.epoch,
                    r.divergent_writes.len()
                ),
                result: aurora::to_json(&r),
                role_change: Some(RoleChange::of_rejoin(&r, "dashboard")),
            })
        }
        Action::Kill { region } => {
            known(region)?;
            let launcher = ctx.processes()?.clone();
            let region = region.clone();
            let n = tokio::task::spawn_blocking(move || launcher.kill(&region)).await??;
            Ok(Outcome {
                message: format!("killed {} (pid {}) with SIGKILL", n.region, n.pid),
                result: json!({"killed": n.region, "pid": n.pid}),
                role_change: None,
            })
        }
        Action::Restart { region } => {
            known(region)?;
            let launcher = ctx.processes()?.clone();
            let region = region.clone();
            // The restart waits for the old process with blocking sleeps: off the runtime's
            // threads, so updates and event streams go on meanwhile.
            let handle = tokio::runtime::Handle::current();
            let rec =
                tokio::task::spawn_blocking(move || handle.block_on(launcher.restart(&region)))
                    .await??;
            Ok(Outcome {
                message: format!("restarted {}: pid {} on {}", rec.region, rec.pid, rec.addr),
                result: json!({"restarted": rec.region, "pid": rec.pid, "addr": rec.addr}),
                role_change: None,
            })
        }
    }
}

impl RoleChange {
    /// A switchover's report as a role change made by `by`.
    pub fn of_switchover(r: &SwitchoverReport, by: &str) -> Self {
        Self {
            kind: "switchover".to_owned(),
            from: r.from.clone(),
            to: r.to.clone(),
            epoch: r.epoch,
            rpo_writes: Some(r.rpo_writes),
            rpo_ms: Some(r.rpo_ms),
            rto_ms: Some(r.rto_ms),
            split_brain_writes: None,
            at_ms: super::hub::now_ms(),
            by: by.to_owned(),
        }
    }

    /// A failover's report as a role change made by `by`.
    pub fn of_failover(r: &FailoverReport, by: &str) -> Self {
        Self {
            kind: "failover".to_owned(),
            from: r.from.clone(),
            to: r.to.clone(),
            epoch: r.epoch,
            rpo_writes: Some(r.rpo_writes),
            rpo_ms: Some(r.rpo_ms),
            rto_ms: Some(r.rto_ms),
            split_brain_writes: Some(r.split_brain_writes),
            at_ms: super::hub::now_ms(),
            by: by.to_owned(),
        }
    }

    /// A rejoin's report as a role change made by `by`: the region comes back under the
    /// current primary; `rpo_writes` counts the writes lost at the cut, `split_brain_writes`
    /// those it acknowledged while cut off.
    pub fn of_rejoin(r: &RejoinReport, by: &str) -> Self {
        Self {
            kind: "rejoin".to_owned(),
            from: r.region.clone(),
            to: r.primary.clone(),
            epoch: r.epoch,
            rpo_writes: Some(r.lost_at_cut),
            rpo_ms: None,
            rto_ms: None,
            split_brain_writes: Some(r.split_brain_writes),
            at_ms: super::hub::now_ms(),
            by: by.to_owned(),
        }
    }
}

/// Why a request is refused before anything runs, as the JSON error's code.
pub fn error_code(e: &Error) -> String {
    match e {
        Error::Invalid(_) => "InvalidArgument".to_owned(),
        e => match e.status() {
            Some(s) => format!("{:?}", s.code()),
            None => match e {
                Error::Call { status, .. } => format!("{:?}", status.code()),
                Error::Timeout { .. } => "DeadlineExceeded".to_owned(),
                _ => "Failed".to_owned(),
            },
        },
    }
}
