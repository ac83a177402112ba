//! `meridian ctl`: talk to one region's node — or, for the Aurora Global role changes
//! (`switchover`, `failover`, `rejoin`), to every node of the cluster. Every command takes
//! `--json` and then prints one JSON object (on error too: `{"error": {"code", "message"}}`,
//! with a non-zero exit status).

//!
//! Each command is parse → call → print: [`execute`] turns the arguments into one call of the
//! typed client (or of the control plane, in [`roles`]), and [`show`] renders the reply as
//! text and as JSON.

mod roles;
mod show;

use std::{net::SocketAddr, process::ExitCode};

use anyhow::Context;
use clap::{Args, Subcommand};
use meridian_client::{
    control::{Condition, Consistency, LinkSpec, Reach, RegionClient, Session},
    report::replies as json,
};
use meridian_core::config::ClusterConfig;
use meridian_proto::v1 as pb;
use serde_json::{Value, json};

use super::ClusterArgs;

/// Options of `meridian ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The region whose node to talk to. Default: the cluster's first region (with --addr: the
    /// region listening there, if the cluster file names one).
    #[arg(long, global = true)]
    region: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Talk to this address instead of the cluster file's address of --region.
    #[arg(long, global = true, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// The region the client sits in (it pays the round trip to --region). Default: --region.
    #[arg(long, global = true, value_name = "REGION")]
    from: Option<String>,
    /// Aurora Global: eventual, session or global.
    #[arg(long, global = true, value_enum)]
    consistency: Option<Consistency>,
    /// Aurora Global: ask a secondary to forward writes to the primary.
    #[arg(long, global = true)]
    forward: bool,
    /// Admin token (when nodes were started with --admin-token).
    #[arg(long, global = true, env = "MERIDIAN_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: CtlCommand,
}

#[derive(Subcommand, Debug)]
enum CtlCommand {
    /// Write a value (last-writer-wins).
    Put {
        key: String,
        /// The value (or use --value-file).
        #[arg(required_unless_present = "value_file")]
        value: Option<String>,
        /// Read the value from this file (for large values).
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        value_file: Option<std::path::PathBuf>,
        /// Only if the key has no value in this region.
        #[arg(long, conflicts_with = "if_version")]
        if_absent: bool,
        /// Only if the current version is exactly this one (TIMESTAMP[.LOGICAL]@REGION, as
        /// printed by get).
        #[arg(long, value_name = "VERSION")]
        if_version: Option<String>,
    },
    /// Read a key in this region.
    Get {
        key: String,
        /// A strongly consistent read (multi-Region strong consistency): the latest
        /// acknowledged write, asked of another region.
        #[arg(long)]
        consistent: bool,
    },
    /// Delete a key (writes a tombstone).
    Delete {
        key: String,
        /// Only if the current version is exactly this one.
        #[arg(long, value_name = "VERSION")]
        if_version: Option<String>,
    },
    /// Add to a decimal integer value (read-modify-write in this region).
    Incr {
        key: String,
        #[arg(long, default_value_t = 1, allow_negative_numbers = true)]
        by: i64,
    },
    /// Node status and statistics: mode, conflicts, per-link lag and pending writes.
    Stats,
    /// The conflict and lost-write events this node detected.
    Conflicts {
        /// Only events after this feed position.
        #[arg(long, default_value_t = 0)]
        after: u64,
        /// At most this many events.
        #[arg(long, default_value_t = 1000)]
        limit: u32,
    },
    /// The link table.
    Links,
    /// Set a link's latency, jitter and loss (both directions unless --one-way).
    Link {
        from: String,
        to: String,
        #[arg(long)]
        latency_ms: f64,
        #[arg(long, default_value_t = 0.0)]
        jitter_ms: f64,
        #[arg(long, default_value_t = 0.0)]
        loss: f64,
        /// Only the from -> to direction.
        #[arg(long)]
        one_way: bool,
    },
    /// Cut a region off from all others (or from one PEER).
    Partition {
        #[arg(value_name = "REGION")]
        target: String,
        peer: Option<String>,
    },
    /// Heal partitions: all, one region's, or one pair's.
    Heal {
        #[arg(value_name = "REGION")]
        target: Option<String>,
        peer: Option<String>,
    },
    /// The node's whole state (every key's current write).
    Dump,
    /// Aurora Global: planned switchover of the primary to REGION. Writes pause at the primary
    /// until REGION has caught up, then REGION is the primary. Prints RPO (0) and RTO.
    Switchover {
        #[arg(long, value_name = "REGION")]
        to: String,
        /// Give up (and resume the old primary) if REGION has not caught up by then.
        #[arg(long, default_value_t = 30_000, value_name = "MS")]
        timeout_ms: u64,
    },
    /// Aurora Global: unplanned failover to REGION. The primary is cut off and treated as lost;
    /// REGION is promoted with what it has. Prints the acknowledged writes lost (RPO) and RTO.
    Failover {
        #[arg(long, value_name = "REGION")]
        to: String,
        /// Give up if REGION's stream from the lost primary has not stopped by then.
        #[arg(long, default_value_t = 30_000, value_name = "MS")]
        timeout_ms: u64,
    },
    /// Aurora Global: REGION (a primary lost to a failover) comes back as a secondary: its
    /// links heal, its state becomes the primary's, its divergent writes are set aside.
    Rejoin {
        #[arg(value_name = "REGION")]
        target: String,
    },
    /// Aurora Global: this node's writes set aside after a failover (never merged).
    Divergent,
}

pub fn run(args: CtlArgs) -> anyhow::Result<ExitCode> {
    let json_out = args.json;
    let rt = super::runtime(1)?;
    match rt.block_on(execute(args)) {
        Ok((value, text)) => {
            if json_out {
                println!("{value}");
            } else {
                println!("{text}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            let status = e
                .downcast_ref::<meridian_client::Error>()
                .and_then(meridian_client::Error::status);
            let (code, message) = match status {
                Some(s) => (format!("{:?}", s.code()), s.message().to_owned()),
                None => ("Error".to_owned(), format!("{e:#}")),
            };
            if json_out {
                println!("{}", json!({"error": {"code": code, "message": message}}));
            }
            eprintln!("error: {code}: {message}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// Parse `TIMESTAMP[.LOGICAL]@REGION`.
fn parse_version(s: &str) -> anyhow::Result<pb::Version> {
    let (ts, region) = s
        .split_once('@')
        .context("a version looks like 1732460000123456.0@us-east-1")?;
    let (physical, logical) = ts.split_once('.').unwrap_or((ts, "0"));
    Ok(pb::Version {
        timestamp: physical
            .parse()
            .with_context(|| format!("bad timestamp in version {s:?}"))?,
        logical: logical
            .parse()
            .with_context(|| format!("bad logical counter in version {s:?}"))?,
        region: region.to_owned(),
        region_index: None,
    })
}

/// One command: parse its arguments, make the call, render the reply (JSON, text).
async fn execute(args: CtlArgs) -> anyhow::Result<(Value, String)> {
    let cluster = args.cluster.load()?;
    if let Some(done) = roles::role_change(&args, &cluster).await {
        return done;
    }
    let target = Target::resolve(&args, &cluster)?;
    let addr = target.addr;
    let session = Session {
        client_region: args.from.clone(),
        consistency: args.consistency,
        forward: args.forward,
        admin_token: args.admin_token.clone(),
    };
    let c = RegionClient::new(addr, &session)?;
    let region = target.label();
    let (value, text) = match args.command {
        CtlCommand::Put {
            key,
            value,
            value_file,
            if_absent,
            if_version,
        } => {
            let value = match (value, value_file) {
                (Some(v), _) => v.into_bytes(),
                (None, Some(f)) => {
                    std::fs::read(&f).with_context(|| format!("cannot read {}", f.display()))?
                }
                (None, None) => unreachable!("clap requires one"),
            };
            let condition = if if_absent {
                Some(Condition::IfAbsent)
            } else {
                if_version_condition(if_version)?
            };
            let r = c.put(&key, value, condition, "").await?;
            (json::write_reply(&key, &r), show::write_text(&key, &r))
        }
        CtlCommand::Get { key, consistent } => {
            let r = c.get_with(&key, consistent).await?;
            (json::get_reply(&key, &r), show::get_text(&key, &r))
        }
        CtlCommand::Delete { key, if_version } => {
            let r = c
                .delete(&key, if_version_condition(if_version)?, "")
                .await?;
            (json::write_reply(&key, &r), show::write_text(&key, &r))
        }
        CtlCommand::Incr { key, by } => {
            let r = c.increment(&key, by, "").await?;
            show::increment(&key, &r)
        }
        CtlCommand::Stats => {
            let s = c.status().await?;
            (json::status(&s), show::stats_text(&s))
        }
        CtlCommand::Conflicts { after, limit } => {
            show::conflicts(&region, &c.conflicts(after, limit, "").await?)
        }
        CtlCommand::Links => show::links(&c.links().await?),
        CtlCommand::Link {
            from,
            to,
            latency_ms,
            jitter_ms,
            loss,
            one_way,
        } => {
            let spec = LinkSpec {
                latency_ms,
                jitter_ms,
                loss,
            };
            show::links(
                &c.set_link(&from, &to, spec, !one_way, Reach::Cluster)
                    .await?,
            )
        }
        CtlCommand::Partition { target, peer } => show::links(
            &c.partition(&target, peer.as_deref(), Reach::Cluster)
                .await?,
        ),
        CtlCommand::Heal { target, peer } => {
            let t = c
                .heal(target.as_deref(), peer.as_deref(), Reach::Cluster)
                .await?;
            show::links(&t)
        }
        CtlCommand::Dump => show::dump(&region, c.dump().await?),
        CtlCommand::Divergent => show::divergent(&region, &c.divergent().await?),
        CtlCommand::Switchover { .. } | CtlCommand::Failover { .. } | CtlCommand::Rejoin { .. } => {
            unreachable!("handled by role_change")
        }
    };
    Ok((
        value,
        format!("{}\n{}", text.trim_end(), target.answered_by()),
    ))
}

/// The node one command talks to.
#[derive(Debug)]
struct Target {
    /// Its region, when known (`--region`, else the cluster's region at `--addr`, else the
    /// cluster's first region when there is no `--addr`).
    region: Option<String>,
    addr: SocketAddr,
}

impl Target {
    fn resolve(args: &CtlArgs, cluster: &ClusterConfig) -> anyhow::Result<Self> {
        let named = |name: &str| {
            cluster.region(name).with_context(|| {
                format!(
                    "unknown region {name:?}; the cluster's regions are {}",
                    cluster.names()
                )
            })
        };
        Ok(match (&args.region, args.addr) {
            (Some(r), Some(addr)) => Target {
                region: Some(r.clone()),
                addr,
            },
            (Some(r), None) => Target {
                region: Some(r.clone()),
                addr: named(r)?.listen,
            },
            (None, Some(addr)) => Target {
                region: cluster
                    .regions
                    .iter()
                    .find(|r| r.listen == addr)
                    .map(|r| r.name.clone()),
                addr,
            },
            (None, None) => {
                let first = cluster
                    .regions
                    .first()
                    .context("the cluster has no regions")?;
                Target {
                    region: Some(first.name.clone()),
                    addr: first.listen,
                }
            }
        })
    }

    /// How replies name the node's region (its address when the region is unknown).
    fn label(&self) -> String {
        self.region.clone().unwrap_or_else(|| self.addr.to_string())
    }

    /// The last line of text output.
    fn answered_by(&self) -> String {
        match &self.region {
            Some(r) => format!("(answered by {r} at {})", self.addr),
            None => format!("(answered by the node at {})", self.addr),
        }
    }
}

/// `--if-version` as a condition.
fn if_version_condition(v: Option<String>) -> anyhow::Result<Option<Condition>> {
    Ok(v.map(|v| parse_version(&v))
        .transpose()?
        .map(Condition::IfVersion))
}
