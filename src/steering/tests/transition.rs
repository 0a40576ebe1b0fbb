//! The transition TTL: an answer whose chosen region, or a down region it skipped, is in
//! transition gets at most `transition_ttl`; regions it does not depend on change nothing.

use super::all_down::{answer, policy, service};
use super::*;
use crate::config::AllDown;

/// Region states by id (AP, EU, US): (up, in transition).
fn states(states: [(bool, bool); 3]) -> HealthTable {
    HealthTable::from_regions(
        states
            .iter()
            .map(|&(up, transition)| RegionHealth {
                up,
                reason: String::new(),
                transition,
            })
            .collect(),
    )
}

const UP: (bool, bool) = (true, false);
const UP_MOVING: (bool, bool) = (true, true);
const DOWN: (bool, bool) = (false, false);
const DOWN_MOVING: (bool, bool) = (false, true);

#[test]
fn chosen_or_skipped_regions_in_transition_shorten_the_ttl() {
    // London's order is EU, US, AP; states are by id: [AP, EU, US]. The name's TTL is 30,
    // the transition TTL 5.
    let table = [
        ("all up, none moving", [UP, UP, UP], EU, Route::First, false),
        (
            "the chosen region moving",
            [UP, UP_MOVING, UP],
            EU,
            Route::First,
            true,
        ),
        (
            "a later region moving",
            [UP_MOVING, UP, UP_MOVING],
            EU,
            Route::First,
            false,
        ),
        (
            "the skipped region moving",
            [UP, DOWN_MOVING, UP],
            US,
            Route::Next,
            true,
        ),
        (
            "the chosen spill moving",
            [UP, DOWN, UP_MOVING],
            US,
            Route::Next,
            true,
        ),
        ("neither moving", [UP, DOWN, UP], US, Route::Next, false),
        (
            "a down region after the chosen",
            [DOWN_MOVING, DOWN, UP],
            US,
            Route::Next,
            false,
        ),
        (
            "the second skipped region moving",
            [UP, DOWN, DOWN_MOVING],
            AP,
            Route::Next,
            true,
        ),
        (
            "two skipped, none moving",
            [UP, DOWN, DOWN],
            AP,
            Route::Next,
            false,
        ),
        (
            "all down, one moving",
            [DOWN_MOVING, DOWN, DOWN],
            EU,
            Route::AllDown,
            true,
        ),
        (
            "all down, none moving",
            [DOWN, DOWN, DOWN],
            EU,
            Route::AllDown,
            false,
        ),
    ];
    let order = london();
    let service = service(30, AllDown::FailOpen);
    for (what, health, region, route, transition) in table {
        let choice = choose_nearest(&order, &states(health), &regions(), Family::V4);
        assert_eq!(
            choice,
            Some(Choice {
                region,
                route,
                transition
            }),
            "{what}"
        );
        // Every all-down answer is short, in transition or not.
        let ttl = if transition || route == Route::AllDown {
            5
        } else {
            30
        };
        assert_eq!(
            answer(choice.as_ref(), Family::V4, &service, &policy()),
            SteeredAnswer {
                source: AnswerSource::Region(region),
                family: Family::V4,
                ttl,
                count: 2,
            },
            "{what}"
        );
    }
}

#[test]
fn regions_that_cannot_answer_the_family_do_not_count() {
    let order = london();
    let mut regions = regions();
    regions[EU.index()].ipv6.clear();
    // eu-west is moving, but an AAAA answer never depended on it.
    let health = states([UP, UP_MOVING, UP]);
    let v6 = choose_nearest(&order, &health, &regions, Family::V6);
    assert_eq!(
        v6,
        Some(Choice {
            region: US,
            route: Route::First,
            transition: false
        })
    );
    let v4 = choose_nearest(&order, &health, &regions, Family::V4);
    assert!(v4.is_some_and(|choice| choice.transition));
}

#[test]
fn the_transition_ttl_never_lengthens_an_answer() {
    let order = london();
    let choice = choose_nearest(&order, &states([UP, UP_MOVING, UP]), &regions(), Family::V4);
    for (name_ttl, expected) in [(30, 5), (5, 5), (3, 3), (0, 0)] {
        let service = service(name_ttl, AllDown::FailOpen);
        assert_eq!(
            answer(choice.as_ref(), Family::V4, &service, &policy()).ttl,
            expected,
            "name TTL {name_ttl}"
        );
    }
}
