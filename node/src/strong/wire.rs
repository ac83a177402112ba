//! The strong-consistency protocol's messages on the wire: `meridian_core::strong::Msg` over
//! `Arc<str>` keys and `Arc<Write>` values, to and from `pb::StrongMsg`. Decoding checks what
//! a peer can get wrong (unknown kinds, missing parts, ballots of regions outside the cluster,
//! a write whose origin is not its ballot's) and says which.

use std::sync::Arc;

use meridian_core::{
    region::{RegionId, Regions},
    store::Write,
    strong::{Ballot, Msg},
};
use meridian_proto::v1 as pb;

use crate::{
    convert::{write_from_pb, write_to_pb},
    error::{Error, Result},
};

/// A protocol message of the node.
pub type NodeMsg = Msg<Arc<str>, Arc<Write>>;

fn ballot_to_pb(b: Ballot) -> pb::Ballot {
    pb::Ballot {
        counter: b.counter,
        origin: u32::from(b.origin),
    }
}

fn ballot_from_pb(regions: &Regions, b: Option<&pb::Ballot>) -> Result<Ballot> {
    let b = b.ok_or_else(|| Error::invalid("a strong message without its ballot"))?;
    let origin = u16::try_from(b.origin)
        .ok()
        .filter(|o| usize::from(*o) < regions.len())
        .ok_or_else(|| {
            Error::invalid(format!(
                "a ballot of region #{} in a {}-region cluster",
                b.origin,
                regions.len()
            ))
        })?;
    Ok(Ballot {
        counter: b.counter,
        origin,
    })
}

fn committed_to_pb(regions: &Regions, c: &Option<(Ballot, Arc<Write>)>, m: &mut pb::StrongMsg) {
    if let Some((b, w)) = c {
        m.committed_ballot = Some(ballot_to_pb(*b));
        m.committed = Some(write_to_pb(regions, w));
    }
}

/// A write carried with `ballot`: its origin must be the ballot's.
fn write_of(regions: &Regions, ballot: Ballot, r: Option<pb::WriteRecord>) -> Result<Arc<Write>> {
    let r = r.ok_or_else(|| Error::invalid("a strong message without its write"))?;
    let w = write_from_pb(regions, r)?;
    if w.origin() != RegionId::from_index(usize::from(ballot.origin)) {
        return Err(Error::invalid(format!(
            "write {} of {} carried under a ballot of {}",
            w.id,
            regions.name(w.origin()),
            regions.name(RegionId::from_index(usize::from(ballot.origin)))
        )));
    }
    Ok(w)
}

fn committed_from_pb(
    regions: &Regions,
    m: &mut pb::StrongMsg,
) -> Result<Option<(Ballot, Arc<Write>)>> {
    match m.committed_ballot.take() {
        None => Ok(None),
        Some(b) => {
            let b = ballot_from_pb(regions, Some(&b))?;
            Ok(Some((b, write_of(regions, b, m.committed.take())?)))
        }
    }
}

/// `msg` on the wire.
pub fn to_pb(regions: &Regions, msg: &NodeMsg) -> pb::StrongMsg {
    let mut m = pb::StrongMsg::default();
    let kind = match msg {
        Msg::Propose {
            key,
            ballot,
            base,
            value,
        } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            m.base = base.map(ballot_to_pb);
            m.value = Some(write_to_pb(regions, value));
            pb::StrongKind::Propose
        }
        Msg::Accepted { key, ballot } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            pb::StrongKind::Accepted
        }
        Msg::Refused {
            key,
            ballot,
            committed,
        } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            committed_to_pb(regions, committed, &mut m);
            pb::StrongKind::Refused
        }
        Msg::Learn { key, ballot, value } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            m.value = Some(write_to_pb(regions, value));
            pb::StrongKind::Learn
        }
        Msg::Query { key, ballot } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            pb::StrongKind::Query
        }
        Msg::Fate {
            key,
            ballot,
            committed,
        } => {
            m.key = key.to_string();
            m.ballot = Some(ballot_to_pb(*ballot));
            committed_to_pb(regions, committed, &mut m);
            pb::StrongKind::Fate
        }
        Msg::Read { key, id } => {
            m.key = key.to_string();
            m.read_id = *id;
            pb::StrongKind::Read
        }
        Msg::ReadReply {
            key,
            id,
            committed,
            busy,
        } => {
            m.key = key.to_string();
            m.read_id = *id;
            m.busy = *busy;
            committed_to_pb(regions, committed, &mut m);
            pb::StrongKind::ReadReply
        }
    };
    m.kind = kind as i32;
    m
}

/// A message from the wire; `Err` says what is wrong with it.
pub fn from_pb(regions: &Regions, mut m: pb::StrongMsg) -> Result<NodeMsg> {
    meridian_core::error::check_stored_key(&m.key)?;
    let key: Arc<str> = Arc::from(std::mem::take(&mut m.key));
    let kind = pb::StrongKind::try_from(m.kind)
        .map_err(|_| Error::invalid(format!("unknown strong message kind {}", m.kind)))?;
    let ballot = || ballot_from_pb(regions, m.ballot.as_ref());
    Ok(match kind {
        pb::StrongKind::Unspecified => {
            return Err(Error::invalid("a strong message of no kind"));
        }
        pb::StrongKind::Propose => {
            let ballot = ballot()?;
            let base = match m.base.as_ref() {
                None => None,
                Some(b) => Some(ballot_from_pb(regions, Some(b))?),
            };
            Msg::Propose {
                value: write_of(regions, ballot, m.value.take())?,
                key,
                ballot,
                base,
            }
        }
        pb::StrongKind::Accepted => Msg::Accepted {
            ballot: ballot()?,
            key,
        },
        pb::StrongKind::Refused => Msg::Refused {
            ballot: ballot()?,
            committed: committed_from_pb(regions, &mut m)?,
            key,
        },
        pb::StrongKind::Learn => {
            let ballot = ballot()?;
            Msg::Learn {
                value: write_of(regions, ballot, m.value.take())?,
                key,
                ballot,
            }
        }
        pb::StrongKind::Query => Msg::Query {
            ballot: ballot()?,
            key,
        },
        pb::StrongKind::Fate => Msg::Fate {
            ballot: ballot()?,
            committed: committed_from_pb(regions, &mut m)?,
            key,
        },
        pb::StrongKind::Read => Msg::Read { key, id: m.read_id },
        pb::StrongKind::ReadReply => Msg::ReadReply {
            committed: committed_from_pb(regions, &mut m)?,
            key,
            id: m.read_id,
            busy: m.busy,
        },
    })
}

/// The key a message is about.
pub fn key_of(msg: &NodeMsg) -> &Arc<str> {
    match msg {
        Msg::Propose { key, .. }
        | Msg::Accepted { key, .. }
        | Msg::Refused { key, .. }
        | Msg::Learn { key, .. }
        | Msg::Query { key, .. }
        | Msg::Fate { key, .. }
        | Msg::Read { key, .. }
        | Msg::ReadReply { key, .. } => key,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meridian_core::{clock::Timestamp, store::Version, version_vector::VersionVector};

    fn regions() -> Regions {
        Regions::new(["a", "b", "c"].map(String::from))
    }

    fn write(origin: usize) -> Arc<Write> {
        let mut context = VersionVector::default();
        context.set(RegionId::from_index(origin), 1);
        Arc::new(Write {
            payload: meridian_core::store::Payload::new("k", Some(b"v")),
            version: Version {
                timestamp: Timestamp {
                    physical_us: 10,
                    logical: 1,
                },
                region: RegionId::from_index(origin),
            },
            id: uuid::Uuid::from_u128(7),
            context,
            commit_us: 10,
            epoch: 0,
            seq: 0,
        })
    }

    #[test]
    fn every_kind_round_trips_and_bad_parts_are_refused() {
        let r = regions();
        let b = Ballot {
            counter: 3,
            origin: 1,
        };
        let key: Arc<str> = Arc::from("k");
        let msgs: Vec<NodeMsg> = vec![
            Msg::Propose {
                key: key.clone(),
                ballot: b,
                base: Some(Ballot {
                    counter: 2,
                    origin: 0,
                }),
                value: write(1),
            },
            Msg::Accepted {
                key: key.clone(),
                ballot: b,
            },
            Msg::Refused {
                key: key.clone(),
                ballot: b,
                committed: Some((b, write(1))),
            },
            Msg::Learn {
                key: key.clone(),
                ballot: b,
                value: write(1),
            },
            Msg::Query {
                key: key.clone(),
                ballot: b,
            },
            Msg::Fate {
                key: key.clone(),
                ballot: b,
                committed: None,
            },
            Msg::Read {
                key: key.clone(),
                id: 9,
            },
            Msg::ReadReply {
                key: key.clone(),
                id: 9,
                committed: Some((b, write(1))),
                busy: true,
            },
        ];
        for m in msgs {
            assert_eq!(from_pb(&r, to_pb(&r, &m)).unwrap(), m);
        }
        let mut wrong_origin = to_pb(
            &r,
            &Msg::Learn {
                key: key.clone(),
                ballot: b,
                value: write(2),
            },
        );
        assert!(
            from_pb(&r, wrong_origin.clone()).is_err(),
            "origin mismatch"
        );
        wrong_origin.value = None;
        assert!(from_pb(&r, wrong_origin).is_err(), "no write");
        let mut far = to_pb(&r, &Msg::Query { key, ballot: b });
        far.ballot = Some(pb::Ballot {
            counter: 1,
            origin: 7,
        });
        assert!(from_pb(&r, far.clone()).is_err(), "region #7");
        far.kind = 99;
        assert!(from_pb(&r, far).is_err(), "unknown kind");
    }
}
