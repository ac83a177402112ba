//! `meridian load`: drive a running cluster, then check and report.

use std::{path::PathBuf, process::ExitCode, time::Duration};

use anyhow::Context;
use clap::Args;
use meridian_client::{
    html,
    load::{self, Arrivals, AuroraWrites, LoadConfig, LoadResult},
    report,
    workload::{KeyDist, Mix, Workload},
};

use super::ClusterArgs;

/// Options of `meridian load`.
#[derive(Args, Debug, Clone)]
pub struct LoadArgs {
    #[command(flatten)]
    pub cluster: ClusterArgs,
    /// How long to send load, seconds.
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Target rate over all regions, ops/s (open loop). 0 means closed loop.
    #[arg(long, default_value_t = 300.0)]
    pub rate: f64,
    /// Closed loop: send back to back (same as --rate 0).
    #[arg(long)]
    pub closed: bool,
    /// Workers per region: requests in flight at most (open loop) or always (closed loop).
    #[arg(long, default_value_t = 16, value_parser = super::count(1, 10_000))]
    pub concurrency: usize,
    /// Number of keys.
    #[arg(long, default_value_t = 1000)]
    pub keys: u64,
    /// Key distribution: uniform, zipf:THETA, hot:KEYS:FRACTION.
    #[arg(long, default_value = "uniform")]
    pub dist: String,
    /// Operation mix, weights: put, get, delete, cput (put if absent), incr.
    #[arg(long, default_value = "put=70,get=25,delete=5")]
    pub mix: String,
    /// Value size, bytes.
    #[arg(long, default_value_t = 100)]
    pub value_size: usize,
    /// Seed of the workload.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Regions that send load (comma-separated). Default: every region.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Open-loop arrivals: poisson or uniform.
    #[arg(long, default_value = "poisson")]
    pub arrivals: String,
    /// Aurora Global: clients outside the primary region write to the primary (`primary`) or
    /// through their own region with write forwarding (`forward`).
    #[arg(long, default_value = "primary")]
    pub aurora_writes: String,
    /// Aurora Global consistency for forwarded writes and reads: eventual, session, global.
    #[arg(long)]
    pub consistency: Option<String>,
    /// Visibility probes every this many ms (0: off).
    #[arg(long, default_value_t = 250)]
    pub probe_interval_ms: u64,
    /// Deadline of one request, ms.
    #[arg(long, default_value_t = 10_000)]
    pub timeout_ms: u64,
    /// How long to wait for the cluster to converge after the load, seconds.
    #[arg(long, default_value_t = 60)]
    pub converge_timeout: u64,
    /// Key prefix (default: unique per run, so runs never see each other's data).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Write the JSON report here.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write .hgrm percentile files into this directory.
    #[arg(long, value_name = "DIR")]
    pub hgrm_dir: Option<PathBuf>,
    /// Write the self-contained HTML report here.
    #[arg(long, value_name = "FILE")]
    pub report_html: Option<PathBuf>,
    /// Tokio worker threads of the load client (1-64).
    #[arg(long, default_value_t = 1, value_parser = super::count(1, 64))]
    pub workers: usize,
    /// No live progress line.
    #[arg(long)]
    pub quiet: bool,
    /// Admin token of the nodes.
    #[arg(long, env = "MERIDIAN_ADMIN_TOKEN")]
    pub admin_token: Option<String>,
}

impl LoadArgs {
    /// The demo's load: every default, with these settings.
    pub fn parse_defaults(
        cluster: &std::path::Path,
        duration: f64,
        rate: f64,
        keys: u64,
        seed: u64,
        writes: AuroraWrites,
        consistency: Option<String>,
    ) -> Self {
        use clap::Parser;
        #[derive(Parser)]
        struct Wrapper {
            #[command(flatten)]
            load: LoadArgs,
        }
        let mut w = Wrapper::parse_from(["load"]).load;
        w.cluster.cluster = Some(cluster.to_owned());
        w.duration = duration;
        w.rate = rate;
        // Enough in flight that far (round-trip-paying) writes never queue behind the client.
        w.concurrency = 64;
        w.keys = keys;
        w.seed = seed;
        w.aurora_writes = match writes {
            AuroraWrites::Primary => "primary".into(),
            AuroraWrites::Forward => "forward".into(),
        };
        w.consistency = consistency;
        w
    }

    /// Validate and build the load configuration.
    pub fn config(&self) -> anyhow::Result<LoadConfig> {
        let cluster = self.cluster.load()?;
        if !(self.duration > 0.0 && self.duration <= 24.0 * 3600.0) {
            anyhow::bail!("--duration must be between 0 and 86400 seconds");
        }
        let prefix = self
            .prefix
            .clone()
            // A random UUID: two runs on one cluster never share keys.
            .unwrap_or_else(|| format!("run-{}/", uuid::Uuid::new_v4().simple()));
        let workload = Workload::new(
            self.keys,
            KeyDist::parse(&self.dist)?,
            Mix::parse(&self.mix)?,
            self.value_size,
            self.seed,
            prefix,
        )?;
        let regions = if self.regions.is_empty() {
            cluster.regions.iter().map(|r| r.name.clone()).collect()
        } else {
            self.regions.clone()
        };
        let arrivals = match self.arrivals.as_str() {
            "poisson" => Arrivals::Poisson,
            "uniform" => Arrivals::Uniform,
            other => anyhow::bail!("--arrivals {other:?}: expected poisson or uniform"),
        };
        let aurora_writes = match self.aurora_writes.as_str() {
            "primary" => AuroraWrites::Primary,
            "forward" => AuroraWrites::Forward,
            other => anyhow::bail!("--aurora-writes {other:?}: expected primary or forward"),
        };
        if let Some(c) = &self.consistency
            && !["eventual", "session", "global"].contains(&c.as_str())
        {
            anyhow::bail!("--consistency {c:?}: expected eventual, session or global");
        }
        Ok(LoadConfig {
            cluster,
            regions,
            duration: Duration::from_secs_f64(self.duration),
            rate: if self.closed { 0.0 } else { self.rate },
            concurrency: self.concurrency,
            workload,
            arrivals,
            aurora_writes,
            consistency: self.consistency.clone(),
            probe_interval: (self.probe_interval_ms > 0)
                .then(|| Duration::from_millis(self.probe_interval_ms)),
            timeout: Duration::from_millis(self.timeout_ms.max(1)),
            converge_timeout: Duration::from_secs(self.converge_timeout),
            progress: !self.quiet,
            admin_token: self.admin_token.clone(),
        })
    }

    /// Write the requested report files; returns what was written.
    pub fn write_reports(&self, r: &LoadResult) -> anyhow::Result<Vec<PathBuf>> {
        let mut written = Vec::new();
        if let Some(p) = &self.report_json {
            std::fs::write(p, serde_json::to_string_pretty(&report::to_json(r))?)
                .with_context(|| format!("cannot write {}", p.display()))?;
            written.push(p.clone());
        }
        if let Some(d) = &self.hgrm_dir {
            written.extend(report::write_hgrm_files(r, d)?);
        }
        if let Some(p) = &self.report_html {
            std::fs::write(p, html::load_report(r))
                .with_context(|| format!("cannot write {}", p.display()))?;
            written.push(p.clone());
        }
        Ok(written)
    }
}

pub fn run(args: LoadArgs) -> anyhow::Result<ExitCode> {
    super::init_logging("warn");
    let cfg = args.config()?;
    let rt = super::runtime(args.workers)?;
    let result = rt.block_on(load::run(cfg))?;
    print!("{}", report::summary(&result));
    for p in args.write_reports(&result)? {
        println!("wrote {}", p.display());
    }
    Ok(if result.checker.ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    })
}
