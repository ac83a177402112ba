//! The latest acknowledged version of every key, sharded so workers rarely contend: a read
//! that returns an older version than one acknowledged before it started is stale.

use std::{collections::HashMap, sync::Mutex};

use crate::check::history::Ver;

/// Sharded latest-acknowledged-version map for read staleness.
pub struct Latest {
    shards: Vec<Mutex<HashMap<String, (Ver, u64)>>>,
}

impl Default for Latest {
    /// An empty map.
    fn default() -> Self {
        Self {
            shards: (0..64).map(|_| Mutex::new(HashMap::new())).collect(),
        }
    }
}

impl Latest {
    fn shard(&self, key: &str) -> &Mutex<HashMap<String, (Ver, u64)>> {
        let h = key.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x100_0000_01b3)
        });
        &self.shards[(h % 64) as usize]
    }
    /// `key` was acknowledged at version `v` at `at_us`.
    pub fn acked(&self, key: &str, v: Ver, at_us: u64) {
        let mut m = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        let e = m.entry(key.to_owned()).or_insert((v.clone(), at_us));
        if v > e.0 {
            *e = (v, at_us);
        }
    }
    /// Age of a newer acknowledged write than `seen`, acknowledged before `read_start_us`.
    pub fn staleness(&self, key: &str, seen: &Ver, read_start_us: u64) -> Option<u64> {
        let m = self.shard(key).lock().unwrap_or_else(|p| p.into_inner());
        m.get(key)
            .filter(|(v, at)| v > seen && *at < read_start_us)
            .map(|(_, at)| read_start_us - at)
    }
}
