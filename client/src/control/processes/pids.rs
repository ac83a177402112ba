//! Signalling only our own processes: a recorded pid is checked (start time, command line) to
//! still be the node (or dashboard) that was recorded before anything is sent to it.

use super::record::{MAX_PID, NodeRecord};

/// A process that may be signalled: a pid in `1..=i32::MAX`, checked to be the node that a
/// [`NodeRecord`] recorded (same start time, or a command line naming that node). Only
/// [`verify`] makes one, and only [`signal`] takes one: nothing else here calls `kill(2)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedPid(libc::pid_t);

impl VerifiedPid {
    /// The pid.
    pub fn get(self) -> u32 {
        self.0 as u32
    }
}

/// Why a recorded node may not be signalled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotOurs {
    /// No process has that pid (or it is a zombie: it has exited).
    Gone,
    /// The pid is outside `1..=i32::MAX`.
    BadPid,
    /// A process has that pid, but it is not the recorded node.
    Other(String),
}

impl std::fmt::Display for NotOurs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NotOurs::Gone => write!(f, "not running"),
            NotOurs::BadPid => write!(f, "not a process id (1..={MAX_PID})"),
            NotOurs::Other(why) => write!(f, "another process has that pid ({why})"),
        }
    }
}

/// Field 22 of `/proc/PID/stat` (start time) and whether the state is `Z` (zombie).
pub(super) fn proc_stat(pid: u32) -> Option<(u64, bool)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: split after the last ')'.
    let rest = s.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); field 22 is at index 19.
    let zombie = fields.first()? == &"Z";
    let start = fields.get(19)?.parse().ok()?;
    Some((start, zombie))
}

/// Does a command line (NUL-separated) start the node of `region`?
pub(super) fn cmdline_names_node(cmdline: &[u8], region: &str) -> bool {
    let args: Vec<&[u8]> = cmdline.split(|b| *b == 0).collect();
    let names_binary = args
        .first()
        .is_some_and(|a| String::from_utf8_lossy(a).contains("meridian"));
    let is_node = args.get(1) == Some(&&b"node"[..]);
    let has_region = args
        .windows(2)
        .any(|w| w[0] == b"--region" && w[1] == region.as_bytes());
    names_binary && is_node && has_region
}

/// Check that `rec` names a live process that is the node it recorded.
pub fn verify(rec: &NodeRecord) -> Result<VerifiedPid, NotOurs> {
    verify_process(
        rec.pid,
        rec.start_time,
        |cmdline| cmdline_names_node(cmdline, &rec.region),
        &format!(
            "meridian node --region {}",
            meridian_core::error::truncate_to(&rec.region, 64)
        ),
    )
}

/// Check that `pid` is a live process started at `start_time` (when recorded) whose command
/// line passes `names_it` (`expected` says in words what it should be).
pub(super) fn verify_process(
    pid: u32,
    start_time: Option<u64>,
    names_it: impl Fn(&[u8]) -> bool,
    expected: &str,
) -> Result<VerifiedPid, NotOurs> {
    if !(1..=MAX_PID).contains(&u64::from(pid)) {
        return Err(NotOurs::BadPid);
    }
    let (start, zombie) = proc_stat(pid).ok_or(NotOurs::Gone)?;
    if zombie {
        return Err(NotOurs::Gone);
    }
    if let Some(recorded) = start_time
        && recorded != start
    {
        return Err(NotOurs::Other(format!(
            "started at tick {start}, the recorded process at tick {recorded}"
        )));
    }
    let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
    // An empty command line is a process caught mid-exec (seen right after spawn): only a
    // matching start time can vouch for it.
    let mid_exec = cmdline.is_empty() && start_time.is_some();
    if !mid_exec && !names_it(&cmdline) {
        return Err(NotOurs::Other(format!(
            "its command line is not `{expected}`"
        )));
    }
    Ok(VerifiedPid(pid as libc::pid_t))
}

/// Is the recorded node process alive (and still the process that was recorded)?
pub fn alive(rec: &NodeRecord) -> bool {
    verify(rec).is_ok()
}

/// Send `sig` to one verified process (never a group, never -1).
pub fn signal(pid: VerifiedPid, sig: i32) {
    debug_assert!(pid.0 > 0);
    // SAFETY: sending a signal to a pid has no memory-safety preconditions; `pid.0` is positive.
    unsafe {
        libc::kill(pid.0, sig);
    }
}
