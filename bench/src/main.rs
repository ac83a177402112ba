//! `meridian-bench`: run the benchmark scenarios against real `meridian node` processes and
//! write `results.md`, `results.csv` and `results.html`; or (`echo-server`) serve the raw
//! echo baseline as its own process.

use std::{net::SocketAddr, path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use meridian_bench::{
    echo,
    options::{Options, Scenario},
    report, scenarios,
};
use meridian_core::Mode;

/// The same allocator as the node's, so that the echo baseline differs from a node only by
/// what the node does.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Meridian's benchmark: echo baseline, single-region and three-region throughput, strong
/// against eventual multi-Region consistency, catch-up,
/// lag fidelity, memory, and a mode × lag × key skew × rate matrix, against real node
/// processes.
#[derive(Parser, Debug)]
#[command(name = "meridian-bench", version, about, long_about = None)]
#[command(args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Serve the raw echo baseline (prints `echo serving on ADDR`) until SIGINT or SIGTERM.
    EchoServer {
        /// Listen address; port 0 picks a free port.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: SocketAddr,
        /// Tokio worker threads (1: current-thread runtime, as a node with one worker).
        #[arg(long, default_value_t = 1)]
        workers: usize,
    },
}

#[derive(Args, Debug)]
struct RunArgs {
    /// The `meridian` binary (default: `meridian` next to this binary).
    #[arg(long, value_name = "PATH")]
    meridian: Option<PathBuf>,
    /// Output directory (results.md, results.csv, results.html; node logs in clusters/).
    #[arg(long, value_name = "DIR", default_value = "bench-results")]
    out: PathBuf,
    /// Measured seconds per throughput scenario and per matrix cell.
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Fast smoke run: 1 s scenarios, 20k catch-up writes and memory keys.
    #[arg(long)]
    quick: bool,
    /// Requests in flight of the closed-loop driver, per target node.
    #[arg(long, default_value_t = 64)]
    inflight: usize,
    /// Echo payload and value size, bytes.
    #[arg(long, default_value_t = 100)]
    payload: usize,
    /// Keys of the single- and three-region throughput runs.
    #[arg(long, default_value_t = 10_000)]
    keys: u64,
    /// Tokio worker threads of every node and of the echo server.
    #[arg(long, default_value_t = 1)]
    node_workers: usize,
    /// Tokio threads of the benchmark client (1: current-thread runtime).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Node storage modes: every node scenario runs once per mode, the matrix with the first.
    #[arg(long, value_delimiter = ',', default_value = "durable,memory")]
    storages: Vec<String>,
    /// Writes made while a region is partitioned away.
    #[arg(long)]
    catchup_writes: Option<u64>,
    /// Distinct keys written for the memory figure.
    #[arg(long)]
    memory_keys: Option<u64>,
    /// Open-loop rate of the lag-fidelity run, ops/s over all regions.
    #[arg(long, default_value_t = 300.0)]
    fidelity_rate: f64,
    /// Matrix modes.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "global-tables,aurora-global"
    )]
    modes: Vec<String>,
    /// Matrix one-way link latencies, ms.
    #[arg(long, value_delimiter = ',', default_value = "20,100")]
    lags: Vec<f64>,
    /// Matrix key distributions.
    #[arg(long, value_delimiter = ',', default_value = "uniform,zipf:0.99")]
    dists: Vec<String>,
    /// Matrix open-loop rates, ops/s over all regions.
    #[arg(long, value_delimiter = ',', default_value = "200,1000")]
    rates: Vec<f64>,
    /// Matrix keys.
    #[arg(long, default_value_t = 1000)]
    matrix_keys: u64,
    /// Matrix operation mix.
    #[arg(long, default_value = "put=70,get=25,delete=5")]
    matrix_mix: String,
    /// Seed of every workload.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Length of the soak scenario, seconds (--quick: 30).
    #[arg(long, default_value_t = 600.0)]
    soak_secs: f64,
    /// Offered rate of the soak, ops/s over all regions (default: half the rate at which three
    /// regions kept up in the global scenario of this run, or a quarter of a short flat-out run).
    #[arg(long)]
    soak_rate: Option<f64>,
    /// Run only these scenarios: echo, single, global, strong, catchup, fidelity, memory, matrix, dynamodb, soak.
    #[arg(long, value_delimiter = ',')]
    only: Vec<Scenario>,
}

impl RunArgs {
    fn options(self) -> anyhow::Result<Options> {
        let bench_exe = std::env::current_exe().context("cannot find this binary's path")?;
        let meridian = match self.meridian {
            Some(p) => p,
            None => bench_exe
                .parent()
                .map(|d| d.join("meridian"))
                .context("this binary has no directory")?,
        };
        if !meridian.is_file() {
            anyhow::bail!(
                "no meridian binary at {} (build it with `cargo build --release -p meridian`, or pass --meridian PATH)",
                meridian.display()
            );
        }
        let duration = if self.quick { 1.0 } else { self.duration };
        if !(duration > 0.0 && duration <= 3600.0) {
            anyhow::bail!("--duration must be between 0 and 3600 seconds");
        }
        let duration = Duration::from_secs_f64(duration);
        let small = |explicit: Option<u64>, full: u64| {
            explicit.unwrap_or(if self.quick { full / 10 } else { full })
        };
        let modes = self
            .modes
            .iter()
            .map(|m| {
                Mode::parse(m).with_context(|| {
                    format!("--modes: {m:?} is not a mode (global-tables, aurora-global)")
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let scenarios = if self.only.is_empty() {
            Scenario::ALL.to_vec()
        } else {
            self.only
        };
        let opts = Options {
            meridian,
            bench_exe,
            out: self.out,
            duration,
            warmup: (duration / 5).min(Duration::from_secs(1)),
            inflight: self.inflight,
            payload: self.payload,
            keys: self.keys,
            node_workers: self.node_workers,
            storages: self.storages,
            client_threads: self.client_threads,
            catchup_writes: small(self.catchup_writes, 200_000),
            memory_keys: small(self.memory_keys, 200_000),
            fidelity_rate: self.fidelity_rate,
            modes,
            lags_ms: self.lags,
            dists: self.dists,
            rates: self.rates,
            matrix_keys: self.matrix_keys,
            matrix_mix: self.matrix_mix,
            soak: Duration::from_secs_f64(if self.quick {
                30.0
            } else {
                self.soak_secs.clamp(10.0, 86_400.0)
            }),
            soak_rate: self.soak_rate,
            seed: self.seed,
            scenarios,
            command: std::env::args().collect::<Vec<_>>().join(" "),
        };
        opts.validate()?;
        Ok(opts)
    }
}

fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let opts = args.options()?;
    let load_at_start = report::load_average();
    eprintln!(
        "[meridian-bench] {}; nodes and echo server {} worker(s) each, client {} thread(s), {} in flight; scenarios: {}",
        report::machine(),
        opts.node_workers,
        opts.client_threads,
        opts.inflight,
        opts.scenarios
            .iter()
            .map(|s| s.name())
            .collect::<Vec<_>>()
            .join(", ")
    );
    let rt = echo::runtime(opts.client_threads)?;
    let results = rt.block_on(scenarios::run_all(&opts));
    let setup = report::Setup::new(&opts, load_at_start);
    let (md, written) = report::write(&results, &opts, &setup)?;
    print!("{md}");
    for p in written {
        eprintln!("[meridian-bench] wrote {}", p.display());
    }
    Ok(if results.failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::EchoServer { listen, workers }) => {
            echo::run_server(listen, workers.max(1)).map(|()| ExitCode::SUCCESS)
        }
        None => run(cli.run),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
