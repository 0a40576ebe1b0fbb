//! Rules for `[health]`: the cross-region probes and the operator state's folder.

use std::path::Path;
use std::time::Duration;

use super::Checker;
use crate::config::raw::RawRegionHealth;
use crate::config::{ConfigError, RegionHealthSettings};
use crate::health::hysteresis::ProbeSettings;

/// Probes further apart than this would notice a dead region too late to matter.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// A hold-down longer than this keeps a recovered region out for longer than any outage
/// worth riding out.
const MAX_HOLD_DOWN: Duration = Duration::from_secs(3600);

impl Checker<'_> {
    /// `base` is the folder of `meridian.toml`, which `state_dir` is relative to.
    pub(super) fn region_health(
        &self,
        raw: &RawRegionHealth,
        base: &Path,
    ) -> Result<RegionHealthSettings, ConfigError> {
        let interval = self.millis("health.interval_ms", raw.interval_ms, MAX_INTERVAL)?;
        let fast_interval = self.millis(
            "health.fast_interval_ms",
            raw.fast_interval_ms,
            MAX_INTERVAL,
        )?;
        if fast_interval > interval {
            return Err(self.invalid(
                "health.fast_interval_ms",
                raw.fast_interval_ms,
                format!(
                    "must not exceed health.interval_ms ({}): it paces a failing region's probes, which should come sooner",
                    raw.interval_ms
                ),
            ));
        }
        if !(0.0..=0.5).contains(&raw.jitter) {
            return Err(self.invalid(
                "health.jitter",
                raw.jitter,
                "must be between 0.0 and 0.5 (a share of the interval)",
            ));
        }
        let timeout = self.millis("health.timeout_ms", raw.timeout_ms, MAX_INTERVAL)?;
        for (key, count) in [
            ("health.fall", raw.fall),
            ("health.rise", raw.rise),
            ("health.fresh_every", raw.fresh_every),
        ] {
            if count == 0 {
                return Err(self.invalid(key, count, "must be at least 1"));
            }
        }
        let hold_down = Duration::from_millis(raw.hold_down_ms);
        if hold_down > MAX_HOLD_DOWN {
            return Err(self.invalid(
                "health.hold_down_ms",
                raw.hold_down_ms,
                format!(
                    "must be at most {} (milliseconds)",
                    MAX_HOLD_DOWN.as_millis()
                ),
            ));
        }
        if raw.state_dir.as_os_str().is_empty() {
            return Err(self.invalid(
                "health.state_dir",
                "\"\"",
                "must name a folder (relative to meridian.toml, or absolute)",
            ));
        }
        Ok(RegionHealthSettings {
            probes: ProbeSettings {
                interval,
                fast_interval,
                jitter: raw.jitter,
                timeout,
                fall: raw.fall,
                rise: raw.rise,
                hold_down,
            },
            fresh_every: raw.fresh_every,
            state_dir: base.join(&raw.state_dir),
        })
    }
}
