//! The live progress line: operations, rate, errors and conflicts so far, every second on a
//! terminal (in place) and every two seconds otherwise (one line each).

use std::{
    io::{IsTerminal, Write as _},
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use crate::control::client::RegionClient;

/// Shared counters for the progress line.
#[derive(Default)]
pub struct Progress {
    /// Operations completed.
    pub ops: AtomicU64,
    /// Operations that failed.
    pub errors: AtomicU64,
    /// `ReplicatedWriteConflict` answers (strong mode; not among `errors`).
    pub conflict_errors: AtomicU64,
}

/// Print a live progress line every second until `done`.
pub async fn progress_loop(
    progress: Arc<Progress>,
    done: Arc<AtomicBool>,
    nodes: Vec<RegionClient>,
    base_conflicts: u64,
    begin: Instant,
    total: Duration,
) {
    let tty = std::io::stderr().is_terminal();
    let mut last_ops = 0;
    let mut last = Instant::now();
    while !done.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(if tty { 1000 } else { 2000 })).await;
        let ops = progress.ops.load(Ordering::Relaxed);
        let rate = (ops - last_ops) as f64 / last.elapsed().as_secs_f64();
        (last_ops, last) = (ops, Instant::now());
        let mut conflicts = 0;
        for c in &nodes {
            if let Ok(s) = c.status().await {
                conflicts += s.conflicts;
            }
        }
        let conflict_errors = progress.conflict_errors.load(Ordering::Relaxed);
        let line = format!(
            "[{:>5.1}s/{:.0}s] {ops} ops, {rate:.0} ops/s, {} errors, {} conflicts{} so far",
            begin.elapsed().as_secs_f64().min(total.as_secs_f64()),
            total.as_secs_f64(),
            progress.errors.load(Ordering::Relaxed),
            conflicts.saturating_sub(base_conflicts),
            if conflict_errors > 0 {
                format!(", {conflict_errors} conflict errors")
            } else {
                String::new()
            }
        );
        let mut err = std::io::stderr();
        if tty {
            let _ = write!(err, "\r\x1b[2K{line}");
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }
    if tty {
        eprintln!();
    }
}
