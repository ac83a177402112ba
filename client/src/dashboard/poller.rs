//! One update's reads: every region at once, each bounded by a deadline — its status, then
//! (side by side) the new events of its conflict feed, its request counters and a probe
//! read — and the cluster's link table from the first region that answered. A region that
//! does not answer in time is a sample with an error, never a stalled update.

use std::time::{Duration, Instant};

use futures::future::join_all;
use meridian_proto::v1 as pb;

use super::{
    feed::Cursor,
    metrics_text,
    sample::{Process, RawRegion, RawSample, RegionTarget, Target},
};
use crate::{
    control::{
        client::RegionClient,
        processes::{Launcher, verify},
    },
    error::Result,
};

/// The key the probe reads (never written: a read of an absent key costs what any read does).
pub const PROBE_KEY: &str = "meridian-dashboard/probe";
/// Events asked for per page of a conflict feed.
const FEED_PAGE: u32 = 500;
/// Most pages read from one feed per update (a long feed is caught up over a few updates).
const FEED_PAGES: usize = 4;

/// The clients of one target.
pub struct Clients {
    /// Per region, in the target's order.
    pub regions: Vec<(RegionTarget, RegionClient)>,
}

impl Clients {
    /// Clients for every region of `target`, with the session's admin token.
    pub fn new(
        target: &Target,
        session: &crate::control::Session,
        timeout: Duration,
    ) -> Result<Self> {
        let regions = target
            .regions
            .iter()
            .map(|r| {
                Ok((
                    r.clone(),
                    RegionClient::new(r.addr, session)?.with_timeout(timeout),
                ))
            })
            .collect::<Result<_>>()?;
        Ok(Self { regions })
    }
}

/// What to read in one update.
pub struct Plan<'a> {
    /// The target (its state directory, if any).
    pub target: &'a Target,
    /// Its clients.
    pub clients: &'a Clients,
    /// Each region's feed cursor, by name.
    pub cursors: Vec<Cursor>,
    /// Send a probe read to every region.
    pub probe: bool,
    /// How long one region may take.
    pub timeout: Duration,
}

/// Read every region once.
pub async fn sample(plan: Plan<'_>, at_ms: u64, mono_s: f64) -> RawSample {
    // A cluster started by `cluster up`: its state file says which processes run, and where
    // their metrics are now (a restart may move them).
    let state = plan
        .target
        .state_dir
        .as_deref()
        .and_then(|d| Launcher::read_state(d).ok().flatten());
    let reads = plan
        .clients
        .regions
        .iter()
        .zip(plan.cursors)
        .map(|((t, c), cursor)| {
            let record = state
                .as_ref()
                .and_then(|s| s.nodes.iter().find(|n| n.region == t.name));
            let metrics = record.map_or(t.metrics, |n| n.metrics_addr);
            let process = match record {
                None => Process::Unknown,
                Some(n) if verify(n).is_ok() => Process::Running(n.pid),
                Some(n) => Process::Gone(n.pid),
            };
            async move {
                let mut r = read_region(t, c, metrics, cursor, plan.probe, plan.timeout).await;
                r.process = process;
                r
            }
        });
    let regions = join_all(reads).await;
    let mut links = None;
    for (r, (_, c)) in regions.iter().zip(&plan.clients.regions) {
        if r.status.is_some() {
            if let Ok(Ok(t)) = tokio::time::timeout(plan.timeout, c.links()).await {
                links = Some(t);
            }
            break;
        }
    }
    RawSample {
        at_ms,
        mono_s,
        regions,
        links,
    }
}

/// One region: its status, then its feed, metrics and probe side by side, all within
/// `timeout`.
async fn read_region(
    t: &RegionTarget,
    c: &RegionClient,
    metrics: Option<std::net::SocketAddr>,
    cursor: Cursor,
    probe: bool,
    timeout: Duration,
) -> RawRegion {
    let start = Instant::now();
    let mut out = RawRegion {
        name: t.name.clone(),
        addr: t.addr.to_string(),
        ..RawRegion::default()
    };
    match tokio::time::timeout(timeout, c.status()).await {
        Err(_) => out.error = Some(format!("no answer within {} ms", timeout.as_millis())),
        Ok(Err(e)) => out.error = Some(error_text(&e)),
        Ok(Ok(s)) => out.status = Some(s),
    }
    if out.status.is_none() {
        return out;
    }
    let left = timeout.saturating_sub(start.elapsed());
    let feed = read_feed(c, cursor, left);
    let reads = async {
        let addr = metrics?;
        let page = metrics_text::fetch(addr, left).await.ok()?;
        metrics_text::reads_total(&page)
    };
    let ((events, cursor), reads_total) = tokio::join!(feed, reads);
    out.events = events;
    out.cursor = cursor;
    out.reads_total = reads_total;
    // The probe goes after the metrics page is read: the next update's counter holds it,
    // and takes it off (reads per second are the clients', not the dashboard's).
    if probe {
        out.probe_sent = true;
        let begin = Instant::now();
        let left = timeout.saturating_sub(start.elapsed());
        if let Ok(Ok(_)) = tokio::time::timeout(left, c.get(PROBE_KEY)).await {
            out.probe_ms = Some(begin.elapsed().as_secs_f64() * 1000.0);
        }
    }
    out
}

/// The events after `cursor`, a few pages at most; and the cursor after the last page read
/// (None when not even one page could be read).
async fn read_feed(
    c: &RegionClient,
    mut cursor: Cursor,
    timeout: Duration,
) -> (Vec<pb::ConflictEvent>, Option<Cursor>) {
    let start = Instant::now();
    let mut events = Vec::new();
    let mut moved = false;
    for _ in 0..FEED_PAGES {
        let left = timeout.saturating_sub(start.elapsed());
        let page = c.conflicts(cursor.after, FEED_PAGE, &cursor.incarnation);
        let Ok(Ok(reply)) = tokio::time::timeout(left, page).await else {
            break;
        };
        let full = reply.events.len() >= FEED_PAGE as usize;
        cursor = Cursor::after_reply(&reply);
        moved = true;
        events.extend(reply.events);
        if !full {
            break;
        }
    }
    (events, moved.then_some(cursor))
}

/// A failed call in words: the gRPC code and message, or the chain of causes.
pub fn error_text(e: &crate::Error) -> String {
    match e.status() {
        Some(s) => format!("{:?}: {}", s.code(), s.message()),
        None => e.chain(),
    }
}
