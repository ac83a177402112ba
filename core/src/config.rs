//! The cluster file (TOML) and the built-in default cluster.
//!
//! ```toml
//! mode = "global-tables"        # or "aurora-global"
//! primary = "us-east-1"         # aurora-global: the writer region
//! clock = "hybrid"              # or "wall" (skew then shows causal anomalies)
//! write_forwarding = false      # aurora-global: may secondaries forward writes?
//! rpo_bound_ms = 0              # aurora-global: refuse commits while no secondary is this close (0: off)
//! max_clock_offset_ms = 500     # refuse replicated timestamps further ahead (beyond the skews)
//! log_retention_ms = 30000      # keep own log entries this long after every peer acknowledged them
//! log_max_entries = 1000000     # global-tables: a lagging or down peer holds at most this many back
//! collect_tombstones = true     # global-tables, eventual, hybrid: drop tombstones every region settled
//! tombstone_grace_ms = 1000     # a tombstone is considered for collection this long after its delete
//! multi_region_consistency = "eventual"   # global-tables: or "strong" (MRSC: exactly 3 regions)
//!
//! [[region]]
//! name = "us-east-1"
//! listen = "127.0.0.1:7101"     # port 0: chosen at start
//! dynamodb = "127.0.0.1:8101"   # optional: the DynamoDB endpoint of this region
//! skew_ms = 0                   # this region's clock skew
//! witness = false               # strong: this region only stores writes and counts for quorum
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

mod validate;

pub use validate::ConfigError;

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
    /// Where this region's node serves the DynamoDB JSON protocol over HTTP (none: it does not).
    /// Port 0: any free port.
    #[serde(default)]
    pub dynamodb: Option<SocketAddr>,
    /// Multi-Region strong consistency: this region is the witness — it stores the replicated
    /// writes and counts for quorum, but serves no reads or writes. At most one region.
    #[serde(default)]
    pub witness: bool,
}

/// Global Tables' multi-Region consistency (DynamoDB's MREC or MRSC).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Consistency {
    /// Every region writes at once; replication follows; LWW settles concurrent writes.
    #[default]
    Eventual,
    /// A write returns once a second region has it; a racing write fails with
    /// ReplicatedWriteConflict instead of being lost (exactly three regions).
    Strong,
}

impl Consistency {
    /// The name used in cluster files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Eventual => "eventual",
            Consistency::Strong => "strong",
        }
    }
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
    /// How long a region keeps its own log entries after every peer has durably
    /// acknowledged them, ms (0: drop them at once). Peers never need them (one that lost its
    /// state is served from the store); the window is for `Admin/Log`, which resolves the
    /// outcome of writes whose reply never came. Memory grows with the write rate times this
    /// window, not with time. Default 30000.
    #[serde(default = "default_log_retention_ms")]
    pub log_retention_ms: u64,
    /// Global Tables mode: the most own log entries a lagging, partitioned or down peer holds
    /// back from truncation. Beyond it the front goes anyway, and the peer, when it asks for it,
    /// is served this region's surviving writes from the store (as a peer that lost its state
    /// is): memory stays bounded however long a region is away. Aurora Global keeps every entry
    /// a secondary lacks (its failover accounting lists them). Default 1000000; at least 1.
    #[serde(default = "default_log_max_entries")]
    pub log_max_entries: u64,
    /// Global Tables mode with eventual consistency and hybrid clocks: drop a delete's
    /// tombstone once every region has settled it (it holds the tombstone or collected it, has
    /// applied everything written before it, and every log is truncated past that — so after
    /// `log_retention_ms`). Memory then stays flat under deletes. Aurora Global, multi-Region
    /// strong consistency and wall clocks keep every tombstone. Default true.
    #[serde(default = "default_true")]
    pub collect_tombstones: bool,
    /// How long after its delete a tombstone becomes a candidate for collection, ms (a key
    /// written again soon is never asked about). Default 1000; at most a day.
    #[serde(default = "default_tombstone_grace_ms")]
    pub tombstone_grace_ms: u64,
    /// Global Tables mode: multi-Region eventual (default) or strong consistency.
    #[serde(default)]
    pub multi_region_consistency: Consistency,
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

fn default_log_retention_ms() -> u64 {
    30_000
}

fn default_log_max_entries() -> u64 {
    1_000_000
}

fn default_true() -> bool {
    true
}

fn default_tombstone_grace_ms() -> u64 {
    1_000
}

fn default_link() -> LinkSpec {
    LinkSpec {
        latency_ms: 50.0,
        jitter_ms: 0.0,
        loss: 0.0,
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
dynamodb = "127.0.0.1:8101"

[[region]]
name = "eu-west-1"
listen = "127.0.0.1:7102"
dynamodb = "127.0.0.1:8102"

[[region]]
name = "ap-south-1"
listen = "127.0.0.1:7103"
dynamodb = "127.0.0.1:8103"

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

    /// Are tombstones collected (see [`ClusterConfig::collect_tombstones`])?
    pub fn collects_tombstones(&self) -> bool {
        self.collect_tombstones
            && self.mode == Mode::GlobalTables
            && self.multi_region_consistency == Consistency::Eventual
            && self.clock == ClockMode::Hybrid
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
            "mode = \"{}\"\nprimary = \"{}\"\nclock = \"{}\"\nwrite_forwarding = {}\nrpo_bound_ms = {}\nmax_clock_offset_ms = {}\nlog_retention_ms = {}\nlog_max_entries = {}\ncollect_tombstones = {}\ntombstone_grace_ms = {}\nmulti_region_consistency = \"{}\"\n",
            self.mode.name(),
            self.primary_name(),
            self.clock.name(),
            self.write_forwarding,
            self.rpo_bound_ms,
            self.max_clock_offset_ms,
            self.log_retention_ms,
            self.log_max_entries,
            self.collect_tombstones,
            self.tombstone_grace_ms,
            self.multi_region_consistency.name()
        );
        if let Some(secret) = &self.secret {
            s += &format!("secret = {:?}\n", secret);
        }
        for r in &self.regions {
            s += &format!(
                "\n[[region]]\nname = \"{}\"\nlisten = \"{}\"\nskew_ms = {}\n",
                r.name, r.listen, r.skew_ms
            );
            if let Some(d) = r.dynamodb {
                s += &format!("dynamodb = \"{d}\"\n");
            }
            if r.witness {
                s += "witness = true\n";
            }
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
mod tests;
