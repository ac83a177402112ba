//! Test helpers: an in-memory cluster of [`Replica`]s with hand-driven delivery, and a tiny
//! deterministic shuffler. Used by the pure-core unit and property tests.

use std::sync::Arc;

use uuid::Uuid;

use crate::{
    clock::{Clock, ClockMode},
    digest::repairable,
    region::{RegionId, Regions},
    replica::{Mode, Replica, Role, WriteOp, tombstones::TombstoneQuery},
    store::{Outcome, Write},
};

/// A deterministic xorshift generator (tests only).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % n as u64) as usize
    }
    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = self.below(i + 1);
            v.swap(i, j);
        }
    }
}

/// An in-memory cluster: region `i` pulls region `j`'s log up to `delivered[i][j]`.
pub struct Sim {
    pub cores: Vec<Replica>,
    delivered: Vec<Vec<u64>>,
    pub now_us: u64,
    next_id: u128,
    pub outcomes: Vec<(usize, Outcome)>,
    /// Per region, the writes of its current incarnation.
    made: Vec<Vec<Arc<Write>>>,
    /// Tombstones are collected (see [`Sim::collecting`]).
    collects: bool,
}

impl Sim {
    /// `skews_us.len()` regions named r0, r1, ...
    pub fn new(mode: ClockMode, skews_us: &[i64]) -> Self {
        let n = skews_us.len();
        let regions = Regions::new((0..n).map(|i| format!("r{i}")));
        let cores = skews_us
            .iter()
            .enumerate()
            .map(|(i, skew)| {
                let role = Role {
                    mode: Mode::GlobalTables,
                    primary: None,
                    epoch: 0,
                    frozen: false,
                    fences: vec![],
                };
                Replica::new(
                    RegionId::from_index(i),
                    regions.clone(),
                    Clock::new(mode, *skew),
                    role,
                    1_000_000,
                )
            })
            .collect();
        Self {
            cores,
            delivered: vec![vec![0; n]; n],
            now_us: 1_000_000,
            next_id: 1,
            outcomes: Vec::new(),
            made: vec![Vec::new(); n],
            collects: false,
        }
    }

    /// Region `r` loses its state (a wiped data directory, a memory-mode restart): a fresh core
    /// with a new log, whose dots start at the current time, as a restarted node's do. Peers
    /// start pulling its new log from the beginning; it pulls theirs from the beginning.
    pub fn wipe(&mut self, r: usize) {
        let old = &self.cores[r];
        let mut fresh = Replica::new(
            old.region(),
            old.regions().clone(),
            Clock::new(old.clock().mode(), old.clock().skew_us()),
            old.role().clone(),
            1_000_000,
        );
        fresh.set_dot_floor(self.now_us);
        if self.collects {
            fresh.enable_tombstone_collection(0);
        }
        self.cores[r] = fresh;
        for (i, c) in self.cores.iter_mut().enumerate() {
            if i != r {
                c.reset_tombstone_peer(RegionId::from_index(r));
            }
        }
        self.made[r].clear();
        for i in 0..self.cores.len() {
            self.delivered[r][i] = 0;
            self.delivered[i][r] = 0;
        }
    }

    /// Region `r` puts `value` at `key`.
    pub fn put(&mut self, r: usize, key: &str, value: &str) -> Arc<Write> {
        self.now_us += 10;
        let id = Uuid::from_u128(self.next_id);
        self.next_id += 1;
        let c = self.cores[r]
            .write(
                key,
                WriteOp::Put(Arc::from(value.as_bytes())),
                None,
                id,
                self.now_us,
            )
            .expect("write accepted");
        self.outcomes.push((r, c.outcome));
        self.made[r].push(c.write.clone());
        c.write
    }

    /// Region `r` deletes `key`.
    pub fn delete(&mut self, r: usize, key: &str) -> Arc<Write> {
        self.now_us += 10;
        let id = Uuid::from_u128(self.next_id);
        self.next_id += 1;
        let c = self.cores[r]
            .write(key, WriteOp::Delete, None, id, self.now_us)
            .expect("delete accepted");
        self.outcomes.push((r, c.outcome));
        self.made[r].push(c.write.clone());
        c.write
    }

    /// Deliver up to `max` pending writes from `from` to `to`, in log order — as the node's
    /// pull stream does: a peer positioned below the log's base first gets `from`'s
    /// surviving writes from the truncated part (from the store), then the log.
    pub fn deliver(&mut self, from: usize, to: usize, max: usize) {
        if from == to {
            return;
        }
        let after = self.delivered[to][from];
        let origin = &self.cores[from];
        let base = origin.log_base();
        let mut writes = if after < base {
            origin.own_writes_between(after, base)
        } else {
            Vec::new()
        };
        writes.truncate(max);
        if writes.len() < max {
            let from_log = origin.log_after(after.max(base), max - writes.len());
            writes.extend(from_log);
        }
        for w in writes {
            self.now_us += 1;
            self.delivered[to][from] = w.seq.max(self.delivered[to][from]);
            if let Some(o) = self.cores[to].apply_remote(w, self.now_us) {
                self.outcomes.push((to, o));
            }
        }
    }

    /// Truncate region `r`'s log up to what every peer has been delivered (the node's rule,
    /// with delivery standing in for durable acknowledgement). Returns the new base.
    pub fn truncate(&mut self, r: usize) -> u64 {
        let upto = (0..self.cores.len())
            .filter(|&i| i != r)
            .map(|i| self.delivered[i][r])
            .min()
            .unwrap_or(0);
        self.cores[r].truncate_log(upto);
        self.cores[r].log_base()
    }

    /// Region `to` has been delivered `from`'s log up to this seq.
    pub fn delivered(&self, from: usize, to: usize) -> u64 {
        self.delivered[to][from]
    }

    /// Collect tombstones in every region (grace period 0).
    pub fn collecting(mut self) -> Self {
        for c in &mut self.cores {
            c.enable_tombstone_collection(0);
        }
        self.collects = true;
        self
    }

    /// One tombstone-collection round of region `x`, as the node runs it: ask every peer about
    /// the candidates, record the answers, collect what is settled. Returns how many it
    /// collected.
    pub fn collect_round(&mut self, x: usize) -> usize {
        self.cores[x].tombstone_round(self.now_us);
        for q in 0..self.cores.len() {
            if q == x {
                continue;
            }
            let asked = self.cores[x].tombstone_questions(RegionId::from_index(q));
            let queries: Vec<TombstoneQuery> =
                asked.iter().map(|t| TombstoneQuery::of(t)).collect();
            let delivered = &self.delivered[q];
            let reply = self.cores[q].answer_tombstones(&queries, |o| delivered[o.index()]);
            self.cores[x].record_tombstone_reply(RegionId::from_index(q), &asked, &reply);
        }
        let delivered = &self.delivered[x];
        self.cores[x]
            .collect_tombstones(|o| delivered[o.index()])
            .len()
    }

    /// Anti-entropy from `from` to `to`: every current write of `from` that `to` may take
    /// (the node's rules: [`repairable`], [`Replica::check_repair`], not collected at `to`).
    pub fn repair(&mut self, from: usize, to: usize) {
        if from == to {
            return;
        }
        let me = RegionId::from_index(to);
        let items: Vec<Arc<Write>> = self.cores[from].store().iter().cloned().collect();
        for w in items {
            let applied = self.delivered[to][w.origin().index()];
            let core = &self.cores[to];
            if !repairable(&w, me, applied)
                || core.check_repair(&w, self.now_us, false).is_err()
                || core.is_collected(&w, applied, false)
            {
                continue;
            }
            self.now_us += 1;
            if let Some(o) = self.cores[to].apply_remote(w, self.now_us) {
                self.outcomes.push((to, o));
            }
        }
    }

    /// Deliver everything everywhere.
    pub fn settle(&mut self) {
        let n = self.cores.len();
        for to in 0..n {
            for from in 0..n {
                self.deliver(from, to, usize::MAX);
            }
        }
    }

    /// Every write made by the regions' current incarnations (truncated ones too), in no
    /// particular order.
    pub fn all_writes(&self) -> Vec<Arc<Write>> {
        self.made.iter().flatten().cloned().collect()
    }
}

/// The state as sorted (key, write id) pairs, for comparisons.
pub fn state_of(store: &crate::store::Store) -> Vec<(String, Uuid)> {
    let mut v: Vec<_> = store.iter().map(|w| (w.key().to_string(), w.id)).collect();
    v.sort();
    v
}
