//! Rules for the zone: names, name servers, static records and their data, consistency
//! across records, and the steered names (services) that must not clash with them.

use std::collections::HashMap;

use hickory_proto::rr::rdata::{CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, RecordType};

use super::{Checker, first_duplicate};
use crate::config::raw::{RawMain, RawZone};
use crate::config::{ConfigError, NameServer, Service, Soa, StaticRecord, Zone};

/// Record types that may be configured statically; the rest are refused by name.
const STATIC_TYPES: [RecordType; 6] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::TXT,
    RecordType::MX,
    RecordType::CAA,
];

impl Checker<'_> {
    /// An absolute name: SOA fields, name servers, record targets. A trailing dot is optional.
    fn absolute_name(&self, key: &str, text: &str) -> Result<Name, ConfigError> {
        let mut name = Name::from_ascii(text)
            .map_err(|error| self.invalid(key, text, format!("not a domain name: {error}")))?
            .to_lowercase();
        name.set_fqdn(true);
        if name.is_root() {
            return Err(self.invalid(key, text, "the root is not allowed here"));
        }
        Ok(name)
    }

    /// A name inside the zone: `@` is the apex, `www` is relative, `www.example.com.` absolute.
    fn zone_name(&self, key: &str, text: &str, apex: &Name) -> Result<Name, ConfigError> {
        let name = if text == "@" {
            apex.clone()
        } else if text.ends_with('.') {
            self.absolute_name(key, text)?
        } else {
            let relative = Name::from_ascii(text)
                .map_err(|error| self.invalid(key, text, format!("not a domain name: {error}")))?;
            relative
                .append_domain(apex)
                .map_err(|error| self.invalid(key, text, format!("name too long: {error}")))?
                .to_lowercase()
        };
        if !apex.zone_of(&name) {
            return Err(self.invalid(key, text, format!("outside the zone {apex}")));
        }
        Ok(name)
    }

    pub(super) fn zone(&self, raw: &RawZone) -> Result<Zone, ConfigError> {
        let apex = self.absolute_name("zone.apex", &raw.apex)?;
        let ns_ttl = self.ttl("zone.ttl", raw.ttl)?;
        if raw.name_servers.is_empty() {
            return Err(self.invalid("zone.ns", "[]", "the zone needs at least one name server"));
        }
        let mut name_servers: Vec<NameServer> = Vec::new();
        for (i, ns) in raw.name_servers.iter().enumerate() {
            let key = format!("zone.ns[{i}].name");
            let name = self.absolute_name(&key, &ns.name)?;
            if name_servers.iter().any(|other| other.name == name) {
                return Err(self.invalid(key, &ns.name, "name server listed twice"));
            }
            let key = format!("zone.ns[{i}].addresses");
            let in_zone = apex.zone_of(&name);
            if in_zone && ns.addresses.is_empty() {
                return Err(self.invalid(
                    key,
                    "[]",
                    format!("{name} is inside the zone: glue addresses are required"),
                ));
            }
            if !in_zone && !ns.addresses.is_empty() {
                return Err(self.invalid(
                    key,
                    format!("{:?}", ns.addresses),
                    format!("{name} is outside the zone: its addresses belong to its own zone"),
                ));
            }
            if let Some(dup) = first_duplicate(&ns.addresses) {
                return Err(self.invalid(key, dup, "listed twice"));
            }
            name_servers.push(NameServer {
                name,
                addresses: ns.addresses.clone(),
            });
        }
        let soa = Soa {
            mname: match &raw.soa.mname {
                Some(text) => self.absolute_name("zone.soa.mname", text)?,
                None => name_servers[0].name.clone(),
            },
            rname: self.absolute_name("zone.soa.rname", &raw.soa.rname)?,
            serial: raw.soa.serial,
            refresh: raw.soa.refresh,
            retry: raw.soa.retry,
            expire: raw.soa.expire,
            minimum: self.ttl("zone.soa.minimum", raw.soa.minimum)?,
            ttl: self.ttl("zone.soa.ttl", raw.soa.ttl)?,
        };
        let mut records = Vec::with_capacity(raw.records.len());
        for (i, record) in raw.records.iter().enumerate() {
            let name = self.zone_name(&format!("zone.record[{i}].name"), &record.name, &apex)?;
            let record_type = self.record_type(i, &record.record_type)?;
            let ttl = self.ttl(
                &format!("zone.record[{i}].ttl"),
                record.ttl.unwrap_or(raw.ttl),
            )?;
            let rdata = self.rdata(i, record_type, &record.value)?;
            records.push(StaticRecord {
                name,
                record_type,
                ttl,
                rdata,
            });
        }
        let identity = match &raw.identity {
            Some(text)
                if text.is_empty()
                    || text.len() > 255
                    || !text
                        .bytes()
                        .all(|byte| byte.is_ascii_graphic() || byte == b' ') =>
            {
                return Err(self.invalid(
                    "zone.identity",
                    text,
                    "1 to 255 printable ASCII characters (it is sent as NSID and as a TXT string)",
                ));
            }
            identity => identity.clone(),
        };
        let zone = Zone {
            identity,
            // With the secrets of the environment, in `load`.
            cookies: None,
            apex,
            soa,
            name_servers,
            ns_ttl,
            records,
        };
        self.zone_consistency(&zone)?;
        Ok(zone)
    }

    fn record_type(&self, i: usize, text: &str) -> Result<RecordType, ConfigError> {
        let key = format!("zone.record[{i}].type");
        let record_type: RecordType = text
            .to_ascii_uppercase()
            .parse()
            .map_err(|_| self.invalid(&key, text, "unknown record type"))?;
        if !STATIC_TYPES.contains(&record_type) {
            return Err(self.invalid(
                key,
                text,
                "static records may be A, AAAA, CNAME, TXT, MX or CAA",
            ));
        }
        Ok(record_type)
    }

    fn rdata(&self, i: usize, record_type: RecordType, text: &str) -> Result<RData, ConfigError> {
        let key = format!("zone.record[{i}].value");
        let bad = |reason: String| self.invalid(&key, text, reason);
        match record_type {
            RecordType::CNAME => Ok(RData::CNAME(CNAME(self.absolute_name(&key, text)?))),
            RecordType::TXT => {
                if text.is_empty() {
                    return Err(bad("a TXT record needs text".into()));
                }
                // One character-string holds at most 255 bytes (RFC 1035 section 3.3); cut
                // bytes, not characters, so no string ever grows past the limit.
                Ok(RData::TXT(TXT::from_bytes(
                    text.as_bytes().chunks(255).collect(),
                )))
            }
            RecordType::MX => {
                let mut parts = text.split_whitespace();
                let (Some(preference), Some(exchange), None) =
                    (parts.next(), parts.next(), parts.next())
                else {
                    return Err(bad(
                        "expected '<preference> <exchange>', e.g. '10 mail.example.com'".into(),
                    ));
                };
                let preference: u16 = preference
                    .parse()
                    .map_err(|_| bad("the preference must be 0-65535".into()))?;
                Ok(RData::MX(MX::new(
                    preference,
                    self.absolute_name(&key, exchange)?,
                )))
            }
            _ => RData::try_from_str(record_type, text).map_err(|error| bad(error.to_string())),
        }
    }

    /// Rules across records: CNAME stands alone, steered names own their A/AAAA, glue is not
    /// defined twice.
    fn zone_consistency(&self, zone: &Zone) -> Result<(), ConfigError> {
        let mut types_at: HashMap<&Name, Vec<RecordType>> = HashMap::new();
        for record in &zone.records {
            types_at
                .entry(&record.name)
                .or_default()
                .push(record.record_type);
        }
        for (i, record) in zone.records.iter().enumerate() {
            let key = format!("zone.record[{i}]");
            let earlier = &zone.records[..i];
            if earlier
                .iter()
                .any(|other| other.name == record.name && other.rdata == record.rdata)
            {
                return Err(self.invalid(key, &record.name, "the same record is listed twice"));
            }
            let sibling = earlier
                .iter()
                .find(|other| other.name == record.name && other.record_type == record.record_type);
            if let Some(sibling) = sibling
                && sibling.ttl != record.ttl
            {
                return Err(self.invalid(
                    format!("zone.record[{i}].ttl"),
                    record.ttl,
                    format!(
                        "records of one name and type share one TTL (RFC 2181 section 5.2); an earlier {} {} has {}",
                        record.name, record.record_type, sibling.ttl
                    ),
                ));
            }
            let types = &types_at[&record.name];
            if record.record_type == RecordType::CNAME {
                if record.name == zone.apex {
                    return Err(self.invalid(
                        key,
                        &record.name,
                        "a CNAME cannot sit at the apex (it would hide SOA and NS)",
                    ));
                }
                if types.len() > 1 {
                    return Err(self.invalid(
                        key,
                        &record.name,
                        "a CNAME cannot sit beside other data at the same name (RFC 1034 section 3.6.2)",
                    ));
                }
                if let Some(cycle) = cname_loop(zone, &record.name) {
                    let names: Vec<String> = cycle.iter().map(ToString::to_string).collect();
                    return Err(self.invalid(
                        key,
                        &record.name,
                        format!("CNAMEs loop: {}", names.join(" -> ")),
                    ));
                }
            }
            let glue = zone.name_servers.iter().any(|ns| ns.name == record.name);
            if glue
                && matches!(
                    record.record_type,
                    RecordType::A | RecordType::AAAA | RecordType::CNAME
                )
            {
                return Err(self.invalid(
                    key,
                    &record.name,
                    "this name server's addresses are set in [[zone.ns]] addresses; define them there only",
                ));
            }
        }
        Ok(())
    }

    pub(super) fn services(&self, raw: &RawMain, zone: &Zone) -> Result<Vec<Service>, ConfigError> {
        let mut services: Vec<Service> = Vec::new();
        for (i, service) in raw.services.iter().enumerate() {
            let key = format!("service[{i}].name");
            let name = self.zone_name(&key, &service.name, &zone.apex)?;
            if services.iter().any(|other| other.name == name) {
                return Err(self.invalid(key, &service.name, "service listed twice"));
            }
            let clash = zone.records.iter().find(|record| {
                record.name == name
                    && matches!(
                        record.record_type,
                        RecordType::A | RecordType::AAAA | RecordType::CNAME
                    )
            });
            if let Some(record) = clash {
                return Err(self.invalid(
                    key,
                    &service.name,
                    format!(
                        "a steered name cannot also have a static {} record",
                        record.record_type
                    ),
                ));
            }
            if zone.name_servers.iter().any(|ns| ns.name == name) {
                return Err(self.invalid(
                    key,
                    &service.name,
                    "a name server's name cannot be steered",
                ));
            }
            let ttl = self.ttl(
                &format!("service[{i}].ttl"),
                service.ttl.unwrap_or(raw.answer.ttl),
            )?;
            let all_down = self.all_down(i, service)?;
            services.push(Service {
                name,
                ttl,
                all_down,
            });
        }
        Ok(services)
    }
}

/// The loop the CNAME chain starting at `start` runs into, as the names in order (the first
/// repeated at the end), or `None` when the chain ends.
fn cname_loop(zone: &Zone, start: &Name) -> Option<Vec<Name>> {
    let target_of = |name: &Name| {
        zone.records.iter().find_map(|record| match &record.rdata {
            RData::CNAME(CNAME(target)) if record.name == *name => Some(target.clone()),
            _ => None,
        })
    };
    let mut chain = vec![start.clone()];
    while let Some(target) = target_of(chain.last()?) {
        if let Some(at) = chain.iter().position(|name| *name == target) {
            let mut cycle = chain.split_off(at);
            cycle.push(target);
            return Some(cycle);
        }
        chain.push(target);
    }
    None
}
