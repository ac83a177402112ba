//! What a load run sends, from a seed: operation kinds and their mix, key distributions,
//! values — and the seeded random numbers behind them, so a seed always means the same run.
//!
//! - [`generator`]: [`OpKind`], [`KeyDist`], [`Mix`] and the [`Workload`] that draws from them;
//! - [`rng`]: seeded generators (`rand`'s ChaCha8, one stream per worker), exponential gaps and
//!   Zipf (`rand_distr`).

pub mod generator;
pub mod rng;

pub use generator::{
    DEFAULT_DIST, DEFAULT_KEYS, DEFAULT_MIX, DEFAULT_SEED, DEFAULT_VALUE_SIZE, KeyDist, Mix, Op,
    OpKind, Workload, unique_prefix,
};
pub use rng::{Rng, Zipf};
