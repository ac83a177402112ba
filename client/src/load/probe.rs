//! Visibility probes: a probe write in each writable region per interval, polled for in every
//! other region until it is readable there — the lag a reader actually sees.

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use hdrhistogram::Histogram;

use super::result::{histogram, record};
use crate::control::client::RegionClient;

/// Visibility probes: a probe write in each writable region per interval, polled for in every
/// other region until it is readable there. Returns the lag per "from>to", µs.
pub async fn probe_loop(
    all: Vec<(String, RegionClient)>,
    writable: Vec<String>,
    prefix: String,
    interval: Duration,
    deadline: Instant,
    done: Arc<AtomicBool>,
) -> BTreeMap<String, Histogram<u64>> {
    let mut out: BTreeMap<String, Histogram<u64>> = BTreeMap::new();
    let mut n = 0u64;
    while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
        let round = Instant::now();
        for src in &writable {
            let Some((_, client)) = all.iter().find(|(r, _)| r == src) else {
                continue;
            };
            n += 1;
            let key = format!("{prefix}probe-{src}-{n}");
            let Ok(reply) = client.put(&key, b"probe".to_vec(), None, "").await else {
                continue;
            };
            let write_id = reply.write_id;
            let acked = Instant::now();
            let polls = all.iter().filter(|(r, _)| r != src).map(|(r, c)| {
                let (key, write_id, c, pair) = (
                    key.clone(),
                    write_id.clone(),
                    c.clone(),
                    format!("{src}>{r}"),
                );
                async move {
                    while acked.elapsed() < Duration::from_secs(10) {
                        if let Ok(r) = c.get(&key).await
                            && r.write_id == write_id
                        {
                            return Some((pair, acked.elapsed().as_micros() as u64));
                        }
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    None
                }
            });
            for (pair, us) in futures::future::join_all(polls).await.into_iter().flatten() {
                record(out.entry(pair).or_insert_with(histogram), us);
            }
        }
        if let Some(rest) = interval.checked_sub(round.elapsed()) {
            tokio::time::sleep(rest).await;
        }
    }
    out
}
