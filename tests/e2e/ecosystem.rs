//! The node's ecosystem: the standard gRPC health service, server reflection (what `grpcurl`
//! uses), and the Prometheus metrics endpoint.

use std::io::{Read, Write};

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

#[test]
fn metrics_endpoint_serves_the_named_series() {
    let port = free_port();
    let c = Cluster::start("metrics", Spec::new(&["a", "b"], 5.0));
    // A second node process for region a's metrics, on its own port: restart a with metrics.
    let mut c = c;
    c.kill("a");
    c.start_node_with("a", &["--metrics-addr", &format!("127.0.0.1:{port}")]);
    c.ctl("a", &["put", "k", "v"]);
    c.ctl("b", &["put", "k2", "v"]);
    crate::support::poll("a applied b's write", || c.value("a", "k2"));
    let page = http_get(&format!("127.0.0.1:{port}"), "/metrics");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    for series in [
        "meridian_replication_lag_ms{origin=\"b\",region=\"a\",quantile=\"0.99\"}",
        "meridian_replication_pending_writes{origin=\"b\",region=\"a\"} 0",
        "meridian_replication_writes_applied_total{origin=\"b\",region=\"a\"} 1",
        "meridian_conflicts_total{region=\"a\"}",
        "meridian_lost_writes_total{region=\"a\"}",
        "meridian_requests_total{region=\"a\",method=\"put\",code=\"OK\"} 1",
    ] {
        assert!(page.contains(series), "{series} missing from:\n{page}");
    }
}
