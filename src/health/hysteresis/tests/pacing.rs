//! `next_probe_in`: jittered intervals while up, the fast interval otherwise.

use super::*;

fn ms(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

#[test]
fn up_waits_the_interval_jittered_by_a_fifth_either_way() {
    let target = Target::new();
    let settings = &target.settings;
    assert_eq!(target.state.next_probe_in(settings, 0.0), ms(800));
    assert_eq!(target.state.next_probe_in(settings, 0.5), ms(1000));
    let longest = target.state.next_probe_in(settings, 0.999_999);
    assert!(longest > ms(1199) && longest < ms(1200), "{longest:?}");
    for step in 0..100 {
        let random = f64::from(step) / 100.0;
        let wait = target.state.next_probe_in(settings, random);
        assert!(wait >= ms(800) && wait < ms(1200), "{random}: {wait:?}");
    }
}

#[test]
fn a_target_with_a_good_result_keeps_the_slow_pace() {
    let mut target = Target::new();
    target.probe(0, true);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.5), ms(1000));
}

#[test]
fn failing_down_and_recovering_use_the_fast_interval_without_jitter() {
    let mut target = Target::new();
    target.probe(0, false);
    assert_eq!(target.state.status(), Status::Failing);
    for random in [0.0, 0.5, 0.99] {
        assert_eq!(
            target.state.next_probe_in(&target.settings, random),
            ms(250)
        );
    }
    target.probes(100, 2, false);
    assert_eq!(target.state.status(), Status::Down);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.0), ms(250));
    target.probes(300, 5, true);
    assert_eq!(target.state.status(), Status::Recovering);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.99), ms(250));
    // Back Up with a clean run: the slow pace again.
    target.settle(10_700);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.5), ms(1000));
}

#[test]
fn a_good_probe_ends_the_fast_pace_of_a_failing_run() {
    let mut target = Target::new();
    target.probe(0, false);
    target.probe(100, true);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.5), ms(1000));
}

#[test]
fn the_wait_is_never_zero_and_odd_inputs_stay_in_range() {
    let zero = ProbeSettings {
        interval: Duration::ZERO,
        fast_interval: Duration::ZERO,
        ..ProbeSettings::default()
    };
    let mut target = Target::with(zero);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.0), ms(1));
    target.probe(0, false);
    assert_eq!(target.state.next_probe_in(&target.settings, 0.0), ms(1));

    let target = Target::with(ProbeSettings {
        jitter: 7.0,
        ..ProbeSettings::default()
    });
    // Jitter is clamped to a half, random to [0, 1], NaN to the middle.
    assert_eq!(target.state.next_probe_in(&target.settings, 0.0), ms(500));
    assert_eq!(target.state.next_probe_in(&target.settings, -3.0), ms(500));
    assert_eq!(target.state.next_probe_in(&target.settings, 9.0), ms(1500));
    assert_eq!(
        target.state.next_probe_in(&target.settings, f64::NAN),
        ms(1000)
    );
    let nan_jitter = ProbeSettings {
        jitter: f64::NAN,
        ..ProbeSettings::default()
    };
    assert_eq!(TargetState::new().next_probe_in(&nan_jitter, 0.0), ms(1000));
}
