//! `meridian cluster`: a multi-process local cluster — up, status, down, and kill / restart of
//! one region for fault injection.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Args, Subcommand};
use meridian_client::{
    control::{
        RegionClient, Session,
        processes::{
            ClusterState, Launcher, NotOurs, alive, free_port, start_dashboard, stop_dashboard,
            stop_nodes, verify, verify_dashboard,
        },
    },
    dashboard::{Dashboard, Options, Target},
    report::replies as json,
};
use serde_json::{Value, json};

use super::ClusterArgs;

/// Options of `meridian cluster`.
#[derive(Args, Debug)]
pub struct ClusterCmdArgs {
    /// State directory: effective cluster file, pids, logs.
    #[arg(long, global = true, default_value = "meridian-cluster")]
    dir: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Admin token the nodes are started with / expect.
    #[arg(long, global = true, env = "MERIDIAN_ADMIN_TOKEN", value_parser = super::admin_token)]
    admin_token: Option<String>,
    #[command(subcommand)]
    command: ClusterCommand,
}

#[derive(Subcommand, Debug)]
enum ClusterCommand {
    /// Start one node process per region and wait until all are healthy.
    Up {
        #[command(flatten)]
        cluster: ClusterArgs,
        /// Stay in the foreground; Ctrl-C stops every node.
        #[arg(long)]
        foreground: bool,
        /// Tokio worker threads per node (1-64).
        #[arg(long, default_value_t = 1, value_parser = super::count(1, 64))]
        workers: usize,
        /// Do not serve Prometheus metrics.
        #[arg(long)]
        no_metrics: bool,
        /// Also serve the live dashboard (its address is printed; `cluster down` stops it).
        #[arg(long)]
        dashboard: bool,
        /// The dashboard's address (loopback; port 0: any free one). Default 127.0.0.1:7190,
        /// or any free loopback port when that one is taken.
        #[arg(long, value_name = "ADDR", requires = "dashboard")]
        dashboard_listen: Option<SocketAddr>,
    },
    /// Per region: up or down, mode, primary, lag, pending writes, conflicts.
    Status,
    /// Stop every node (SIGTERM, then SIGKILL after the grace period).
    Down {
        /// Seconds to wait for a graceful stop.
        #[arg(long, default_value_t = 5)]
        grace: u64,
    },
    /// SIGKILL one region's node (fault injection).
    Kill { region: String },
    /// Restart one region's node on its address.
    Restart { region: String },
}

pub fn run(args: ClusterCmdArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let launcher = Launcher {
        binary: std::env::current_exe().context("cannot find the meridian binary")?,
        dir: args.dir.clone(),
        node_args: vec![],
        metrics: true,
        admin_token: args.admin_token.clone(),
        detach: true,
    };
    let rt = super::runtime(1)?;
    let (value, text) = match args.command {
        ClusterCommand::Up {
            cluster,
            foreground,
            workers,
            no_metrics,
            dashboard,
            dashboard_listen,
        } => {
            let cfg = cluster.load()?;
            if let Some(addr) = dashboard_listen {
                super::dashboard::check_listen(addr, false)?;
            }
            let mut node_args = vec!["--workers".to_owned(), workers.max(1).to_string()];
            if let Some(t) = &args.admin_token {
                node_args.extend(["--admin-token".to_owned(), t.clone()]);
            }
            let launcher = Launcher {
                node_args,
                metrics: !no_metrics,
                ..launcher
            };
            let before = Launcher::read_state(&launcher.dir).ok().flatten();
            let mut state = rt.block_on(launcher.up(cfg))?;
            let dir = std::fs::canonicalize(&launcher.dir)?;
            // A dashboard left from an earlier cluster in this directory watches nothing now.
            if let Some(old) = before.and_then(|b| b.dashboard) {
                stop_dashboard(&old, &dir, Duration::from_secs(2));
            }
            if dashboard && foreground {
                let listener = rt.block_on(super::dashboard::bind(dashboard_listen, false))?;
                let url = super::dashboard::url(listener.local_addr()?);
                let (v, t) = describe_up(&launcher, &state);
                println!(
                    "{}",
                    if args.json {
                        v.to_string()
                    } else {
                        format!(
                            "{t}\ndashboard on {url}\nforeground: Ctrl-C stops the dashboard and every node"
                        )
                    }
                );
                let opts = Options {
                    admin_token: args.admin_token.clone(),
                    processes: Some(super::dashboard::process_control(
                        &launcher.dir,
                        args.admin_token.as_deref(),
                    )?),
                    ..Options::default()
                };
                let target = Target::from_state_dir(&launcher.dir)?;
                let served = rt.block_on(super::dashboard::serve_until_signal(
                    listener,
                    Dashboard::new(target, opts),
                ));
                let forced = stop_nodes(&state.nodes, Duration::from_secs(5));
                eprintln!(
                    "stopped {} nodes ({} forced)",
                    state.nodes.len(),
                    forced.len()
                );
                served?;
                return Ok(ExitCode::SUCCESS);
            }
            if dashboard {
                let addr = match dashboard_listen {
                    Some(a) if a.port() == 0 => SocketAddr::new(a.ip(), free_port()?),
                    Some(a) => a,
                    None => super::dashboard::pick_address()?,
                };
                let started = rt.block_on(start_dashboard(
                    &launcher.binary,
                    &dir,
                    addr,
                    args.admin_token.as_deref(),
                    Duration::from_secs(20),
                ));
                match started {
                    Ok(rec) => {
                        state.dashboard = Some(rec);
                        launcher.write_state(&state)?;
                    }
                    Err(e) => {
                        stop_nodes(&state.nodes, Duration::from_secs(3));
                        return Err(anyhow::Error::from(e).context(
                            "the dashboard did not start (the nodes were stopped again)",
                        ));
                    }
                }
            }
            let (v, t) = describe_up(&launcher, &state);
            if foreground {
                println!(
                    "{}",
                    if args.json {
                        v.to_string()
                    } else {
                        t + "\nforeground: Ctrl-C stops every node"
                    }
                );
                rt.block_on(super::node::shutdown_signal());
                let forced = stop_nodes(&state.nodes, Duration::from_secs(5));
                eprintln!(
                    "stopped {} nodes{}",
                    state.nodes.len(),
                    if forced.is_empty() {
                        String::new()
                    } else {
                        format!(" ({} forced)", forced.len())
                    }
                );
                return Ok(ExitCode::SUCCESS);
            }
            (v, t)
        }
        ClusterCommand::Status => rt.block_on(status(&launcher))?,
        ClusterCommand::Down { grace } => {
            let state = read(&launcher)?;
            // Records whose pid is alive but is not the node: never signalled, said out loud.
            let refused: Vec<Value> = state
                .nodes
                .iter()
                .filter_map(|n| match verify(n) {
                    Err(why @ (NotOurs::Other(_) | NotOurs::BadPid)) => {
                        eprintln!(
                            "not signalling pid {} recorded for {}: {why}",
                            n.pid, n.region
                        );
                        Some(json!({"region": n.region, "pid": n.pid, "reason": why.to_string()}))
                    }
                    _ => None,
                })
                .collect();
            let was_up: Vec<_> = state
                .nodes
                .iter()
                .filter(|n| alive(n))
                .map(|n| n.region.clone())
                .collect();
            let forced = stop_nodes(&state.nodes, Duration::from_secs(grace));
            let dashboard_stopped = match (&state.dashboard, std::fs::canonicalize(&launcher.dir)) {
                (Some(d), Ok(dir)) => stop_dashboard(d, &dir, Duration::from_secs(grace)),
                _ => false,
            };
            let left: Vec<u32> = state
                .nodes
                .iter()
                .filter(|n| alive(n))
                .map(|n| n.pid)
                .collect();
            if !left.is_empty() {
                anyhow::bail!("could not stop pids {left:?}");
            }
            let text = format!(
                "stopped {} node(s){}{}{}",
                was_up.len(),
                if dashboard_stopped {
                    " and the dashboard"
                } else {
                    ""
                },
                if forced.is_empty() {
                    String::new()
                } else {
                    format!(", {} after SIGKILL", forced.len())
                },
                if refused.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; {} recorded pid(s) belong to other processes and were left alone",
                        refused.len()
                    )
                }
            );
            (
                json!({"stopped": was_up, "forced": forced, "refused": refused, "dashboard_stopped": dashboard_stopped}),
                text,
            )
        }
        ClusterCommand::Kill { region } => {
            let n = launcher.kill(&region)?;
            (
                json!({"killed": region, "pid": n.pid}),
                format!("killed {region} (pid {}) with SIGKILL", n.pid),
            )
        }
        ClusterCommand::Restart { region } => {
            let rec = rt.block_on(launcher.restart(&region))?;
            (
                json!({"restarted": region, "pid": rec.pid, "addr": rec.addr}),
                format!("restarted {region}: pid {} on {}", rec.pid, rec.addr),
            )
        }
    };
    println!("{}", if args.json { value.to_string() } else { text });
    Ok(ExitCode::SUCCESS)
}

fn read(l: &Launcher) -> anyhow::Result<ClusterState> {
    Launcher::read_state(&l.dir)?.with_context(|| {
        format!(
            "no cluster in {} (start one with `meridian cluster up --dir {}`)",
            l.dir.display(),
            l.dir.display()
        )
    })
}

fn describe_up(l: &Launcher, s: &ClusterState) -> (Value, String) {
    let mut t = format!(
        "cluster up in {} ({} regions)\n",
        l.dir.display(),
        s.nodes.len()
    );
    for n in &s.nodes {
        t += &format!(
            "  {:<12} pid {:<7} grpc {}  dynamodb {}  metrics {}  log {}\n",
            n.region,
            n.pid,
            n.addr,
            n.dynamodb.map_or("-".to_owned(), |d| format!("http://{d}")),
            n.metrics_addr
                .map_or("-".to_owned(), |m| format!("http://{m}/metrics")),
            n.log.display()
        );
    }
    t += &format!("cluster file {}\n", s.cluster_file.display());
    if let Some(d) = &s.dashboard {
        t += &format!(
            "dashboard on {} (pid {}, log {})\n",
            d.url,
            d.pid,
            d.log.display()
        );
    }
    t += &format!(
        "next: meridian ctl --cluster {} --region {} stats",
        s.cluster_file.display(),
        s.nodes[0].region
    );
    (
        json!({"dir": l.dir, "cluster_file": s.cluster_file, "nodes": s.nodes, "dashboard": s.dashboard}),
        t,
    )
}

async fn status(l: &Launcher) -> anyhow::Result<(Value, String)> {
    let state = read(l)?;
    let mut rows = Vec::new();
    let mut text = format!(
        "{:<12} {:<6} {:<7} {:<14} {:<11} {:>8} {:>12} {:>10}\n",
        "region", "state", "pid", "mode", "primary", "pending", "lag p99 ms", "conflicts"
    );
    for n in &state.nodes {
        let up = alive(n);
        let status = if up {
            let c = RegionClient::new(n.addr, &Session::admin(l.admin_token.as_deref()))?;
            tokio::time::timeout(Duration::from_secs(2), c.status())
                .await
                .ok()
                .and_then(|r| r.ok())
        } else {
            None
        };
        let state_name = match (up, &status) {
            (true, Some(_)) => "up",
            (true, None) => "hung",
            _ => "down",
        };
        let (mode, primary, pending, lag, conflicts) = match &status {
            Some(s) => (
                json::mode_name(s.mode).to_owned(),
                if s.primary.is_empty() {
                    "-".to_owned()
                } else {
                    s.primary.clone()
                },
                s.links.iter().map(|l| l.pending).sum::<u64>().to_string(),
                format!(
                    "{:.1}",
                    s.links
                        .iter()
                        .map(|l| l.lag.as_ref().map_or(0.0, |x| x.p99))
                        .fold(0.0, f64::max)
                ),
                s.conflicts.to_string(),
            ),
            None => ("-".into(), "-".into(), "-".into(), "-".into(), "-".into()),
        };
        text += &format!(
            "{:<12} {:<6} {:<7} {:<14} {:<11} {:>8} {:>12} {:>10}\n",
            n.region, state_name, n.pid, mode, primary, pending, lag, conflicts
        );
        rows.push(json!({
            "region": n.region, "state": state_name, "pid": n.pid, "addr": n.addr, "metrics_addr": n.metrics_addr, "log": n.log,
            "status": status.as_ref().map(json::status),
        }));
    }
    let mut dashboard = Value::Null;
    if let Some(d) = &state.dashboard {
        let running = std::fs::canonicalize(&l.dir)
            .ok()
            .is_some_and(|dir| verify_dashboard(d, &dir).is_ok());
        let word = if running { "running" } else { "not running" };
        text += &format!("dashboard {} (pid {}, {word})\n", d.url, d.pid);
        dashboard = json!({"url": d.url, "pid": d.pid, "state": word});
    }
    Ok((
        json!({"dir": l.dir, "nodes": rows, "dashboard": dashboard}),
        text.trim_end().to_owned(),
    ))
}
