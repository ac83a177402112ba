//! The analytic model of conflicts (SPEC §4). With Poisson writes at per-key rates `λ_s` from
//! each region `s` and one-way replication lags `L`, a write made in region `r`
//!
//! - is concurrent with another with probability `1 − exp(−Σ_s λ_s (L_rs + L_sr))` — any write
//!   of `s` made after `r`'s last write reached `s` and before this one did;
//! - loses (a later concurrent write outranks it) with probability about `1 − exp(−Σ_s λ_s L_rs)`.
//!
//! Per-key rates follow the key distribution, so the predicted rates average over keys by how
//! often each is written, and over regions by their share of the writes.

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

#[cfg(test)]
mod tests {
    use super::*;

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
