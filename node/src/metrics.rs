//! Prometheus metrics over HTTP (`GET /metrics`, text exposition format), rendered on demand
//! from the node's state: per-link replication lag, pending writes and transfer, conflicts,
//! lost writes, and requests by method and status code.

use std::{
    net::SocketAddr,
    sync::{Arc, atomic::Ordering},
};

use axum::{Router, routing::get};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::state::{CODES, METHODS, NodeState};

fn line(out: &mut String, name: &str, labels: &str, value: impl std::fmt::Display) {
    out.push_str(&format!("{name}{{{labels}}} {value}\n"));
}

/// Reads one per-link figure from a link's status.
type LinkGauge = fn(&meridian_proto::v1::LinkStatus) -> f64;

/// The metrics page.
pub fn render(state: &NodeState) -> String {
    let s = crate::status::node_status(state);
    let region = &s.region;
    let mut out = String::new();
    out += "# HELP meridian_replication_lag_ms Replication lag (apply time - origin commit time) per link, ms.\n# TYPE meridian_replication_lag_ms summary\n";
    for l in &s.links {
        let lag = l.lag.unwrap_or_default();
        for (q, v) in [
            ("0.5", lag.p50),
            ("0.9", lag.p90),
            ("0.99", lag.p99),
            ("0.999", lag.p999),
        ] {
            line(
                &mut out,
                "meridian_replication_lag_ms",
                &format!(
                    "origin=\"{}\",region=\"{region}\",quantile=\"{q}\"",
                    l.origin
                ),
                v,
            );
        }
        line(
            &mut out,
            "meridian_replication_lag_ms_count",
            &format!("origin=\"{}\",region=\"{region}\"", l.origin),
            lag.count,
        );
        line(
            &mut out,
            "meridian_replication_lag_ms_sum",
            &format!("origin=\"{}\",region=\"{region}\"", l.origin),
            lag.mean * lag.count as f64,
        );
    }
    let per_link: [(&str, &str, &str, LinkGauge); 5] = [
        (
            "meridian_replication_pending_writes",
            "gauge",
            "Writes committed at the origin not yet applied here.",
            |l| l.pending as f64,
        ),
        (
            "meridian_replication_last_lag_ms",
            "gauge",
            "Lag of the last write applied from the origin, ms.",
            |l| l.last_lag_ms,
        ),
        (
            "meridian_replication_rpo_lag_ms",
            "gauge",
            "Age of the oldest write received from the origin and not applied, ms.",
            |l| l.rpo_lag_ms,
        ),
        (
            "meridian_replication_writes_applied_total",
            "counter",
            "Writes applied from the origin.",
            |l| l.writes_applied as f64,
        ),
        (
            "meridian_replication_bytes_applied_total",
            "counter",
            "Key and value bytes applied from the origin.",
            |l| l.bytes_applied as f64,
        ),
    ];
    for (name, kind, help, f) in per_link {
        out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
        for l in &s.links {
            line(
                &mut out,
                name,
                &format!("origin=\"{}\",region=\"{region}\"", l.origin),
                f(l),
            );
        }
    }
    for (name, kind, help, v) in [
        (
            "meridian_conflicts_total",
            "counter",
            "Concurrent writes merged here (conflicts detected).",
            s.conflicts as f64,
        ),
        (
            "meridian_lost_writes_total",
            "counter",
            "Writes that lost a merge here.",
            s.lost_writes as f64,
        ),
        (
            "meridian_writes_local_total",
            "counter",
            "Writes committed by this region.",
            s.writes_local as f64,
        ),
        (
            "meridian_items",
            "gauge",
            "Keys held (tombstones included).",
            s.items as f64,
        ),
        (
            "meridian_forwarded_writes_total",
            "counter",
            "Writes forwarded to the primary.",
            s.forwarded_writes as f64,
        ),
        (
            "meridian_writable",
            "gauge",
            "1 when this region accepts writes.",
            if s.writable { 1.0 } else { 0.0 },
        ),
    ] {
        out += &format!("# HELP {name} {help}\n# TYPE {name} {kind}\n");
        line(&mut out, name, &format!("region=\"{region}\""), v);
    }
    out += "# HELP meridian_requests_total Client requests by method and status code.\n# TYPE meridian_requests_total counter\n";
    for (m, method) in METHODS.iter().enumerate() {
        for (c, code) in CODES.iter().enumerate() {
            let n = state.requests.0[m][c].load(Ordering::Relaxed);
            if n > 0 || c == 0 {
                line(
                    &mut out,
                    "meridian_requests_total",
                    &format!("region=\"{region}\",method=\"{method}\",code=\"{code}\""),
                    n,
                );
            }
        }
    }
    out
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
                    [("content-type", "text/plain; version=0.0.4")],
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
