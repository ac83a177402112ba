//! The dashboard over HTTP (axum): the page and its assets, the JSON feed, and the controls.
//!
//! | route | what |
//! |---|---|
//! | `GET /` | the page (script, styles and uPlot under `/assets/`, all embedded in the binary) |
//! | `GET /api/snapshot` | the latest [`Snapshot`], JSON |
//! | `GET /api/history` | `{"points": [...]}`: the chart points of the last minutes |
//! | `GET /api/events` | server-sent events: one `snapshot` event per update |
//! | `POST /api/action` | one [`Action`] as JSON; answers `{"ok": true, "message", "result"}` or `{"ok": false, "error": {"code", "message"}}` |
//!
//! Guards: every request must name the server by an IP address or `localhost` in `Host`
//! (a page on another site cannot reach it through a DNS name it controls); an action must
//! be `application/json` (which a cross-site form cannot send without the browser asking
//! first, and this server never says yes), come from the page's own origin when the browser
//! says one, and carry the admin token in `meridian-admin-token` when the dashboard has one.

use std::{convert::Infallible, future::Future, net::IpAddr, sync::Arc};

use axum::{
    Router,
    body::Bytes,
    extract::{Path, Request, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    middleware::{self, Next},
    response::{
        IntoResponse, Response,
        sse::{Event, KeepAlive, Sse},
    },
    routing::{get, post},
};
use futures::Stream;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::{
    actions::{Action, Context, error_code, execute},
    assets,
    hub::Dashboard,
    model::Snapshot,
};
use crate::error::{Error, Result};

/// The header the page sends the admin token in.
pub const TOKEN_HEADER: &str = "meridian-admin-token";

/// The content security policy of the page: nothing from anywhere but this server.
const CSP: &str = "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; \
    script-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'none'";

/// The routes, guarded.
pub fn router(dashboard: Dashboard) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/assets/{file}", get(asset))
        .route("/api/snapshot", get(snapshot))
        .route("/api/history", get(history))
        .route("/api/events", get(events))
        .route("/api/action", post(action))
        .layer(middleware::from_fn(guard_host))
        .with_state(dashboard)
}

/// Serve the dashboard on `listener` and update it, until `shutdown` resolves; then end the
/// event streams, stop the updates and return once both are done.
pub async fn serve(
    listener: TcpListener,
    dashboard: Dashboard,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
    let updates = {
        let d = dashboard.clone();
        tokio::spawn(async move {
            d.run(async move {
                let _ = stop_rx.wait_for(|s| *s).await;
            })
            .await
        })
    };
    let closing = dashboard.clone();
    let served = axum::serve(listener, router(dashboard))
        .with_graceful_shutdown(async move {
            shutdown.await;
            closing.close();
        })
        .await;
    stop_tx.send_replace(true);
    let updated = updates.await?;
    served?;
    updated
}

/// Is `host` (a `Host` header) an IP address or `localhost`, with or without a port?
pub fn host_allowed(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        match rest.split_once(']') {
            Some((ip, tail)) if tail.is_empty() || tail.starts_with(':') => ip,
            _ => return false,
        }
    } else {
        match host.rsplit_once(':') {
            Some((h, port)) if !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => h,
            Some(_) => return false,
            None => host,
        }
    };
    name.eq_ignore_ascii_case("localhost") || name.parse::<IpAddr>().is_ok()
}

async fn guard_host(req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("");
    if !host_allowed(host) {
        return refusal(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "the dashboard answers only to an IP address or localhost in Host",
        );
    }
    next.run(req).await
}

fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response {
    let body = serde_json::to_string(value).unwrap_or_else(|_| "{}".to_owned());
    (
        status,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// A request refused before anything ran.
fn refusal(status: StatusCode, code: &str, message: &str) -> Response {
    json_response(
        status,
        &json!({"ok": false, "error": {"code": code, "message": message}}),
    )
}

fn with_page_headers(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

async fn index() -> Response {
    with_page_headers(
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            assets::live_page(),
        )
            .into_response(),
    )
}

async fn asset(Path(file): Path<String>) -> Response {
    match assets::file(&file) {
        Some((content_type, body)) => {
            with_page_headers(([(header::CONTENT_TYPE, content_type)], body).into_response())
        }
        None => refusal(StatusCode::NOT_FOUND, "NotFound", "no such asset"),
    }
}

async fn snapshot(State(d): State<Dashboard>) -> Response {
    json_response(StatusCode::OK, &*d.snapshot())
}

async fn history(State(d): State<Dashboard>) -> Response {
    json_response(StatusCode::OK, &json!({"points": d.history()}))
}

fn event(s: &Snapshot) -> Event {
    Event::default()
        .event("snapshot")
        .id(s.seq.to_string())
        .data(serde_json::to_string(s).unwrap_or_else(|_| "{}".to_owned()))
}

/// One `snapshot` event per update, from the latest one on (none before the first update);
/// the stream ends when the dashboard closes.
async fn events(
    State(d): State<Dashboard>,
) -> Sse<impl Stream<Item = std::result::Result<Event, Infallible>>> {
    let start = (d.subscribe(), d.closing(), true);
    let stream = futures::stream::unfold(start, |(mut rx, mut closing, first)| async move {
        if *closing.borrow() {
            return None;
        }
        let mut wait = !first;
        loop {
            if wait {
                tokio::select! {
                    changed = rx.changed() => changed.ok()?,
                    _ = closing.wait_for(|c| *c) => return None,
                }
            }
            wait = true;
            let s: Arc<Snapshot> = rx.borrow_and_update().clone();
            if s.seq > 0 {
                return Some((Ok(event(&s)), (rx, closing, false)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// Byte strings equal, in time that does not depend on where they differ.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Why an action request is refused before it runs, if it is.
fn check_action_request(d: &Dashboard, headers: &HeaderMap) -> Option<Response> {
    let text = |h| headers.get(h).and_then(|v: &HeaderValue| v.to_str().ok());
    if let Some(origin) = text(header::ORIGIN)
        && origin != format!("http://{}", text(header::HOST).unwrap_or(""))
    {
        return Some(refusal(
            StatusCode::FORBIDDEN,
            "PermissionDenied",
            "actions are taken only from the dashboard's own page",
        ));
    }
    let json_body = text(header::CONTENT_TYPE).is_some_and(|t| {
        t.split(';')
            .next()
            .is_some_and(|m| m.trim() == "application/json")
    });
    if !json_body {
        return Some(refusal(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "InvalidArgument",
            "an action is a JSON body (content-type: application/json)",
        ));
    }
    if let Some(token) = &d.opts().admin_token {
        let given = headers.get(TOKEN_HEADER).map(HeaderValue::as_bytes);
        if !given.is_some_and(|g| same_secret(g, token.as_bytes())) {
            return Some(refusal(
                StatusCode::UNAUTHORIZED,
                "Unauthenticated",
                "this dashboard needs the admin token for its controls (header meridian-admin-token)",
            ));
        }
    }
    None
}

async fn action(State(d): State<Dashboard>, headers: HeaderMap, body: Bytes) -> Response {
    if let Some(refused) = check_action_request(&d, &headers) {
        return refused;
    }
    let action: Action = match serde_json::from_slice(&body) {
        Ok(a) => a,
        Err(e) => {
            return refusal(
                StatusCode::BAD_REQUEST,
                "InvalidArgument",
                &format!("not an action: {e}"),
            );
        }
    };
    let described = action.describe();
    // Regions that answered the last update first: link changes go to a node that is up.
    let last = d.snapshot();
    let up = |name: &str| {
        last.regions
            .iter()
            .any(|r| r.name == name && r.state == "up")
    };
    let target = d.target();
    let mut regions: Vec<_> = target
        .regions
        .iter()
        .map(|r| (r.name.clone(), r.addr))
        .collect();
    regions.sort_by_key(|(name, _)| !up(name));
    let session = d.session();
    let ctx = Context {
        regions,
        session: &session,
        processes: d.opts().processes.as_ref(),
    };
    match execute(&action, &ctx).await {
        Ok(outcome) => {
            if let Some(change) = outcome.role_change {
                d.record_role_change(change);
            }
            let id = d.record_action(described.clone(), true, outcome.message.clone());
            json_response(
                StatusCode::OK,
                &json!({"ok": true, "id": id, "action": described, "message": outcome.message, "result": outcome.result}),
            )
        }
        Err(e) => {
            let code = error_code(&e);
            let message = match e.status() {
                Some(s) => s.message().to_owned(),
                None => e.chain(),
            };
            let id = d.record_action(described.clone(), false, format!("{code}: {message}"));
            let status = if matches!(e, Error::Invalid(_)) {
                StatusCode::BAD_REQUEST
            } else {
                StatusCode::BAD_GATEWAY
            };
            let body: Value = json!({"ok": false, "id": id, "action": described, "error": {"code": code, "message": message}});
            json_response(status, &body)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_ip_addresses_and_localhost_are_accepted_hosts() {
        for ok in [
            "127.0.0.1:7190",
            "127.0.0.1",
            "localhost:7190",
            "LOCALHOST",
            "[::1]:7190",
            "[::1]",
            "10.0.0.5:80",
        ] {
            assert!(host_allowed(ok), "{ok}");
        }
        for bad in [
            "",
            "evil.example:7190",
            "localhost.evil.example",
            "127.0.0.1.nip.io:7190",
            "[::1]x",
            "127.0.0.1:port",
        ] {
            assert!(!host_allowed(bad), "{bad}");
        }
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret(b"abc", b"abc"));
        assert!(!same_secret(b"abc", b"abd"));
        assert!(!same_secret(b"abc", b"abcd"));
    }
}
