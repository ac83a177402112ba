//! The benchmark's output: tables built from [`Results`] ([`tables`]), charts ([`charts`]),
//! the setup they were measured with, and the three files — `results.md` (also printed),
//! `results.csv` and a self-contained `results.html` with inline SVG charts (the client's chart
//! helpers; no scripts, no network).

pub mod charts;
pub mod headline;
pub mod strong;
pub mod tables;

use std::{fmt::Write as _, path::PathBuf};

use anyhow::Context;
use meridian_client::report::html::page;

use crate::{
    options::Options,
    results::Results,
    table::{Table, csv, esc},
};

/// Targets of issues 5, 11 and 17 (reported against, not enforced).
pub mod targets {
    /// Single-region put throughput as a fraction of echo, by storage (issue 11: 0.9 in
    /// memory, 0.8 durable).
    pub fn put_ratio(storage: &str) -> f64 {
        if storage == "memory" { 0.9 } else { 0.8 }
    }
    /// Three-region aggregate throughput as a fraction of echo.
    pub const GLOBAL_RATIO: f64 = 0.5;
    /// Catch-up, writes/s.
    pub const CATCHUP_RATE: f64 = 200_000.0;
    /// Observed lag p50 within this of configured, ms.
    pub const LAG_P50_MS: f64 = 2.0;
    /// Resident memory per key, as a multiple of raw key + value bytes, by storage (issue 11:
    /// 2× in memory, 3× durable).
    pub fn memory_ratio(storage: &str) -> f64 {
        if storage == "memory" { 2.0 } else { 3.0 }
    }
    /// Issue 17: strong-mode p50 write latency over the nearest round trip at moderate load, ms.
    pub const STRONG_OVER_RTT_MS: f64 = 2.0;
}

/// How the run was set up (machine, processes, worker counts), as markdown bullet lines.
#[derive(Clone, Debug, Default)]
pub struct Setup {
    /// Lines of text.
    pub lines: Vec<String>,
}

/// The machine: cores, CPU model, load average.
pub fn machine() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    format!("{cores} cores ({model})")
}

/// The 1-minute load average, if the system tells.
pub fn load_average() -> Option<String> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next().map(str::to_owned))
}

impl Setup {
    /// The setup of `opts`, with the load average seen at the start.
    pub fn new(opts: &Options, load_at_start: Option<String>) -> Self {
        let mut lines = vec![
            format!("command: `{}`", opts.command),
            format!(
                "machine: {}; 1-min load average {} at start, {} at end (client and servers share the cores)",
                machine(),
                load_at_start.unwrap_or_else(|| "?".into()),
                load_average().unwrap_or_else(|| "?".into())
            ),
            format!(
                "processes: every node `meridian node --workers {w}` (own process); echo server `meridian-bench echo-server --workers {w}` (own process); benchmark client {c}",
                w = opts.node_workers,
                c = if opts.client_threads <= 1 {
                    "1 thread (current-thread tokio runtime)".to_owned()
                } else {
                    format!("{} tokio worker threads", opts.client_threads)
                }
            ),
            format!(
                "closed-loop driver: {} requests in flight per target node over one HTTP/2 channel (TCP_NODELAY), {} B payload / values, {:.1} s measured after {:.1} s warm-up",
                opts.inflight,
                opts.payload,
                opts.duration.as_secs_f64(),
                opts.warmup.as_secs_f64()
            ),
            format!(
                "node storage: every node scenario once per mode ({}); the matrix with {}",
                opts.storages.join(", "),
                opts.storage()
            ),
            format!("meridian binary: {}", opts.meridian.display()),
        ];
        lines.retain(|l| !l.is_empty());
        Self { lines }
    }
}

/// The markdown document.
pub fn markdown(r: &Results, setup: &Setup, tables: &[Table]) -> String {
    let mut s = String::from("# Meridian benchmark results\n\n");
    for l in &setup.lines {
        let _ = writeln!(s, "- {l}");
    }
    let _ = writeln!(s, "- whole run: {:.0} s\n", r.elapsed_s);
    for t in tables {
        s += &t.markdown();
        s.push('\n');
    }
    s
}

/// The HTML document.
pub fn html(r: &Results, setup: &Setup, tables: &[Table]) -> String {
    let mut b = String::from("<h1>Meridian benchmark results</h1><ul>");
    for l in &setup.lines {
        let _ = write!(b, "<li>{}</li>", esc(l));
    }
    let _ = write!(b, "<li>whole run: {:.0} s</li></ul>", r.elapsed_s);
    for t in tables {
        b += &t.html();
    }
    b += "<h2>Charts</h2>";
    b += &charts::all(r);
    page("Meridian benchmark results", &b)
}

/// Write results.md, results.csv and results.html into `opts.out`; returns the markdown and
/// the paths written.
pub fn write(r: &Results, opts: &Options, setup: &Setup) -> anyhow::Result<(String, Vec<PathBuf>)> {
    std::fs::create_dir_all(&opts.out)
        .with_context(|| format!("cannot create {}", opts.out.display()))?;
    let tables = tables::all(r, opts);
    let md = markdown(r, setup, &tables);
    let files = [
        ("results.md", md.clone()),
        ("results.csv", csv(&tables)),
        ("results.html", html(r, setup, &tables)),
    ];
    let mut written = Vec::new();
    for (name, text) in files {
        let p = opts.out.join(name);
        std::fs::write(&p, text).with_context(|| format!("cannot write {}", p.display()))?;
        written.push(p);
    }
    Ok((md, written))
}
