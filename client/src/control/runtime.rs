//! Tokio runtimes with an explicit worker count, shared by the `meridian` binary and the
//! benchmark. On a small machine running several processes, one worker each (the current-thread
//! scheduler) avoids multi-millisecond scheduler stalls; more is a deliberate choice.

use crate::error::Result;

/// A tokio runtime with `workers` worker threads (1: the current-thread scheduler).
pub fn runtime(workers: usize) -> Result<tokio::runtime::Runtime> {
    let rt = if workers <= 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()?
    };
    Ok(rt)
}
