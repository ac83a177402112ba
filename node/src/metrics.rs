//! Prometheus metrics over HTTP (`GET /metrics`, the Prometheus text format 0.0.4), rendered
//! by `prometheus-client` on each scrape from the node's state: per-link replication lag as
//! histograms in seconds, pending writes and transfer, RPO lag, conflicts, lost writes, and
//! requests by method and status code.
//!
//! Names follow Prometheus conventions (base units in the name — `_seconds`, `_bytes` —,
//! `_total` on counters), so `promtool check metrics` accepts the page without a warning; a
//! multi-process test holds it to that. Every series is listed in the README's metrics table.
//!
//! Counters and gauges are read from the node's status at scrape time (a [`Collector`]); the
//! histograms are live state, fed where the hdr histograms of `Admin/Status` are recorded
//! (`state/link_stats.rs`), and encoded as they stand.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use axum::{Router, routing::get};
use meridian_proto::v1 as pb;
use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric, prometheus_text},
    metrics::{
        MetricType, counter::ConstCounter, gauge::ConstGauge,
        histogram::Histogram as SecondsHistogram,
    },
    registry::{Registry, Unit},
};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::{
    lock::Unpoisoned,
    state::{CODES, METHODS, NodeState},
};

/// The metrics page.
pub fn render(state: &NodeState) -> String {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Scrape::of(state)));
    let mut out = String::new();
    prometheus_text::encode(&mut out, &registry).expect("writing to a String cannot fail");
    out
}

/// What one scrape reports: the node's status, its histograms (shared handles, encoded as they
/// are), and the request counters.
#[derive(Debug)]
struct Scrape {
    status: pb::NodeStatus,
    /// Per inbound link, in the status's link order.
    links: Vec<LinkHistograms>,
    /// Per peer (as a secondary of this node when it is the Aurora Global primary): RPO lag.
    secondaries: Vec<(String, SecondsHistogram)>,
    /// (method, code, count): every method's OK count, and every other code seen.
    requests: Vec<(&'static str, &'static str, u64)>,
}

impl Scrape {
    fn of(state: &NodeState) -> Self {
        let status = crate::status::node_status(state);
        let links = state
            .peers()
            .map(|origin| {
                let s = state.inbound(origin).stats.locked();
                LinkHistograms {
                    lag: s.lag_seconds.clone(),
                    rpo_lag: s.rpo_lag_seconds.clone(),
                }
            })
            .collect();
        let secondaries = state
            .peers()
            .map(|p| {
                (
                    state.regions.name(p).to_owned(),
                    state.outbound(p).rpo_lag_seconds.clone(),
                )
            })
            .collect();
        let mut requests = Vec::new();
        for (m, method) in METHODS.iter().enumerate() {
            for (c, code) in CODES.iter().enumerate() {
                let n = state.requests.0[m][c].load(Ordering::Relaxed);
                if n > 0 || c == 0 {
                    requests.push((*method, *code, n));
                }
            }
        }
        Self {
            status,
            links,
            secondaries,
            requests,
        }
    }
}

/// An inbound link's Prometheus histograms (handles to the live ones).
#[derive(Debug)]
struct LinkHistograms {
    lag: SecondsHistogram,
    rpo_lag: SecondsHistogram,
}

/// The labels of a per-link series: the origin and this node's region.
fn link<'a>(l: &'a pb::LinkStatus, region: &'a str) -> [(&'static str, &'a str); 2] {
    [("origin", &l.origin), ("region", region)]
}

/// Emit one metric family: its help and type, then one sample per `(labels, metric)`.
fn family<L: EncodeLabelSet, M: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    (name, help, unit): (&str, &str, Option<&Unit>),
    kind: MetricType,
    samples: impl IntoIterator<Item = (L, M)>,
) -> Result<(), std::fmt::Error> {
    let mut metric = encoder.encode_descriptor(name, help, unit, kind)?;
    for (labels, m) in samples {
        m.encode(metric.encode_family(&labels)?)?;
    }
    Ok(())
}

/// A family's name (without its unit and `_total`), help text and unit.
type Describe = (&'static str, &'static str, Option<&'static Unit>);

/// A per-link family: its description and how to read its value from a link's status.
type LinkFigure<T> = (Describe, fn(&pb::LinkStatus) -> T);

/// A per-link histogram family: its description and which of the link's histograms it is.
type LinkHistogram = (Describe, fn(&LinkHistograms) -> &SecondsHistogram);

const SECONDS: Option<&Unit> = Some(&Unit::Seconds);

impl Collector for Scrape {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let s = &self.status;
        let region = s.region.as_str();
        let e = &mut encoder;

        let histograms: [LinkHistogram; 2] = [
            (
                (
                    "meridian_replication_lag",
                    "Replication lag per link: apply time here minus commit time at the origin",
                    SECONDS,
                ),
                |h| &h.lag,
            ),
            (
                (
                    "meridian_replication_rpo_lag",
                    "Aurora Global RPO lag samples of this node's link from the primary: age \
                     of the oldest write received and not applied yet",
                    SECONDS,
                ),
                |h| &h.rpo_lag,
            ),
        ];
        for (describe, pick) in histograms {
            let samples = s.links.iter().zip(&self.links);
            family(
                e,
                describe,
                MetricType::Histogram,
                samples.map(|(l, h)| (link(l, region), pick(h).clone())),
            )?;
        }
        family(
            e,
            (
                "meridian_replication_secondary_rpo_lag",
                "Aurora Global RPO lag samples of each secondary, taken while this node is \
                 the primary: age of the oldest write the secondary has not acknowledged",
                SECONDS,
            ),
            MetricType::Histogram,
            self.secondaries
                .iter()
                .map(|(name, h)| ([("region", region), ("secondary", name)], h.clone())),
        )?;

        let link_seconds: [LinkFigure<f64>; 2] = [
            (
                (
                    "meridian_replication_last_lag",
                    "Lag of the last write applied from the origin",
                    SECONDS,
                ),
                |l| l.last_lag_ms / 1000.0,
            ),
            (
                (
                    "meridian_replication_current_rpo_lag",
                    "Age of the oldest write received from the origin and not applied yet \
                     (0: none)",
                    SECONDS,
                ),
                |l| l.rpo_lag_ms / 1000.0,
            ),
        ];
        for (describe, f) in link_seconds {
            let samples = s
                .links
                .iter()
                .map(|l| (link(l, region), ConstGauge::new(f(l))));
            family(e, describe, MetricType::Gauge, samples)?;
        }
        let link_levels: [LinkFigure<i64>; 2] = [
            (
                (
                    "meridian_replication_pending_writes",
                    "Writes committed at the origin not yet applied here",
                    None,
                ),
                |l| l.pending as i64,
            ),
            (
                (
                    "meridian_replication_connected",
                    "1 while the pull stream from the origin is connected",
                    None,
                ),
                |l| l.connected.into(),
            ),
        ];
        for (describe, f) in link_levels {
            let samples = s
                .links
                .iter()
                .map(|l| (link(l, region), ConstGauge::new(f(l))));
            family(e, describe, MetricType::Gauge, samples)?;
        }
        let link_counters: [LinkFigure<u64>; 3] = [
            (
                (
                    "meridian_replication_writes_applied",
                    "Writes applied from the origin",
                    None,
                ),
                |l| l.writes_applied,
            ),
            (
                (
                    "meridian_replication_applied",
                    "Key and value bytes applied from the origin",
                    Some(&Unit::Bytes),
                ),
                |l| l.bytes_applied,
            ),
            (
                (
                    "meridian_replication_refused_writes",
                    "Replicated writes from the origin refused on receipt (the link is stuck)",
                    None,
                ),
                |l| l.refused_writes,
            ),
        ];
        for (describe, f) in link_counters {
            let samples = s
                .links
                .iter()
                .map(|l| (link(l, region), ConstCounter::new(f(l))));
            family(e, describe, MetricType::Counter, samples)?;
        }

        let node = [("region", region)];
        let counters: [(&str, &str, u64); 10] = [
            (
                "meridian_conflicts",
                "Concurrent writes merged here (conflicts detected)",
                s.conflicts,
            ),
            (
                "meridian_lost_writes",
                "Writes that lost a merge here",
                s.lost_writes,
            ),
            (
                "meridian_writes_local",
                "Writes committed by this region",
                s.writes_local,
            ),
            (
                "meridian_forwarded_writes",
                "Writes forwarded to the primary",
                s.forwarded_writes,
            ),
            (
                "meridian_rpo_refusals",
                "Commits refused by the Aurora Global RPO bound",
                s.rpo_refusals,
            ),
            (
                "meridian_pull_stream_refusals",
                "Pull streams refused because the peer had too many open",
                s.pull_stream_refusals,
            ),
            (
                "meridian_write_conflicts",
                "Multi-Region strong consistency: writes refused with ReplicatedWriteConflict",
                s.write_conflicts,
            ),
            (
                "meridian_quorum_refusals",
                "Multi-Region strong consistency: writes and strong reads refused for want of a quorum",
                s.quorum_refusals,
            ),
            (
                "meridian_catch_up_writes",
                "Own writes served to peers from the store (they asked below the log's truncation base)",
                s.catch_up_writes,
            ),
            (
                "meridian_tombstones_collected",
                "Tombstones dropped once every region had settled them",
                s.tombstones_collected,
            ),
        ];
        for (name, help, v) in counters {
            let samples = [(node, ConstCounter::new(v))];
            family(e, (name, help, None), MetricType::Counter, samples)?;
        }
        let gauges: [(&str, &str, f64); 5] = [
            (
                "meridian_items",
                "Keys held (tombstones included)",
                s.items as f64,
            ),
            (
                "meridian_writable",
                "1 when this region accepts writes",
                if s.writable { 1.0 } else { 0.0 },
            ),
            (
                "meridian_divergent_writes",
                "This region's own writes that a failover set aside",
                s.divergent_writes as f64,
            ),
            (
                "meridian_log_retained_writes",
                "Own log entries held (not yet truncated)",
                s.log_head.saturating_sub(s.log_base) as f64,
            ),
            (
                "meridian_tombstones_held",
                "Tombstones held that are waiting for collection (pending or being confirmed)",
                (s.tombstones_pending + s.tombstones_candidates) as f64,
            ),
        ];
        for (name, help, v) in gauges {
            let samples = [(node, ConstGauge::new(v))];
            family(e, (name, help, None), MetricType::Gauge, samples)?;
        }

        family(
            e,
            (
                "meridian_requests",
                "Client requests by method and gRPC status code",
                None,
            ),
            MetricType::Counter,
            self.requests.iter().map(|(method, code, n)| {
                (
                    [("region", region), ("method", method), ("code", code)],
                    ConstCounter::new(*n),
                )
            }),
        )
    }
}

/// Serve `/metrics` on `addr` until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    state: Arc<NodeState>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let state = state.clone();
            async move {
                (
                    [("content-type", prometheus_text::CONTENT_TYPE)],
                    render(&state),
                )
            }
        }),
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Bind the metrics listener (so a bad address is an error at start, not later).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}
