//! Local-process tests: strict pids in state files, verified pids before any signal.

use super::{pids::*, record::*};

fn record(pid: u32, start_time: Option<u64>) -> NodeRecord {
    NodeRecord {
        region: "a".into(),
        pid,
        start_time,
        addr: "127.0.0.1:1".parse().unwrap(),
        metrics_addr: None,
        dynamodb: None,
        log: "a.log".into(),
    }
}

#[test]
fn state_files_with_pids_kill_would_read_as_groups_are_refused() {
    for pid in ["0", "-1", "4294967295", "2147483648", "1e3", "\"7\""] {
        let text = format!(
            r#"{{"region":"a","pid":{pid},"addr":"127.0.0.1:1","metrics_addr":null,"log":"x"}}"#
        );
        assert!(
            serde_json::from_str::<NodeRecord>(&text).is_err(),
            "pid {pid} accepted"
        );
    }
    let ok =
        r#"{"region":"a","pid":2147483647,"addr":"127.0.0.1:1","metrics_addr":null,"log":"x"}"#;
    assert_eq!(
        serde_json::from_str::<NodeRecord>(ok).unwrap().pid,
        2147483647
    );
}

#[test]
fn a_record_built_by_hand_with_a_wrapping_pid_is_never_verified() {
    assert_eq!(verify(&record(u32::MAX, None)), Err(NotOurs::BadPid));
    assert_eq!(verify(&record(0, None)), Err(NotOurs::BadPid));
}

#[test]
fn this_process_is_not_a_node_by_command_line_nor_by_a_wrong_start_time() {
    let me = std::process::id();
    let (start, _) = proc_stat(me).unwrap();
    assert!(matches!(verify(&record(me, None)), Err(NotOurs::Other(_))));
    assert!(matches!(
        verify(&record(me, Some(start + 1))),
        Err(NotOurs::Other(_))
    ));
    // The right start time is not enough: the command line must name the node too.
    assert!(matches!(
        verify(&record(me, Some(start))),
        Err(NotOurs::Other(_))
    ));
}

#[test]
fn command_lines_name_the_node_of_one_region() {
    let ok = b"/x/meridian\0node\0--region\0a\0--cluster\0c.toml\0";
    assert!(cmdline_names_node(ok, "a"));
    assert!(!cmdline_names_node(ok, "b"));
    assert!(!cmdline_names_node(b"/bin/sleep\0node\0--region\0a\0", "a"));
    assert!(!cmdline_names_node(
        b"/x/meridian\0cluster\0--region\0a\0",
        "a"
    ));
    assert!(!cmdline_names_node(b"", "a"));
}

#[test]
fn command_lines_name_the_dashboard_of_one_state_directory() {
    use super::dashboard::cmdline_names_dashboard;
    let dir = std::path::Path::new("/tmp/c");
    let ok = b"/x/meridian\0dashboard\0--dir\0/tmp/c\0--listen\x00127.0.0.1:7190\0";
    assert!(cmdline_names_dashboard(ok, dir));
    assert!(!cmdline_names_dashboard(
        ok,
        std::path::Path::new("/tmp/other")
    ));
    assert!(!cmdline_names_dashboard(
        b"/x/meridian\0node\0--dir\0/tmp/c\0",
        dir
    ));
    assert!(!cmdline_names_dashboard(
        b"/bin/sh\0dashboard\0--dir\0/tmp/c\0",
        dir
    ));
}

#[test]
fn this_process_is_never_taken_for_a_dashboard() {
    use super::{dashboard::verify_dashboard, record::DashboardRecord};
    let me = std::process::id();
    let (start, _) = proc_stat(me).unwrap();
    let rec = DashboardRecord {
        pid: me,
        start_time: Some(start),
        addr: "127.0.0.1:1".parse().unwrap(),
        url: "http://127.0.0.1:1/".into(),
        log: "d.log".into(),
    };
    assert!(matches!(
        verify_dashboard(&rec, std::path::Path::new("/tmp/c")),
        Err(NotOurs::Other(_))
    ));
}
