//! Every transition, exact counts, the hold-down boundary and out-of-order results.

use super::*;

// --- Before the first result ---

#[test]
fn a_new_target_counts_as_up_without_a_result() {
    let target = Target::new();
    assert_eq!(target.state.vote(), Vote::Up);
    assert_eq!(target.state.status(), Status::Up);
    assert!(!target.state.has_result());
    assert_eq!(target.state.since(), None);
    assert!(!TargetState::default().has_result());
}

#[test]
fn the_first_result_backs_the_up_vote() {
    let mut target = Target::new();
    assert_eq!(target.probe(40, true), None);
    assert!(target.state.has_result());
    assert_eq!(target.state.vote(), Vote::Up);
    assert_eq!(target.since_ms(), Some(40));
    // Later good probes do not restart the vote's age.
    target.probe(1040, true);
    assert_eq!(target.since_ms(), Some(40));
}

#[test]
fn a_first_failed_result_still_votes_up_and_is_failing() {
    let mut target = Target::new();
    assert_eq!(target.probe(40, false), None);
    assert!(target.state.has_result());
    assert_eq!(target.state.status(), Status::Failing);
    assert_eq!(target.state.vote(), Vote::Up);
    assert_eq!(target.since_ms(), Some(40));
}

// --- Fall ---

#[test]
fn fall_failed_probes_take_it_down_and_not_one_fewer() {
    let mut target = Target::new();
    assert_eq!(target.probe(0, false), None);
    assert_eq!(target.probe(100, false), None);
    assert_eq!(target.state.status(), Status::Failing);
    assert_eq!(target.state.vote(), Vote::Up);
    assert_eq!(
        target.probe(200, false),
        transition(Status::Up, Status::Down, "3 failed probes")
    );
    assert_eq!(target.state.vote(), Vote::Down);
    assert_eq!(target.since_ms(), Some(200));
    // Further failures change nothing, not even the vote's age.
    assert_eq!(target.probe(300, false), None);
    assert_eq!(target.state.status(), Status::Down);
    assert_eq!(target.since_ms(), Some(200));
}

#[test]
fn a_good_probe_ends_the_run_of_failed_ones() {
    let mut target = Target::new();
    target.probes(0, 2, false);
    assert_eq!(target.probe(200, true), None);
    assert_eq!(target.state.status(), Status::Up);
    target.probes(300, 2, false);
    assert_eq!(target.state.status(), Status::Failing);
    assert!(target.probe(500, false).is_some());
    assert_eq!(target.state.status(), Status::Down);
}

#[test]
fn a_fall_of_zero_acts_as_one() {
    let mut target = Target::with(ProbeSettings {
        fall: 0,
        ..ProbeSettings::default()
    });
    assert_eq!(
        target.probe(0, false),
        transition(Status::Up, Status::Down, "1 failed probe")
    );
}

// --- Rise and the hold-down ---

#[test]
fn rise_good_probes_start_recovering_and_not_one_fewer() {
    let mut target = Target::new();
    target.down();
    assert_eq!(target.probes(300, 4, true), None);
    assert_eq!(target.state.status(), Status::Down);
    assert_eq!(
        target.probe(700, true),
        transition(
            Status::Down,
            Status::Recovering,
            "5 good probes, holding 10 s"
        )
    );
    // Recovering still votes Down, and the Down vote's age goes on.
    assert_eq!(target.state.vote(), Vote::Down);
    assert_eq!(target.since_ms(), Some(200));
}

#[test]
fn a_failed_probe_while_down_starts_the_rise_count_over() {
    let mut target = Target::new();
    target.down();
    target.probes(300, 4, true);
    assert_eq!(target.probe(700, false), None);
    assert_eq!(target.probes(800, 4, true), None);
    assert_eq!(target.state.status(), Status::Down);
    assert!(target.probe(1200, true).is_some());
    assert_eq!(target.state.status(), Status::Recovering);
}

#[test]
fn good_probes_while_recovering_do_not_end_the_hold_down() {
    let mut target = Target::new();
    target.recovering();
    assert_eq!(target.probes(800, 99, true), None);
    assert_eq!(target.state.status(), Status::Recovering);
    assert_eq!(target.state.vote(), Vote::Down);
}

#[test]
fn the_hold_down_is_over_exactly_at_its_end_and_not_a_millisecond_before() {
    let mut target = Target::new();
    target.recovering();
    assert_eq!(target.probe(10_699, true), None);
    assert_eq!(target.state.status(), Status::Recovering);
    assert_eq!(
        target.probe(10_700, true),
        transition(Status::Recovering, Status::Up, "hold-down over")
    );
    assert_eq!(target.state.vote(), Vote::Up);
    assert_eq!(target.since_ms(), Some(10_700));
}

#[test]
fn the_up_vote_dates_from_the_hold_downs_end_not_from_when_it_was_noticed() {
    let mut target = Target::new();
    target.recovering();
    assert!(target.probe(12_345, true).is_some());
    assert_eq!(target.since_ms(), Some(10_700));
}

#[test]
fn a_failed_probe_while_recovering_goes_back_down_and_the_rise_starts_over() {
    let mut target = Target::new();
    target.recovering();
    assert_eq!(
        target.probe(10_699, false),
        transition(Status::Recovering, Status::Down, "failed while recovering")
    );
    assert_eq!(target.state.vote(), Vote::Down);
    // The vote never stopped being Down.
    assert_eq!(target.since_ms(), Some(200));
    // The old hold-down's end brings nothing back.
    assert_eq!(target.settle(20_000), None);
    assert_eq!(target.probes(20_000, 4, true), None);
    assert_eq!(target.state.status(), Status::Down);
    assert!(target.probe(20_400, true).is_some());
    assert_eq!(target.state.status(), Status::Recovering);
    // A new hold-down from the new rise.
    assert_eq!(target.settle(30_399), None);
    assert!(target.settle(30_400).is_some());
}

#[test]
fn a_failed_probe_at_the_hold_downs_end_counts_against_up() {
    let mut target = Target::new();
    target.recovering();
    // The hold-down is over at 10_700 ms, so this failure starts a run while Up.
    assert_eq!(
        target.probe(10_700, false),
        transition(Status::Recovering, Status::Up, "hold-down over")
    );
    assert_eq!(target.state.status(), Status::Failing);
}

#[test]
fn a_fall_of_one_right_after_the_hold_down_reports_both_changes() {
    let mut target = Target::with(ProbeSettings {
        fall: 1,
        ..ProbeSettings::default()
    });
    target.probe(0, false);
    target.probes(300, 5, true);
    assert_eq!(
        target.probe(11_000, false),
        transition(
            Status::Recovering,
            Status::Down,
            "hold-down over; 1 failed probe"
        )
    );
    assert_eq!(target.since_ms(), Some(11_000));
}

#[test]
fn a_zero_hold_down_comes_back_up_on_the_probe_that_completes_the_rise() {
    let mut target = Target::with(ProbeSettings {
        hold_down: Duration::ZERO,
        ..ProbeSettings::default()
    });
    target.down();
    assert_eq!(
        target.probes(300, 5, true),
        transition(
            Status::Down,
            Status::Up,
            "5 good probes, holding 0 s; hold-down over"
        )
    );
    assert_eq!(target.since_ms(), Some(700));
}

#[test]
fn a_rise_of_zero_acts_as_one_and_a_sub_second_hold_down_reads_in_ms() {
    let mut target = Target::with(ProbeSettings {
        rise: 0,
        hold_down: Duration::from_millis(1500),
        ..ProbeSettings::default()
    });
    target.down();
    assert_eq!(
        target.probe(300, true),
        transition(
            Status::Down,
            Status::Recovering,
            "1 good probe, holding 1500 ms"
        )
    );
}

// --- Settle ---

#[test]
fn settle_ends_the_hold_down_without_a_probe() {
    let mut target = Target::new();
    target.recovering();
    assert_eq!(target.settle(10_699), None);
    assert_eq!(target.state.status(), Status::Recovering);
    assert_eq!(
        target.settle(10_700),
        transition(Status::Recovering, Status::Up, "hold-down over")
    );
    assert_eq!(target.since_ms(), Some(10_700));
    // Only once.
    assert_eq!(target.settle(10_800), None);
    assert_eq!(target.state.status(), Status::Up);
}

#[test]
fn settle_changes_nothing_outside_a_hold_down() {
    let mut target = Target::new();
    assert_eq!(target.settle(100), None);
    assert!(!target.state.has_result());
    target.probe(200, false);
    assert_eq!(target.settle(50_000), None);
    assert_eq!(target.state.status(), Status::Failing);
    target.probes(300, 2, false);
    assert_eq!(target.settle(90_000), None);
    assert_eq!(target.state.status(), Status::Down);
}

#[test]
fn settle_does_not_discard_a_probe_sent_before_it() {
    let mut target = Target::new();
    target.recovering();
    assert!(target.settle(11_000).is_some());
    // Sent before the settle (and before the hold-down ended), answered after it: it counts,
    // in the state it finds.
    assert_eq!(target.probe(10_650, false), None);
    assert_eq!(target.state.status(), Status::Failing);
}

// --- Out-of-order results ---

#[test]
fn a_result_older_than_the_last_applied_one_is_ignored() {
    let mut target = Target::new();
    target.probe(500, true);
    for ms in [100, 200, 300, 499] {
        assert_eq!(target.probe(ms, false), None);
    }
    assert_eq!(target.state.status(), Status::Up);
    // Not even counted toward a later run.
    target.probes(600, 2, false);
    assert_eq!(target.state.status(), Status::Failing);
}

#[test]
fn a_result_sent_at_the_same_instant_as_the_last_one_counts() {
    let mut target = Target::new();
    target.probe(100, false);
    target.probe(100, false);
    assert!(target.probe(100, false).is_some());
    assert_eq!(target.state.status(), Status::Down);
}

#[test]
fn a_late_success_cannot_break_a_failing_run_or_pull_a_target_up() {
    let mut target = Target::new();
    target.probes(100, 3, false); // Down at 300 ms.
    // A good probe sent at 50 ms, answered now.
    assert_eq!(target.probe(50, true), None);
    assert_eq!(target.state.status(), Status::Down);
    target.probes(400, 4, true);
    assert_eq!(target.probe(250, true), None);
    assert_eq!(target.state.status(), Status::Down);
    assert!(target.probe(800, true).is_some());
}

#[test]
fn a_late_failure_cannot_send_a_recovering_target_back_down() {
    let mut target = Target::new();
    target.recovering();
    assert_eq!(target.probe(650, false), None);
    assert_eq!(target.state.status(), Status::Recovering);
    assert!(target.settle(10_700).is_some());
}
