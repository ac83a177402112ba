//! The Aurora Global control plane: planned switchover, unplanned failover, and the rejoin of a
//! lost primary, orchestrated from outside the nodes over their Admin services (as a managed
//! service's control plane would be), with the recovery point (RPO) and the unavailable time
//! (RTO) measured on the way.
//!
//! - [`switchover`](switchover()): freeze the primary (its log head `H` is then final), wait until the target
//!   has applied the primary's log up to `H`, promote the target with the next epoch, then tell
//!   every other region (the old primary becomes a secondary; that also unfreezes it). Nothing
//!   can be lost: the report checks it (RPO 0 writes) and gives the RTO, the time from the freeze
//!   until the target accepted writes. A failure midway unfreezes the old primary.
//! - [`failover`]: the primary region is lost. It is cut off (a partition of all its links),
//!   the target's applied position `N` in the old primary's log is read once its pull stream is
//!   down, and the target is promoted with a fence at `N`: the old primary's writes after `N`
//!   are divergent and never applied anywhere. The other secondaries resync from the new
//!   primary (they may hold old-primary writes beyond `N`). The old primary is not told: it is
//!   cut off and still believes it is the primary. The data loss is read from the old
//!   primary's own log after `N` — an out-of-band observer's view, which the playground can
//!   afford and a real region loss would not give.
//! - [`rejoin`]: the old primary comes back: its links heal and it takes the current role with
//!   a resync, so its state becomes the primary's; its divergent writes stay in its own log,
//!   listable (`Admin/Divergent`), never merged.
//!
//! The primary is whatever the nodes with the highest epoch say: after a failover the cut-off
//! old primary still claims the role, in an older epoch.
//!
//! # Layout
//! - [`fleet`]: the nodes of every region, single calls with deadlines, the agreed role;
//! - [`reports`]: what each role change did (the `ctl --json` contracts) and the cut rules;
//! - [`switchover`](mod@switchover), [`failover`](mod@failover), [`rejoin`](mod@rejoin): the
//!   three orchestrations;
//! - [`set_aside`](mod@set_aside): the writes failovers set aside, for the checker.

pub mod failover;
pub mod fleet;
pub mod rejoin;
pub mod reports;
pub mod set_aside;
pub mod switchover;

pub use failover::failover;
pub use fleet::{Fleet, Options};
pub use rejoin::rejoin;
pub use reports::{
    CutSplit, FailoverReport, LostWrite, RejoinReport, SwitchoverReport, after_cut, split_at_cut,
    to_json,
};
pub use set_aside::set_aside;
pub use switchover::switchover;
