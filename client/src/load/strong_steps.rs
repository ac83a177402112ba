//! The strong-mode steps of a load run (multi-Region strong consistency): leave the witness
//! out of the sending regions, gather the committed writes seen outside the logs (a region's
//! current writes, what strong reads returned) for resolving unknown outcomes, and feed the
//! model of conflict errors with the measured attempt rates.

use std::collections::BTreeMap;

use meridian_proto::v1 as pb;

use super::{
    config::LoadConfig,
    resolve::Seen,
    strong::{StrongSetup, StrongTally},
};
use crate::{
    check::{
        history::{ReadRec, Ver, ctx_from_pb},
        model::{StrongModelInput, predict_strong},
    },
    error::{Result, invalid},
};

/// Strong mode: the witness serves no reads or writes, so it sends no load; `cfg.regions`
/// without it, and what was left out. Refuses a run that would send nothing, and strong reads
/// asked of an eventual cluster.
pub fn skip_witness(cfg: &mut LoadConfig, strong: Option<&StrongSetup>) -> Result<Vec<String>> {
    let Some(strong) = strong else {
        if cfg.consistent_reads == Some(true) {
            invalid!(
                "--consistent-reads needs a cluster with multi_region_consistency = \"strong\" (this one is eventual: reads are local)"
            );
        }
        return Ok(Vec::new());
    };
    let Some(w) = &strong.witness else {
        return Ok(Vec::new());
    };
    let before = cfg.regions.len();
    cfg.regions.retain(|r| r != w);
    if cfg.regions.is_empty() {
        invalid!(
            "region {w} is the witness of this strong-consistency cluster: it serves no reads or writes, so it cannot send load (choose replica regions with --regions)"
        );
    }
    Ok(if cfg.regions.len() < before {
        vec![w.clone()]
    } else {
        Vec::new()
    })
}

/// A region's current writes, by write id: committed, whether or not a log holds them.
pub fn seen_in_store(records: &[pb::WriteRecord]) -> impl Iterator<Item = (String, Seen)> + '_ {
    records.iter().map(|w| {
        (
            w.write_id.clone(),
            Seen {
                version: Ver::from_pb(w.version.as_ref()),
                context: ctx_from_pb(w.context.as_ref()),
                tombstone: w.tombstone,
            },
        )
    })
}

/// The writes strong reads returned, by write id: committed.
pub fn seen_by_reads(reads: &[ReadRec]) -> impl Iterator<Item = (String, Seen)> + '_ {
    reads.iter().filter(|r| !r.write_id.is_empty()).map(|r| {
        (
            r.write_id.clone(),
            Seen {
                version: r.version.clone(),
                context: r.context.clone(),
                tombstone: r.tombstone,
            },
        )
    })
}

/// Strong mode: the model's conflict-error rate, fed with the measured write attempts per
/// region (retries included) and each region's configured round trip to its nearest
/// participant.
pub fn predict_conflict_errors(
    cfg: &LoadConfig,
    setup: &StrongSetup,
    tallies: &BTreeMap<String, StrongTally>,
    elapsed_s: f64,
) -> f64 {
    let regions: Vec<&String> = tallies.keys().collect();
    predict_strong(&StrongModelInput {
        attempt_rate: regions
            .iter()
            .map(|r| tallies[*r].write_attempts as f64 / elapsed_s)
            .collect(),
        rtt_s: regions.iter().map(|r| setup.rtt(r).as_secs_f64()).collect(),
        key_probability: (0..cfg.workload.keys)
            .map(|k| cfg.workload.key_probability(k))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup(witness: Option<&str>) -> StrongSetup {
        StrongSetup {
            witness: witness.map(str::to_owned),
            consistent_reads: true,
            retry_conflicts: 0,
            nearest: BTreeMap::new(),
        }
    }

    #[test]
    fn the_witness_sends_nothing_and_cannot_be_the_only_sender() {
        let mut cfg = LoadConfig::default();
        let w = setup(Some("ap-south-1"));
        assert_eq!(skip_witness(&mut cfg, Some(&w)).unwrap(), ["ap-south-1"]);
        assert_eq!(cfg.regions, ["us-east-1", "eu-west-1"]);
        assert!(
            skip_witness(&mut cfg, Some(&w)).unwrap().is_empty(),
            "already left out"
        );
        cfg.regions = vec!["ap-south-1".into()];
        let e = skip_witness(&mut cfg, Some(&w)).unwrap_err().to_string();
        assert!(e.contains("is the witness"), "{e}");
        let mut cfg = LoadConfig::default();
        assert!(
            skip_witness(&mut cfg, Some(&setup(None)))
                .unwrap()
                .is_empty()
        );
        assert_eq!(cfg.regions.len(), 3);
    }

    #[test]
    fn strong_reads_of_an_eventual_cluster_are_refused() {
        let mut cfg = LoadConfig {
            consistent_reads: Some(true),
            ..LoadConfig::default()
        };
        let e = skip_witness(&mut cfg, None).unwrap_err().to_string();
        assert!(e.contains("--consistent-reads needs"), "{e}");
        cfg.consistent_reads = None;
        assert!(skip_witness(&mut cfg, None).unwrap().is_empty());
    }
}
