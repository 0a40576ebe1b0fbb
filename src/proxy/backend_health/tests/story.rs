//! Down against passive observations, and one backend's story step by step.

use super::*;

// --- Down and passive observations ---

#[test]
fn fall_failed_checks_take_an_ejected_backend_down() {
    let mut backend = Backend::new();
    backend.eject(0);
    backend.check(100, false);
    backend.check(200, false);
    assert_eq!(
        backend.check(300, false),
        change(backend.ejected_until(1000), Status::Down, "3 failed checks")
    );
    // Down supersedes the ejection: its end does not bring the backend back.
    assert_eq!(backend.status(5000), Status::Down);
    assert_eq!(
        backend.health.settle(backend.at(5000), &backend.outlier),
        None
    );
}

#[test]
fn back_from_down_is_healthy_even_within_a_forgotten_ejection() {
    let mut backend = Backend::new();
    backend.eject(0);
    for ms in [100, 200, 300] {
        backend.check(ms, false);
    }
    backend.check(400, true);
    assert_eq!(
        backend.check(500, true),
        change(Status::Down, Status::Healthy, "2 good checks")
    );
    assert_eq!(backend.status(500), Status::Healthy);
}

#[test]
fn requests_never_move_a_down_backend() {
    let mut backend = Backend::new();
    for ms in [0, 100, 200] {
        backend.check(ms, false);
    }
    for (step, outcome) in [
        Outcome::Success,
        Outcome::ConnectFailed,
        Outcome::Status5xx,
        Outcome::Timeout,
        Outcome::Timeout,
        Outcome::Timeout,
        Outcome::Success,
    ]
    .into_iter()
    .enumerate()
    {
        assert_eq!(backend.request(300 + step as u64, outcome), None);
    }
    assert_eq!(backend.status(400), Status::Down);
    assert_eq!(backend.health.ejections(), 0);
}

#[test]
fn a_run_that_reaches_the_threshold_while_down_does_nothing_after() {
    let mut backend = Backend::new();
    backend.request(0, Outcome::Timeout);
    backend.request(10, Outcome::Timeout);
    for ms in [100, 200, 300] {
        backend.check(ms, false);
    }
    // The third failure lands while Down: ignored, and the run does not survive Down.
    backend.request(400, Outcome::Timeout);
    backend.check(500, true);
    backend.check(600, true);
    assert_eq!(backend.status(600), Status::Healthy);
    assert_eq!(backend.request(700, Outcome::Timeout), None);
    assert_eq!(backend.request(800, Outcome::Timeout), None);
    assert!(backend.request(900, Outcome::Timeout).is_some());
}

#[test]
fn an_expired_ejection_and_the_observation_report_as_one_change() {
    let mut backend = Backend::new();
    backend.eject(0);
    backend.check(100, false);
    backend.check(200, false);
    assert_eq!(
        backend.check(1500, false),
        change(
            backend.ejected_until(1000),
            Status::Down,
            "ejection over; 3 failed checks"
        )
    );
}

// --- One story, step by step ---

#[derive(Debug, Clone, Copy)]
enum Step {
    Check(bool),
    /// A good check sent at the given millisecond.
    GoodCheckSent(u64),
    Request(Outcome),
    /// A failed request while the set's cap forbids ejection.
    CappedRequest(Outcome),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expect {
    Healthy,
    /// Ejected until the given millisecond.
    Ejected(u64),
    Down,
}

#[test]
fn a_story_of_one_backend() {
    use Outcome::{ConnectFailed as Refused, Status5xx, Success as Ok, Timeout};
    use Step::{CappedRequest, Check, GoodCheckSent, Request};
    // (ms, step, status after, reason of the change it reports)
    let story: &[(u64, Step, Expect, Option<&str>)] = &[
        (0, Check(true), Expect::Healthy, None),
        (100, Request(Refused), Expect::Healthy, None),
        (110, Request(Ok), Expect::Healthy, None),
        (120, CappedRequest(Status5xx), Expect::Healthy, None),
        (130, CappedRequest(Status5xx), Expect::Healthy, None),
        (140, CappedRequest(Status5xx), Expect::Healthy, None),
        (
            150,
            Request(Status5xx),
            Expect::Ejected(1150),
            Some("4 consecutive 5xx responses, ejected for 1s"),
        ),
        (200, GoodCheckSent(140), Expect::Ejected(1150), None),
        (300, Request(Ok), Expect::Ejected(1150), None),
        (
            400,
            GoodCheckSent(350),
            Expect::Healthy,
            Some("good check after ejection"),
        ),
        (500, Request(Timeout), Expect::Healthy, None),
        (510, Request(Timeout), Expect::Healthy, None),
        (
            520,
            Request(Timeout),
            Expect::Ejected(2520),
            Some("3 consecutive timeouts, ejected for 2s"),
        ),
        (600, Check(false), Expect::Ejected(2520), None),
        (700, Check(false), Expect::Ejected(2520), None),
        (800, Check(false), Expect::Down, Some("3 failed checks")),
        (900, Request(Refused), Expect::Down, None),
        (910, Request(Refused), Expect::Down, None),
        (920, Request(Refused), Expect::Down, None),
        (1000, Check(true), Expect::Down, None),
        (1100, Check(false), Expect::Down, None),
        (1200, Check(true), Expect::Down, None),
        (1300, Check(true), Expect::Healthy, Some("2 good checks")),
        // No decay yet (0.9 s healthy): the third ejection lasts 4 s.
        (2200, Request(Refused), Expect::Healthy, None),
        (2210, Request(Refused), Expect::Healthy, None),
        (
            2220,
            Request(Refused),
            Expect::Ejected(6220),
            Some("3 consecutive connection failures, ejected for 4s"),
        ),
        (6220, Request(Ok), Expect::Healthy, Some("ejection over")),
        (6300, Check(false), Expect::Healthy, None),
    ];
    let mut backend = Backend::new();
    let mut last = Status::Healthy;
    for &(ms, step, expect, reason) in story {
        let change = match step {
            Check(ok) => backend.check(ms, ok),
            GoodCheckSent(started) => backend.check_sent(started, ms, true),
            Request(outcome) => backend.request(ms, outcome),
            CappedRequest(outcome) => backend.request_capped(ms, outcome),
        };
        let expected = match expect {
            Expect::Healthy => Status::Healthy,
            Expect::Ejected(until) => backend.ejected_until(until),
            Expect::Down => Status::Down,
        };
        assert_eq!(backend.status(ms), expected, "at {ms} after {step:?}");
        assert_eq!(
            change.as_ref().map(|c| c.reason.as_str()),
            reason,
            "at {ms} after {step:?}"
        );
        if let Some(change) = change {
            // Changes chain: each starts where the previous one ended.
            assert_eq!(change.from, last, "at {ms}");
            assert_eq!(change.to, expected, "at {ms}");
            last = change.to;
        }
    }
}
