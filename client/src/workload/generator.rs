//! What a load run sends: keys drawn from a distribution, operations from a mix, values of a
//! size — all from a seed, so a run can be repeated.

use std::fmt;

use crate::error::{Error, Result, invalid};

use super::rng::{Rng, Zipf};

/// The operations a workload mixes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// Unconditional put.
    Put,
    /// Read.
    Get,
    /// Delete (tombstone).
    Delete,
    /// Conditional put: if absent.
    CondPut,
    /// Increment (read-modify-write).
    Incr,
}

impl OpKind {
    /// All kinds, in report order.
    pub const ALL: [OpKind; 5] = [
        OpKind::Put,
        OpKind::Get,
        OpKind::Delete,
        OpKind::CondPut,
        OpKind::Incr,
    ];

    /// The name used in flags and reports.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Put => "put",
            OpKind::Get => "get",
            OpKind::Delete => "delete",
            OpKind::CondPut => "cput",
            OpKind::Incr => "incr",
        }
    }

    /// Does it write?
    pub fn is_write(self) -> bool {
        self != OpKind::Get
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How keys are chosen.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum KeyDist {
    /// Every key equally likely.
    #[default]
    Uniform,
    /// Zipf with exponent theta.
    Zipf(f64),
    /// `fraction` of operations go to the first `hot` keys, the rest uniformly to all.
    HotSet {
        /// Number of hot keys.
        hot: u64,
        /// Fraction of operations on them.
        fraction: f64,
    },
}

impl KeyDist {
    /// Parse `uniform`, `zipf:0.99`, `hot:10:0.9`.
    pub fn parse(s: &str) -> Result<Self> {
        let parts: Vec<&str> = s.split(':').collect();
        match parts.as_slice() {
            ["uniform"] => Ok(KeyDist::Uniform),
            ["zipf"] => Ok(KeyDist::Zipf(0.99)),
            ["zipf", t] => {
                let t: f64 = t.parse().map_err(|e| {
                    Error::Invalid(format!("zipf theta {t:?} is not a number: {e}"))
                })?;
                if !(0.0..=5.0).contains(&t) {
                    invalid!("zipf theta must be between 0 and 5");
                }
                Ok(KeyDist::Zipf(t))
            }
            ["hot", n, f] => {
                let hot: u64 = n.parse().map_err(|e| {
                    Error::Invalid(format!("hot-set size {n:?} is not a count: {e}"))
                })?;
                let fraction: f64 = f.parse().map_err(|e| {
                    Error::Invalid(format!("hot-set fraction {f:?} is not a number: {e}"))
                })?;
                if hot == 0 || !(0.0..=1.0).contains(&fraction) {
                    invalid!("hot set: size at least 1, fraction between 0 and 1");
                }
                Ok(KeyDist::HotSet { hot, fraction })
            }
            _ => invalid!(
                "key distribution {s:?}: expected uniform, zipf:THETA or hot:KEYS:FRACTION"
            ),
        }
    }

    /// Text form.
    pub fn describe(&self) -> String {
        match self {
            KeyDist::Uniform => "uniform".into(),
            KeyDist::Zipf(t) => format!("zipf:{t}"),
            KeyDist::HotSet { hot, fraction } => format!("hot:{hot}:{fraction}"),
        }
    }
}

/// A parsed operation mix: weights per kind.
#[derive(Clone, Debug, PartialEq)]
pub struct Mix(Vec<(OpKind, f64)>);

impl Mix {
    /// Parse `put=50,get=50` (weights, normalised).
    pub fn parse(s: &str) -> Result<Self> {
        let mut v = Vec::new();
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (name, w) = part
                .split_once('=')
                .ok_or_else(|| Error::Invalid(format!("mix entry {part:?}: expected OP=WEIGHT")))?;
            let kind = OpKind::ALL
                .into_iter()
                .find(|k| k.name() == name)
                .ok_or_else(|| {
                    Error::Invalid(format!(
                        "mix: unknown operation {name:?} (put, get, delete, cput, incr)"
                    ))
                })?;
            let w: f64 = w
                .parse()
                .map_err(|e| Error::Invalid(format!("mix: weight {w:?} is not a number: {e}")))?;
            if !(w >= 0.0 && w.is_finite()) {
                invalid!("mix: weights must be non-negative");
            }
            v.push((kind, w));
        }
        let total: f64 = v.iter().map(|(_, w)| w).sum();
        if total <= 0.0 {
            invalid!("mix {s:?}: give at least one positive weight");
        }
        Ok(Mix(v.into_iter().map(|(k, w)| (k, w / total)).collect()))
    }

    /// Fraction of operations that write.
    pub fn write_fraction(&self) -> f64 {
        self.0
            .iter()
            .filter(|(k, _)| k.is_write())
            .map(|(_, w)| w)
            .sum()
    }

    /// Text form.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(k, w)| format!("{k}={:.0}", w * 100.0))
            .collect::<Vec<_>>()
            .join(",")
    }

    fn pick(&self, rng: &mut Rng) -> OpKind {
        let mut u = rng.f64();
        for (k, w) in &self.0 {
            if u < *w {
                return *k;
            }
            u -= w;
        }
        self.0.last().expect("non-empty mix").0
    }
}

/// Keys of the default workload.
pub const DEFAULT_KEYS: u64 = 1000;
/// The default key distribution, as text.
pub const DEFAULT_DIST: &str = "uniform";
/// The default operation mix, as text.
pub const DEFAULT_MIX: &str = "put=70,get=25,delete=5";
/// Value size of the default workload, bytes.
pub const DEFAULT_VALUE_SIZE: usize = 100;
/// Seed of the default workload.
pub const DEFAULT_SEED: u64 = 1;

impl Default for Mix {
    fn default() -> Self {
        Mix::parse(DEFAULT_MIX).expect("the default mix parses")
    }
}

impl std::str::FromStr for KeyDist {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        KeyDist::parse(s)
    }
}

impl std::str::FromStr for Mix {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        Mix::parse(s)
    }
}

/// A key prefix of its own (a random UUID): two runs on one cluster never share keys.
pub fn unique_prefix() -> String {
    format!("run-{}/", uuid::Uuid::new_v4().simple())
}

/// A whole workload.
#[derive(Clone, Debug)]
pub struct Workload {
    /// Number of keys.
    pub keys: u64,
    /// Key distribution.
    pub dist: KeyDist,
    /// Operation mix.
    pub mix: Mix,
    /// Value size, bytes.
    pub value_size: usize,
    /// Seed.
    pub seed: u64,
    /// Key prefix (unique per run, so runs never see each other's data).
    pub prefix: String,
    zipf: Option<Zipf>,
}

/// One operation to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// What to do.
    pub kind: OpKind,
    /// The key.
    pub key: String,
    /// Key rank (index).
    pub rank: u64,
}

/// The default workload (1000 uniform keys, put=70,get=25,delete=5, 100-byte values, seed 1)
/// on keys of its own.
impl Default for Workload {
    fn default() -> Self {
        Self::new(
            DEFAULT_KEYS,
            KeyDist::default(),
            Mix::default(),
            DEFAULT_VALUE_SIZE,
            DEFAULT_SEED,
            unique_prefix(),
        )
        .expect("the default workload is valid")
    }
}

impl Workload {
    /// A workload; `keys` ≥ 1.
    pub fn new(
        keys: u64,
        dist: KeyDist,
        mix: Mix,
        value_size: usize,
        seed: u64,
        prefix: String,
    ) -> Result<Self> {
        if keys == 0 {
            invalid!("--keys must be at least 1");
        }
        if keys > 10_000_000 {
            invalid!("--keys must be at most 10,000,000");
        }
        if value_size > 400 * 1024 {
            invalid!("--value-size must be at most 409600 bytes (the item limit)");
        }
        let zipf = match dist {
            KeyDist::Zipf(t) => Some(Zipf::new(keys, t)),
            _ => None,
        };
        Ok(Self {
            keys,
            dist,
            mix,
            value_size,
            seed,
            prefix,
            zipf,
        })
    }

    /// The probability that an operation picks key rank `k`.
    pub fn key_probability(&self, k: u64) -> f64 {
        match (&self.dist, &self.zipf) {
            (KeyDist::Zipf(_), Some(z)) => z.probability(k as usize),
            (KeyDist::HotSet { hot, fraction }, _) => {
                let hot = (*hot).min(self.keys);
                let base = (1.0 - fraction) / self.keys as f64;
                if k < hot {
                    base + fraction / hot as f64
                } else {
                    base
                }
            }
            _ => 1.0 / self.keys as f64,
        }
    }

    /// Prefix of the counter keys increments use (kept apart from the items puts write).
    pub fn counter_prefix(&self) -> String {
        format!("{}n", self.prefix)
    }

    /// The counter key of rank `k`.
    pub fn counter(&self, k: u64) -> String {
        format!("{}n{k}", self.prefix)
    }

    /// The key name of rank `k`.
    pub fn key(&self, k: u64) -> String {
        format!("{}k{k}", self.prefix)
    }

    /// The next operation from `rng`.
    pub fn next_op(&self, rng: &mut Rng) -> Op {
        let rank = match (&self.dist, &self.zipf) {
            (KeyDist::Zipf(_), Some(z)) => z.sample(rng),
            (KeyDist::HotSet { hot, fraction }, _) => {
                if rng.f64() < *fraction {
                    rng.below((*hot).min(self.keys))
                } else {
                    rng.below(self.keys)
                }
            }
            _ => rng.below(self.keys),
        };
        Op {
            kind: self.mix.pick(rng),
            key: self.key(rank),
            rank,
        }
    }

    /// A value of the configured size starting with `token` (which identifies the write).
    pub fn value(&self, token: &str) -> Vec<u8> {
        let mut v = token.as_bytes().to_vec();
        v.resize(self.value_size.max(token.len()), b'.');
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The whole workload — keys (Zipf too), operation kinds, Poisson gaps — is a function
    /// of the seed and stream.
    #[test]
    fn a_zipf_workload_with_poisson_gaps_repeats_for_its_seed() {
        let w = Workload::new(
            100,
            KeyDist::Zipf(0.99),
            Mix::parse("put=50,get=40,delete=10").unwrap(),
            8,
            42,
            "t-".into(),
        )
        .unwrap();
        let run = |seed: u64, stream: u64| {
            let mut rng = Rng::stream(seed, stream);
            (0..500)
                .map(|_| (w.next_op(&mut rng), rng.exponential(0.01).to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(run(42, 3), run(42, 3));
        assert_ne!(run(42, 3), run(43, 3));
        assert_ne!(run(42, 3), run(42, 4));
    }

    #[test]
    fn parses_mixes_and_distributions() {
        let m = Mix::parse("put=75,get=25").unwrap();
        assert!((m.write_fraction() - 0.75).abs() < 1e-12);
        assert!(
            Mix::parse("put=1,nope=2")
                .unwrap_err()
                .to_string()
                .contains("unknown operation")
        );
        assert!(Mix::parse("get=0").is_err());
        assert_eq!(KeyDist::parse("zipf:0.5").unwrap(), KeyDist::Zipf(0.5));
        assert_eq!(
            KeyDist::parse("hot:10:0.9").unwrap(),
            KeyDist::HotSet {
                hot: 10,
                fraction: 0.9
            }
        );
        assert!(KeyDist::parse("gauss").is_err());
    }

    #[test]
    fn same_seed_same_workload_other_seeds_differ_and_ops_follow_the_distribution() {
        let w = Workload::new(
            10,
            KeyDist::HotSet {
                hot: 1,
                fraction: 0.5,
            },
            Mix::parse("put=1").unwrap(),
            8,
            1,
            "t-".into(),
        )
        .unwrap();
        let run = |mut rng: Rng| (0..2000).map(|_| w.next_op(&mut rng)).collect::<Vec<Op>>();
        let ops = run(Rng::new(5));
        assert_eq!(ops, run(Rng::new(5)), "same seed, same workload");
        assert_ne!(ops, run(Rng::new(6)), "another seed, another workload");
        assert_ne!(
            ops,
            run(Rng::stream(5, 1)),
            "another stream, other operations"
        );
        let hot = ops.iter().filter(|o| o.rank == 0).count() as f64 / 2000.0;
        assert!((hot - w.key_probability(0)).abs() < 0.05, "{hot}");
        let total: f64 = (0..10).map(|k| w.key_probability(k)).sum();
        assert!((total - 1.0).abs() < 1e-9);
        assert_eq!(w.value("ab").len(), 8);
    }
}
