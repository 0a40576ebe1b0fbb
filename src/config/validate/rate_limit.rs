//! Rules for `[response_rate_limit]`: rates, slip, prefix lengths and the exempt networks.

use ipnet::IpNet;

use super::Checker;
use crate::config::ConfigError;
use crate::config::rate_limit::{
    MAX_RESPONSES_PER_SECOND, MAX_SLIP, ResponseRateLimit, default_exempt,
};
use crate::config::raw::RawResponseRateLimit;

impl Checker<'_> {
    pub(super) fn response_rate_limit(
        &self,
        raw: &RawResponseRateLimit,
    ) -> Result<ResponseRateLimit, ConfigError> {
        let rate = |key: &str, value: u32| {
            if (1..=MAX_RESPONSES_PER_SECOND).contains(&value) {
                Ok(value)
            } else {
                Err(self.invalid(
                    key,
                    value,
                    format!(
                        "must be 1 to {MAX_RESPONSES_PER_SECOND} (to turn limiting off, set response_rate_limit.enabled = false)"
                    ),
                ))
            }
        };
        let responses_per_second = rate(
            "response_rate_limit.responses_per_second",
            raw.responses_per_second,
        )?;
        let errors_per_second = match raw.errors_per_second {
            Some(value) => rate("response_rate_limit.errors_per_second", value)?,
            None => responses_per_second,
        };
        if raw.slip > MAX_SLIP {
            return Err(self.invalid(
                "response_rate_limit.slip",
                raw.slip,
                format!(
                    "must be 0 to {MAX_SLIP}: every slip-th limited answer is sent as a TC reply (0: none, 1: all)"
                ),
            ));
        }
        if !(1..=32).contains(&raw.ipv4_prefix) {
            return Err(self.invalid(
                "response_rate_limit.ipv4_prefix",
                raw.ipv4_prefix,
                "must be 1 to 32",
            ));
        }
        if !(1..=128).contains(&raw.ipv6_prefix) {
            return Err(self.invalid(
                "response_rate_limit.ipv6_prefix",
                raw.ipv6_prefix,
                "must be 1 to 128",
            ));
        }
        Ok(ResponseRateLimit {
            enabled: raw.enabled,
            responses_per_second,
            errors_per_second,
            slip: raw.slip,
            ipv4_prefix: raw.ipv4_prefix,
            ipv6_prefix: raw.ipv6_prefix,
            exempt: match &raw.exempt {
                Some(exempt) => self.exempt(exempt)?,
                None => default_exempt(),
            },
        })
    }

    fn exempt(&self, raw: &[String]) -> Result<Vec<IpNet>, ConfigError> {
        self.networks(
            |index| format!("response_rate_limit.exempt[{index}]"),
            raw,
            "192.0.2.0/24 or 2001:db8::53",
        )
    }
}
