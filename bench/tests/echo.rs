//! The echo baseline end to end, cheaply: `meridian-bench echo-server` as its own process,
//! driven by the closed-loop and the paced drivers, and gone once dropped. (The node scenarios
//! need the `meridian` binary and take minutes; they are run by `meridian-bench` itself.)

use std::{path::Path, time::Duration};

use meridian_bench::{
    driver::{EchoCall, Until, channel, closed_loop, paced_loop},
    echo::EchoProcess,
};

#[tokio::test(flavor = "current_thread")]
async fn echo_server_process_serves_both_drivers_and_stops_when_dropped() {
    let server = EchoProcess::start(Path::new(env!("CARGO_BIN_EXE_meridian-bench")), 1)
        .expect("echo server starts");
    let ch = channel(server.addr).expect("channel");

    let closed = closed_loop(8, Until::Count(200), |_| EchoCall::new(ch.clone(), 100))
        .await
        .expect("closed loop");
    assert_eq!((closed.calls, closed.errors), (200, 0));
    assert_eq!(closed.latency.len(), 200);

    // 200 calls/s for 0.5 s from 4 evenly staggered tasks: 100 intended starts.
    let paced = paced_loop(4, Until::Elapsed(Duration::from_millis(500)), 200.0, |_| {
        EchoCall::new(ch.clone(), 100)
    })
    .await
    .expect("paced loop");
    assert_eq!(paced.errors, 0);
    assert!((95..=105).contains(&paced.calls), "{} calls", paced.calls);

    let pid = server.pid();
    drop(server);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "echo server {pid} still running after drop"
    );
}
