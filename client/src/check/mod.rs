//! Verifying a run: what the client saw, what the regions hold, and whether that is what
//! SPEC §4 promises — plus the analytic model the measured rates are set against. Pure code,
//! no network: the checker is tested with hand-made histories.
//!
//! - [`history`]: writes, outcomes, versions, causal contexts, final states, loss events;
//! - [`checker`]: the post-run verification (convergence, LWW winners, genuine conflicts,
//!   every lost write reported);
//! - [`strong`]: the checks of multi-Region strong consistency (no LWW loser, every
//!   acknowledged write in every region's history, per-key linearizability of writes and
//!   strong reads);
//! - [`model`]: the predicted conflict and lost-write rates, and the conflict-error rate of
//!   strong mode.

pub mod checker;
pub mod history;
pub mod model;
pub mod strong;

pub use checker::{CheckReport, SetAside, check, check_with_set_aside};
pub use strong::{StrongCheck, check_strong};
