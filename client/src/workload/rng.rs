//! Seeded randomness for workloads: a SplitMix64 generator, exponential gaps (Poisson
//! arrivals) and a Zipf sampler. Small and self-contained so a seed always means the same
//! workload.

/// SplitMix64: fast, seedable, good enough for workloads (not for cryptography).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed` (different streams: mix the stream number into the seed).
    pub fn new(seed: u64) -> Self {
        Self(seed ^ 0x5851_F42D_4C95_7F2D)
    }

    /// A generator for stream `stream` of `seed`.
    pub fn stream(seed: u64, stream: u64) -> Self {
        Self::new(seed.wrapping_add(stream.wrapping_mul(0xA076_1D64_78BD_642F)))
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((self.next_u64() as u128 * n as u128) >> 64) as u64
    }

    /// An exponential sample with the given mean (Poisson inter-arrival gaps).
    pub fn exponential(&mut self, mean: f64) -> f64 {
        -mean * (1.0 - self.f64()).ln()
    }
}

/// Zipf over `0..n` with exponent `theta` (rank 0 the most popular), by inverse CDF lookup.
#[derive(Clone, Debug)]
pub struct Zipf {
    cdf: Vec<f64>,
}

impl Zipf {
    /// The distribution; `theta` 0 is uniform, 0.99 is YCSB's default skew.
    pub fn new(n: u64, theta: f64) -> Self {
        let weights: Vec<f64> = (1..=n.max(1))
            .map(|k| 1.0 / (k as f64).powf(theta))
            .collect();
        let total: f64 = weights.iter().sum();
        let mut acc = 0.0;
        let cdf = weights
            .iter()
            .map(|w| {
                acc += w / total;
                acc
            })
            .collect();
        Self { cdf }
    }

    /// Probability of rank `k`.
    pub fn probability(&self, k: usize) -> f64 {
        let prev = if k == 0 { 0.0 } else { self.cdf[k - 1] };
        self.cdf[k] - prev
    }

    /// A rank.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        let u = rng.f64();
        self.cdf.partition_point(|c| *c < u).min(self.cdf.len() - 1) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_stream() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::stream(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::stream(7, 1);
                move |_| r.next_u64()
            })
            .collect();
        let c = Rng::stream(7, 2).next_u64();
        assert_eq!(a, b);
        assert_ne!(a[0], c);
    }

    #[test]
    fn exponential_mean_is_close() {
        let mut r = Rng::new(1);
        let n = 100_000;
        let mean = (0..n).map(|_| r.exponential(2.0)).sum::<f64>() / n as f64;
        assert!((mean - 2.0).abs() < 0.05, "{mean}");
    }

    #[test]
    fn zipf_favours_low_ranks_and_theta_zero_is_uniform() {
        let z = Zipf::new(100, 0.99);
        assert!(z.probability(0) > 10.0 * z.probability(50));
        let u = Zipf::new(4, 0.0);
        for k in 0..4 {
            assert!((u.probability(k) - 0.25).abs() < 1e-12);
        }
        let mut r = Rng::new(3);
        let hits = (0..10_000).filter(|_| z.sample(&mut r) == 0).count() as f64 / 10_000.0;
        assert!((hits - z.probability(0)).abs() < 0.02, "{hits}");
    }
}
