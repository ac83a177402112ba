//! The cluster file (TOML) and the built-in default cluster.
//!
//! ```toml
//! mode = "global-tables"        # or "aurora-global"
//! primary = "us-east-1"         # aurora-global: the writer region
//! clock = "hybrid"              # or "wall" (skew then shows causal anomalies)
//! write_forwarding = false      # aurora-global: may secondaries forward writes?
//! rpo_bound_ms = 0              # aurora-global: refuse commits while no secondary is this close (0: off)
//! max_clock_offset_ms = 500     # refuse replicated timestamps further ahead (beyond the skews)
//!
//! [[region]]
//! name = "us-east-1"
//! listen = "127.0.0.1:7101"     # port 0: chosen at start
//! skew_ms = 0                   # this region's clock skew
//!
//! [default_link]
//! latency_ms = 50
//! jitter_ms = 2
//!
//! [[link]]
//! between = ["us-east-1", "eu-west-1"]   # both directions; or from = "...", to = "..."
//! latency_ms = 38
//! jitter_ms = 2
//! ```

use std::{net::SocketAddr, path::Path};

use serde::Deserialize;

use crate::{
    clock::ClockMode,
    links::{LinkSetting, LinkTable},
    region::Regions,
    replica::Mode,
};

/// One region of the cluster.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    /// Region name, e.g. `us-east-1`.
    pub name: String,
    /// gRPC listen address; loopback unless you mean otherwise. Port 0: any free port.
    pub listen: SocketAddr,
    /// Clock skew of this region, ms (positive: ahead). Default 0.
    #[serde(default)]
    pub skew_ms: f64,
}

/// Settings of a link as written in the file.
#[derive(Clone, Copy, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSpec {
    /// One-way latency, ms.
    pub latency_ms: f64,
    /// ± jitter, ms. Default 0.
    #[serde(default)]
    pub jitter_ms: f64,
    /// Batch loss probability. Default 0.
    #[serde(default)]
    pub loss: f64,
}

impl From<LinkSpec> for LinkSetting {
    fn from(s: LinkSpec) -> Self {
        LinkSetting {
            latency_ms: s.latency_ms,
            jitter_ms: s.jitter_ms,
            loss: s.loss,
            partitioned: false,
        }
    }
}

/// A `[[link]]` entry: `between = [a, b]` (both directions) or `from`/`to` (one).
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkEntry {
    /// Both directions between two regions (exactly two names).
    #[serde(default)]
    pub between: Option<Vec<String>>,
    /// One direction: from this region...
    #[serde(default)]
    pub from: Option<String>,
    /// ...to this one.
    #[serde(default)]
    pub to: Option<String>,
    /// The settings.
    #[serde(flatten)]
    pub spec: LinkSpec,
}

impl LinkEntry {
    /// The two ends and whether the entry covers both directions; `None` when it is not
    /// exactly `between = [a, b]` or `from` + `to`.
    pub fn ends(&self) -> Option<(&str, &str, bool)> {
        match (&self.between, &self.from, &self.to) {
            (Some(v), None, None) => match v.as_slice() {
                [a, b] => Some((a, b, true)),
                _ => None,
            },
            (None, Some(a), Some(b)) => Some((a, b, false)),
            _ => None,
        }
    }
}

/// The whole cluster, as every node and tool sees it.
#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterConfig {
    /// Replication mode. Default `global-tables`.
    #[serde(default)]
    pub mode: Mode,
    /// Aurora Global mode: the writer region. Default: the first region listed.
    #[serde(default)]
    pub primary: Option<String>,
    /// Clock mode. Default `hybrid`.
    #[serde(default)]
    pub clock: ClockMode,
    /// Aurora Global mode: may secondaries forward writes to the primary? Default false.
    #[serde(default)]
    pub write_forwarding: bool,
    /// Aurora Global mode: refuse commits while no secondary is within this many ms (0: off).
    #[serde(default)]
    pub rpo_bound_ms: u64,
    /// Replicated writes stamped more than this many ms ahead of the receiving node's clock
    /// (beyond the largest configured `skew_ms`) are refused, as CockroachDB's `max_offset`
    /// does: one poisoned timestamp would otherwise drag every hybrid clock along. Default 500.
    #[serde(default = "default_max_clock_offset_ms")]
    pub max_clock_offset_ms: u64,
    /// The cluster secret peers send on every replication and anti-entropy call (and check on
    /// every one they serve). Unset: those calls are not authenticated. `MERIDIAN_CLUSTER_SECRET`
    /// overrides it; `cluster up` and `demo` make a random one.
    #[serde(default)]
    pub secret: Option<String>,
    /// The regions.
    #[serde(rename = "region")]
    pub regions: Vec<RegionConfig>,
    /// Settings of links not listed under `[[link]]`. Default: 50 ms, no jitter.
    #[serde(default = "default_link")]
    pub default_link: LinkSpec,
    /// Per-pair link settings.
    #[serde(default, rename = "link")]
    pub links: Vec<LinkEntry>,
}

/// A cluster secret travels as gRPC metadata: non-empty printable ASCII without spaces, at
/// most 1 KiB.
pub fn check_secret(s: &str) -> Result<(), String> {
    if s.is_empty() || s.len() > 1024 || !s.chars().all(|c| c.is_ascii_graphic()) {
        return Err(
            "secret must be 1-1024 printable ASCII characters without spaces (it travels as a gRPC header)"
                .into(),
        );
    }
    Ok(())
}

fn default_max_clock_offset_ms() -> u64 {
    500
}

fn default_link() -> LinkSpec {
    LinkSpec {
        latency_ms: 50.0,
        jitter_ms: 0.0,
        loss: 0.0,
    }
}

/// A cluster file that cannot be used, with where and what.
#[derive(Debug, thiserror::Error)]
#[error("{origin}{location}: {message}")]
pub struct ConfigError {
    origin: String,
    location: String,
    message: String,
}

/// Where an entry of an array of tables sits in the text: the line of `field` in the
/// `index`-th `[[table]]` (or of its header when the field is not written there), 1-based.
fn line_in_table(text: &str, table: &str, index: usize, field: Option<&str>) -> Option<usize> {
    let header = format!("[[{table}]]");
    let lines: Vec<&str> = text.lines().collect();
    let start = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.trim() == header)
        .nth(index)?
        .0;
    let field_line = field.and_then(|f| {
        lines[start + 1..]
            .iter()
            .take_while(|l| !l.trim_start().starts_with('['))
            .position(|l| {
                l.trim_start()
                    .strip_prefix(f)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
            .map(|i| start + 1 + i)
    });
    Some(field_line.unwrap_or(start) + 1)
}

impl ConfigError {
    /// An error about `field` of the `index`-th `[[table]]`, located at its line.
    fn in_table(
        origin: &str,
        text: &str,
        table: &str,
        index: usize,
        field: Option<&str>,
        message: String,
    ) -> Self {
        Self {
            origin: origin.to_owned(),
            location: line_in_table(text, table, index, field)
                .map(|l| format!(":{l}"))
                .unwrap_or_default(),
            message,
        }
    }

    fn at(origin: &str, text: &str, needle: Option<&str>, message: String) -> Self {
        let location = needle
            .and_then(|n| text.lines().position(|l| l.contains(n)))
            .map(|i| format!(":{}", i + 1))
            .unwrap_or_default();
        Self {
            origin: origin.to_owned(),
            location,
            message,
        }
    }
}

/// The built-in default cluster file: three regions on fixed loopback ports, with realistic
/// one-way latencies between them.
pub const DEFAULT_CLUSTER_TOML: &str = r#"mode = "global-tables"
primary = "us-east-1"
clock = "hybrid"
write_forwarding = true

[[region]]
name = "us-east-1"
listen = "127.0.0.1:7101"

[[region]]
name = "eu-west-1"
listen = "127.0.0.1:7102"

[[region]]
name = "ap-south-1"
listen = "127.0.0.1:7103"

[default_link]
latency_ms = 60
jitter_ms = 2

[[link]]
between = ["us-east-1", "eu-west-1"]
latency_ms = 38
jitter_ms = 2

[[link]]
between = ["us-east-1", "ap-south-1"]
latency_ms = 95
jitter_ms = 3

[[link]]
between = ["eu-west-1", "ap-south-1"]
latency_ms = 60
jitter_ms = 2
"#;

impl ClusterConfig {
    /// The built-in default cluster.
    pub fn builtin() -> Self {
        Self::parse(DEFAULT_CLUSTER_TOML, "built-in cluster")
            .expect("the built-in cluster is valid")
    }

    /// Read a cluster file.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            origin: origin.clone(),
            location: String::new(),
            message: format!("cannot read the cluster file: {e}"),
        })?;
        Self::parse(&text, &origin)
    }

    /// The file at `path`, or the built-in cluster when `None`.
    pub fn load_or_builtin(path: Option<&Path>) -> Result<Self, ConfigError> {
        path.map_or_else(|| Ok(Self::builtin()), Self::load)
    }

    /// Parse and check cluster-file text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ConfigError> {
        let cfg: ClusterConfig = toml::from_str(text).map_err(|e| {
            let location = e
                .span()
                .map(|s| {
                    format!(
                        ":{}",
                        text[..s.start.min(text.len())].matches('\n').count() + 1
                    )
                })
                .unwrap_or_default();
            ConfigError {
                origin: origin.to_owned(),
                location,
                message: e.message().to_owned(),
            }
        })?;
        cfg.validate(text, origin)?;
        Ok(cfg)
    }

    fn validate(&self, text: &str, origin: &str) -> Result<(), ConfigError> {
        let err = |needle: Option<&str>, message: String| {
            Err(ConfigError::at(origin, text, needle, message))
        };
        let region_err = |i: usize, field: &str, message: String| {
            Err(ConfigError::in_table(
                origin,
                text,
                "region",
                i,
                Some(field),
                message,
            ))
        };
        let link_err = |i: usize, field: Option<&str>, message: String| {
            Err(ConfigError::in_table(
                origin, text, "link", i, field, message,
            ))
        };
        if self.regions.is_empty() {
            return err(
                None,
                "no regions: add at least one [[region]] with a name and a listen address".into(),
            );
        }
        if let Some(secret) = &self.secret
            && let Err(why) = check_secret(secret)
        {
            return err(Some("secret"), why);
        }
        let mut seen = std::collections::HashSet::new();
        let mut addresses = std::collections::HashMap::new();
        for (i, r) in self.regions.iter().enumerate() {
            let valid = !r.name.is_empty()
                && r.name.len() <= 64
                && r.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return region_err(
                    i,
                    "name",
                    format!(
                        "region name {:?} must be 1-64 letters, digits, '-' or '_'",
                        crate::error::truncate(&r.name)
                    ),
                );
            }
            if !seen.insert(&r.name) {
                return region_err(i, "name", format!("region {:?} is listed twice", r.name));
            }
            if r.listen.port() != 0
                && let Some(other) = addresses.insert(r.listen, &r.name)
            {
                return region_err(
                    i,
                    "listen",
                    format!(
                        "region {:?} listens on {}, as {other:?} does: every region needs its own address",
                        r.name, r.listen
                    ),
                );
            }
            if !(r.skew_ms.is_finite() && r.skew_ms.abs() <= 3_600_000.0) {
                return region_err(
                    i,
                    "skew_ms",
                    format!("region {:?}: skew_ms must be within ±1 hour", r.name),
                );
            }
        }
        let known = |n: &str| self.regions.iter().any(|r| r.name == n);
        if let Some(p) = &self.primary
            && !known(p)
        {
            return err(
                Some(p),
                format!("primary {p:?} is not a region of the cluster"),
            );
        }
        if let Err(m) = LinkSetting::from(self.default_link).validate() {
            return err(Some("[default_link]"), format!("default_link: {m}"));
        }
        for (i, l) in self.links.iter().enumerate() {
            let (a, b) = match l.ends() {
                Some((a, b, _)) => (a, b),
                None => {
                    return link_err(
                        i,
                        None,
                        format!(
                            "link #{}: give either between = [a, b] (two regions) or both from and to",
                            i + 1
                        ),
                    );
                }
            };
            let ends = if l.between.is_some() {
                "between"
            } else {
                "from"
            };
            for n in [a, b] {
                if !known(n) {
                    return link_err(
                        i,
                        Some(ends),
                        format!(
                            "link #{}: {:?} is not a region of the cluster",
                            i + 1,
                            crate::error::truncate(n)
                        ),
                    );
                }
            }
            if a == b {
                return link_err(
                    i,
                    Some(ends),
                    format!("link #{}: a link needs two different regions", i + 1),
                );
            }
            if let Err(m) = LinkSetting::from(l.spec).validate() {
                let field = ["latency_ms", "jitter_ms", "loss"]
                    .into_iter()
                    .find(|f| m.contains(f));
                return link_err(i, field, format!("link #{} ({a} -> {b}): {m}", i + 1));
            }
        }
        Ok(())
    }

    /// The region names, sorted (region ids index this).
    pub fn region_set(&self) -> Regions {
        Regions::new(self.regions.iter().map(|r| r.name.clone()))
    }

    /// The named region.
    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// The primary region (Aurora Global mode): the configured one, else the first listed.
    pub fn primary_name(&self) -> &str {
        self.primary.as_deref().unwrap_or(&self.regions[0].name)
    }

    /// The initial link table.
    pub fn link_table(&self) -> LinkTable {
        let regions = self.region_set();
        let mut t = LinkTable::new(regions.len(), self.default_link.into());
        for l in &self.links {
            let id = |n: &str| regions.id(n).expect("validated");
            match l.ends() {
                Some((a, b, true)) => {
                    t.set(id(a), id(b), l.spec.into());
                    t.set(id(b), id(a), l.spec.into());
                }
                Some((a, b, false)) => t.set(id(a), id(b), l.spec.into()),
                None => {}
            }
        }
        t
    }

    /// A comma-separated list of the region names, for messages.
    pub fn names(&self) -> String {
        self.regions
            .iter()
            .map(|r| r.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Render as TOML (the state dir of `cluster up` keeps the effective cluster).
    pub fn to_toml(&self) -> String {
        let mut s = format!(
            "mode = \"{}\"\nprimary = \"{}\"\nclock = \"{}\"\nwrite_forwarding = {}\nrpo_bound_ms = {}\nmax_clock_offset_ms = {}\n",
            self.mode.name(),
            self.primary_name(),
            self.clock.name(),
            self.write_forwarding,
            self.rpo_bound_ms,
            self.max_clock_offset_ms
        );
        if let Some(secret) = &self.secret {
            s += &format!("secret = {:?}\n", secret);
        }
        for r in &self.regions {
            s += &format!(
                "\n[[region]]\nname = \"{}\"\nlisten = \"{}\"\nskew_ms = {}\n",
                r.name, r.listen, r.skew_ms
            );
        }
        let d = self.default_link;
        s += &format!(
            "\n[default_link]\nlatency_ms = {}\njitter_ms = {}\nloss = {}\n",
            d.latency_ms, d.jitter_ms, d.loss
        );
        for l in &self.links {
            let ends = match l.ends() {
                Some((a, b, true)) => format!("between = [\"{a}\", \"{b}\"]"),
                Some((a, b, false)) => format!("from = \"{a}\"\nto = \"{b}\""),
                None => continue,
            };
            s += &format!(
                "\n[[link]]\n{ends}\nlatency_ms = {}\njitter_ms = {}\nloss = {}\n",
                l.spec.latency_ms, l.spec.jitter_ms, l.spec.loss
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_cluster_has_three_regions_and_realistic_latencies() {
        let c = ClusterConfig::builtin();
        assert_eq!(c.names(), "us-east-1, eu-west-1, ap-south-1");
        let r = c.region_set();
        let t = c.link_table();
        let lat = |a: &str, b: &str| t.get(r.id(a).unwrap(), r.id(b).unwrap()).latency_ms;
        assert_eq!(lat("us-east-1", "eu-west-1"), 38.0);
        assert_eq!(lat("ap-south-1", "us-east-1"), 95.0);
        assert_eq!(lat("eu-west-1", "ap-south-1"), 60.0);
        assert!(c.regions.iter().all(|r| r.listen.ip().is_loopback()));
    }

    #[test]
    fn round_trips_through_toml() {
        let c = ClusterConfig::builtin();
        assert_eq!(ClusterConfig::parse(&c.to_toml(), "x").unwrap(), c);
    }

    #[test]
    fn bad_files_name_the_line_and_the_problem() {
        let cases = [
            (
                "mode = \"multi-master\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
                ":1",
                "unknown variant",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"not-an-address\"\n",
                ":3",
                "invalid socket address",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:2\"\n",
                ":5",
                "listed twice",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[link]]\nbetween = [\"a\", \"zz\"]\nlatency_ms = 1\n",
                ":5",
                "\"zz\" is not a region",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nbetween = [\"a\", \"b\"]\nlatency_ms = -5\n",
                ":9",
                "latency_ms must be",
            ),
            (
                "# a comment\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n\nskew_ms = nan\n",
                ":6",
                "skew_ms must be within",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"\"\nlisten = \"127.0.0.1:2\"\n",
                ":5",
                "must be 1-64 letters",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nlatency_ms = 3\nfrom = \"b\"\nto = \"b\"\n",
                ":9",
                "two different regions",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:1\"\n",
                ":6",
                "every region needs its own address",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n[[region]]\nname = \"b\"\nlisten = \"127.0.0.1:2\"\n[[link]]\nbetween = [\"a\", \"b\", \"a\", \"b\"]\nlatency_ms = 1\n",
                ":7",
                "two regions",
            ),
            (
                "[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\nprimary_region = \"a\"\n",
                ":4",
                "unknown field",
            ),
            (
                "primary = \"nope\"\n[[region]]\nname = \"a\"\nlisten = \"127.0.0.1:1\"\n",
                ":1",
                "not a region",
            ),
        ];
        for (text, line, what) in cases {
            let e = ClusterConfig::parse(text, "f.toml")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with(&format!("f.toml{line}:")), "{e}");
            assert!(e.contains(what), "{e}");
        }
    }
}
