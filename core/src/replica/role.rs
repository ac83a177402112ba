//! Who may write: the replication mode, a region's Aurora Global role (primary, epoch, freeze),
//! the fences a failover leaves in a lost primary's log, and how far a peer is behind.

use crate::{region::RegionId, store::Write};

/// How the cluster replicates.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
pub enum Mode {
    /// Every region writes; LWW settles concurrent writes (DynamoDB Global Tables).
    #[default]
    GlobalTables,
    /// One primary writes; secondaries are read-only (Aurora Global Database).
    AuroraGlobal,
}

impl Mode {
    /// The name used in cluster files and flags.
    pub fn name(self) -> &'static str {
        match self {
            Mode::GlobalTables => "global-tables",
            Mode::AuroraGlobal => "aurora-global",
        }
    }

    /// Parse a name as used in cluster files and flags.
    pub fn parse(s: &str) -> Option<Mode> {
        match s {
            "global-tables" => Some(Mode::GlobalTables),
            "aurora-global" => Some(Mode::AuroraGlobal),
            _ => None,
        }
    }
}

/// A region's role (Aurora Global mode; in Global Tables mode every region writes).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    /// Replication mode.
    pub mode: Mode,
    /// The writer region (Aurora Global mode).
    pub primary: Option<RegionId>,
    /// Primary term; grows at every switchover or failover.
    pub epoch: u64,
    /// Writes paused (switchover draining).
    pub frozen: bool,
    /// One fence per failover: the writes each cuts off are divergent. Fences are kept for
    /// good (a region may rejoin, or a stale copy of its log arrive, at any later time).
    pub fences: Vec<Fence>,
}

impl Role {
    /// Is `w` cut off by one of the fences?
    pub fn fenced(&self, w: &Write) -> bool {
        self.fences.iter().any(|f| f.cuts(w))
    }

    /// Add `fences` not already held.
    pub fn add_fences(&mut self, fences: impl IntoIterator<Item = Fence>) {
        for f in fences {
            if !self.fences.contains(&f) {
                self.fences.push(f);
            }
        }
    }
}

/// The cut left by a failover in the lost primary's log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fence {
    /// The old primary.
    pub region: RegionId,
    /// Its last write the new primary had.
    pub after_seq: u64,
    /// The epoch the failover started.
    pub epoch: u64,
    /// When the failover cut the old primary off, µs since the Unix epoch (0: unknown): the
    /// line between writes lost at the cut and writes acknowledged in split brain.
    pub cut_at_us: u64,
}

impl Fence {
    /// Is `w` one of the divergent writes this fence cuts off?
    pub fn cuts(&self, w: &Write) -> bool {
        w.origin() == self.region && w.seq > self.after_seq && w.epoch < self.epoch
    }
}

/// How far a peer is behind this region's acknowledged writes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RpoLag {
    /// Writes committed here and not acknowledged by the peer.
    pub writes: u64,
    /// Age of the oldest of them, µs (0 when there is none).
    pub age_us: u64,
}
