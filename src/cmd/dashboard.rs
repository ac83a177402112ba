//! `meridian dashboard`: serve the live dashboard of a running cluster until Ctrl-C or
//! SIGTERM — and what `cluster up --dashboard` and `demo --dashboard` share with it: which
//! address to listen on (loopback unless asked otherwise) and how to say where it is.

use std::{
    net::{Ipv4Addr, SocketAddr},
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::Context;
use clap::Args;
use meridian_client::{
    control::processes::{Launcher, free_port},
    dashboard::{self, Dashboard, Options, Target},
};
use meridian_core::ClusterConfig;
use tokio::net::TcpListener;

/// The dashboard's address when none is given (if it is taken, any free loopback port).
pub const DEFAULT_LISTEN: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::LOCALHOST), DEFAULT_PORT);
const DEFAULT_PORT: u16 = 7190;

/// The state directory `cluster up` uses by default.
const DEFAULT_STATE_DIR: &str = "meridian-cluster";

/// Options of `meridian dashboard`.
#[derive(Args, Debug)]
pub struct DashboardArgs {
    /// Cluster file (TOML), as `ctl` takes it. Default: the cluster `cluster up` started in
    /// ./meridian-cluster if there is one, else the built-in cluster.
    #[arg(long, value_name = "FILE", env = "MERIDIAN_CLUSTER")]
    cluster: Option<PathBuf>,
    /// The state directory of a cluster started by `cluster up` (as `cluster` subcommands
    /// take it): its cluster file, its nodes' metrics, and kill / restart from the page.
    /// Takes precedence over --cluster.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Address to serve the page on (port 0: any free one). Default 127.0.0.1:7190, or any
    /// free loopback port when that one is taken. Loopback only, unless
    /// --allow-non-loopback.
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Serve on an address other hosts can reach. Anyone who reaches it sees the cluster;
    /// the controls need the admin token only when the nodes have one.
    #[arg(long)]
    allow_non_loopback: bool,
    /// The nodes' admin token: sent to the nodes, and required from the page for its
    /// controls.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN", value_parser = super::admin_token)]
    admin_token: Option<String>,
    /// Time between updates, ms (100-10000).
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(100..=10_000))]
    interval_ms: u64,
}

/// Refuse a non-loopback address unless asked for in so many words.
pub fn check_listen(addr: SocketAddr, allow_non_loopback: bool) -> anyhow::Result<()> {
    if !addr.ip().is_loopback() && !allow_non_loopback {
        anyhow::bail!(
            "--listen {addr} is not a loopback address: the dashboard shows the cluster and drives it; pass --allow-non-loopback to serve it to other hosts"
        );
    }
    Ok(())
}

/// Bind the dashboard's listener: `listen` when given (it must be free), else the default
/// address, else any free loopback port.
pub async fn bind(
    listen: Option<SocketAddr>,
    allow_non_loopback: bool,
) -> anyhow::Result<TcpListener> {
    match listen {
        Some(addr) => {
            check_listen(addr, allow_non_loopback)?;
            TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr}"))
        }
        None => match TcpListener::bind(DEFAULT_LISTEN).await {
            Ok(l) => Ok(l),
            Err(_) => Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?),
        },
    }
}

/// An address for a dashboard process to take (`cluster up --dashboard`): the default one
/// when free, else a free loopback port.
pub fn pick_address() -> anyhow::Result<SocketAddr> {
    if std::net::TcpListener::bind(DEFAULT_LISTEN).is_ok() {
        return Ok(DEFAULT_LISTEN);
    }
    Ok(SocketAddr::new(Ipv4Addr::LOCALHOST.into(), free_port()?))
}

/// The page's address.
pub fn url(addr: SocketAddr) -> String {
    format!("http://{addr}/")
}

/// What the dashboard watches, and whether it controls processes: `--dir`, else `--cluster`
/// (with its state directory when the file is one's cluster file), else the default state
/// directory when it holds a cluster, else the built-in cluster.
fn resolve(args: &DashboardArgs) -> anyhow::Result<(Target, String)> {
    let dir = match (&args.dir, &args.cluster) {
        (Some(d), _) => Some(d.clone()),
        (None, Some(file)) => state_dir_of(file),
        (None, None) => {
            let d = PathBuf::from(DEFAULT_STATE_DIR);
            Launcher::read_state(&d).ok().flatten().map(|_| d)
        }
    };
    if let Some(d) = dir {
        let target = Target::from_state_dir(&d)?;
        return Ok((target, format!("the cluster started in {}", d.display())));
    }
    let cluster = ClusterConfig::load_or_builtin(args.cluster.as_deref())?;
    let what = match &args.cluster {
        Some(f) => format!("the cluster in {}", f.display()),
        None => "the built-in cluster".to_owned(),
    };
    Ok((Target::from_cluster(&cluster), what))
}

/// The state directory whose cluster file `file` is, if it is one.
fn state_dir_of(file: &Path) -> Option<PathBuf> {
    let dir = file.parent()?;
    let state = Launcher::read_state(dir).ok()??;
    let same =
        std::fs::canonicalize(&state.cluster_file).ok()? == std::fs::canonicalize(file).ok()?;
    same.then(|| dir.to_owned())
}

/// The launcher the page's kill / restart use (a cluster started by `cluster up` in `dir`).
pub fn process_control(dir: &Path, admin_token: Option<&str>) -> anyhow::Result<Launcher> {
    let state =
        Launcher::read_state(dir)?.with_context(|| format!("no cluster in {}", dir.display()))?;
    Ok(Launcher {
        binary: std::env::current_exe().context("cannot find the meridian binary")?,
        dir: dir.to_owned(),
        node_args: state.node_args,
        metrics: true,
        admin_token: admin_token.map(str::to_owned),
        detach: true,
    })
}

/// Serve `dashboard` on `listener` until Ctrl-C or SIGTERM.
pub async fn serve_until_signal(listener: TcpListener, dashboard: Dashboard) -> anyhow::Result<()> {
    dashboard::serve(listener, dashboard, super::node::shutdown_signal()).await?;
    Ok(())
}

pub fn run(args: DashboardArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    if let Some(addr) = args.listen {
        check_listen(addr, args.allow_non_loopback)?;
    }
    let (target, what) = resolve(&args)?;
    let processes = match &target.state_dir {
        Some(d) => Some(process_control(d, args.admin_token.as_deref())?),
        None => None,
    };
    let opts = Options {
        interval: Duration::from_millis(args.interval_ms),
        admin_token: args.admin_token.clone(),
        processes,
        ..Options::default()
    };
    let rt = super::runtime(1)?;
    rt.block_on(async {
        let listener = bind(args.listen, args.allow_non_loopback).await?;
        let addr = listener.local_addr()?;
        let controls = if args.admin_token.is_some() {
            "need the admin token"
        } else if addr.ip().is_loopback() {
            "open to this machine"
        } else {
            "open to anyone who can reach this address"
        };
        // The first line is the address (scripts and tests read it, and may stop reading):
        // a closed stdout is no reason to stop serving.
        use std::io::Write as _;
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "dashboard on {}\nwatching {what}; controls {controls}; Ctrl-C stops it",
            url(addr)
        );
        let _ = out.flush();
        serve_until_signal(listener, Dashboard::new(target, opts)).await
    })?;
    Ok(ExitCode::SUCCESS)
}
