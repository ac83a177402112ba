//! The running dashboard: the pure [`State`] behind a lock, the latest snapshot on a watch
//! channel (every page's event stream follows it), what is being watched (which the demo
//! changes from phase to phase), and the update loop that reads the regions and publishes.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use tokio::sync::watch;

use super::{
    model::{Controls, Point, Recording, RoleChange, Snapshot},
    poller::{Clients, Plan, sample},
    sample::Target,
    state::State,
};
use crate::{
    control::{Session, processes::Launcher},
    error::Result,
    load::live::LiveLoad,
};

/// Time between updates by default.
pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(500);

/// How the dashboard runs.
#[derive(Clone, Debug)]
pub struct Options {
    /// Time between updates.
    pub interval: Duration,
    /// The nodes' admin token: the dashboard sends it to the nodes, and the page must send it
    /// to use the controls.
    pub admin_token: Option<String>,
    /// How to kill and restart regions (a cluster started by `cluster up`); None: no process
    /// controls.
    pub processes: Option<Launcher>,
    /// The load generator running beside the dashboard, if any (client latency and reads
    /// come from it; without it, from probe reads and the nodes' metrics).
    pub live: Option<Arc<LiveLoad>>,
    /// Keep every update, for a replay of the run.
    pub record: bool,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            interval: DEFAULT_INTERVAL,
            admin_token: None,
            processes: None,
            live: None,
            record: false,
        }
    }
}

/// A running dashboard; clones share it.
#[derive(Clone)]
pub struct Dashboard {
    inner: Arc<Inner>,
}

struct Inner {
    opts: Options,
    state: Mutex<State>,
    snapshots: watch::Sender<Arc<Snapshot>>,
    target: watch::Sender<Arc<Target>>,
    closing: watch::Sender<bool>,
}

/// Wall-clock time, ms since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Dashboard {
    /// A dashboard watching `target` (nothing is read until [`Dashboard::run`]).
    pub fn new(target: Target, opts: Options) -> Self {
        let controls = Controls {
            token_required: opts.admin_token.is_some(),
            processes: opts.processes.is_some(),
            enabled: true,
        };
        let state = State::new(opts.interval.as_millis() as u64, controls, opts.record);
        let first = Arc::new(state.last().clone());
        Self {
            inner: Arc::new(Inner {
                state: Mutex::new(state),
                snapshots: watch::channel(first).0,
                target: watch::channel(Arc::new(target)).0,
                closing: watch::channel(false).0,
                opts,
            }),
        }
    }

    pub(super) fn opts(&self) -> &Options {
        &self.inner.opts
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.inner.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Watch other nodes from the next update on (the demo's next cluster).
    pub fn set_target(&self, target: Target) {
        self.inner.target.send_replace(Arc::new(target));
    }

    /// What is watched now.
    pub fn target(&self) -> Arc<Target> {
        self.inner.target.borrow().clone()
    }

    /// Say what the program driving the cluster is doing (shown from the next update).
    pub fn set_phase(&self, phase: Option<&str>) {
        self.state().set_phase(phase.map(str::to_owned));
    }

    /// A role change made beside the dashboard (the demo's switchover and failover).
    pub fn record_role_change(&self, change: RoleChange) {
        self.state().record_role_change(change);
    }

    /// Note one use of a control.
    pub(super) fn record_action(&self, action: String, ok: bool, message: String) -> u64 {
        self.state().record_action(action, ok, message, now_ms()).id
    }

    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.inner.snapshots.borrow().clone()
    }

    /// Every new snapshot, as it is made.
    pub fn subscribe(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.inner.snapshots.subscribe()
    }

    /// The chart points of the last minutes.
    pub fn history(&self) -> Vec<Point> {
        self.state().history()
    }

    /// The run so far, for a replay (None unless [`Options::record`]).
    pub fn recording(&self) -> Option<Recording> {
        self.state().recording()
    }

    /// A signal that turns true when the dashboard closes (event streams end on it).
    pub(super) fn closing(&self) -> watch::Receiver<bool> {
        self.inner.closing.subscribe()
    }

    /// End every event stream (before a server's graceful shutdown, which waits for them).
    pub fn close(&self) {
        self.inner.closing.send_replace(true);
    }

    /// The session the dashboard talks to nodes with.
    pub(super) fn session(&self) -> Session {
        Session::admin(self.inner.opts.admin_token.as_deref())
    }

    /// Update every interval until `stop` resolves. A recording dashboard makes one last
    /// update then, so that the recording ends with what was reported up to the stop (the
    /// demo's last role change, say).
    pub async fn run(&self, stop: impl Future<Output = ()>) -> Result<()> {
        tokio::pin!(stop);
        let interval = self.inner.opts.interval;
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let clock = Instant::now();
        let mut watched: Option<(Arc<Target>, Clients)> = None;
        loop {
            let stopping = tokio::select! {
                _ = &mut stop => true,
                _ = ticks.tick() => false,
            };
            if stopping && !self.inner.opts.record {
                return Ok(());
            }
            let target = self.target();
            let retarget = !matches!(&watched, Some((t, _)) if Arc::ptr_eq(t, &target));
            if retarget {
                let clients = Clients::new(&target, &self.session(), self.region_timeout())?;
                if watched.is_some() {
                    self.state().retarget();
                }
                watched = Some((target.clone(), clients));
            }
            if let Some((target, clients)) = &watched {
                self.update(target, clients, clock).await;
            }
            if stopping {
                return Ok(());
            }
        }
    }

    /// How long one region may take in an update: long enough for a loaded node, short
    /// enough to publish before the next tick.
    fn region_timeout(&self) -> Duration {
        self.inner
            .opts
            .interval
            .mul_f64(0.8)
            .max(Duration::from_millis(100))
    }

    /// One update: read, derive, publish.
    async fn update(&self, target: &Target, clients: &Clients, clock: Instant) {
        let cursors = {
            let state = self.state();
            target
                .regions
                .iter()
                .map(|r| state.feed().cursor(&r.name))
                .collect()
        };
        let plan = Plan {
            target,
            clients,
            cursors,
            probe: self.inner.opts.live.is_none(),
            timeout: self.region_timeout(),
        };
        let raw = sample(plan, now_ms(), clock.elapsed().as_secs_f64()).await;
        let live: Option<BTreeMap<_, _>> = self.inner.opts.live.as_ref().map(|l| l.take());
        let snapshot = self.state().update(raw, live.as_ref());
        self.inner.snapshots.send_replace(Arc::new(snapshot));
    }
}
