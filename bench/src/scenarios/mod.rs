//! The scenarios, one module each, and the runner that runs the selected ones in order.
//!
//! A scenario that fails is recorded as a failure and the run goes on, so one broken scenario
//! still leaves a report of the others. Every scenario owns its processes (echo server, node
//! clusters) and stops them when it ends, failed or not.

pub mod baseline;
pub mod catchup;
pub mod dynamodb;
pub mod fidelity;
pub mod global;
pub mod matrix;
pub mod memory;
pub mod soak;
pub mod strong;

use std::time::Instant;

use crate::{
    options::{Options, Scenario},
    results::{Failure, Results},
};

/// A progress message on stderr.
pub fn progress(msg: impl AsRef<str>) {
    eprintln!("[meridian-bench] {}", msg.as_ref());
}

/// Run `fut` as scenario `name`: its result, or `None` with the error recorded.
async fn attempt<T>(
    failures: &mut Vec<Failure>,
    name: &str,
    fut: impl Future<Output = anyhow::Result<T>>,
) -> Option<T> {
    let begin = Instant::now();
    progress(format!("{name}: starting"));
    match fut.await {
        Ok(v) => {
            progress(format!(
                "{name}: done in {:.1} s",
                begin.elapsed().as_secs_f64()
            ));
            Some(v)
        }
        Err(e) => {
            progress(format!("{name}: FAILED: {e:#}"));
            failures.push(Failure {
                scenario: name.to_owned(),
                error: format!("{e:#}"),
            });
            None
        }
    }
}

/// Run every selected scenario.
pub async fn run_all(opts: &Options) -> Results {
    let begin = Instant::now();
    let mut r = Results::default();
    let f = &mut r.failures;
    if opts.runs(Scenario::Echo) {
        r.echo = attempt(f, "echo baseline", baseline::echo(opts)).await;
    }
    if opts.runs(Scenario::Single) {
        for storage in &opts.storages {
            let name = format!("single region ({storage} storage)");
            if let Some(x) = attempt(f, &name, baseline::single_region(opts, storage)).await {
                r.single.push(x);
            }
        }
    }
    if opts.runs(Scenario::Global) {
        for storage in &opts.storages {
            let name = format!("three regions ({storage} storage)");
            if let Some(x) = attempt(f, &name, global::run(opts, storage)).await {
                r.global.push(x);
            }
        }
    }
    if opts.runs(Scenario::Strong) {
        for storage in &opts.storages {
            let name = format!("strong vs eventual ({storage} storage)");
            if let Some(x) = attempt(f, &name, strong::run(opts, storage)).await {
                r.strong.push(x);
            }
        }
    }
    if opts.runs(Scenario::Echo) && r.echo.is_some() {
        // The machine is shared: measure the baseline again, after the node runs, and report
        // both, so drift shows instead of skewing the ratios silently.
        r.echo_repeat = attempt(f, "echo baseline (repeat)", baseline::echo(opts)).await;
    }
    if opts.runs(Scenario::Catchup) {
        for storage in &opts.storages {
            let name = format!("catch-up ({storage} storage)");
            if let Some(x) = attempt(f, &name, catchup::run(opts, storage)).await {
                r.catchup.push(x);
            }
        }
    }
    if opts.runs(Scenario::Fidelity) {
        for storage in &opts.storages {
            let name = format!("lag fidelity ({storage} storage)");
            if let Some(x) = attempt(f, &name, fidelity::run(opts, storage)).await {
                r.fidelity.push(x);
            }
        }
    }
    if opts.runs(Scenario::Memory) {
        for storage in &opts.storages {
            let name = format!("memory ({storage} storage)");
            if let Some(x) = attempt(f, &name, memory::run(opts, storage)).await {
                r.memory.push(x);
            }
        }
    }
    if opts.runs(Scenario::Dynamodb) {
        for storage in &opts.storages {
            let name = format!("DynamoDB endpoint ({storage} storage)");
            if let Some(x) = attempt(f, &name, dynamodb::run(opts, storage)).await {
                r.dynamodb.push(x);
            }
        }
    }
    if opts.runs(Scenario::Soak) {
        for storage in &opts.storages {
            let keep_up = r
                .global
                .iter()
                .find(|g| &g.storage == storage)
                .and_then(|g| g.best_kept_up())
                .map(|s| s.total.rate());
            let name = format!("soak ({storage} storage)");
            if let Some(x) = attempt(f, &name, soak::run(opts, storage, keep_up)).await {
                r.soak.push(x);
            }
        }
    }
    if opts.runs(Scenario::Matrix) {
        r.matrix = matrix::run(opts, f).await;
    }
    r.elapsed_s = begin.elapsed().as_secs_f64();
    r
}
