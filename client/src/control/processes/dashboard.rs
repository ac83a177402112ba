//! The dashboard process `cluster up --dashboard` starts beside the nodes: spawned detached
//! (`meridian dashboard --dir DIR --listen ADDR`, the admin token in its environment, not on
//! its command line), recorded in `state.json`, ready once its page answers, and stopped by
//! `cluster down` — signalled only when verified, as the nodes are.

use std::{
    net::SocketAddr,
    path::Path,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

use super::{
    pids::{NotOurs, VerifiedPid, proc_stat, signal, verify_process},
    record::DashboardRecord,
};
use crate::error::{Result, ResultExt, bail};

/// Does a command line (NUL-separated) start the dashboard of the state directory `dir`?
pub(super) fn cmdline_names_dashboard(cmdline: &[u8], dir: &Path) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let names_binary = args
        .first()
        .is_some_and(|a| String::from_utf8_lossy(a).contains("meridian"));
    let is_dashboard = args.get(1) == Some(&&b"dashboard"[..]);
    let dir = dir.as_os_str().as_encoded_bytes();
    let has_dir = args.windows(2).any(|w| w[0] == b"--dir" && w[1] == dir);
    names_binary && is_dashboard && has_dir
}

/// Check that `rec` names a live process that is the dashboard of `dir`.
pub fn verify_dashboard(rec: &DashboardRecord, dir: &Path) -> Result<VerifiedPid, NotOurs> {
    verify_process(
        rec.pid,
        rec.start_time,
        |c| cmdline_names_dashboard(c, dir),
        &format!("meridian dashboard --dir {}", dir.display()),
    )
}

/// Start `binary dashboard --dir DIR --listen ADDR` detached (its own process group, so a
/// Ctrl-C meant for `cluster up` does not reach it), logging to `DIR/logs/dashboard.log`,
/// and wait until its page answers. The process is stopped again if it does not.
pub async fn start_dashboard(
    binary: &Path,
    dir: &Path,
    addr: SocketAddr,
    admin_token: Option<&str>,
    timeout: Duration,
) -> Result<DashboardRecord> {
    let log = dir.join("logs").join("dashboard.log");
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .with_context(|| format!("cannot open {}", log.display()))?;
    let mut cmd = Command::new(binary);
    cmd.arg("dashboard")
        .arg("--dir")
        .arg(dir)
        .arg("--listen")
        .arg(addr.to_string())
        .env_remove("MERIDIAN_ADMIN_TOKEN")
        .env_remove("MERIDIAN_CLUSTER");
    if let Some(t) = admin_token {
        cmd.env("MERIDIAN_ADMIN_TOKEN", t);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {}", binary.display()))?;
    let pid = child.id();
    let rec = DashboardRecord {
        pid,
        start_time: proc_stat(pid).map(|(start, _)| start),
        addr,
        url: format!("http://{addr}/"),
        log: log.clone(),
    };
    let start = Instant::now();
    loop {
        if page_answers(addr).await {
            return Ok(rec);
        }
        let gone = verify_dashboard(&rec, dir).is_err_and(|e| e == NotOurs::Gone);
        if gone || start.elapsed() > timeout {
            stop_dashboard(&rec, dir, Duration::from_secs(2));
            if gone {
                bail!("the dashboard exited during start; see {}", log.display());
            }
            bail!(
                "the dashboard did not answer on {addr} within {timeout:?}; see {}",
                log.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Does `GET /api/snapshot` at `addr` answer 200?
async fn page_answers(addr: SocketAddr) -> bool {
    let get = async {
        let mut s = TcpStream::connect(addr).await?;
        let req = format!("GET /api/snapshot HTTP/1.0\r\nHost: {addr}\r\n\r\n");
        s.write_all(req.as_bytes()).await?;
        let mut head = [0u8; 12];
        s.read_exact(&mut head).await?;
        Ok::<_, std::io::Error>(head)
    };
    match tokio::time::timeout(Duration::from_secs(1), get).await {
        Ok(Ok(head)) => head.starts_with(b"HTTP/1.") && &head[9..12] == b"200",
        _ => false,
    }
}

/// SIGTERM the recorded dashboard (if it verifies as the dashboard of `dir`), wait up to
/// `grace`, then SIGKILL it. Returns whether it was running.
pub fn stop_dashboard(rec: &DashboardRecord, dir: &Path, grace: Duration) -> bool {
    let Ok(pid) = verify_dashboard(rec, dir) else {
        return false;
    };
    signal(pid, libc::SIGTERM);
    let start = Instant::now();
    while start.elapsed() < grace && verify_dashboard(rec, dir).is_ok() {
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Ok(pid) = verify_dashboard(rec, dir) {
        signal(pid, libc::SIGKILL);
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(5) && verify_dashboard(rec, dir).is_ok() {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    true
}
