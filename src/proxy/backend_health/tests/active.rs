//! Active checks: rise and fall, and check pacing.

use super::*;

// --- Active checks: fall and rise ---

#[test]
fn fall_failed_checks_take_it_down_and_not_one_fewer() {
    let mut backend = Backend::new();
    assert_eq!(backend.check(0, false), None);
    assert_eq!(backend.check(100, false), None);
    assert_eq!(backend.status(100), Status::Healthy);
    assert_eq!(
        backend.check(200, false),
        change(Status::Healthy, Status::Down, "3 failed checks")
    );
    assert_eq!(backend.status(200), Status::Down);
    assert!(!backend.health.available(backend.at(200)));
    // Further failures change nothing.
    assert_eq!(backend.check(300, false), None);
    assert_eq!(backend.status(300), Status::Down);
}

#[test]
fn a_good_check_ends_the_run_of_failed_ones() {
    let mut backend = Backend::new();
    backend.check(0, false);
    backend.check(100, false);
    assert_eq!(backend.check(200, true), None);
    backend.check(300, false);
    assert_eq!(backend.check(400, false), None);
    assert_eq!(backend.status(400), Status::Healthy);
    assert!(backend.check(500, false).is_some());
    assert_eq!(backend.status(500), Status::Down);
}

#[test]
fn rise_good_checks_bring_it_back_and_not_one_fewer() {
    let mut backend = Backend::new();
    for ms in [0, 100, 200] {
        backend.check(ms, false);
    }
    assert_eq!(backend.check(300, true), None);
    assert_eq!(backend.status(300), Status::Down);
    assert_eq!(
        backend.check(400, true),
        change(Status::Down, Status::Healthy, "2 good checks")
    );
    assert!(backend.health.available(backend.at(400)));
}

#[test]
fn a_failed_check_ends_the_run_of_good_ones_while_down() {
    let mut backend = Backend::new();
    for ms in [0, 100, 200] {
        backend.check(ms, false);
    }
    backend.check(300, true);
    assert_eq!(backend.check(400, false), None);
    assert_eq!(backend.check(500, true), None);
    assert_eq!(backend.status(500), Status::Down);
    assert!(backend.check(600, true).is_some());
    assert_eq!(backend.status(600), Status::Healthy);
}

#[test]
fn zero_rise_and_fall_act_as_one() {
    let check = HealthCheck {
        rise: 0,
        fall: 0,
        ..HealthCheck::default()
    };
    let mut backend = Backend::with(check, outlier());
    assert_eq!(
        backend.check(0, false),
        change(Status::Healthy, Status::Down, "1 failed check")
    );
    assert_eq!(
        backend.check(100, true),
        change(Status::Down, Status::Healthy, "1 good check")
    );
}

#[test]
fn good_checks_while_healthy_change_nothing() {
    let mut backend = Backend::new();
    for ms in 0..10 {
        assert_eq!(backend.check(ms * 100, true), None);
    }
    assert_eq!(backend.status(1000), Status::Healthy);
}

// --- Check pacing ---

#[test]
fn a_healthy_backend_is_checked_at_the_jittered_interval() {
    let backend = Backend::new(); // interval 1 s, jitter 0.2
    let millis = |random: f64| backend.next_check(random).as_secs_f64() * 1000.0;
    assert!((millis(0.0) - 800.0).abs() < 0.001, "{}", millis(0.0));
    assert!((millis(0.5) - 1000.0).abs() < 0.001, "{}", millis(0.5));
    assert!((millis(1.0) - 1200.0).abs() < 0.001, "{}", millis(1.0));
    for step in 0..100 {
        let wait = millis(f64::from(step) / 100.0);
        assert!((799.999..1200.0).contains(&wait), "{wait}");
    }
}

#[test]
fn the_fast_interval_after_a_failed_check_while_down_and_while_ejected() {
    let fast = check().fast_interval;
    let mut backend = Backend::new();
    backend.check(0, false);
    assert_eq!(backend.next_check(0.9), fast);
    backend.check(100, true);
    assert!(backend.next_check(0.5) > fast);
    for ms in [200, 300, 400] {
        backend.check(ms, false);
    }
    assert_eq!(backend.status(400), Status::Down);
    // A good check while Down still leaves the fast pace until the backend is back.
    backend.check(500, true);
    assert_eq!(backend.next_check(0.5), fast);
    backend.check(600, true);
    assert_eq!(backend.next_check(0.5), Duration::from_secs(1));
    backend.eject(700);
    assert_eq!(backend.next_check(0.5), fast);
    backend.check_sent(800, 900, true);
    assert_eq!(backend.next_check(0.5), Duration::from_secs(1));
}

#[test]
fn the_wait_is_never_zero_and_survives_odd_inputs() {
    let check = HealthCheck {
        interval: Duration::ZERO,
        fast_interval: Duration::ZERO,
        ..HealthCheck::default()
    };
    let mut backend = Backend::with(check, outlier());
    assert_eq!(backend.next_check(0.0), MIN_CHECK_WAIT);
    backend.check(0, false);
    assert_eq!(backend.next_check(0.0), MIN_CHECK_WAIT);

    let wild = HealthCheck {
        jitter: 7.0,
        ..HealthCheck::default()
    };
    let backend = Backend::with(wild, outlier());
    for random in [-3.0, 0.0, 0.999, 42.0, f64::NAN, f64::INFINITY] {
        let wait = backend.next_check(random);
        assert!(
            (Duration::from_millis(499)..=Duration::from_millis(1500)).contains(&wait),
            "{random}: {wait:?}"
        );
    }
    let nan = HealthCheck {
        jitter: f64::NAN,
        ..HealthCheck::default()
    };
    let backend = Backend::with(nan, outlier());
    assert_eq!(backend.next_check(0.0), Duration::from_secs(1));
}
