//! Rules for steering overrides: the default order, CIDR, subdivision, country and
//! continent tables, each naming known regions.

use std::collections::{BTreeMap, HashMap};

use ipnet::IpNet;

use super::codes::{CONTINENT_CODES, country_suggestion, is_country};
use super::{Checker, canonical_net};
use crate::config::raw::RawSteering;
use crate::config::{CidrRule, ConfigError, SteeringRules};
use crate::region::{Region, RegionId};

impl Checker<'_> {
    pub(super) fn steering(
        &self,
        raw: &RawSteering,
        regions: &[Region],
    ) -> Result<SteeringRules, ConfigError> {
        let default_order = match &raw.default {
            Some(names) => self.region_list("steering.default", names, regions)?,
            None => regions.iter().map(|region| region.id).collect(),
        };
        let mut cidr = Vec::with_capacity(raw.cidr.len());
        for (text, names) in &raw.cidr {
            let key = format!("steering.cidr.\"{text}\"");
            let network: IpNet = text
                .parse()
                .map_err(|_| self.invalid(&key, text, "not a CIDR network (e.g. 192.0.2.0/24)"))?;
            if network.trunc() != network {
                return Err(self.invalid(
                    &key,
                    text,
                    format!("host bits are set; did you mean {}?", network.trunc()),
                ));
            }
            let network = canonical_net(network);
            if cidr.iter().any(|rule: &CidrRule| rule.network == network) {
                return Err(self.invalid(&key, text, "the same network is listed twice"));
            }
            let order = self.region_list(&key, names, regions)?;
            cidr.push(CidrRule { network, order });
        }
        cidr.sort_by_key(|rule| std::cmp::Reverse(rule.network.prefix_len()));
        let subdivision = self.code_map(
            "steering.subdivision",
            &raw.subdivision,
            regions,
            subdivision_problem,
        )?;
        let country = self.code_map("steering.country", &raw.country, regions, country_problem)?;
        let continent = self.code_map(
            "steering.continent",
            &raw.continent,
            regions,
            continent_problem,
        )?;
        Ok(SteeringRules {
            default_order,
            cidr: cidr.into(),
            subdivision,
            country,
            continent,
        })
    }

    /// One table keyed by place code; `problem` says what is wrong with a code, if anything.
    fn code_map(
        &self,
        table: &str,
        raw: &BTreeMap<String, Vec<String>>,
        regions: &[Region],
        problem: impl Fn(&str) -> Option<String>,
    ) -> Result<HashMap<String, Vec<RegionId>>, ConfigError> {
        let mut map = HashMap::with_capacity(raw.len());
        for (code, names) in raw {
            let key = format!("{table}.{code}");
            if let Some(reason) = problem(code) {
                return Err(self.invalid(&key, code, reason));
            }
            map.insert(code.clone(), self.region_list(&key, names, regions)?);
        }
        Ok(map)
    }

    fn region_list(
        &self,
        key: &str,
        names: &[String],
        regions: &[Region],
    ) -> Result<Vec<RegionId>, ConfigError> {
        if names.is_empty() {
            return Err(self.invalid(key, "[]", "list at least one region"));
        }
        let mut order = Vec::with_capacity(names.len());
        for name in names {
            let Some(region) = regions.iter().find(|region| &region.name == name) else {
                let known: Vec<&str> = regions.iter().map(|r| r.name.as_str()).collect();
                return Err(self.invalid(
                    key,
                    name,
                    format!("unknown region (known: {})", known.join(", ")),
                ));
            };
            if order.contains(&region.id) {
                return Err(self.invalid(key, name, "region listed twice"));
            }
            order.push(region.id);
        }
        Ok(order)
    }
}

fn country_problem(code: &str) -> Option<String> {
    if is_country(code) {
        return None;
    }
    let suggestion = country_suggestion(code)
        .map(|code| format!("; did you mean {code}?"))
        .unwrap_or_default();
    Some(format!(
        "not an assigned ISO 3166-1 alpha-2 country code in upper case (e.g. GB){suggestion}"
    ))
}

fn subdivision_problem(code: &str) -> Option<String> {
    let expected = "not an ISO 3166-2 code: expected <country>-<1 to 3 letters or digits> in upper case, e.g. US-CA";
    let Some((country, subdivision)) = code.split_once('-') else {
        return Some(expected.to_string());
    };
    if !is_country(country) {
        let suggestion = country_suggestion(country)
            .map(|country| {
                format!(
                    "; did you mean {country}-{}?",
                    subdivision.to_ascii_uppercase()
                )
            })
            .unwrap_or_default();
        return Some(format!(
            "{country} is not an assigned ISO 3166-1 alpha-2 country code in upper case{suggestion}"
        ));
    }
    let well_formed = (1..=3).contains(&subdivision.len())
        && subdivision
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
    (!well_formed).then(|| expected.to_string())
}

fn continent_problem(code: &str) -> Option<String> {
    if CONTINENT_CODES.contains(&code) {
        return None;
    }
    let upper = code.to_ascii_uppercase();
    let suggestion = if CONTINENT_CODES.contains(&upper.as_str()) {
        format!("; did you mean {upper}?")
    } else {
        String::new()
    };
    Some(format!(
        "not a continent code: expected one of {}{suggestion}",
        CONTINENT_CODES.join(", ")
    ))
}
