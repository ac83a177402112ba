//! The node's ecosystem: the standard gRPC health service, server reflection (what `grpcurl`
//! uses), and the Prometheus metrics endpoint.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{Read, Write},
    process::{Command, Stdio},
};

use crate::support::{Cluster, Spec, free_port, runtime};

#[test]
fn health_and_reflection_answer() {
    let c = Cluster::start("ecosystem", Spec::new(&["a", "b"], 5.0));
    let url = c.url("a");
    runtime().block_on(async {
        let channel = tonic::transport::Channel::from_shared(url.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        use tonic_health::pb::{
            HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
        };
        let mut health = HealthClient::new(channel.clone());
        for service in [
            "meridian.v1.Kv",
            "meridian.v1.Admin",
            "meridian.v1.Replication",
        ] {
            let r = health
                .check(HealthCheckRequest {
                    service: service.into(),
                })
                .await
                .unwrap()
                .into_inner();
            assert_eq!(r.status, ServingStatus::Serving as i32, "{service}");
        }

        use tonic_reflection::pb::v1::{
            ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
            server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
        };
        let mut reflection = ServerReflectionClient::new(channel);
        let ask = |m: MessageRequest| ServerReflectionRequest {
            host: String::new(),
            message_request: Some(m),
        };
        let requests = vec![
            ask(MessageRequest::ListServices(String::new())),
            ask(MessageRequest::FileContainingSymbol(
                "meridian.v1.Kv".into(),
            )),
        ];
        let mut replies = reflection
            .server_reflection_info(tokio_stream::iter(requests))
            .await
            .unwrap()
            .into_inner();
        let Some(MessageResponse::ListServicesResponse(list)) =
            replies.message().await.unwrap().unwrap().message_response
        else {
            panic!("expected a service list");
        };
        let names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
        for s in [
            "meridian.v1.Kv",
            "meridian.v1.Admin",
            "meridian.v1.Replication",
            "grpc.health.v1.Health",
        ] {
            assert!(names.contains(&s.to_owned()), "{s} listed in {names:?}");
        }
        let Some(MessageResponse::FileDescriptorResponse(files)) =
            replies.message().await.unwrap().unwrap().message_response
        else {
            panic!("expected file descriptors");
        };
        use prost::Message;
        let kv = files
            .file_descriptor_proto
            .iter()
            .map(|b| prost_types::FileDescriptorProto::decode(b.as_slice()).unwrap())
            .find(|f| f.service.iter().any(|s| s.name() == "Kv"))
            .expect("the Kv service's file");
        let methods: Vec<&str> = kv.service[0].method.iter().map(|m| m.name()).collect();
        assert_eq!(methods, vec!["Put", "Get", "Delete", "Increment"]);
    });
}

/// Plain HTTP/1.1 GET on loopback.
fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    body
}

/// The body of an HTTP response (after the blank line ending the headers).
fn body(response: &str) -> &str {
    response.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

/// Run `promtool check metrics` on `page`; its complaints (empty: none). Panics when promtool
/// is not installed: the test needs it (`.ci/run` installs it, Debian package `prometheus`).
fn promtool_check(page: &str) -> String {
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) => panic!(
            "promtool is required for this test and could not be run ({e}): install it with \
             `apt-get install prometheus` (.ci/run does)"
        ),
    };
    child
        .stdin
        .take()
        .unwrap()
        .write_all(page.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let complaints = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    if out.status.success() {
        complaints
    } else {
        format!("exit {:?}: {complaints}", out.status.code())
    }
}

/// Every family a page serves: (name, type, label names of its samples — `le` aside).
fn families(page: &str) -> BTreeMap<String, (String, BTreeSet<String>)> {
    let mut out: BTreeMap<String, (String, BTreeSet<String>)> = BTreeMap::new();
    for l in page.lines() {
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').unwrap();
            out.insert(name.into(), (kind.into(), BTreeSet::new()));
        } else if !l.starts_with('#') && !l.is_empty() {
            let (series, labels) = l.split_once('{').unwrap_or((l, ""));
            let name = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    series
                        .strip_suffix(s)
                        .filter(|n| out.get(*n).is_some_and(|(k, _)| k == "histogram"))
                })
                .unwrap_or(series);
            let entry = out
                .get_mut(name)
                .unwrap_or_else(|| panic!("sample of an undeclared family: {l}"));
            for pair in labels.split(',') {
                if let Some((k, _)) = pair.split_once('=')
                    && k != "le"
                {
                    entry.1.insert(k.trim().to_owned());
                }
            }
        }
    }
    out
}

/// The README's metrics table (between its markers), in the same shape as [`families`].
fn readme_table() -> BTreeMap<String, (String, BTreeSet<String>)> {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap();
    let (_, rest) = readme
        .split_once("<!-- metrics-table -->")
        .expect("the README marks its metrics table");
    let (table, _) = rest
        .split_once("<!-- /metrics-table -->")
        .expect("the README ends its metrics table");
    table
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`').to_owned();
            let labels = cells[3]
                .split(',')
                .map(|c| c.trim().trim_matches('`').to_owned())
                .filter(|c| !c.is_empty())
                .collect();
            (name, (cells[2].to_owned(), labels))
        })
        .collect()
}

/// A node with `--metrics-addr` that has replicated, conflicted and lost a write serves a page
/// `promtool check metrics` accepts without a warning — every series the README's table lists,
/// no other, with the labels it says — and its lag histograms count what was applied.
#[test]
fn metrics_pass_promtool_and_match_the_readme_table() {
    let port = free_port();
    let mut c = Cluster::start("metrics", Spec::new(&["a", "b"], 5.0));
    // Restart a with a metrics listener of its own.
    c.kill("a");
    c.start_node_with("a", &["--metrics-addr", &format!("127.0.0.1:{port}")]);
    c.ctl("a", &["partition", "a"]);
    c.ctl("a", &["put", "k", "from-a"]);
    c.ctl("b", &["put", "k", "from-b"]);
    c.ctl("b", &["put", "k2", "v"]);
    c.ctl("a", &["heal"]);
    crate::support::poll("a applied b's writes", || c.value("a", "k2"));
    crate::support::poll("a saw the conflict", || {
        (c.stats("a")["conflicts"].as_u64() >= Some(1)).then_some(())
    });

    let response = http_get(&format!("127.0.0.1:{port}"), "/metrics");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(
        response.contains("content-type: text/plain; version=0.0.4"),
        "{response}"
    );
    let page = body(&response);
    let complaints = promtool_check(page);
    assert!(
        complaints.is_empty(),
        "promtool check metrics complained:\n{complaints}\npage:\n{page}"
    );

    for series in [
        "meridian_replication_lag_seconds_count{origin=\"b\",region=\"a\"} 2",
        "meridian_replication_lag_seconds_bucket{origin=\"b\",region=\"a\",le=\"+Inf\"} 2",
        "meridian_replication_writes_applied_total{origin=\"b\",region=\"a\"} 2",
        "meridian_replication_pending_writes{origin=\"b\",region=\"a\"} 0",
        "meridian_replication_connected{origin=\"b\",region=\"a\"} 1",
        "meridian_conflicts_total{region=\"a\"} 1",
        "meridian_requests_total{region=\"a\",method=\"put\",code=\"OK\"} 1",
    ] {
        assert!(page.contains(series), "{series} missing from:\n{page}");
    }
    // The buckets are cumulative and the lag (5 ms links) lands in the ms range.
    let buckets: Vec<u64> = page
        .lines()
        .filter(|l| l.starts_with("meridian_replication_lag_seconds_bucket{origin=\"b\""))
        .map(|l| l.rsplit(' ').next().unwrap().parse().unwrap())
        .collect();
    assert_eq!(buckets.len(), 14, "13 bounds from 1 ms to 10 s, and +Inf");
    assert!(buckets.windows(2).all(|w| w[0] <= w[1]), "{buckets:?}");
    assert_eq!(
        buckets[0], 0,
        "no write applied within 1 ms over a 5 ms link"
    );

    let served = families(page);
    let documented = readme_table();
    assert_eq!(
        served.keys().collect::<Vec<_>>(),
        documented.keys().collect::<Vec<_>>(),
        "the README's metrics table lists exactly the families a node serves"
    );
    for (name, (kind, labels)) in &served {
        assert_eq!(
            (kind, labels),
            (&documented[name].0, &documented[name].1),
            "{name}: type and labels as the README says"
        );
    }
}
