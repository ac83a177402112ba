//! dynalite (npm), the DynamoDB emulator the endpoint is compared with in the same run:
//! installed into the bench's own directory with npm on first use, started on a free loopback
//! port, stopped on drop. Skipped (with the reason in the report) where Node.js is missing.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use anyhow::{Context, bail};

/// The version compared with.
pub const VERSION: &str = "4.0.0";

/// A running dynalite.
pub struct Dynalite {
    /// Its address.
    pub addr: SocketAddr,
    child: Child,
}

impl Dynalite {
    /// Install (once, under `dir`) and start dynalite in memory.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let cli = dir.join("node_modules/dynalite/cli.js");
        if !cli.exists() {
            std::fs::create_dir_all(dir)?;
            let out = Command::new("npm")
                .args(["install", "--no-audit", "--no-fund", "--silent", "--prefix"])
                .arg(dir)
                .arg(format!("dynalite@{VERSION}"))
                .output()
                .context("npm is needed to install dynalite")?;
            if !out.status.success() {
                bail!(
                    "npm install dynalite failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = Command::new("node")
            .arg(&cli)
            .args([
                "--port",
                &port.to_string(),
                "--host",
                "127.0.0.1",
                "--createTableMs",
                "0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("node is needed to run dynalite")?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let mut d = Dynalite { addr, child };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                let _ = d.child.kill();
                bail!("dynalite did not listen on {addr} within 20 s");
            }
            if let Some(status) = d.child.try_wait()? {
                bail!("dynalite exited at start: {status}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(d)
    }
}

impl Drop for Dynalite {
    fn drop(&mut self) {
        // Our own child, by its handle (never a pid looked up or a name).
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
