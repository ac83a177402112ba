//! Group commit: one thread owns the database and folds every job queued while it synced into
//! the next sync. Writers queue their operations and await a oneshot; tickets let a reader ask
//! whether everything queued before some point is on disk. A job that logs own writes names the
//! last seq it logged, and the thread advances the durable head (what peers may pull) to it
//! right after the sync — so the head moves even when the writer gave up waiting, and no task
//! is spawned per write.

use tokio::sync::oneshot;

use super::{Op, Storage};
use crate::{
    error::{Error, Result},
    lock::UnpoisonedRw,
};

/// A queued batch, who waits for it, and the own-log seq it makes durable (if it logs writes).
type Job = (Vec<Op>, Option<oneshot::Sender<Result<()>>>, Option<u64>);

/// The group-commit thread's handle.
#[derive(Debug, Clone)]
pub struct Persister {
    tx: std::sync::mpsc::Sender<Job>,
    broken: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// Jobs sent to the thread (incremented after each send).
    sent: std::sync::Arc<std::sync::atomic::AtomicU64>,
    /// Jobs the thread has made durable, in the order it received them.
    synced: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// The durable head of the own log, advanced by the thread after each sync.
    head: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    /// Held for writing by `Persister::hold` (tests): commits wait, as on a slow disk.
    #[cfg_attr(not(test), allow(dead_code))]
    gate: std::sync::Arc<std::sync::RwLock<()>>,
}

/// Most jobs folded into one sync.
const MAX_GROUP: usize = 4096;

impl Persister {
    /// Start the group-commit thread over `storage`.
    pub fn start(storage: Storage) -> Self {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let broken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = broken.clone();
        let synced = std::sync::Arc::new(tokio::sync::watch::Sender::new(0u64));
        let synced_by_thread = synced.clone();
        let gate = std::sync::Arc::new(std::sync::RwLock::new(()));
        let thread_gate = gate.clone();
        let head = std::sync::Arc::new(tokio::sync::watch::Sender::new(0u64));
        let thread_head = head.clone();
        std::thread::Builder::new()
            .name("meridian-persist".into())
            .spawn(move || {
                while let Ok(first) = rx.recv() {
                    let mut jobs = vec![first];
                    while jobs.len() < MAX_GROUP {
                        match rx.try_recv() {
                            Ok(j) => jobs.push(j),
                            Err(_) => break,
                        }
                    }
                    let ops: Vec<Op> = jobs
                        .iter_mut()
                        .flat_map(|(ops, _, _)| std::mem::take(ops))
                        .collect();
                    // After a failed commit nothing more is written: a later batch may rely on
                    // the failed one (an item naming a log entry, a truncation past an item
                    // written in full), so committing it could leave the disk inconsistent.
                    let result = if flag.load(std::sync::atomic::Ordering::Relaxed) {
                        Err(Error::Internal(
                            "storage: an earlier commit failed, so nothing after it is written (restart the node)".into(),
                        ))
                    } else {
                        let _open = thread_gate.read_locked();
                        storage.commit(&ops)
                    };
                    if let Err(e) = &result {
                        if !flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
                            tracing::error!(error = %e, "storage commit failed: the node refuses writes from now on");
                        }
                        // Wake barrier waiters: they see `broken` and give up.
                        synced_by_thread.send_modify(|_| {});
                    } else {
                        let n = jobs.len() as u64;
                        synced_by_thread.send_modify(|s| *s += n);
                        // Peers only ever see durable log entries.
                        if let Some(seq) = jobs.iter().filter_map(|j| j.2).max() {
                            thread_head.send_if_modified(|h| (seq > *h).then(|| *h = seq).is_some());
                        }
                    }
                    for (_, ack, _) in jobs {
                        if let Some(ack) = ack {
                            let _ = ack.send(
                                result
                                    .as_ref()
                                    .map(|_| ())
                                    .map_err(|e| Error::Internal(e.to_string())),
                            );
                        }
                    }
                }
            })
            .expect("spawn the persist thread");
        Self {
            tx,
            broken,
            sent: Default::default(),
            synced,
            head,
            gate,
        }
    }

    /// The durable head of the own log this thread advances.
    pub fn head(&self) -> std::sync::Arc<tokio::sync::watch::Sender<u64>> {
        self.head.clone()
    }

    /// Hold every commit until the guard is dropped: a disk that does not answer, for tests of
    /// what is visible before a write is durable.
    #[cfg(test)]
    pub fn hold(&self) -> std::sync::RwLockWriteGuard<'_, ()> {
        self.gate.write_locked()
    }

    /// Mark storage as failed, as a failed commit does (tests of what follows one).
    #[cfg(test)]
    pub fn fail_for_test(&self) {
        self.broken
            .store(true, std::sync::atomic::Ordering::Relaxed);
    }

    /// A ticket for everything queued so far: once [`Persister::synced`] resolves for it, every
    /// job queued before this call is durable.
    pub fn ticket(&self) -> u64 {
        self.sent.load(std::sync::atomic::Ordering::Acquire)
    }

    /// Is everything queued before `ticket` durable already?
    pub fn is_synced(&self, ticket: u64) -> bool {
        !self.broken() && *self.synced.borrow() >= ticket
    }

    /// Wait until everything queued before `ticket` is durable (at most one group commit when
    /// the ticket was just taken). `Err` when storage failed.
    pub async fn synced(&self, ticket: u64) -> Result<()> {
        let mut rx = self.synced.subscribe();
        let broken = &self.broken;
        let r = rx
            .wait_for(|s| *s >= ticket || broken.load(std::sync::atomic::Ordering::Relaxed))
            .await
            .map(|s| *s >= ticket);
        // After a failed commit the count says nothing about which jobs made it: never vouch.
        match r {
            Ok(true) if !broken.load(std::sync::atomic::Ordering::Relaxed) => Ok(()),
            _ => Err(Error::Unavailable(
                "storage failed on this node: nothing more can be made durable (see its log)"
                    .into(),
            )),
        }
    }

    /// Has a commit failed? Then nothing more can be made durable: writes must be refused.
    pub fn broken(&self) -> bool {
        self.broken.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Queue `ops` (call this under the core lock, so queue order is commit order); the
    /// receiver resolves once they are durable.
    pub fn queue(&self, ops: Vec<Op>) -> oneshot::Receiver<Result<()>> {
        self.queue_logging(ops, None)
    }

    /// [`Persister::queue`], for ops that log own writes up to `seq`: once they are durable the
    /// thread advances the durable head to `seq` (before the receiver resolves).
    pub fn queue_logging(&self, ops: Vec<Op>, seq: Option<u64>) -> oneshot::Receiver<Result<()>> {
        let (tx, rx) = oneshot::channel();
        if let Err(std::sync::mpsc::SendError((_, Some(ack), _))) =
            self.tx.send((ops, Some(tx), seq))
        {
            let _ = ack.send(Err(Error::Internal("storage thread stopped".into())));
        }
        // After the send: a ticket counts only jobs the thread will receive before later ones.
        self.sent.fetch_add(1, std::sync::atomic::Ordering::Release);
        rx
    }
}

/// Wait for queued ops to be durable.
pub async fn durable(rx: oneshot::Receiver<Result<()>>) -> Result<()> {
    rx.await
        .unwrap_or_else(|_| Err(Error::Internal("storage thread stopped".into())))
}
