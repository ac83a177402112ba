//! `meridian ctl`: talk to one region's node — or, for the Aurora Global role changes
//! (`switchover`, `failover`, `rejoin`), to every node of the cluster. Every command takes
//! `--json` and then prints one JSON object (on error too: `{"error": {"code", "message"}}`,
//! with a non-zero exit status).

use std::{net::SocketAddr, process::ExitCode};

use anyhow::Context;
use clap::{Args, Subcommand};
use meridian_client::{
    aurora::{self, Fleet, LostWrite},
    client::{RegionClient, Session},
    json,
};
use meridian_proto::v1 as pb;
use serde_json::{Value, json};

use super::ClusterArgs;

/// Options of `meridian ctl`.
#[derive(Args, Debug)]
pub struct CtlArgs {
    /// The region whose node to talk to.
    #[arg(long, global = true, default_value = "us-east-1")]
    region: String,
    #[command(flatten)]
    cluster: ClusterArgs,
    /// Talk to this address instead of the cluster file's address of --region.
    #[arg(long, global = true, value_name = "ADDR")]
    addr: Option<SocketAddr>,
    /// The region the client sits in (it pays the round trip to --region). Default: --region.
    #[arg(long, global = true, value_name = "REGION")]
    from: Option<String>,
    /// Aurora Global: eventual, session or global.
    #[arg(long, global = true)]
    consistency: Option<String>,
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
    Get { key: String },
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
            let (code, message) = match e.downcast_ref::<tonic::Status>() {
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
    })
}

fn show_version(v: Option<&pb::Version>) -> String {
    v.map_or("-".to_owned(), |v| {
        format!("{}.{}@{}", v.timestamp, v.logical, v.region)
    })
}

fn show_context(c: Option<&pb::CausalContext>) -> String {
    json::context(c).to_string()
}

async fn execute(args: CtlArgs) -> anyhow::Result<(Value, String)> {
    let cluster = args.cluster.load()?;
    if let Some(done) = role_change(&args, &cluster).await {
        return done;
    }
    let addr = match args.addr {
        Some(a) => a,
        None => {
            cluster
                .region(&args.region)
                .with_context(|| {
                    format!(
                        "unknown region {:?}; the cluster's regions are {}",
                        args.region,
                        cluster.names()
                    )
                })?
                .listen
        }
    };
    let session = Session {
        client_region: args.from.clone(),
        consistency: args.consistency.clone(),
        forward: args.forward,
        admin_token: args.admin_token.clone(),
    };
    let c = RegionClient::new(addr, &session)?;
    let write_text = |key: &str, r: &pb::WriteReply| {
        let lost = if r.outcome == pb::WriteOutcome::LostOnArrival as i32 {
            " (LOST on arrival: an existing write has a greater version)"
        } else {
            ""
        };
        format!(
            "{key}: written by {} as {}, write {}, context {}{lost}",
            r.committed_by,
            show_version(r.version.as_ref()),
            r.write_id,
            show_context(r.context.as_ref())
        )
    };
    Ok(match args.command {
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
                Some(pb::Condition {
                    kind: Some(pb::condition::Kind::IfAbsent(true)),
                })
            } else {
                if_version
                    .map(|v| parse_version(&v))
                    .transpose()?
                    .map(|v| pb::Condition {
                        kind: Some(pb::condition::Kind::IfVersion(v)),
                    })
            };
            let req = pb::PutRequest {
                key: key.clone(),
                value,
                condition,
                write_id: String::new(),
            };
            let r = c.kv().put(c.request(req)).await?.into_inner();
            (json::write_reply(&key, &r), write_text(&key, &r))
        }
        CtlCommand::Get { key } => {
            let r = c
                .kv()
                .get(c.request(pb::GetRequest { key: key.clone() }))
                .await?
                .into_inner();
            let text = if r.found {
                format!(
                    "{key} = {}\n  version {}, write {}, context {}",
                    String::from_utf8_lossy(&r.value),
                    show_version(r.version.as_ref()),
                    r.write_id,
                    show_context(r.context.as_ref())
                )
            } else if r.tombstone {
                format!(
                    "{key}: deleted (tombstone {} at {})",
                    r.write_id,
                    show_version(r.version.as_ref())
                )
            } else {
                format!("{key}: not found")
            };
            (json::get_reply(&key, &r), text)
        }
        CtlCommand::Delete { key, if_version } => {
            let condition =
                if_version
                    .map(|v| parse_version(&v))
                    .transpose()?
                    .map(|v| pb::Condition {
                        kind: Some(pb::condition::Kind::IfVersion(v)),
                    });
            let r = c
                .kv()
                .delete(c.request(pb::DeleteRequest {
                    key: key.clone(),
                    condition,
                    write_id: String::new(),
                }))
                .await?
                .into_inner();
            (json::write_reply(&key, &r), write_text(&key, &r))
        }
        CtlCommand::Incr { key, by } => {
            let r = c
                .kv()
                .increment(c.request(pb::IncrementRequest {
                    key: key.clone(),
                    delta: by,
                    write_id: String::new(),
                }))
                .await?
                .into_inner();
            let mut v = json::write_reply(&key, &r);
            v["new_value"] = json!(r.new_value);
            let text = format!("{} = {}\n{}", key, r.new_value, write_text(&key, &r));
            (v, text)
        }
        CtlCommand::Stats => {
            let s = c
                .admin()
                .status(c.request(pb::StatusRequest {}))
                .await?
                .into_inner();
            (json::status(&s), stats_text(&s))
        }
        CtlCommand::Conflicts { after, limit } => {
            let r = c
                .admin()
                .conflicts(c.request(pb::ConflictsRequest {
                    after,
                    limit,
                    incarnation: String::new(),
                }))
                .await?
                .into_inner();
            let events: Vec<Value> = r.events.iter().map(json::event).collect();
            let mut text = format!(
                "{} conflicts detected, {} writes lost at this region ({} events shown{})",
                r.total_conflicts,
                r.total_lost,
                r.events.len(),
                if r.dropped > 0 {
                    format!(", {} older events dropped from the bounded feed", r.dropped)
                } else {
                    String::new()
                }
            ) + if r.durable {
                "; the feed is durable"
            } else {
                "; memory mode: the feed starts over when the node restarts"
            };
            for e in &r.events {
                let w = e.winner.as_ref();
                let l = e.loser.as_ref();
                text += &format!(
                    "\n#{} {} key {:?}: winner {} ({}) beat loser {} ({})",
                    e.seq,
                    json::event(e)["kind"].as_str().unwrap_or("conflict"),
                    e.key,
                    show_version(w.and_then(|w| w.version.as_ref())),
                    w.map_or("", |w| w.write_id.as_str()),
                    show_version(l.and_then(|l| l.version.as_ref())),
                    l.map_or("", |l| l.write_id.as_str()),
                );
            }
            let v = json!({
                "region": args.region,
                "events": events,
                "next": r.next,
                "conflicts": r.total_conflicts,
                "lost_writes": r.total_lost,
                "dropped": r.dropped,
                "incarnation": r.incarnation,
                "durable": r.durable,
            });
            (v, text)
        }
        CtlCommand::Links => {
            let t = c
                .admin()
                .links(c.request(pb::LinksRequest {}))
                .await?
                .into_inner();
            (links_json(&t), links_text(&t))
        }
        CtlCommand::Link {
            from,
            to,
            latency_ms,
            jitter_ms,
            loss,
            one_way,
        } => {
            let req = pb::SetLinkRequest {
                from,
                to,
                latency_ms,
                jitter_ms,
                loss,
                both_ways: !one_way,
                local_only: false,
            };
            let t = c.admin().set_link(c.request(req)).await?.into_inner();
            (links_json(&t), links_text(&t))
        }
        CtlCommand::Partition { target, peer } => {
            let req = pb::PartitionRequest {
                region: target,
                peer: peer.unwrap_or_default(),
                local_only: false,
            };
            let t = c.admin().partition(c.request(req)).await?.into_inner();
            (links_json(&t), links_text(&t))
        }
        CtlCommand::Heal { target, peer } => {
            let req = pb::HealRequest {
                region: target.unwrap_or_default(),
                peer: peer.unwrap_or_default(),
                local_only: false,
            };
            let t = c.admin().heal(c.request(req)).await?.into_inner();
            (links_json(&t), links_text(&t))
        }
        CtlCommand::Dump => {
            let mut stream = c
                .admin()
                .dump(c.request(pb::DumpRequest {}))
                .await?
                .into_inner();
            let mut items = Vec::new();
            while let Some(chunk) = stream.message().await? {
                items.extend(chunk.items);
            }
            items.sort_by(|a, b| a.key.cmp(&b.key));
            let text = items
                .iter()
                .map(|w| {
                    let v = if w.tombstone {
                        "<deleted>".to_owned()
                    } else {
                        String::from_utf8_lossy(&w.value).into_owned()
                    };
                    format!(
                        "{} = {}  ({}, {})",
                        w.key,
                        v,
                        show_version(w.version.as_ref()),
                        w.write_id
                    )
                })
                .collect::<Vec<_>>()
                .join("\n");
            let v = json!({"region": args.region, "items": items.iter().map(json::record).collect::<Vec<_>>()});
            (
                v,
                if text.is_empty() {
                    "(no keys)".to_owned()
                } else {
                    text
                },
            )
        }
        CtlCommand::Divergent => {
            let r = c
                .admin()
                .divergent(c.request(pb::DivergentRequest {}))
                .await?
                .into_inner();
            let mut text = format!(
                "{} divergent writes at {} (made after a failover fenced them off; set aside, never merged)",
                r.writes.len(),
                args.region
            );
            for w in &r.writes {
                text += &format!(
                    "\n  seq {:<6} key {:<16} write {}  epoch {}",
                    w.seq, w.key, w.write_id, w.epoch
                );
            }
            let v = json!({
                "region": args.region,
                "count": r.writes.len(),
                "writes": r.writes.iter().map(json::record).collect::<Vec<_>>(),
            });
            (v, text)
        }
        CtlCommand::Switchover { .. } | CtlCommand::Failover { .. } | CtlCommand::Rejoin { .. } => {
            unreachable!("handled by role_change")
        }
    })
}

/// The Aurora Global role changes, which talk to every node of the cluster; `None` for the
/// other commands.
async fn role_change(
    args: &CtlArgs,
    cluster: &meridian_core::config::ClusterConfig,
) -> Option<anyhow::Result<(Value, String)>> {
    let timeout_ms = match &args.command {
        CtlCommand::Switchover { timeout_ms, .. } | CtlCommand::Failover { timeout_ms, .. } => {
            *timeout_ms
        }
        CtlCommand::Rejoin { .. } => 30_000,
        _ => return None,
    };
    let session = Session {
        admin_token: args.admin_token.clone(),
        ..Session::default()
    };
    let opts = aurora::Options {
        catch_up_timeout: std::time::Duration::from_millis(timeout_ms),
        ..aurora::Options::default()
    };
    let nodes: anyhow::Result<Vec<_>> = cluster
        .regions
        .iter()
        .map(|r| Ok((r.name.clone(), RegionClient::new(r.listen, &session)?)))
        .collect();
    let fleet = match nodes {
        Ok(nodes) => Fleet::new(nodes, opts),
        Err(e) => return Some(Err(e)),
    };
    Some(match &args.command {
        CtlCommand::Switchover { to, .. } => aurora::switchover(&fleet, to).await.map(|r| {
            let text = format!(
                "switchover {} -> {} done (epoch {})\n  RPO: {} writes lost ({:.1} ms)\n  RTO: {:.1} ms without a writer ({} frozen at log seq {}; {} caught up after {:.1} ms)",
                r.from, r.to, r.epoch, r.rpo_writes, r.rpo_ms, r.rto_ms, r.from, r.frozen_head_seq, r.to, r.catch_up_ms
            ) + &not_updated_text(&r.not_updated);
            (aurora::to_json(&r), text)
        }),
        CtlCommand::Failover { to, .. } => aurora::failover(&fleet, to).await.map(|r| {
            let mut text = format!(
                "failover {} -> {} done (epoch {}); {} is cut off and still believes it is the primary\n  RTO: {:.1} ms without a writer (from the cut until {} accepted writes)\n  RPO: {} acknowledged writes lost, the oldest {:.1} ms old at the cut ({} had {}'s log up to seq {}; its head was {})",
                r.from, r.to, r.epoch, r.from, r.rto_ms, r.to, r.rpo_writes, r.rpo_ms, r.to, r.from, r.fenced_after_seq, r.old_primary_head_seq
            );
            if !r.lost_writes_complete {
                text += &format!("\n  ({} did not answer: the lost writes cannot be listed; the count is what {} had heard of)", r.from, r.to);
            }
            text += &lost_text(&r.lost_writes);
            if !r.resynced.is_empty() {
                text += &format!("\n  resynced from {}: {}", r.to, r.resynced.join(", "));
            }
            text += &not_updated_text(&r.not_updated);
            if r.split_brain_writes > 0 {
                text += &format!("\n  split brain: {} more writes acknowledged by {} after the cut so far", r.split_brain_writes, r.from);
            }
            text += &format!("\n  writes taken by {0} from now on are divergent too; bring it back with `meridian ctl rejoin {0}`", r.from);
            (aurora::to_json(&r), text)
        }),
        CtlCommand::Rejoin { target } => aurora::rejoin(&fleet, target).await.map(|r| {
            let text = format!(
                "{} rejoined as a secondary of {} (epoch {}), its state copied from {}; {} divergent writes set aside (`meridian ctl --region {} divergent`)\n  acknowledged writes lost: {} at the cut + {} acknowledged in split brain (for {:.1} ms after the cut) = {}",
                r.region, r.primary, r.epoch, r.primary, r.divergent_writes.len(), r.region,
                r.lost_at_cut, r.split_brain_writes, r.split_brain_ms, r.total_lost
            ) + &lost_text(&r.divergent_writes);
            (aurora::to_json(&r), text)
        }),
        _ => unreachable!("filtered above"),
    })
}

fn lost_text(writes: &[LostWrite]) -> String {
    writes
        .iter()
        .map(|w| {
            format!(
                "\n    seq {:<6} key {:<16} write {}  committed at {} µs",
                w.seq, w.key, w.write_id, w.commit_time_us
            )
        })
        .collect()
}

fn not_updated_text(regions: &[String]) -> String {
    if regions.is_empty() {
        String::new()
    } else {
        format!(
            "\n  warning: could not tell {} the new role (they keep the old one until told)",
            regions.join(", ")
        )
    }
}

fn links_json(t: &pb::LinkTable) -> Value {
    json!({"links": t.links.iter().map(json::link).collect::<Vec<_>>(), "unreachable": t.unreachable, "source": t.source})
}

fn links_text(t: &pb::LinkTable) -> String {
    let mut s = format!(
        "link settings: {}\nfrom         to           latency_ms  jitter_ms  loss   partitioned",
        if t.source.is_empty() {
            "cluster file"
        } else {
            &t.source
        }
    );
    for l in &t.links {
        s += &format!(
            "\n{:<12} {:<12} {:>10.1} {:>10.1} {:>5.2}  {}",
            l.from,
            l.to,
            l.latency_ms,
            l.jitter_ms,
            l.loss,
            if l.partitioned { "PARTITIONED" } else { "-" }
        );
    }
    if !t.unreachable.is_empty() {
        s += &format!(
            "\nwarning: not passed on to unreachable regions: {}",
            t.unreachable.join(", ")
        );
    }
    s
}

fn stats_text(s: &pb::NodeStatus) -> String {
    let mode = json::mode_name(s.mode);
    let role = if s.primary.is_empty() {
        String::new()
    } else {
        let state = match (s.writable, s.frozen) {
            (true, _) => "writable",
            (false, true) => "FROZEN (switchover)",
            (false, false) => "read-only",
        };
        format!(", primary {} (epoch {}), {state}", s.primary, s.epoch)
    };
    let mut t = format!(
        "region {} — mode {mode}{role}, clock {} (skew {} ms)\nitems {}, local writes {}, log head {}, conflicts {}, lost writes {}, forwarded {}\n",
        s.region,
        s.clock,
        s.clock_skew_ms,
        s.items,
        s.writes_local,
        s.log_head,
        s.conflicts,
        s.lost_writes,
        s.forwarded_writes
    );
    for f in &s.fences {
        t += &format!(
            "fence: writes of {} after seq {} made before epoch {} are divergent (never applied)\n",
            f.region, f.after_seq, f.epoch
        );
    }
    if s.rpo_bound_ms > 0 {
        t += &format!(
            "RPO bound {} ms: {} commits refused\n",
            s.rpo_bound_ms, s.rpo_refusals
        );
    }
    t += "from         link(ms)  applied   pending  lag p50    p99      max     connected  rpo ms  rpo writes";
    for l in &s.links {
        let lag = l.lag.unwrap_or_default();
        let set = l.setting.clone().unwrap_or_default();
        t += &format!(
            "\n{:<12} {:>7.1}{} {:>8} {:>8} {:>8.1} {:>8.1} {:>8.1}  {:<9} {:>7.1} {:>10}",
            l.origin,
            set.latency_ms,
            if set.partitioned { "P" } else { " " },
            l.applied_seq,
            l.pending,
            lag.p50,
            lag.p99,
            lag.max,
            if l.connected { "yes" } else { "no" },
            l.rpo_lag_ms,
            l.rpo_lag_writes
        );
    }
    if !s.secondaries.is_empty() {
        t += "\nsecondaries (RPO lag behind this primary's acknowledged writes, from their acks; sampled every 100 ms):";
        t += "\nsecondary    acked     rpo writes  rpo ms   p50      p99      max      connected";
        for p in &s.secondaries {
            let h = p.rpo_lag.unwrap_or_default();
            t += &format!(
                "\n{:<12} {:>8} {:>11} {:>8.1} {:>8.1} {:>8.1} {:>8.1}  {}",
                p.region,
                p.acked_seq,
                p.rpo_lag_writes,
                p.rpo_lag_ms,
                h.p50,
                h.p99,
                h.max,
                if p.connected { "yes" } else { "no" }
            );
        }
    }
    t
}
