//! What the load client saw: every write it made, with its outcome, version and causal
//! context; the strong reads it made (multi-Region strong consistency); what the regions hold
//! at the end; and the loss events the nodes reported. Plain
//! data, independent of the wire types, so the checker can be tested with hand-made histories.

use std::collections::{BTreeMap, HashMap};

use meridian_proto::v1 as pb;
use serde::Serialize;

use crate::workload::OpKind;

/// A version: LWW orders by timestamp, logical counter, then region name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Ver {
    /// Physical µs.
    pub timestamp: u64,
    /// Logical counter.
    pub logical: u32,
    /// Origin region.
    pub region: String,
}

impl Ver {
    /// From the wire (absent: the zero version of no region).
    pub fn from_pb(v: Option<&pb::Version>) -> Self {
        v.map_or(
            Ver {
                timestamp: 0,
                logical: 0,
                region: String::new(),
            },
            |v| Ver {
                timestamp: v.timestamp,
                logical: v.logical,
                region: v.region.clone(),
            },
        )
    }
}

impl std::fmt::Display for Ver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}@{}", self.timestamp, self.logical, self.region)
    }
}

/// A causal context: region → count.
pub type Ctx = BTreeMap<String, u64>;

/// Context from the wire.
pub fn ctx_from_pb(c: Option<&pb::CausalContext>) -> Ctx {
    c.map(|c| c.entries.iter().map(|(k, v)| (k.clone(), *v)).collect())
        .unwrap_or_default()
}

/// `a` ≤ `b` pointwise.
pub fn ctx_le(a: &Ctx, b: &Ctx) -> bool {
    a.iter().all(|(r, n)| b.get(r).copied().unwrap_or(0) >= *n)
}

/// Neither context dominates the other.
pub fn ctx_concurrent(a: &Ctx, b: &Ctx) -> bool {
    !ctx_le(a, b) && !ctx_le(b, a)
}

/// What became of a write the client sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriteStatus {
    /// The node acknowledged it.
    Acked,
    /// No answer (timeout, connection lost): it may or may not have been committed.
    Unknown,
    /// Refused (a definite error): it was not committed.
    Failed,
}

/// One write the client made.
#[derive(Clone, Debug, Serialize)]
pub struct WriteRec {
    /// The key.
    pub key: String,
    /// Operation.
    #[serde(serialize_with = "ser_op")]
    pub op: OpKind,
    /// Region of the client that sent it.
    pub client_region: String,
    /// Outcome.
    pub status: WriteStatus,
    /// Write id (acked writes only).
    pub write_id: String,
    /// Version (acked writes only).
    pub version: Option<Ver>,
    /// Causal context (acked writes only).
    pub context: Ctx,
    /// A delete?
    pub tombstone: bool,
    /// Intended start, µs since the Unix epoch.
    pub start_us: u64,
    /// Acknowledgement time (acked writes), µs since the Unix epoch.
    pub ack_us: u64,
}

fn ser_op<S: serde::Serializer>(op: &OpKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(op.name())
}

impl WriteRec {
    /// The region that committed it (the version's region).
    pub fn origin(&self) -> &str {
        self.version.as_ref().map_or("", |v| v.region.as_str())
    }

    /// Its own entry in its context (its "dot").
    pub fn dot(&self) -> u64 {
        self.context.get(self.origin()).copied().unwrap_or(0)
    }
}

impl WriteRec {
    /// An acknowledged write from the JSON `meridian ctl put/delete/incr --json` prints (one
    /// object with `key`, `write_id`, `version` and `context`), so that a hand-driven or
    /// scripted history can be checked with `meridian check`.
    pub fn from_reply_json(v: &serde_json::Value) -> Result<Self, String> {
        let s = |field: &str| {
            v.get(field)
                .and_then(|x| x.as_str())
                .map(str::to_owned)
                .ok_or_else(|| format!("no string field {field:?}"))
        };
        let ver = v.get("version").ok_or("no field \"version\"")?;
        let num = |field: &str| {
            ver.get(field)
                .and_then(|x| x.as_u64())
                .ok_or_else(|| format!("version has no number {field:?}"))
        };
        let version = Ver {
            timestamp: num("timestamp")?,
            logical: u32::try_from(num("logical")?).map_err(|_| "version.logical too large")?,
            region: ver
                .get("region")
                .and_then(|x| x.as_str())
                .ok_or("version has no region")?
                .to_owned(),
        };
        let context = v
            .get("context")
            .and_then(|c| c.as_object())
            .ok_or("no object field \"context\"")?
            .iter()
            .map(|(r, n)| {
                n.as_u64()
                    .map(|n| (r.clone(), n))
                    .ok_or_else(|| format!("context entry {r:?} is not a count"))
            })
            .collect::<Result<Ctx, String>>()?;
        Ok(WriteRec {
            key: s("key")?,
            op: OpKind::Put,
            client_region: version.region.clone(),
            status: WriteStatus::Acked,
            write_id: s("write_id")?,
            version: Some(version),
            context,
            tombstone: v
                .get("tombstone")
                .and_then(|t| t.as_bool())
                .unwrap_or(false),
            start_us: 0,
            ack_us: 0,
        })
    }
}

/// One strongly consistent read the client made (multi-Region strong consistency), with the
/// client's clock around it: the checker places it among the key's writes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ReadRec {
    /// The key.
    pub key: String,
    /// Region of the client (and of the node it asked).
    pub region: String,
    /// When the request was sent, µs since the Unix epoch.
    pub start_us: u64,
    /// When the reply came back, µs since the Unix epoch.
    pub end_us: u64,
    /// The write it returned (empty: the key had never been written).
    pub write_id: String,
    /// That write's version (the zero version when none).
    pub version: Ver,
    /// That write's causal context.
    pub context: Ctx,
    /// That write is a delete.
    pub tombstone: bool,
}

/// A key's current write in one region at the end of a run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FinalItem {
    /// Write id.
    pub write_id: String,
    /// Version.
    pub version: Ver,
    /// A tombstone?
    pub tombstone: bool,
}

/// Every region's final state: region → key → item.
pub type FinalStates = BTreeMap<String, HashMap<String, FinalItem>>;

/// One side of a reported loss.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct EventWrite {
    /// Write id.
    pub write_id: String,
    /// Version.
    pub version: Ver,
    /// Causal context.
    pub context: Ctx,
}

/// A loss a node reported.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct LossEvent {
    /// Detecting region.
    pub region: String,
    /// `conflict` or `causal-inversion`.
    pub kind: String,
    /// The key.
    pub key: String,
    /// The write kept.
    pub winner: EventWrite,
    /// The write that lost.
    pub loser: EventWrite,
}

impl LossEvent {
    /// From the wire.
    pub fn from_pb(e: &pb::ConflictEvent) -> Self {
        let side = |w: Option<&pb::WriteSummary>| EventWrite {
            write_id: w.map(|w| w.write_id.clone()).unwrap_or_default(),
            version: Ver::from_pb(w.and_then(|w| w.version.as_ref())),
            context: ctx_from_pb(w.and_then(|w| w.context.as_ref())),
        };
        let kind = match pb::EventKind::try_from(e.kind) {
            Ok(pb::EventKind::CausalInversion) => "causal-inversion",
            _ => "conflict",
        };
        Self {
            region: e.region.clone(),
            kind: kind.to_owned(),
            key: e.key.clone(),
            winner: side(e.winner.as_ref()),
            loser: side(e.loser.as_ref()),
        }
    }
}
