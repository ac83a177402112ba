//! A small W3C WebDriver client for the browser test: chromedriver speaks plain HTTP and JSON
//! on loopback, and the test needs a dozen commands (session, navigate, find, text,
//! attribute, click, screenshot, the browser's console log). The chromedriver process is the
//! test's own child: its session is deleted (Chromium quits) and it is killed and reaped on
//! drop, failing test or not.

use std::{
    io::{BufRead, BufReader, Read, Write},
    net::{SocketAddr, TcpStream},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{DEADLINE, free_port};

/// The key W3C WebDriver names an element reference by.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// Debian's Chromium and its driver, when both are installed.
pub fn find_browser() -> Option<(PathBuf, PathBuf)> {
    let on_path = |name: &str| {
        std::env::var_os("PATH").and_then(|p| {
            std::env::split_paths(&p)
                .map(|d| d.join(name))
                .find(|f| f.is_file())
        })
    };
    Some((on_path("chromium")?, on_path("chromedriver")?))
}

/// A browser session driven through chromedriver.
pub struct Driver {
    addr: SocketAddr,
    child: Child,
    session: Option<String>,
    /// `--user-data-dir=…` of the browser this driver starts: unique to the test, it names the
    /// browser processes that are ours when a session never came up to be closed.
    profile_arg: String,
}

/// An element of the page.
#[derive(Clone, Debug)]
pub struct Element(String);

impl Driver {
    /// Start chromedriver on a free loopback port and open a headless Chromium session with a
    /// fresh profile in `profile` and the browser's console log recorded.
    pub fn start(chromium: &Path, chromedriver: &Path, profile: &Path, log: &Path) -> Self {
        let port = free_port();
        let child = Command::new(chromedriver)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .arg(format!("--log-path={}", log.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start chromedriver");
        let mut d = Self {
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            child,
            session: None,
            profile_arg: format!("--user-data-dir={}", profile.display()),
        };
        let start = Instant::now();
        while d.call("GET", "/status", None).map(|v| v["ready"] == true) != Ok(true) {
            assert!(
                start.elapsed() < DEADLINE,
                "chromedriver did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        // The flags Chromium needs on a closed machine as root (see the machine notes).
        let profile_arg = d.profile_arg.clone();
        let args = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1400,2400",
            &profile_arg,
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": chromium, "args": args},
            "goog:loggingPrefs": {"browser": "ALL"},
        }}});
        let v = d
            .call("POST", "/session", Some(caps))
            .expect("a browser session");
        d.session = Some(v["sessionId"].as_str().expect("a session id").to_owned());
        d
    }

    /// One command: its `value`, or the WebDriver error.
    fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let mut s = TcpStream::connect(self.addr).map_err(|e| e.to_string())?;
        // Starting a browser on a loaded 2-core machine can take a while: be generous.
        s.set_read_timeout(Some(DEADLINE * 4))
            .map_err(|e| e.to_string())?;
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        s.write_all(req.as_bytes()).map_err(|e| e.to_string())?;
        // chromedriver keeps the connection open whatever the request says: read the body
        // by its length.
        let mut r = BufReader::new(s);
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            r.read_line(&mut line).map_err(|e| e.to_string())?;
            if line.trim().is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':')
                && name.trim().eq_ignore_ascii_case("content-length")
            {
                length = value
                    .trim()
                    .parse()
                    .map_err(|_| format!("bad length: {line}"))?;
            }
        }
        let mut body = vec![0u8; length];
        r.read_exact(&mut body).map_err(|e| e.to_string())?;
        let text = String::from_utf8_lossy(&body);
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{e}: {text}"))?;
        match v["value"].get("error") {
            Some(err) => Err(format!("{err}: {}", v["value"]["message"])),
            None => Ok(v["value"].clone()),
        }
    }

    fn session_call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let id = self.session.as_deref().expect("a session");
        self.call(method, &format!("/session/{id}{path}"), body)
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"))
    }

    /// Open `url`.
    pub fn goto(&self, url: &str) {
        self.session_call("POST", "/url", Some(json!({"url": url})));
    }

    /// Every element matching a CSS selector.
    pub fn find_all(&self, css: &str) -> Vec<Element> {
        let v = self.session_call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        );
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e[ELEMENT].as_str().map(|id| Element(id.to_owned())))
            .collect()
    }

    /// The visible text of an element.
    pub fn text(&self, e: &Element) -> String {
        self.session_call("GET", &format!("/element/{}/text", e.0), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// An attribute of an element.
    pub fn attribute(&self, e: &Element, name: &str) -> Option<String> {
        self.session_call("GET", &format!("/element/{}/attribute/{name}", e.0), None)
            .as_str()
            .map(str::to_owned)
    }

    /// Click an element (scrolled into view first, as a user would).
    /// Click `e`; `Err` when it went stale meanwhile (the page redrew it).
    pub fn try_click(&self, e: &Element) -> Result<(), String> {
        let id = self.session.as_deref().expect("a session");
        self.call(
            "POST",
            &format!("/session/{id}/element/{}/click", e.0),
            Some(json!({})),
        )
        .map(drop)
    }

    /// Run a script in the page; its return value.
    pub fn execute(&self, script: &str) -> Value {
        self.session_call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// A PNG of the window.
    pub fn screenshot(&self) -> Vec<u8> {
        let b64 = self.session_call("GET", "/screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(b64.as_str().expect("base64 text"))
            .expect("a PNG in base64")
    }

    /// The browser console's entries since the last call (`level`, `message`, `source`).
    pub fn console_log(&self) -> Vec<Value> {
        self.session_call("POST", "/se/log", Some(json!({"type": "browser"})))
            .as_array()
            .cloned()
            .unwrap_or_default()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(id) = self.session.take() {
            let _ = self.call("DELETE", &format!("/session/{id}"), None);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        // A browser whose session never came up outlives its driver: end the processes whose
        // command line carries this test's own profile directory (and only those).
        for pid in processes_with_arg(&self.profile_arg) {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        }
    }
}

/// Pids (never 0 or negative) of the processes whose command line has exactly `arg`.
fn processes_with_arg(arg: &str) -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid > 1 && *pid != std::process::id())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|c| c.split(|b| *b == 0).any(|a| a == arg.as_bytes()))
        })
        .collect()
}
