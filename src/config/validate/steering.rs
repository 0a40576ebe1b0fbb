//! Rules for steering overrides: the default order, CIDR, subdivision, country and
//! continent tables, each naming known regions.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use ipnet::IpNet;

use super::Checker;
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
        let subdivision =
            self.code_map("steering.subdivision", &raw.subdivision, regions, |code| {
                let (country, sub) = code.split_once('-')?;
                (is_upper_alpha(country, 2)
                    && (1..=3).contains(&sub.len())
                    && sub
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()))
                .then_some(())
            })?;
        let country = self.code_map("steering.country", &raw.country, regions, |code| {
            is_upper_alpha(code, 2).then_some(())
        })?;
        let continent = self.code_map("steering.continent", &raw.continent, regions, |code| {
            ["AF", "AN", "AS", "EU", "NA", "OC", "SA"]
                .contains(&code)
                .then_some(())
        })?;
        Ok(SteeringRules {
            default_order,
            cidr,
            subdivision,
            country,
            continent,
        })
    }

    fn code_map(
        &self,
        table: &str,
        raw: &BTreeMap<String, Vec<String>>,
        regions: &[Region],
        valid: impl Fn(&str) -> Option<()>,
    ) -> Result<HashMap<String, Vec<RegionId>>, ConfigError> {
        let mut map = HashMap::with_capacity(raw.len());
        for (code, names) in raw {
            let key = format!("{table}.{code}");
            if valid(code).is_none() {
                let hint = match table {
                    "steering.subdivision" => "an ISO 3166-2 code in upper case, e.g. US-CA",
                    "steering.country" => "an ISO 3166-1 alpha-2 code in upper case, e.g. GB",
                    _ => "one of AF, AN, AS, EU, NA, OC, SA",
                };
                return Err(self.invalid(&key, code, format!("not a valid code: expected {hint}")));
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

/// IPv4-mapped IPv6 networks become IPv4 networks, the form client addresses are matched in.
fn canonical_net(network: IpNet) -> IpNet {
    if let IpNet::V6(v6) = network
        && let Some(v4) = v6.addr().to_ipv4_mapped()
        && v6.prefix_len() >= 96
    {
        return IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).unwrap_or(network);
    }
    network
}

fn is_upper_alpha(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_uppercase())
}
