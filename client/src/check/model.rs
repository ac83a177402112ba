//! The analytic model of conflicts (SPEC §4). With Poisson writes at per-key rates `λ_s` from
//! each region `s` and one-way replication lags `L`, a write made in region `r`
//!
//! - is concurrent with another with probability `1 − exp(−Σ_s λ_s (L_rs + L_sr))` — any write
//!   of `s` made after `r`'s last write reached `s` and before this one did;
//! - loses (a later concurrent write outranks it) with probability about `1 − exp(−Σ_s λ_s L_rs)`.
//!
//! Per-key rates follow the key distribution, so the predicted rates average over keys by how
//! often each is written, and over regions by their share of the writes.
//!
//! # Multi-Region strong consistency
//! There are no LWW conflicts; instead a write attempt is refused with
//! `ReplicatedWriteConflict` when it meets another unfinished write of its item. A write is in
//! flight for `T_r`, the round trip from its region `r` to the nearest participant (the quorum
//! round trip). With Poisson attempts at per-key rate `λ_r`, and `ρ_r = λ_r T_r`:
//!
//! - **in the same region**: a region holds at most one unfinished write of an item, and an
//!   attempt that finds one is refused at once — a loss system with one slot, so
//!   `B_r = ρ_r / (1 + ρ_r)` (Erlang's loss formula, whatever the distribution of `T`); the
//!   attempts admitted run at `a_r = λ_r / (1 + ρ_r)`;
//! - **across regions**: two admitted writes of an item from regions `r` and `s` overlap when
//!   they start within `T_r + T_s` of each other, and then at most one succeeds — the two
//!   origins refuse each other's proposal and the third participant takes whichever reaches it
//!   first. So an admitted write fails with probability about
//!   `X_r = ½ (1 − exp(−Σ_{s≠r} a_s (T_r + T_s)))` (the ½: each overlap costs one of the two).
//!
//! An attempt fails with probability `B_r + (1 − B_r) X_r`, averaged over keys and regions as
//! above. It is a first-order model: it ignores the link asymmetry that decides races, three
//! overlapping writes (all three can fail), and the node's own processing time beyond `T_r`.

/// Inputs of the model.
#[derive(Clone, Debug)]
pub struct ModelInput {
    /// Writes per second sent from each region.
    pub write_rate: Vec<f64>,
    /// One-way replication lag, seconds: `lag[r][s]` from region r to region s.
    pub lag_s: Vec<Vec<f64>>,
    /// Probability that a write picks each key.
    pub key_probability: Vec<f64>,
}

/// Predicted conflict rate and lost-write rate.
pub fn predict(m: &ModelInput) -> (f64, f64) {
    let total: f64 = m.write_rate.iter().sum();
    if total <= 0.0 {
        return (0.0, 0.0);
    }
    let n = m.write_rate.len();
    let (mut conflict, mut lost) = (0.0, 0.0);
    for r in 0..n {
        let share = m.write_rate[r] / total;
        if share == 0.0 {
            continue;
        }
        let both: f64 = (0..n)
            .filter(|s| *s != r)
            .map(|s| m.write_rate[s] * (m.lag_s[r][s] + m.lag_s[s][r]))
            .sum();
        let out: f64 = (0..n)
            .filter(|s| *s != r)
            .map(|s| m.write_rate[s] * m.lag_s[r][s])
            .sum();
        for p in &m.key_probability {
            conflict += share * p * (1.0 - (-both * p).exp());
            lost += share * p * (1.0 - (-out * p).exp());
        }
    }
    (conflict, lost)
}

/// Inputs of the strong-mode model.
#[derive(Clone, Debug)]
pub struct StrongModelInput {
    /// Write attempts per second sent from each region (retries included).
    pub attempt_rate: Vec<f64>,
    /// Each region's round trip to its nearest participant, seconds.
    pub rtt_s: Vec<f64>,
    /// Probability that a write picks each key.
    pub key_probability: Vec<f64>,
}

/// Predicted share of write attempts refused with `ReplicatedWriteConflict` (module doc).
pub fn predict_strong(m: &StrongModelInput) -> f64 {
    let total: f64 = m.attempt_rate.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let n = m.attempt_rate.len();
    let mut failed = 0.0;
    for p in &m.key_probability {
        let rho: Vec<f64> = (0..n).map(|r| m.attempt_rate[r] * p * m.rtt_s[r]).collect();
        let admitted: Vec<f64> = (0..n)
            .map(|r| m.attempt_rate[r] * p / (1.0 + rho[r]))
            .collect();
        for (r, rho_r) in rho.iter().enumerate() {
            let share = m.attempt_rate[r] / total;
            if share == 0.0 {
                continue;
            }
            let busy = rho_r / (1.0 + rho_r);
            let overlap: f64 = (0..n)
                .filter(|s| *s != r)
                .map(|s| admitted[s] * (m.rtt_s[r] + m.rtt_s[s]))
                .sum();
            let lost_race = 0.5 * (1.0 - (-overlap).exp());
            failed += share * p * (busy + (1.0 - busy) * lost_race);
        }
    }
    failed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strong_one_key_two_regions_matches_the_closed_form() {
        let m = StrongModelInput {
            attempt_rate: vec![10.0, 10.0, 0.0],
            rtt_s: vec![0.04, 0.04, 0.04],
            key_probability: vec![1.0],
        };
        let rho: f64 = 0.4;
        let busy = rho / (1.0 + rho);
        let race = 0.5 * (1.0 - (-(10.0 / (1.0 + rho)) * 0.08f64).exp());
        let want = busy + (1.0 - busy) * race;
        let got = predict_strong(&m);
        assert!((got - want).abs() < 1e-12, "{got} vs {want}");
    }

    #[test]
    fn strong_conflicts_need_overlap_and_grow_with_rate_and_round_trip() {
        let m = |rate: f64, rtt: f64, keys: usize| StrongModelInput {
            attempt_rate: vec![rate, rate, rate],
            rtt_s: vec![rtt; 3],
            key_probability: vec![1.0 / keys as f64; keys],
        };
        assert_eq!(predict_strong(&m(10.0, 0.0, 1)), 0.0, "no round trip");
        assert_eq!(predict_strong(&m(0.0, 0.1, 1)), 0.0, "no writes");
        assert!(predict_strong(&m(20.0, 0.04, 1)) > predict_strong(&m(10.0, 0.04, 1)));
        assert!(predict_strong(&m(10.0, 0.08, 1)) > predict_strong(&m(10.0, 0.04, 1)));
        assert!(predict_strong(&m(10.0, 0.04, 1)) > predict_strong(&m(10.0, 0.04, 100)));
        // At most every attempt fails.
        assert!(predict_strong(&m(1e6, 1.0, 1)) <= 1.0);
        // One region alone conflicts only with itself.
        let alone = StrongModelInput {
            attempt_rate: vec![5.0, 0.0],
            rtt_s: vec![0.1, 0.1],
            key_probability: vec![1.0],
        };
        assert!((predict_strong(&alone) - 0.5 / 1.5).abs() < 1e-12);
    }

    #[test]
    fn one_key_two_regions_matches_the_closed_form() {
        let m = ModelInput {
            write_rate: vec![10.0, 10.0],
            lag_s: vec![vec![0.0, 0.1], vec![0.1, 0.0]],
            key_probability: vec![1.0],
        };
        let (c, l) = predict(&m);
        assert!((c - (1.0 - (-2.0f64).exp())).abs() < 1e-12, "{c}");
        assert!((l - (1.0 - (-1.0f64).exp())).abs() < 1e-12, "{l}");
    }

    #[test]
    fn no_lag_or_one_region_means_no_conflicts() {
        let zero = ModelInput {
            write_rate: vec![10.0, 10.0],
            lag_s: vec![vec![0.0; 2]; 2],
            key_probability: vec![0.5, 0.5],
        };
        assert_eq!(predict(&zero), (0.0, 0.0));
        let alone = ModelInput {
            write_rate: vec![10.0, 0.0],
            lag_s: vec![vec![0.0, 1.0], vec![1.0, 0.0]],
            key_probability: vec![1.0],
        };
        assert_eq!(predict(&alone), (0.0, 0.0));
    }

    #[test]
    fn more_keys_fewer_conflicts() {
        let m = |keys: usize| ModelInput {
            write_rate: vec![50.0, 50.0, 50.0],
            lag_s: vec![vec![0.0, 0.1, 0.1]; 3]
                .into_iter()
                .enumerate()
                .map(|(i, mut v)| {
                    v[i] = 0.0;
                    v
                })
                .collect(),
            key_probability: vec![1.0 / keys as f64; keys],
        };
        assert!(predict(&m(10)).0 > predict(&m(1000)).0);
    }
}
