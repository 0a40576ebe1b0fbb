//! Ejection time (doubling, cap, decay) and how an ejection ends.

use super::*;

// --- Ejection time: doubling, cap, decay ---

#[test]
fn repeated_ejections_double_up_to_the_cap() {
    let mut backend = Backend::new();
    let mut now = 0;
    // Each ejection begins the moment the previous one ends: no healthy time, no decay.
    for (seconds, count) in [(1, 1), (2, 2), (4, 3), (8, 4), (10, 5), (10, 5), (10, 5)] {
        backend.eject(now);
        let until = now + seconds * 1000;
        assert_eq!(
            backend.status(now),
            backend.ejected_until(until),
            "at {now}"
        );
        assert_eq!(backend.health.ejections(), count, "at {now}");
        now = until;
    }
}

#[test]
fn an_early_end_still_counts_the_ejection() {
    let mut backend = Backend::new();
    backend.eject(0);
    backend.check(100, true);
    assert_eq!(backend.status(100), Status::Healthy);
    backend.eject(200);
    assert_eq!(backend.status(200), backend.ejected_until(2200));
}

#[test]
fn the_count_decays_by_one_per_base_period_spent_healthy() {
    let mut backend = Backend::new();
    backend.eject(0); // 1 s
    backend.eject(1000); // 2 s, count 2, back at 3000
    assert_eq!(backend.health.ejections(), 2);
    // Not yet a full period healthy: no decay.
    backend.request(3999, Outcome::Success);
    assert_eq!(backend.health.ejections(), 2);
    backend.request(4000, Outcome::Success);
    assert_eq!(backend.health.ejections(), 1);
    // The next ejection is the second one again: 2 s.
    backend.eject(4500);
    assert_eq!(backend.status(4500), backend.ejected_until(6500));
    assert_eq!(backend.health.ejections(), 2);
    // Two full periods healthy forget both.
    backend.request(8500, Outcome::Success);
    assert_eq!(backend.health.ejections(), 0);
    backend.eject(8600);
    assert_eq!(backend.status(8600), backend.ejected_until(9600));
}

#[test]
fn decay_counts_partial_periods_across_observations() {
    let mut backend = Backend::new();
    backend.eject(0);
    backend.eject(1000); // back at 3000 with count 2
    for ms in [3600, 4200, 4800] {
        backend.request(ms, Outcome::Success);
    }
    // 1.8 periods: one decrement, and the 0.8 is kept rather than lost.
    assert_eq!(backend.health.ejections(), 1);
    backend.request(5000, Outcome::Success);
    assert_eq!(backend.health.ejections(), 0);
}

#[test]
fn settle_applies_decay_without_an_observation() {
    let mut backend = Backend::new();
    backend.eject(0);
    assert_eq!(
        backend.health.settle(backend.at(1000), &backend.outlier),
        change(
            backend.ejected_until(1000),
            Status::Healthy,
            "ejection over"
        )
    );
    assert_eq!(backend.health.ejections(), 1);
    assert_eq!(
        backend.health.settle(backend.at(2000), &backend.outlier),
        None
    );
    assert_eq!(backend.health.ejections(), 0);
}

#[test]
fn time_down_does_not_decay_the_count() {
    let mut backend = Backend::new();
    backend.eject(0); // count 1, back at 1000
    for ms in [1000, 1100, 1200] {
        backend.check(ms, false);
    }
    assert_eq!(backend.status(1200), Status::Down);
    // A minute down, then back.
    backend.check(61_000, true);
    backend.check(61_100, true);
    assert_eq!(backend.status(61_100), Status::Healthy);
    assert_eq!(backend.health.ejections(), 1);
    // Half a period healthy since coming back: still the second ejection's 2 s.
    backend.eject(61_600);
    assert_eq!(backend.status(61_600), backend.ejected_until(63_600));
}

#[test]
fn time_ejected_does_not_decay_the_count() {
    let mut backend = Backend::new();
    backend.eject(0);
    backend.eject(1000);
    backend.eject(3000); // 4 s, count 3
    assert_eq!(backend.health.ejections(), 3);
    // Back at 7000; the 4 s ejected count for nothing.
    backend.request(7500, Outcome::Success);
    assert_eq!(backend.health.ejections(), 3);
}

#[test]
fn the_count_stops_at_the_cap_so_decay_starts_working_at_once() {
    let mut backend = Backend::new();
    let mut now = 0;
    for _ in 0..20 {
        backend.eject(now);
        now = match backend.status(now) {
            Status::Ejected { until } => (until - backend.t0).as_millis() as u64,
            other => panic!("not ejected at {now}: {other:?}"),
        };
    }
    assert_eq!(backend.health.ejections(), 5);
    // Two periods healthy: the next ejection is the fourth one, 8 s, below the cap.
    backend.request(now + 2000, Outcome::Success);
    backend.eject(now + 2000);
    assert_eq!(
        backend.status(now + 2000),
        backend.ejected_until(now + 10_000)
    );
}

#[test]
fn ejection_time_formula() {
    let outlier = outlier();
    let seconds: Vec<u64> = (1..=7)
        .map(|n| ejection_time(n, &outlier).as_secs())
        .collect();
    assert_eq!(seconds, [1, 2, 4, 8, 10, 10, 10]);
    // Far past any shift or multiplication: the cap, no overflow.
    assert_eq!(ejection_time(40, &outlier), outlier.max_ejection);
    assert_eq!(ejection_time(u32::MAX, &outlier), outlier.max_ejection);
    assert_eq!(cap_level(&outlier), 5);
}

// --- Ending an ejection ---

#[test]
fn an_ejection_reads_healthy_at_its_end_and_the_next_observation_reports_it() {
    let mut backend = Backend::new();
    backend.eject(0);
    assert_eq!(backend.status(999), backend.ejected_until(1000));
    assert!(!backend.health.available(backend.at(999)));
    assert_eq!(backend.status(1000), Status::Healthy);
    assert!(backend.health.available(backend.at(1000)));
    assert_eq!(
        backend.request(1500, Outcome::Success),
        change(
            backend.ejected_until(1000),
            Status::Healthy,
            "ejection over"
        )
    );
    assert_eq!(backend.request(1600, Outcome::Success), None);
}

#[test]
fn settle_reports_the_end_of_an_ejection_once() {
    let mut backend = Backend::new();
    backend.eject(0);
    assert_eq!(
        backend.health.settle(backend.at(999), &backend.outlier),
        None
    );
    assert!(
        backend
            .health
            .settle(backend.at(1000), &backend.outlier)
            .is_some()
    );
    assert_eq!(
        backend.health.settle(backend.at(1001), &backend.outlier),
        None
    );
}

#[test]
fn a_run_starts_afresh_after_an_ejection() {
    let mut backend = Backend::new();
    backend.eject(0);
    // Late answers to requests sent before the ejection.
    backend.request(500, Outcome::Timeout);
    backend.request(600, Outcome::Timeout);
    backend.request(1000, Outcome::Timeout);
    assert_eq!(backend.status(1000), Status::Healthy);
    backend.request(1100, Outcome::Timeout);
    assert_eq!(backend.status(1100), Status::Healthy);
    assert!(backend.request(1200, Outcome::Timeout).is_some());
}

#[test]
fn requests_never_bring_an_ejected_backend_back() {
    let mut backend = Backend::new();
    backend.eject(0);
    for ms in [100, 200, 300, 400, 500] {
        assert_eq!(backend.request(ms, Outcome::Success), None);
    }
    assert_eq!(backend.status(500), backend.ejected_until(1000));
}

#[test]
fn failed_requests_while_ejected_do_not_extend_the_ejection() {
    let mut backend = Backend::new();
    backend.eject(0);
    for ms in [100, 200, 300, 400, 500] {
        assert_eq!(backend.request(ms, Outcome::ConnectFailed), None);
    }
    assert_eq!(backend.status(500), backend.ejected_until(1000));
    assert_eq!(backend.health.ejections(), 1);
}

#[test]
fn precedence_a_check_sent_after_the_ejection_ends_it() {
    let mut backend = Backend::new();
    backend.eject(100);
    assert_eq!(
        backend.check_sent(101, 300, true),
        change(
            backend.ejected_until(1100),
            Status::Healthy,
            "good check after ejection"
        )
    );
    assert!(backend.health.available(backend.at(300)));
}

#[test]
fn precedence_a_check_sent_before_the_ejection_does_not_end_it() {
    let mut backend = Backend::new();
    backend.eject(100);
    assert_eq!(backend.check_sent(50, 300, true), None);
    // Sent at the very instant of the ejection: not after it either.
    assert_eq!(backend.check_sent(100, 400, true), None);
    assert_eq!(backend.status(400), backend.ejected_until(1100));
}

#[test]
fn a_failed_check_while_ejected_does_not_end_the_ejection() {
    let mut backend = Backend::new();
    backend.eject(0);
    assert_eq!(backend.check(100, false), None);
    assert_eq!(backend.status(100), backend.ejected_until(1000));
}

#[test]
fn a_stale_good_check_still_ends_the_run_of_failed_checks() {
    let mut backend = Backend::new();
    backend.eject(100);
    backend.check(200, false);
    backend.check(300, false);
    backend.check_sent(50, 400, true);
    backend.check(500, false);
    assert_eq!(backend.check(600, false), None);
    assert_eq!(backend.status(600), backend.ejected_until(1100));
}

#[test]
fn a_stale_good_check_counts_toward_rise_while_down() {
    let mut backend = Backend::new();
    backend.eject(100);
    for ms in [200, 300, 400] {
        backend.check(ms, false);
    }
    assert_eq!(backend.status(400), Status::Down);
    // Sent before the ejection, answered now: one of the two good checks rise needs.
    assert_eq!(backend.check_sent(50, 500, true), None);
    assert_eq!(
        backend.check(600, true),
        change(Status::Down, Status::Healthy, "2 good checks")
    );
}
