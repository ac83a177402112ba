//! Pure functions from raw samples to what the page shows: per-second rates from successive
//! counters, the mean lag of the writes applied between two updates, and the words for a
//! region's and a link's state. No network and no clock: two samples in, views out.

use std::collections::BTreeMap;

use meridian_proto::v1 as pb;

use super::{
    model::{ClusterView, LatencyView, LinkPoint, LinkView, Point, RegionPoint, RegionView},
    sample::{Process, RawRegion, RawSample},
};
use crate::{load::live::Window, report::replies::mode_name};

/// Per-second rate of a counter between two readings (None when either is missing, the
/// counter went back — a restart — or no time passed).
pub fn rate(prev: Option<u64>, cur: Option<u64>, dt_s: f64) -> Option<f64> {
    match (prev, cur) {
        (Some(p), Some(c)) if c >= p && dt_s > 0.0 => Some((c - p) as f64 / dt_s),
        _ => None,
    }
}

/// Mean lag of the writes applied between two readings of a link's lag summary (count and
/// mean since start), ms: the sum of lags grew by `c2·m2 − c1·m1` over `c2 − c1` writes.
/// None when no write was applied in between (or the summary started over).
pub fn interval_mean_lag(
    prev: Option<&pb::LatencySummary>,
    cur: Option<&pb::LatencySummary>,
) -> Option<f64> {
    let (p, c) = (prev?, cur?);
    if c.count <= p.count {
        return None;
    }
    let sum = c.mean * c.count as f64 - p.mean * p.count as f64;
    Some((sum / (c.count - p.count) as f64).max(0.0))
}

/// Nearest-rank quantile of unsorted values (None when empty).
pub fn quantile(values: &[f64], q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let rank = ((q * v.len() as f64).ceil() as usize).clamp(1, v.len());
    Some(v[rank - 1])
}

/// Where client latency comes from this update.
pub enum LatencySource<'a> {
    /// The load generator beside the dashboard: what each region completed since the last
    /// update.
    Load(&'a BTreeMap<String, Window>),
    /// The dashboard's probe reads: the last few per region.
    Probes(&'a BTreeMap<String, Vec<f64>>),
}

/// Two successive samples, and what else an update needs.
pub struct Update<'a> {
    /// The previous update's sample (None: this is the first).
    pub prev: Option<&'a RawSample>,
    /// This update's.
    pub cur: &'a RawSample,
    /// Client latency.
    pub latency: LatencySource<'a>,
}

impl<'a> Update<'a> {
    fn dt(&self) -> f64 {
        self.prev.map_or(0.0, |p| self.cur.mono_s - p.mono_s)
    }

    /// The previous status of `region`, if it belongs to the same node incarnation.
    fn prev_status(&self, region: &str, cur: &pb::NodeStatus) -> Option<&'a pb::NodeStatus> {
        self.prev?
            .regions
            .iter()
            .find(|r| r.name == region)?
            .status
            .as_ref()
            .filter(|p| p.incarnation == cur.incarnation)
    }

    fn prev_region(&self, region: &str) -> Option<&'a RawRegion> {
        self.prev?.regions.iter().find(|r| r.name == region)
    }

    /// The highest epoch a node reports, and the primary those nodes name.
    pub fn current_role(&self) -> (u64, Option<String>) {
        let best = self
            .cur
            .regions
            .iter()
            .filter_map(|r| r.status.as_ref())
            .max_by_key(|s| s.epoch);
        match best {
            Some(s) if s.mode == pb::Mode::AuroraGlobal as i32 => {
                (s.epoch, Some(s.primary.clone()))
            }
            Some(s) => (s.epoch, None),
            None => (0, None),
        }
    }

    /// The cluster as a whole.
    pub fn cluster(&self) -> ClusterView {
        let (epoch, primary) = self.current_role();
        let first = self.cur.regions.iter().find_map(|r| r.status.as_ref());
        ClusterView {
            mode: first.map(|s| mode_name(s.mode).to_owned()),
            primary,
            epoch,
            regions_up: self
                .cur
                .regions
                .iter()
                .filter(|r| r.status.is_some())
                .count(),
            regions: self.cur.regions.len(),
            link_source: self.cur.links.as_ref().map(|t| t.source.clone()),
        }
    }

    /// The setting of link `from` → `to`: as `to` knows it, else from the cluster's table.
    fn setting(&self, from: &str, to: &str) -> Option<pb::LinkSetting> {
        let at_to = self
            .cur
            .regions
            .iter()
            .find(|r| r.name == to)
            .and_then(|r| r.status.as_ref())
            .and_then(|s| s.links.iter().find(|l| l.origin == from))
            .and_then(|l| l.setting.clone());
        at_to.or_else(|| {
            self.cur
                .links
                .as_ref()?
                .links
                .iter()
                .find(|l| l.from == from && l.to == to)
                .cloned()
        })
    }

    /// The peers `region` is cut off from (either direction partitioned).
    fn partitioned_from(&self, region: &str) -> Vec<String> {
        self.cur
            .regions
            .iter()
            .filter(|p| p.name != region)
            .filter(|p| {
                let cut = |a: &str, b: &str| self.setting(a, b).is_some_and(|s| s.partitioned);
                cut(region, &p.name) || cut(&p.name, region)
            })
            .map(|p| p.name.clone())
            .collect()
    }

    fn latency(&self, region: &str) -> Option<LatencyView> {
        match &self.latency {
            LatencySource::Load(windows) => {
                let w = windows.get(region)?;
                (!w.latency.is_empty()).then(|| LatencyView {
                    p50_ms: w.latency.value_at_quantile(0.5) as f64 / 1000.0,
                    p99_ms: w.latency.value_at_quantile(0.99) as f64 / 1000.0,
                    samples: w.latency.len(),
                    source: "load".to_owned(),
                })
            }
            LatencySource::Probes(probes) => {
                let v = probes.get(region)?;
                Some(LatencyView {
                    p50_ms: quantile(v, 0.5)?,
                    p99_ms: quantile(v, 0.99)?,
                    samples: v.len() as u64,
                    source: "probe".to_owned(),
                })
            }
        }
    }

    /// Reads per second and where the figure comes from (the dashboard's own probe read of
    /// the previous update taken off).
    fn read_rate(&self, r: &RawRegion) -> (Option<f64>, Option<String>) {
        let prev = self.prev_region(&r.name);
        let own = prev.is_some_and(|p| p.probe_sent) as u64;
        let before = prev.and_then(|p| p.reads_total);
        if let Some(rate) = rate(before, r.reads_total, self.dt()) {
            let own_rate = own as f64 / self.dt();
            return (Some((rate - own_rate).max(0.0)), Some("metrics".to_owned()));
        }
        match &self.latency {
            LatencySource::Load(windows) if self.dt() > 0.0 => {
                let reads = windows.get(&r.name).map_or(0, |w| w.reads);
                (Some(reads as f64 / self.dt()), Some("load".to_owned()))
            }
            _ => (None, None),
        }
    }

    /// One region's view.
    pub fn region(&self, r: &RawRegion) -> RegionView {
        let peers = self.cur.regions.len().saturating_sub(1);
        let pid = match r.process {
            Process::Running(p) | Process::Gone(p) => Some(p),
            Process::Unknown => None,
        };
        let Some(s) = &r.status else {
            let health = match r.process {
                Process::Gone(_) => "down (process not running)",
                Process::Running(_) => "down (process running, not answering)",
                Process::Unknown => "down",
            };
            return RegionView {
                name: r.name.clone(),
                addr: r.addr.clone(),
                state: "down".to_owned(),
                health: health.to_owned(),
                error: r.error.clone(),
                peers,
                pid,
                ..RegionView::default()
            };
        };
        let dt = self.dt();
        let prev = self.prev_status(&r.name, s);
        let aurora = s.mode == pb::Mode::AuroraGlobal as i32;
        let (max_epoch, _) = self.current_role();
        let partitioned_from = self.partitioned_from(&r.name);
        let partitioned = peers > 0 && partitioned_from.len() == peers;
        let mut words = vec![if partitioned {
            "partitioned".to_owned()
        } else if partitioned_from.is_empty() {
            "up".to_owned()
        } else {
            format!("partitioned from {}", partitioned_from.join(", "))
        }];
        if s.frozen {
            words.push("frozen (switchover draining)".to_owned());
        }
        if s.quorum.starts_with("catching up") {
            // Strong consistency: back from a partition or a restart, not serving yet.
            words.push(s.quorum.clone());
        }
        if aurora && s.epoch < max_epoch {
            words.push(if s.primary == s.region {
                format!(
                    "cut off: still believes it is the primary (epoch {} < {max_epoch})",
                    s.epoch
                )
            } else {
                format!("behind the current role (epoch {} < {max_epoch})", s.epoch)
            });
        }
        let reachable_peers = s.links.iter().filter(|l| l.connected).count();
        let (read_rate, read_rate_source) = self.read_rate(r);
        let rpo_lag_ms = if !aurora {
            None
        } else if s.primary == s.region {
            s.secondaries.iter().map(|x| x.rpo_lag_ms).reduce(f64::max)
        } else {
            s.links
                .iter()
                .find(|l| l.origin == s.primary)
                .map(|l| l.rpo_lag_ms)
        };
        RegionView {
            name: r.name.clone(),
            addr: r.addr.clone(),
            state: "up".to_owned(),
            health: words.join("; "),
            partitioned,
            partitioned_from,
            error: None,
            role: Some(
                if !aurora {
                    "read-write"
                } else if s.primary == s.region {
                    "primary"
                } else {
                    "secondary"
                }
                .to_owned(),
            ),
            mode: Some(mode_name(s.mode).to_owned()),
            primary: (aurora && !s.primary.is_empty()).then(|| s.primary.clone()),
            epoch: aurora.then_some(s.epoch),
            writable: Some(s.writable),
            reachable_peers,
            peers,
            majority: (reachable_peers + 1) * 2 > self.cur.regions.len(),
            write_rate: rate(prev.map(|p| p.writes_local), Some(s.writes_local), dt),
            read_rate,
            read_rate_source,
            latency: self.latency(&r.name),
            writes_local: Some(s.writes_local),
            items: Some(s.items),
            conflicts: Some(s.conflicts),
            lost_writes: Some(s.lost_writes),
            conflict_rate: rate(prev.map(|p| p.conflicts), Some(s.conflicts), dt),
            lost_rate: rate(prev.map(|p| p.lost_writes), Some(s.lost_writes), dt),
            rpo_lag_ms,
            pid,
        }
    }

    /// Link `from` → `to`.
    pub fn link(&self, from: &str, to: &str) -> LinkView {
        let region = |name: &str| self.cur.regions.iter().find(|r| r.name == name);
        let to_status = region(to).and_then(|r| r.status.as_ref());
        let from_status = region(from).and_then(|r| r.status.as_ref());
        let from_up = from_status.is_some();
        let status = to_status.and_then(|s| s.links.iter().find(|l| l.origin == from));
        let prev = to_status
            .and_then(|s| self.prev_status(to, s))
            .and_then(|p| p.links.iter().find(|l| l.origin == from));
        let setting = self.setting(from, to);
        let state = match (&setting, status) {
            (Some(s), _) if s.partitioned => "partitioned",
            _ if to_status.is_none() || !from_up => "down",
            (_, Some(l)) if !l.connected => "disconnected",
            (_, Some(_)) => "ok",
            (_, None) => "unknown",
        };
        LinkView {
            from: from.to_owned(),
            to: to.to_owned(),
            state: state.to_owned(),
            latency_ms: setting.as_ref().map(|s| s.latency_ms),
            jitter_ms: setting.as_ref().map(|s| s.jitter_ms),
            loss: setting.as_ref().map(|s| s.loss),
            connected: status.map(|l| l.connected),
            pending: status.map(|l| l.pending),
            backlog: match (from_status, status) {
                (Some(f), Some(l)) => Some(f.log_head.saturating_sub(l.applied_seq)),
                _ => None,
            },
            lag_ms: status
                .and_then(|l| interval_mean_lag(prev.and_then(|p| p.lag.as_ref()), l.lag.as_ref())),
            last_lag_ms: status.map(|l| l.last_lag_ms),
            lag_p50_ms: status
                .and_then(|l| l.lag.as_ref())
                .filter(|l| l.count > 0)
                .map(|l| l.p50),
            lag_p99_ms: status
                .and_then(|l| l.lag.as_ref())
                .filter(|l| l.count > 0)
                .map(|l| l.p99),
            apply_rate: status.and_then(|l| {
                rate(
                    prev.map(|p| p.writes_applied),
                    Some(l.writes_applied),
                    self.dt(),
                )
            }),
            rpo_lag_ms: status.map(|l| l.rpo_lag_ms),
            rpo_lag_writes: status.map(|l| l.rpo_lag_writes),
            refused_writes: status.map(|l| l.refused_writes),
        }
    }

    /// Every directed link between the sample's regions.
    pub fn links(&self) -> Vec<LinkView> {
        let names: Vec<&str> = self.cur.regions.iter().map(|r| r.name.as_str()).collect();
        let mut out = Vec::new();
        for from in &names {
            for to in &names {
                if from != to {
                    out.push(self.link(from, to));
                }
            }
        }
        out
    }
}

fn sum(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    values.flatten().reduce(|a, b| a + b)
}

/// The chart values of an update.
pub fn point(
    at_ms: u64,
    regions: &[RegionView],
    links: &[LinkView],
    cur: &RawSample,
    phase: Option<String>,
) -> Point {
    let primary = cur
        .regions
        .iter()
        .filter_map(|r| r.status.as_ref())
        .filter(|s| s.mode == pb::Mode::AuroraGlobal as i32 && s.primary == s.region)
        .max_by_key(|s| s.epoch);
    Point {
        t: at_ms as f64 / 1000.0,
        regions: regions
            .iter()
            .map(|r| {
                (
                    r.name.clone(),
                    RegionPoint {
                        p50_ms: r.latency.as_ref().map(|l| l.p50_ms),
                        p99_ms: r.latency.as_ref().map(|l| l.p99_ms),
                        writes: r.write_rate,
                        reads: r.read_rate,
                        conflicts: r.conflict_rate,
                        lost: r.lost_rate,
                    },
                )
            })
            .collect(),
        links: links
            .iter()
            .map(|l| {
                (
                    format!("{}>{}", l.from, l.to),
                    LinkPoint {
                        lag_ms: l.lag_ms,
                        pending: l.pending,
                        backlog: l.backlog,
                    },
                )
            })
            .collect(),
        conflicts: sum(regions.iter().map(|r| r.conflict_rate)),
        lost: sum(regions.iter().map(|r| r.lost_rate)),
        rpo_lag_ms: primary
            .map(|p| {
                p.secondaries
                    .iter()
                    .map(|s| (s.region.clone(), s.rpo_lag_ms))
                    .collect()
            })
            .unwrap_or_default(),
        phase,
    }
}
