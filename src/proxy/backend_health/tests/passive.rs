//! Passive detection: runs of failed requests, and the set's ejection cap.

use super::*;

// --- Passive detection ---

#[test]
fn consecutive_failed_requests_eject_for_the_base_time() {
    let mut backend = Backend::new();
    assert_eq!(backend.request(0, Outcome::ConnectFailed), None);
    assert_eq!(backend.request(10, Outcome::ConnectFailed), None);
    assert_eq!(backend.status(10), Status::Healthy);
    assert_eq!(
        backend.request(20, Outcome::ConnectFailed),
        change(
            Status::Healthy,
            backend.ejected_until(1020),
            "3 consecutive connection failures, ejected for 1s"
        )
    );
    assert_eq!(backend.status(20), backend.ejected_until(1020));
    assert!(!backend.health.available(backend.at(20)));
    assert_eq!(backend.health.ejections(), 1);
}

#[test]
fn the_reason_names_how_the_requests_failed() {
    for (outcomes, reason) in [
        (
            [Outcome::Status5xx; 3],
            "3 consecutive 5xx responses, ejected for 1s",
        ),
        (
            [Outcome::Timeout; 3],
            "3 consecutive timeouts, ejected for 1s",
        ),
        (
            [Outcome::Timeout, Outcome::Status5xx, Outcome::Timeout],
            "3 consecutive failed requests, ejected for 1s",
        ),
    ] {
        let mut backend = Backend::new();
        let mut last = None;
        for outcome in outcomes {
            last = backend.request(0, outcome);
        }
        let last = last.unwrap_or_else(|| panic!("{outcomes:?} did not eject"));
        assert_eq!(last.reason, reason);
    }
}

#[test]
fn a_successful_request_ends_the_run() {
    let mut backend = Backend::new();
    backend.request(0, Outcome::Timeout);
    backend.request(10, Outcome::Timeout);
    assert_eq!(backend.request(20, Outcome::Success), None);
    backend.request(30, Outcome::Timeout);
    assert_eq!(backend.request(40, Outcome::Timeout), None);
    assert_eq!(backend.status(40), Status::Healthy);
    assert!(backend.request(50, Outcome::Timeout).is_some());
}

#[test]
fn good_checks_do_not_end_the_run_of_failed_requests() {
    // A health endpoint that answers says nothing about whether real requests are served.
    let mut backend = Backend::new();
    backend.request(0, Outcome::Status5xx);
    backend.request(10, Outcome::Status5xx);
    backend.check(20, true);
    assert!(backend.request(30, Outcome::Status5xx).is_some());
    assert_eq!(backend.status(30), backend.ejected_until(1030));
}

#[test]
fn when_the_cap_forbids_ejection_the_run_goes_on_until_it_allows() {
    let mut backend = Backend::new();
    for ms in [0, 10, 20, 30] {
        assert_eq!(backend.request_capped(ms, Outcome::ConnectFailed), None);
    }
    assert_eq!(backend.status(30), Status::Healthy);
    assert_eq!(backend.health.ejections(), 0);
    assert_eq!(
        backend.request(40, Outcome::ConnectFailed),
        change(
            Status::Healthy,
            backend.ejected_until(1040),
            "5 consecutive connection failures, ejected for 1s"
        )
    );
}

#[test]
fn a_success_while_the_cap_forbids_ejection_still_ends_the_run() {
    let mut backend = Backend::new();
    for ms in [0, 10, 20] {
        backend.request_capped(ms, Outcome::ConnectFailed);
    }
    backend.request(30, Outcome::Success);
    assert_eq!(backend.request(40, Outcome::ConnectFailed), None);
    assert_eq!(backend.status(40), Status::Healthy);
}

#[test]
fn zero_consecutive_failures_acts_as_one() {
    let outlier = Outlier {
        consecutive_failures: 0,
        ..outlier()
    };
    let mut backend = Backend::with(check(), outlier);
    assert!(backend.request(0, Outcome::Timeout).is_some());
    assert_eq!(backend.status(0), backend.ejected_until(1000));
}

// --- The set's ejection cap ---

#[test]
fn may_eject_allows_one_always_and_then_the_share() {
    for (ejected, total, share, allowed) in [
        (0, 1, 0.5, true),
        (0, 2, 0.0, true),
        (0, 0, 0.5, true),
        (1, 1, 1.0, false),
        (1, 2, 0.5, false),
        (1, 2, 1.0, true),
        (1, 3, 0.5, false),
        (1, 4, 0.5, true),
        (2, 4, 0.5, false),
        (2, 10, 0.3, true),
        (3, 10, 0.3, false),
        (4, 10, 0.49, false),
        (9, 10, 1.0, true),
        (10, 10, 1.0, false),
        (1, 10, f64::NAN, false),
    ] {
        assert_eq!(
            may_eject(ejected, total, share),
            allowed,
            "{ejected} of {total} at {share}"
        );
    }
}

#[test]
fn a_set_at_its_cap_ejects_one_backend_and_keeps_the_other() {
    let mut backends = [Backend::new(), Backend::new()];
    let share = outlier().max_ejected_share;
    for ms in [0, 10, 20, 30] {
        for index in 0..backends.len() {
            let ejected = backends
                .iter()
                .filter(|b| matches!(b.status(ms), Status::Ejected { .. }))
                .count();
            let allowed = may_eject(ejected, backends.len(), share);
            backends[index].observe(ms, Observation::Passive(Outcome::Status5xx), allowed);
        }
    }
    assert_eq!(backends[0].status(30), backends[0].ejected_until(1020));
    assert_eq!(backends[1].status(30), Status::Healthy);
}
