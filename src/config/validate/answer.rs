//! Rules for `[answer]` (TTLs, spill) and for what each `[[service]]` answers when every
//! region is down.

use super::{Checker, first_duplicate};
use crate::config::raw::{RawAnswer, RawService};
use crate::config::{
    AllDown, AnswerPolicy, ConfigError, DEFAULT_SPILL_REGIONS, DEFAULT_TRANSITION_TTL,
    FallbackAddresses, MAX_SPILL_REGIONS, Service, Spill,
};

const ALL_DOWN_POLICIES: &str = "fail-open, fallback, nodata or servfail";

impl Checker<'_> {
    /// `services` are the validated steered names, whose TTLs bound the transition TTL.
    pub(super) fn answer(
        &self,
        raw: &RawAnswer,
        services: &[Service],
    ) -> Result<AnswerPolicy, ConfigError> {
        let ttl = self.ttl("answer.ttl", raw.ttl)?;
        if raw.max_addresses == 0 {
            return Err(self.invalid("answer.max_addresses", 0, "must be at least 1"));
        }
        let transition_ttl = match raw.transition_ttl {
            None => DEFAULT_TRANSITION_TTL,
            Some(0) => {
                return Err(self.invalid(
                    "answer.transition_ttl",
                    0,
                    "must be at least 1: a TTL of 0 lets resolvers ask again for every client, which multiplies the load exactly when regions are failing",
                ));
            }
            Some(transition_ttl) => {
                // Only ever a ceiling: one above every steered TTL would never apply, which is
                // surely not what was meant.
                let longest = services
                    .iter()
                    .map(|service| service.ttl)
                    .fold(ttl, u32::max);
                if transition_ttl > longest {
                    return Err(self.invalid(
                        "answer.transition_ttl",
                        transition_ttl,
                        format!(
                            "must be at most the longest TTL of a steered answer ({longest}, from answer.ttl and the services' ttl): it only ever shortens answers"
                        ),
                    ));
                }
                transition_ttl
            }
        };
        Ok(AnswerPolicy {
            ttl,
            max_addresses: raw.max_addresses,
            transition_ttl,
            spill: self.spill(raw)?,
        })
    }

    fn spill(&self, raw: &RawAnswer) -> Result<Spill, ConfigError> {
        let spill = raw.spill.as_deref().unwrap_or("capacity");
        match (spill, raw.spill_regions) {
            ("nearest", None) => Ok(Spill::Nearest),
            ("nearest", Some(regions)) => Err(self.invalid(
                "answer.spill_regions",
                regions,
                "only spill = \"capacity\" spreads over several regions (spill = \"nearest\")",
            )),
            ("capacity", regions) => {
                let regions = regions.unwrap_or(u32::from(DEFAULT_SPILL_REGIONS));
                match u8::try_from(regions) {
                    Ok(regions @ 1..=MAX_SPILL_REGIONS) => Ok(Spill::Capacity { regions }),
                    _ => Err(self.invalid(
                        "answer.spill_regions",
                        regions,
                        format!("must be 1 to {MAX_SPILL_REGIONS}: how many healthy regions the clients of a region that is down are spread over (1 is spill = \"nearest\")"),
                    )),
                }
            }
            (other, _) => Err(self.invalid(
                "answer.spill",
                other,
                "expected capacity (spread by capacity over the next healthy regions) or nearest (all to the next healthy region)",
            )),
        }
    }

    /// `[[service]]` number `index`'s `all_down` and `fallback`.
    pub(super) fn all_down(&self, index: usize, raw: &RawService) -> Result<AllDown, ConfigError> {
        let policy = raw.all_down.as_deref().unwrap_or("fail-open");
        let fallback_key = format!("service[{index}].fallback");
        let all_down = match policy {
            "fail-open" => AllDown::FailOpen,
            "nodata" => AllDown::NoData,
            "servfail" => AllDown::ServFail,
            "fallback" => {
                let addresses = raw.fallback.as_deref().unwrap_or_default();
                if addresses.is_empty() {
                    return Err(self.invalid(
                        fallback_key,
                        if raw.fallback.is_some() { "[]" } else { "(missing)" },
                        "all_down = \"fallback\" needs at least one address, e.g. fallback = [\"192.0.2.10\", \"2001:db8::10\"]",
                    ));
                }
                let canonical: Vec<_> = addresses.iter().map(|a| a.to_canonical()).collect();
                if let Some(duplicate) = first_duplicate(&canonical) {
                    return Err(self.invalid(fallback_key, duplicate, "listed twice"));
                }
                return Ok(AllDown::Fallback(FallbackAddresses::new(addresses)));
            }
            other => {
                return Err(self.invalid(
                    format!("service[{index}].all_down"),
                    other,
                    format!("expected {ALL_DOWN_POLICIES}"),
                ));
            }
        };
        if let Some(addresses) = &raw.fallback {
            return Err(self.invalid(
                fallback_key,
                format!("{addresses:?}"),
                format!("only all_down = \"fallback\" uses it (all_down = \"{policy}\")"),
            ));
        }
        Ok(all_down)
    }
}
