//! Precise sleeps. Tokio's timer has a granularity of one millisecond: a sleep ends at the first
//! tick after its deadline, on average about a millisecond late. Where that millisecond would
//! be measured as if it were the system's — the strong protocol's emulated links (a strong
//! write pays two hops before it is acknowledged) and the paced loops of the load client and
//! the benchmark (latency counts from each request's intended start) — the sleep is taken here
//! instead: one thread per process keeps the deadlines in order and wakes each sleeper when its
//! deadline passes, with the precision of a futex timeout (tens of microseconds). Deadlines
//! are rounded up to a [`GRID_US`] grid, so that sleepers due close together wake together.
//!
//! Replication links keep tokio's timer: measured flat out, the extra thread wake-ups cost the
//! eventual cluster about a quarter of its throughput on two shared cores, for 0.7 ms of lag
//! fidelity (see the note of issue #17).
//!
//! A [`Sleep`] dropped before its deadline (the other branch of a `select!` won) takes its
//! deadline back out, so a loop that makes a new sleep on every turn leaves nothing behind.

use std::{
    collections::BTreeMap,
    future::Future,
    pin::Pin,
    sync::{Condvar, Mutex, OnceLock},
    task::{Context, Poll},
    time::Duration,
};

use meridian_core::clock::now_us;
use tokio::sync::oneshot;

/// A lock that a panicking holder did not leave unusable (the queue stays consistent: every
/// change to it is one map operation).
trait Unpoisoned<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T>;
}

impl<T> Unpoisoned<T> for Mutex<T> {
    fn locked(&self) -> std::sync::MutexGuard<'_, T> {
        self.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Deadlines are rounded up to a multiple of this, µs: a sleep ends at most this much later
/// than asked (plus the thread's wake-up latency), never earlier.
pub const GRID_US: u64 = 100;

/// The deadlines waiting, in order: `(due µs, sleeper id)`.
#[derive(Default)]
struct Queue {
    due: BTreeMap<(u64, u64), oneshot::Sender<()>>,
    next_id: u64,
}

struct Timer {
    queue: Mutex<Queue>,
    wake: Condvar,
}

fn timer() -> &'static Timer {
    static TIMER: OnceLock<&'static Timer> = OnceLock::new();
    TIMER.get_or_init(|| {
        let t: &'static Timer = Box::leak(Box::new(Timer {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
        }));
        std::thread::Builder::new()
            .name("meridian-timer".into())
            .spawn(move || {
                // Linux lets a sleeping thread wake up to its timer slack late (50 µs by
                // default): this thread exists to be on time, so it asks for none.
                #[cfg(target_os = "linux")]
                // SAFETY: PR_SET_TIMERSLACK takes one integer argument and touches only this
                // thread's scheduling attributes.
                unsafe {
                    libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong);
                }
                run(t)
            })
            .expect("the timer thread starts");
        t
    })
}

/// The timer thread: wake every sleeper whose deadline passed, then wait for the next one (or
/// for an earlier deadline to arrive).
fn run(t: &Timer) {
    let mut q = t.queue.locked();
    loop {
        let now = now_us();
        while let Some(entry) = q.due.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let _ = entry.remove().send(());
        }
        q = match q.due.keys().next() {
            None => t.wake.wait(q).unwrap_or_else(|p| p.into_inner()),
            Some(&(due, _)) => {
                t.wake
                    .wait_timeout(q, Duration::from_micros(due - now))
                    .unwrap_or_else(|p| p.into_inner())
                    .0
            }
        };
    }
}

/// A sleep until a deadline (µs since the epoch, as [`now_us`]).
pub struct Sleep {
    key: Option<(u64, u64)>,
    rx: Option<oneshot::Receiver<()>>,
}

/// Sleep until `at_us` (µs since the epoch): at once when it has passed.
pub fn sleep_until_us(at_us: u64) -> Sleep {
    if at_us <= now_us() {
        return Sleep {
            key: None,
            rx: None,
        };
    }
    let at_us = at_us.div_ceil(GRID_US) * GRID_US;
    let t = timer();
    let (tx, rx) = oneshot::channel();
    let key = {
        let mut q = t.queue.locked();
        q.next_id += 1;
        let key = (at_us, q.next_id);
        let earliest = q.due.keys().next().is_none_or(|first| key < *first);
        q.due.insert(key, tx);
        if earliest {
            t.wake.notify_one();
        }
        key
    };
    Sleep {
        key: Some(key),
        rx: Some(rx),
    }
}

/// Sleep until `at` (a monotonic instant), as [`sleep_until_us`].
pub fn sleep_until(at: std::time::Instant) -> Sleep {
    let left = at.saturating_duration_since(std::time::Instant::now());
    sleep_until_us(now_us() + u64::try_from(left.as_micros()).unwrap_or(u64::MAX / 2))
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let Some(rx) = self.rx.as_mut() else {
            return Poll::Ready(());
        };
        match Pin::new(rx).poll(cx) {
            Poll::Ready(_) => {
                self.rx = None;
                self.key = None;
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        if let (Some(key), Some(_)) = (self.key, self.rx.as_ref()) {
            timer().queue.locked().due.remove(&key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleep_ends_after_its_deadline() {
        for d in [0, 200, 1500, 3000] {
            let at = now_us() + d;
            sleep_until_us(at).await;
            assert!(now_us() >= at, "woke before {d} µs");
        }
    }

    #[tokio::test]
    async fn sleeps_end_in_deadline_order_and_a_dropped_one_leaves_nothing() {
        let base = now_us() + 2000;
        let late = sleep_until_us(base + 1000);
        let early = sleep_until_us(base);
        let dropped = sleep_until_us(base + 500);
        let keys = [late.key.unwrap(), dropped.key.unwrap()];
        drop(dropped);
        let first = tokio::select! {
            _ = late => "late",
            _ = early => "early",
        };
        assert_eq!(first, "early");
        // `late` was dropped by the select: neither deadline is left behind.
        let q = timer().queue.locked();
        assert!(keys.iter().all(|k| !q.due.contains_key(k)), "left behind");
    }
}
