//! Conversions between the wire types of `meridian.v1` and the core's types. Decoding never
//! panics: a missing or malformed field is an [`Error::InvalidArgument`] naming it.

use std::sync::Arc;

use meridian_proto::v1 as pb;
use uuid::Uuid;

use crate::error::{Error, Result, check_stored_key, check_stored_value};
use meridian_core::{
    clock::Timestamp,
    events::{EventKind, LossEvent},
    region::{RegionId, Regions},
    store::{Payload, Version, Write},
    version_vector::VersionVector,
};

/// Look a region name up, or say it is unknown and list the known ones.
pub fn region_id(regions: &Regions, name: &str, what: &str) -> Result<RegionId> {
    regions.id(name).ok_or_else(|| {
        Error::invalid(format!(
            "unknown {what} {:?}; the cluster's regions are {}",
            crate::error::truncate(name),
            regions.names().join(", ")
        ))
    })
}

/// How regions are named in what is encoded: by name (clients, and any peer not known to
/// share the region list), or by index in the cluster's name-sorted region list (the compact
/// form: a node's own data directory, whose region list [`crate::storage::Storage`] checks at
/// start, and pulls whose puller sent the same list).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    /// Region names (`Version.region`, `CausalContext.entries`).
    Names,
    /// Region indexes (`Version.region_index`, `CausalContext.counters`).
    Indexes,
}

/// Replica version to wire.
pub fn version_to_pb(regions: &Regions, v: &Version) -> pb::Version {
    version_encoded(regions, v, Naming::Names)
}

fn version_encoded(regions: &Regions, v: &Version, naming: Naming) -> pb::Version {
    let (region, region_index) = match naming {
        Naming::Names => (regions.name(v.region).to_owned(), None),
        Naming::Indexes => (String::new(), Some(v.region.index() as u32)),
    };
    pb::Version {
        timestamp: v.timestamp.physical_us,
        logical: v.timestamp.logical,
        region,
        region_index,
    }
}

/// Wire version to core (either naming).
pub fn version_from_pb(regions: &Regions, v: &pb::Version) -> Result<Version> {
    let region = match v.region_index {
        Some(i) if v.region.is_empty() => region_at(regions, i as usize, "version region")?,
        Some(_) => {
            return Err(Error::invalid(
                "a version names its region either by name or by index, not both",
            ));
        }
        None => region_id(regions, &v.region, "version region")?,
    };
    Ok(Version {
        timestamp: Timestamp {
            physical_us: v.timestamp,
            logical: v.logical,
        },
        region,
    })
}

fn region_at(regions: &Regions, i: usize, what: &str) -> Result<RegionId> {
    if i < regions.len() {
        Ok(RegionId::from_index(i))
    } else {
        Err(Error::invalid(format!(
            "{what} index {i} is not a region of the cluster (it has {})",
            regions.len()
        )))
    }
}

/// Replica context to wire.
pub fn context_to_pb(regions: &Regions, c: &VersionVector) -> pb::CausalContext {
    context_encoded(regions, c, Naming::Names)
}

/// Replica context in the given naming.
pub fn context_encoded(regions: &Regions, c: &VersionVector, naming: Naming) -> pb::CausalContext {
    match naming {
        Naming::Names => pb::CausalContext {
            entries: c
                .entries()
                .map(|(r, n)| (regions.name(r).to_owned(), n))
                .collect(),
            counters: Vec::new(),
        },
        Naming::Indexes => {
            let mut counters = Vec::new();
            for (r, n) in c.entries() {
                counters.resize(r.index() + 1, 0);
                counters[r.index()] = n;
            }
            pb::CausalContext {
                entries: Default::default(),
                counters,
            }
        }
    }
}

/// Wire context to core (either naming; not both at once).
pub fn context_from_pb(regions: &Regions, c: &pb::CausalContext) -> Result<VersionVector> {
    if c.counters.is_empty() {
        return c
            .entries
            .iter()
            .map(|(name, n)| Ok((region_id(regions, name, "causal context region")?, *n)))
            .collect();
    }
    if !c.entries.is_empty() {
        return Err(Error::invalid(
            "a causal context has either entries or counters, not both",
        ));
    }
    if c.counters.len() > regions.len() {
        return Err(Error::invalid(format!(
            "causal context counters for {} regions; the cluster has {}",
            c.counters.len(),
            regions.len()
        )));
    }
    Ok(c.counters
        .iter()
        .enumerate()
        .map(|(i, n)| (RegionId::from_index(i), *n))
        .collect())
}

/// Parse a write id.
pub fn write_id_from_pb(s: &str) -> Result<Uuid> {
    Uuid::parse_str(s).map_err(|_| Error::invalid(format!("write_id {s:?} is not a UUID")))
}

/// Replica write to wire.
pub fn write_to_pb(regions: &Regions, w: &Write) -> pb::WriteRecord {
    write_encoded(regions, w, Naming::Names)
}

/// Replica write in the given naming.
pub fn write_encoded(regions: &Regions, w: &Write, naming: Naming) -> pb::WriteRecord {
    pb::WriteRecord {
        seq: w.seq,
        key: w.key().to_owned(),
        value: w.value().map(<[u8]>::to_vec).unwrap_or_default(),
        tombstone: w.is_tombstone(),
        version: Some(version_encoded(regions, &w.version, naming)),
        write_id: w.id.to_string(),
        context: Some(context_encoded(regions, &w.context, naming)),
        commit_time_us: w.commit_us,
        epoch: w.epoch,
    }
}

/// Wire write to core, validating every field.
pub fn write_from_pb(regions: &Regions, r: pb::WriteRecord) -> Result<Arc<Write>> {
    check_stored_key(&r.key)?;
    check_stored_value(&r.value)?;
    let version = r
        .version
        .as_ref()
        .ok_or_else(|| Error::invalid("write record without a version"))?;
    let version = version_from_pb(regions, version)?;
    let context = r
        .context
        .as_ref()
        .ok_or_else(|| Error::invalid("write record without a causal context"))?;
    let context = context_from_pb(regions, context)?;
    if context.get(version.region) == 0 {
        return Err(Error::invalid(
            "write record's causal context lacks its own region's entry",
        ));
    }
    if r.tombstone && !r.value.is_empty() {
        return Err(Error::invalid("a tombstone carries no value"));
    }
    Ok(Arc::new(Write {
        payload: Payload::new(&r.key, (!r.tombstone).then_some(&r.value[..])),
        version,
        id: write_id_from_pb(&r.write_id)?,
        context,
        commit_us: r.commit_time_us,
        epoch: r.epoch,
        seq: r.seq,
    }))
}

/// A loss event to wire.
pub fn event_to_pb(regions: &Regions, region: RegionId, e: &LossEvent) -> pb::ConflictEvent {
    let summary = |w: &Write| pb::WriteSummary {
        version: Some(version_to_pb(regions, &w.version)),
        write_id: w.id.to_string(),
        context: Some(context_to_pb(regions, &w.context)),
        tombstone: w.is_tombstone(),
    };
    pb::ConflictEvent {
        seq: e.seq,
        kind: match e.kind {
            EventKind::Conflict => pb::EventKind::Conflict,
            EventKind::CausalInversion => pb::EventKind::CausalInversion,
        } as i32,
        key: e.winner.key().to_owned(),
        winner: Some(summary(&e.winner)),
        loser: Some(summary(&e.loser)),
        region: regions.name(region).to_owned(),
        detected_at_us: e.detected_at_us,
    }
}

/// A link table from the wire (a peer's `Admin/Links`), over `base`; every setting validated.
pub fn link_table_from_pb(
    regions: &Regions,
    mut base: meridian_core::links::LinkTable,
    t: &pb::LinkTable,
) -> Result<meridian_core::links::LinkTable> {
    for l in &t.links {
        let from = region_id(regions, &l.from, "link region")?;
        let to = region_id(regions, &l.to, "link region")?;
        let s = meridian_core::links::LinkSetting {
            latency_ms: l.latency_ms,
            jitter_ms: l.jitter_ms,
            loss: l.loss,
            partitioned: l.partitioned,
        };
        s.validate().map_err(Error::invalid)?;
        base.set(from, to, s);
    }
    Ok(base)
}

#[cfg(test)]
mod tests {
    use prost::Message;

    use super::*;

    fn regions() -> Regions {
        Regions::new(["a".to_owned(), "b".to_owned()])
    }

    fn record() -> pb::WriteRecord {
        pb::WriteRecord {
            seq: 3,
            key: "k".into(),
            value: b"v".to_vec(),
            tombstone: false,
            version: Some(pb::Version {
                timestamp: 10,
                logical: 1,
                region: "b".into(),
                region_index: None,
            }),
            write_id: Uuid::from_u128(7).to_string(),
            context: Some(pb::CausalContext {
                entries: [("b".to_owned(), 2)].into(),
                counters: Vec::new(),
            }),
            commit_time_us: 99,
            epoch: 0,
        }
    }

    #[test]
    fn write_round_trips() {
        let w = write_from_pb(&regions(), record()).unwrap();
        assert_eq!(write_to_pb(&regions(), &w), record());
    }

    #[test]
    fn the_compact_form_names_regions_by_index_and_round_trips() {
        let w = write_from_pb(&regions(), record()).unwrap();
        let compact = write_encoded(&regions(), &w, Naming::Indexes);
        let (version, context) = (compact.version.clone().unwrap(), compact.context.clone());
        assert_eq!(
            (version.region.as_str(), version.region_index),
            ("", Some(1))
        );
        assert_eq!(
            context,
            Some(pb::CausalContext {
                entries: Default::default(),
                counters: vec![0, 2],
            })
        );
        assert!(compact.encoded_len() < record().encoded_len());
        assert_eq!(write_from_pb(&regions(), compact).unwrap(), w);
    }

    #[test]
    fn malformed_compact_forms_are_refused() {
        type Mangle = fn(&mut pb::WriteRecord);
        let cases: [(Mangle, &str); 4] = [
            (
                |r| r.version.as_mut().unwrap().region = "b".into(),
                "either by name or by index",
            ),
            (
                |r| r.context.as_mut().unwrap().counters = vec![0, 2, 1],
                "counters for 3 regions; the cluster has 2",
            ),
            (
                |r| r.context.as_mut().unwrap().entries = [("b".to_owned(), 2)].into(),
                "either entries or counters",
            ),
            (
                |r| r.version.as_mut().unwrap().region_index = Some(2),
                "version region index 2 is not a region of the cluster (it has 2)",
            ),
        ];
        let w = write_from_pb(&regions(), record()).unwrap();
        for (mangle, want) in cases {
            let mut r = write_encoded(&regions(), &w, Naming::Indexes);
            mangle(&mut r);
            let e = write_from_pb(&regions(), r).unwrap_err().to_string();
            assert!(e.contains(want), "{e} (wanted {want:?})");
        }
    }

    #[test]
    fn malformed_records_are_refused_with_the_field_named() {
        type Mangle = fn(&mut pb::WriteRecord);
        let cases: [(Mangle, &str); 7] = [
            (|r| r.key.clear(), "key must not be empty"),
            (|r| r.version = None, "without a version"),
            (
                |r| r.version.as_mut().unwrap().region = "zz".into(),
                "unknown version region \"zz\"",
            ),
            (|r| r.context = None, "without a causal context"),
            (
                |r| r.context = Some(pb::CausalContext::default()),
                "lacks its own region",
            ),
            (|r| r.write_id = "nope".into(), "not a UUID"),
            (|r| r.tombstone = true, "tombstone carries no value"),
        ];
        for (mangle, want) in cases {
            let mut r = record();
            mangle(&mut r);
            let e = write_from_pb(&regions(), r).unwrap_err().to_string();
            assert!(e.contains(want), "{e}");
        }
    }
}
