//! The conflict feed as the dashboard shows it: a cursor per region into its node's feed
//! (position and incarnation, so a node that restarted without its state is read from its new
//! beginning), and the recent conflicts, each once: every region that merges two concurrent
//! writes reports the pair, and the dashboard lists the pair with the regions that saw it.

use std::collections::{BTreeMap, VecDeque};

use meridian_proto::v1 as pb;

use super::model::{ConflictView, WriteView};

/// Where the dashboard is in one node's feed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Events after this position are new.
    pub after: u64,
    /// The node incarnation the position belongs to (empty: none read yet).
    pub incarnation: String,
}

impl Cursor {
    /// The cursor after reading `reply`.
    pub fn after_reply(reply: &pb::ConflictsReply) -> Self {
        Self {
            after: reply.next,
            incarnation: reply.incarnation.clone(),
        }
    }
}

/// Most conflicts listed at once.
pub const RECENT_CONFLICTS: usize = 50;
/// Most conflicts remembered to recognise a pair another region reports later (more than are
/// listed: at a high conflict rate a pair may be pushed off the list before the last region
/// reports it).
pub const REMEMBERED_CONFLICTS: usize = 1000;

/// The cursors and the recent conflicts.
#[derive(Clone, Debug, Default)]
pub struct Feed {
    cursors: BTreeMap<String, Cursor>,
    /// Newest first, at most [`REMEMBERED_CONFLICTS`].
    recent: VecDeque<ConflictView>,
}

/// `TIMESTAMP.LOGICAL@REGION`, as `ctl get` prints a version.
pub fn version_text(v: Option<&pb::Version>) -> String {
    match v {
        Some(v) => format!("{}.{}@{}", v.timestamp, v.logical, v.region),
        None => "-".to_owned(),
    }
}

fn write_view(w: Option<&pb::WriteSummary>) -> WriteView {
    match w {
        None => WriteView::default(),
        Some(w) => WriteView {
            region: w
                .version
                .as_ref()
                .map(|v| v.region.clone())
                .unwrap_or_default(),
            version: version_text(w.version.as_ref()),
            write_id: w.write_id.clone(),
            tombstone: w.tombstone,
        },
    }
}

/// An event as the page shows it (detected by its region only, so far).
pub fn conflict_view(e: &pb::ConflictEvent) -> ConflictView {
    let kind = match pb::EventKind::try_from(e.kind) {
        Ok(pb::EventKind::CausalInversion) => "causal-inversion",
        _ => "conflict",
    };
    ConflictView {
        kind: kind.to_owned(),
        key: e.key.clone(),
        winner: write_view(e.winner.as_ref()),
        loser: write_view(e.loser.as_ref()),
        detected_by: vec![e.region.clone()],
        detected_at_us: e.detected_at_us,
    }
}

/// Do two views describe the same pair of writes?
pub fn same_pair(a: &ConflictView, b: &ConflictView) -> bool {
    a.key == b.key && a.winner.write_id == b.winner.write_id && a.loser.write_id == b.loser.write_id
}

impl Feed {
    /// Where to read `region`'s feed from.
    pub fn cursor(&self, region: &str) -> Cursor {
        self.cursors.get(region).cloned().unwrap_or_default()
    }

    /// Move `region`'s cursor.
    pub fn set_cursor(&mut self, region: &str, cursor: Cursor) {
        self.cursors.insert(region.to_owned(), cursor);
    }

    /// Forget every cursor (the dashboard now watches other nodes).
    pub fn forget_cursors(&mut self) {
        self.cursors.clear();
    }

    /// Take new events in; returns each pair they touched as it is now (a pair already
    /// known gains the detecting region instead of a second entry).
    pub fn absorb(&mut self, events: &[pb::ConflictEvent]) -> Vec<ConflictView> {
        let mut touched = Vec::new();
        for e in events {
            let view = conflict_view(e);
            match self.recent.iter_mut().find(|c| same_pair(c, &view)) {
                Some(known) => {
                    if !known.detected_by.contains(&e.region) {
                        known.detected_by.push(e.region.clone());
                    }
                    known.detected_at_us = known.detected_at_us.min(e.detected_at_us);
                    touched.push(known.clone());
                }
                None => {
                    self.recent.push_front(view.clone());
                    self.recent.truncate(REMEMBERED_CONFLICTS);
                    touched.push(view);
                }
            }
        }
        touched
    }

    /// The recent conflicts, newest first, at most [`RECENT_CONFLICTS`].
    pub fn recent(&self) -> Vec<ConflictView> {
        self.recent.iter().take(RECENT_CONFLICTS).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(region: &str, key: &str, winner: &str, loser: &str, at: u64) -> pb::ConflictEvent {
        let summary = |id: &str, from: &str| pb::WriteSummary {
            version: Some(pb::Version {
                timestamp: 10,
                logical: 2,
                region: from.into(),
                ..Default::default()
            }),
            write_id: id.into(),
            context: None,
            tombstone: false,
        };
        pb::ConflictEvent {
            seq: 1,
            kind: pb::EventKind::Conflict as i32,
            key: key.into(),
            winner: Some(summary(winner, "b")),
            loser: Some(summary(loser, "a")),
            region: region.into(),
            detected_at_us: at,
        }
    }

    #[test]
    fn a_pair_reported_by_three_regions_is_listed_once_with_all_three() {
        let mut feed = Feed::default();
        let new = feed.absorb(&[event("a", "k", "w1", "w2", 30)]);
        assert_eq!(new.len(), 1);
        assert_eq!(new[0].winner.version, "10.2@b");
        assert_eq!(new[0].loser.region, "a");
        let touched = feed.absorb(&[
            event("b", "k", "w1", "w2", 20),
            event("c", "k", "w1", "w2", 40),
        ]);
        assert_eq!(touched.len(), 2);
        assert_eq!(
            touched[1].detected_by,
            ["a", "b", "c"],
            "the pair as it is now"
        );
        let recent = feed.recent();
        assert_eq!(recent.len(), 1);
        assert_eq!(recent[0].detected_by, ["a", "b", "c"]);
        assert_eq!(recent[0].detected_at_us, 20, "the earliest detection");
    }

    #[test]
    fn recent_conflicts_are_newest_first_and_bounded() {
        let mut feed = Feed::default();
        for i in 0..(RECENT_CONFLICTS + 5) {
            feed.absorb(&[event(
                "a",
                &format!("k{i}"),
                &format!("w{i}"),
                "x",
                i as u64,
            )]);
        }
        let recent = feed.recent();
        assert_eq!(recent.len(), RECENT_CONFLICTS);
        assert_eq!(recent[0].key, format!("k{}", RECENT_CONFLICTS + 4));
        // A pair pushed off the list is still recognised when another region reports it.
        let touched = feed.absorb(&[event("b", "k0", "w0", "x", 0)]);
        assert_eq!(touched[0].detected_by, ["a", "b"]);
        assert_eq!(feed.recent().len(), RECENT_CONFLICTS, "no second entry");
    }

    #[test]
    fn cursors_follow_replies_and_are_forgotten_on_demand() {
        let mut feed = Feed::default();
        assert_eq!(feed.cursor("a"), Cursor::default());
        let reply = pb::ConflictsReply {
            next: 7,
            incarnation: "i1".into(),
            ..Default::default()
        };
        feed.set_cursor("a", Cursor::after_reply(&reply));
        assert_eq!(feed.cursor("a").after, 7);
        feed.forget_cursors();
        assert_eq!(feed.cursor("a").after, 0);
    }
}
