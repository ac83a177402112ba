//! The catch-up's pure parts: when it is caught up, which items it asks about, its words and
//! its epochs.

use meridian_core::{clock::ClockMode, testkit::Sim};

use super::*;

fn regions() -> Regions {
    Regions::new(["a", "b", "c"].map(String::from))
}

fn r(i: usize) -> RegionId {
    RegionId::from_index(i)
}

#[test]
fn caught_up_once_every_answering_peers_log_is_applied_up_to_its_head() {
    let targets = [(r(0), 7), (r(1), 3)];
    let marks = |a: u64, b: u64| move |p: RegionId| if p == r(0) { a } else { b };
    assert!(!caught_up(&targets, marks(6, 3)));
    assert!(!caught_up(&targets, marks(7, 2)));
    assert!(caught_up(&targets, marks(7, 3)));
    assert!(
        caught_up(&targets, marks(9, 4)),
        "the others wrote on meanwhile"
    );
    assert!(
        caught_up(&[], marks(0, 0)),
        "no peer answered: nothing to wait for"
    );
}

#[test]
fn an_item_is_stale_when_its_write_here_is_not_the_protocols_committed_one() {
    let mut sim = Sim::new(ClockMode::Hybrid, &[0, 0]);
    let old = sim.put(0, "k", "old");
    let new = sim.put(1, "k", "new");
    assert!(!stale(Some(&old), &old));
    assert!(
        stale(Some(&old), &new),
        "the newer write came by replication"
    );
    assert!(stale(None, &new), "an item the protocol never saw here");
}

#[test]
fn the_words_say_why_from_whom_and_how_far() {
    let (rs, both) = (regions(), vec![r(0), r(1)]);
    let applied = |p: RegionId| if p == r(0) { 5 } else { 40 };
    let say = |phase: &Phase, why| describe(phase, why, &rs, &both, applied);
    assert_eq!(say(&Phase::Serving, Why::CutOff), None);
    assert_eq!(
        say(&Phase::Owed, Why::Restart).unwrap(),
        "after a restart: about to ask a and b for their log heads"
    );
    assert_eq!(
        say(&Phase::Heads(vec![r(1)]), Why::CutOff).unwrap(),
        "after being cut off: asking b for its log head"
    );
    assert_eq!(
        say(&Phase::Pulling(vec![(r(0), 9), (r(1), 30)]), Why::CutOff).unwrap(),
        "after being cut off: applying the others' logs: a's to 5 of 9, b's to 30 of 30"
    );
    assert_eq!(
        say(
            &Phase::Learning {
                items: 4,
                from: both.clone()
            },
            Why::Restart
        )
        .unwrap(),
        "after a restart: learning from a and b the committed writes of 4 items it missed"
    );
    assert_eq!(
        describe(&Phase::Owed, Why::CutOff, &rs, &[], applied).unwrap(),
        "after being cut off: waiting for a path to another region"
    );
}

#[test]
fn a_catch_up_owed_again_voids_the_one_under_way() {
    let c = CatchUp::new();
    assert_eq!(c.owed(), None, "a region starts serving");
    c.owe(Why::Restart);
    let (epoch, why) = c.owed().unwrap();
    assert_eq!(why, Why::Restart);
    assert!(c.advance(epoch, Phase::Heads(vec![r(1)])));
    assert_eq!(c.owed(), None, "under way");
    c.owe(Why::CutOff);
    assert!(!c.advance(epoch, Phase::Serving), "cut off again: void");
    assert_eq!(c.now(), (Phase::Owed, Why::CutOff));
    let (again, _) = c.owed().unwrap();
    assert!(c.advance(again, Phase::Serving));
    assert_eq!(c.now().0, Phase::Serving);
}
