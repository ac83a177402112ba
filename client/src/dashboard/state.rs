//! The dashboard's state between updates, as a pure state machine: each raw sample goes in
//! ([`State::update`]) and a [`Snapshot`] comes out, with the conflict feed, the probe
//! windows, the chart history, the role changes and the action log kept here. No network and
//! no clock: the poller brings the samples and the times.

use std::collections::{BTreeMap, HashMap, VecDeque};

use super::{
    derive::{LatencySource, Update, point},
    feed::Feed,
    model::{
        ActionRecord, ConflictView, Controls, MAX_RECORDED_CONFLICTS, Point, Recording, RoleChange,
        Snapshot, Totals,
    },
    sample::RawSample,
};
use crate::load::live::Window;

/// Probe reads kept per region (their p50 and p99 are shown).
pub const PROBE_WINDOW: usize = 20;
/// Chart history kept, in time.
pub const HISTORY_SECONDS: u64 = 600;
/// Role changes listed.
pub const ROLE_CHANGES: usize = 20;
/// Actions listed.
pub const ACTIONS: usize = 20;
/// Most updates a recording keeps; past it, every other one is dropped and the recording
/// goes on at half the rate (so a long run stays bounded and still covers the whole run).
pub const MAX_RECORDED_SNAPSHOTS: usize = 2400;

/// A finished run's updates, bounded.
#[derive(Debug, Default)]
struct RecordingBuf {
    snapshots: Vec<Snapshot>,
    /// Keep one update in `stride`.
    stride: u64,
    conflicts: Vec<ConflictView>,
    /// Where each pair is in `conflicts`, by (key, winner id, loser id).
    index: HashMap<(String, String, String), usize>,
    conflicts_dropped: u64,
}

/// The dashboard's state.
#[derive(Debug)]
pub struct State {
    interval_ms: u64,
    controls: Controls,
    seq: u64,
    prev: Option<RawSample>,
    feed: Feed,
    probes: BTreeMap<String, Vec<f64>>,
    role_changes: VecDeque<RoleChange>,
    /// The (primary, epoch) of the last update (Aurora Global).
    last_role: Option<(String, u64)>,
    actions: VecDeque<ActionRecord>,
    next_action: u64,
    history: VecDeque<Point>,
    recording: Option<RecordingBuf>,
    phase: Option<String>,
    last: Snapshot,
}

impl State {
    /// A fresh state: `interval_ms` between updates, the `controls` the page may offer, and
    /// whether to keep a recording of every update (for a replay).
    pub fn new(interval_ms: u64, controls: Controls, record: bool) -> Self {
        Self {
            interval_ms,
            controls,
            seq: 0,
            prev: None,
            feed: Feed::default(),
            probes: BTreeMap::new(),
            role_changes: VecDeque::new(),
            last_role: None,
            actions: VecDeque::new(),
            next_action: 1,
            history: VecDeque::new(),
            recording: record.then(|| RecordingBuf {
                stride: 1,
                ..RecordingBuf::default()
            }),
            phase: None,
            last: Snapshot::default(),
        }
    }

    /// The conflict feed (its cursors tell the poller where to read from).
    pub fn feed(&self) -> &Feed {
        &self.feed
    }

    /// The last snapshot (a default one before the first update).
    pub fn last(&self) -> &Snapshot {
        &self.last
    }

    /// The chart points of the last [`HISTORY_SECONDS`], oldest first.
    pub fn history(&self) -> Vec<Point> {
        self.history.iter().cloned().collect()
    }

    /// The dashboard now watches other nodes (the demo's next cluster): rates and cursors
    /// start over; the history, conflicts, role changes and actions stay.
    pub fn retarget(&mut self) {
        self.prev = None;
        self.last_role = None;
        self.feed.forget_cursors();
        self.probes.clear();
    }

    /// What the program driving the cluster is doing now (None: nothing to say).
    pub fn set_phase(&mut self, phase: Option<String>) {
        self.phase = phase;
    }

    /// A role change the dashboard (or the demo) made, with its report's figures. It
    /// replaces an `observed` entry for the same epoch (the poller may see the new primary
    /// before the report arrives).
    pub fn record_role_change(&mut self, change: RoleChange) {
        self.role_changes
            .retain(|c| !(c.kind == "observed" && c.epoch == change.epoch));
        self.role_changes.push_front(change);
        self.role_changes.truncate(ROLE_CHANGES);
    }

    /// One use of a control and its outcome; returns the record (with its number).
    pub fn record_action(
        &mut self,
        action: String,
        ok: bool,
        message: String,
        at_ms: u64,
    ) -> ActionRecord {
        let rec = ActionRecord {
            id: self.next_action,
            at_ms,
            action,
            ok,
            message,
        };
        self.next_action += 1;
        self.actions.push_front(rec.clone());
        self.actions.truncate(ACTIONS);
        rec
    }

    /// Take one update's sample in; `live`: what the load beside the dashboard completed
    /// since the last update (None: no load is attached, client latency comes from the
    /// sample's probe reads).
    pub fn update(&mut self, raw: RawSample, live: Option<&BTreeMap<String, Window>>) -> Snapshot {
        self.seq += 1;
        let mut touched = Vec::new();
        for r in &raw.regions {
            touched.extend(self.feed.absorb(&r.events));
            if let Some(c) = &r.cursor {
                self.feed.set_cursor(&r.name, c.clone());
            }
            if let Some(ms) = r.probe_ms {
                let w = self.probes.entry(r.name.clone()).or_default();
                w.push(ms);
                if w.len() > PROBE_WINDOW {
                    w.remove(0);
                }
            }
        }
        let update = Update {
            prev: self.prev.as_ref(),
            cur: &raw,
            latency: match live {
                Some(w) => LatencySource::Load(w),
                None => LatencySource::Probes(&self.probes),
            },
        };
        let cluster = update.cluster();
        let regions: Vec<_> = raw.regions.iter().map(|r| update.region(r)).collect();
        let links = update.links();
        let point = point(raw.at_ms, &regions, &links, &raw, self.phase.clone());
        self.observe_role(&cluster.primary, cluster.epoch, raw.at_ms);
        let totals = Totals {
            conflicts: regions.iter().filter_map(|r| r.conflicts).sum(),
            lost_writes: regions.iter().filter_map(|r| r.lost_writes).sum(),
        };
        let snapshot = Snapshot {
            seq: self.seq,
            at_ms: raw.at_ms,
            interval_ms: self.interval_ms,
            cluster,
            phase: self.phase.clone(),
            controls: self.controls.clone(),
            latency_source: if live.is_some() { "load" } else { "probe" }.to_owned(),
            regions,
            links,
            conflicts: self.feed.recent(),
            totals,
            role_changes: self.role_changes.iter().cloned().collect(),
            actions: self.actions.iter().cloned().collect(),
            point: point.clone(),
        };
        self.history.push_back(point);
        let keep = (HISTORY_SECONDS * 1000 / self.interval_ms.max(1)) as usize;
        while self.history.len() > keep {
            self.history.pop_front();
        }
        if let Some(rec) = &mut self.recording {
            rec.add(&snapshot, touched, self.seq);
        }
        self.prev = Some(raw);
        self.last = snapshot.clone();
        snapshot
    }

    /// Note a primary that changed without a report (a command the dashboard did not see).
    fn observe_role(&mut self, primary: &Option<String>, epoch: u64, at_ms: u64) {
        let Some(primary) = primary else {
            return;
        };
        if let Some((was, was_epoch)) = &self.last_role
            && epoch > *was_epoch
            && primary != was
            && !self.role_changes.iter().any(|c| c.epoch == epoch)
        {
            self.role_changes.push_front(RoleChange {
                kind: "observed".to_owned(),
                from: was.clone(),
                to: primary.clone(),
                epoch,
                at_ms,
                by: "outside".to_owned(),
                ..RoleChange::default()
            });
            self.role_changes.truncate(ROLE_CHANGES);
        }
        self.last_role = Some((primary.clone(), epoch));
    }

    /// The run so far, for a replay (None: not recording).
    pub fn recording(&self) -> Option<Recording> {
        let rec = self.recording.as_ref()?;
        Some(Recording {
            snapshots: rec.snapshots.clone(),
            conflicts: rec.conflicts.clone(),
            conflicts_dropped: rec.conflicts_dropped,
        })
    }
}

impl RecordingBuf {
    /// Add an update, and the conflicts it touched (new pairs, and pairs another region
    /// reported again).
    fn add(&mut self, snapshot: &Snapshot, touched: Vec<ConflictView>, seq: u64) {
        for c in touched {
            let key = (
                c.key.clone(),
                c.winner.write_id.clone(),
                c.loser.write_id.clone(),
            );
            if let Some(i) = self.index.get(&key) {
                self.conflicts[*i] = c;
            } else if self.conflicts.len() < MAX_RECORDED_CONFLICTS {
                self.index.insert(key, self.conflicts.len());
                self.conflicts.push(c);
            } else {
                self.conflicts_dropped += 1;
            }
        }
        if !seq.is_multiple_of(self.stride) {
            return;
        }
        let mut s = snapshot.clone();
        s.conflicts.clear();
        s.controls.enabled = false;
        self.snapshots.push(s);
        if self.snapshots.len() >= MAX_RECORDED_SNAPSHOTS {
            let mut i = 0u64;
            self.snapshots.retain(|_| {
                i += 1;
                i.is_multiple_of(2)
            });
            self.stride *= 2;
        }
    }
}
