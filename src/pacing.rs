//! Pure timing helpers shared by the periodic checks (backend health checks, region
//! probes): no clock, randomness comes in as an argument.

use std::time::Duration;

/// `interval` moved uniformly by up to +-`jitter` of itself: `random` 0.0 gives the shortest
/// wait, 1.0 the longest. Out-of-range inputs are clamped so the result stays positive.
pub fn jittered(interval: Duration, jitter: f64, random: f64) -> Duration {
    let jitter = if jitter.is_finite() {
        jitter.clamp(0.0, 0.5)
    } else {
        0.0
    };
    let random = if random.is_finite() {
        random.clamp(0.0, 1.0)
    } else {
        0.5
    };
    let factor = 1.0 + jitter * (2.0 * random - 1.0);
    Duration::try_from_secs_f64(interval.as_secs_f64() * factor).unwrap_or(interval)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jitter_spans_the_share_and_odd_inputs_stay_in_range() {
        let second = Duration::from_secs(1);
        assert_eq!(jittered(second, 0.2, 0.0), Duration::from_millis(800));
        assert_eq!(jittered(second, 0.2, 0.5), second);
        assert_eq!(jittered(second, 0.2, 1.0), Duration::from_millis(1200));
        assert_eq!(jittered(second, 9.0, 0.0), Duration::from_millis(500));
        assert_eq!(jittered(second, f64::NAN, 0.0), second);
        assert_eq!(jittered(second, 0.2, f64::NAN), second);
        assert_eq!(jittered(second, 0.2, -3.0), Duration::from_millis(800));
    }
}
