//! The baseline: a raw tonic echo service with no application logic.
//!
//! It runs as its own process (`meridian-bench echo-server`), with the same number of tokio
//! workers and the same server settings (`TCP_NODELAY` on every accepted connection) as a node, so that it is measured the
//! way a node is: over loopback, competing with the client for the same cores. The process
//! prints `echo serving on ADDR` once it is listening; [`EchoProcess`] starts it, reads that
//! line and kills the process when dropped.

use std::{
    io::{BufRead, BufReader},
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::Duration,
};

use anyhow::{Context, bail};
use meridian_proto::bench::v1::{
    EchoReply, EchoRequest,
    echo_server::{Echo, EchoServer},
};
use tokio::net::TcpListener;
use tokio_stream::{StreamExt, wrappers::TcpListenerStream};
use tonic::{Request, Response, Status, transport::Server};

/// The line prefix the echo server prints once it listens.
pub const READY_PREFIX: &str = "echo serving on ";

/// Echoes the payload back.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoService;

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, req: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply {
            payload: req.into_inner().payload,
        }))
    }
}

/// Serve the echo service on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // `Server::tcp_nodelay` only reaches sockets tonic accepts itself; set it on ours, or
    // small replies wait ~40 ms on Nagle + delayed ACK.
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        if let Ok(c) = &conn {
            let _ = c.set_nodelay(true);
        }
        conn
    });
    Server::builder()
        .tcp_nodelay(true)
        .add_service(EchoServer::new(EchoService))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
        .context("echo server failed")
}

/// The `echo-server` subcommand: bind, print the address, serve until SIGINT or SIGTERM.
pub fn run_server(listen: SocketAddr, workers: usize) -> anyhow::Result<()> {
    let rt = runtime(workers)?;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("cannot listen on {listen}"))?;
        println!("{READY_PREFIX}{}", listener.local_addr()?);
        serve(listener, shutdown_signal()).await
    })
}

pub use meridian_client::control::runtime::runtime;

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// Parse the echo server's ready line.
pub fn parse_ready(line: &str) -> Option<SocketAddr> {
    line.trim().strip_prefix(READY_PREFIX)?.parse().ok()
}

/// A running echo server process, killed on drop.
#[derive(Debug)]
pub struct EchoProcess {
    /// Where it serves.
    pub addr: SocketAddr,
    child: Child,
}

impl EchoProcess {
    /// Start `bench_exe echo-server` on a free loopback port and wait until it listens.
    pub fn start(bench_exe: &Path, workers: usize) -> anyhow::Result<Self> {
        let mut child = Command::new(bench_exe)
            .args([
                "echo-server",
                "--listen",
                "127.0.0.1:0",
                "--workers",
                &workers.to_string(),
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("cannot start {} echo-server", bench_exe.display()))?;
        let Some(stdout) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            bail!("the echo server's stdout is not piped");
        };
        // Read the ready line on a thread so a hung child cannot hang the benchmark.
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = tx.send(line);
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(10))
            .ok()
            .and_then(|l| parse_ready(&l));
        match addr {
            Some(addr) => Ok(Self { addr, child }),
            None => {
                let _ = child.kill();
                let _ = child.wait();
                bail!("the echo server did not report its address within 10 s")
            }
        }
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for EchoProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_line_parses_to_the_address() {
        assert_eq!(
            parse_ready("echo serving on 127.0.0.1:4242\n"),
            Some(SocketAddr::from(([127, 0, 0, 1], 4242)))
        );
        assert_eq!(parse_ready("something else"), None);
    }
}
