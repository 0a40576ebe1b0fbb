//! The one validation step: raw structs in, a typed [`Config`] or the first error out.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_proto::rr::rdata::{CNAME, MX, TXT};
use hickory_proto::rr::{Name, RData, RecordType};
use ipnet::IpNet;
use serde::de::DeserializeOwned;

use super::raw::{RawMain, RawRegion, RawSteering, RawZone};
use super::{
    AnswerPolicy, CidrRule, Config, ConfigError, GeoSettings, NameServer, Service, Soa,
    StaticRecord, SteeringRules, Zone,
};
use crate::region::{Listen, Location, Region, RegionId};

/// Record types that may be configured statically; the rest are refused by name.
const STATIC_TYPES: [RecordType; 6] = [
    RecordType::A,
    RecordType::AAAA,
    RecordType::CNAME,
    RecordType::TXT,
    RecordType::MX,
    RecordType::CAA,
];

/// DNS TTLs are 31-bit (RFC 2181 section 8).
const MAX_TTL: u32 = 0x7fff_ffff;

pub(super) fn load(path: &Path) -> Result<Config, ConfigError> {
    let raw: RawMain = parse_file(path)?;
    let base = path.parent().unwrap_or(Path::new("."));
    let regions_dir = base.join(&raw.regions);
    let regions = load_regions(path, &regions_dir)?;
    let check = Checker { file: path };

    let zone = check.zone(&raw.zone)?;
    let services = check.services(&raw, &zone)?;
    let answer = AnswerPolicy {
        ttl: check.ttl("answer.ttl", raw.answer.ttl)?,
        max_addresses: match raw.answer.max_addresses {
            0 => return Err(check.invalid("answer.max_addresses", 0, "must be at least 1")),
            n => n,
        },
    };
    if raw.geo.reload_check_seconds == 0 {
        return Err(check.invalid("geo.reload_check_seconds", 0, "must be at least 1"));
    }
    let geo = GeoSettings {
        database: base.join(&raw.geo.database),
        reload_check: Duration::from_secs(raw.geo.reload_check_seconds),
    };
    let steering = check.steering(&raw.steering, &regions)?;
    let content_hash = {
        use sha2::Digest;
        let mut hasher = sha2::Sha256::new();
        hasher.update(fs::read(path).unwrap_or_default());
        for region in &regions {
            hasher.update(
                fs::read(regions_dir.join(format!("{}.toml", region.name))).unwrap_or_default(),
            );
        }
        format!("{:x}", hasher.finalize())
    };
    Ok(Config {
        file: path.to_path_buf(),
        regions_dir,
        content_hash,
        zone,
        services,
        answer,
        geo,
        steering,
        regions,
    })
}

fn parse_file<T: DeserializeOwned>(path: &Path) -> Result<T, ConfigError> {
    let text = fs::read_to_string(path).map_err(|source| ConfigError::Read {
        file: path.to_path_buf(),
        source,
    })?;
    toml::from_str(&text).map_err(|error| ConfigError::Parse {
        file: path.to_path_buf(),
        message: error.to_string().trim_end().to_string(),
    })
}

/// Loads every `*.toml` in the regions folder, sorted by name so ids are stable.
fn load_regions(main_file: &Path, dir: &Path) -> Result<Vec<Region>, ConfigError> {
    let entries = fs::read_dir(dir).map_err(|source| ConfigError::Read {
        file: dir.to_path_buf(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(Checker { file: main_file }.invalid(
            "regions",
            dir.display(),
            "the folder holds no region files (<name>.toml)",
        ));
    }
    if files.len() > usize::from(u16::MAX) {
        return Err(Checker { file: main_file }.invalid("regions", dir.display(), "too many"));
    }
    let mut regions: Vec<Region> = Vec::with_capacity(files.len());
    for file in &files {
        let raw: RawRegion = parse_file(file)?;
        let region = Checker { file }.region(raw)?;
        if regions.iter().any(|other| other.name == region.name) {
            return Err(Checker { file }.invalid("name", &region.name, "duplicate region name"));
        }
        regions.push(region);
    }
    regions.sort_by(|a, b| a.name.cmp(&b.name));
    for (index, region) in regions.iter_mut().enumerate() {
        // Bounded above by the u16::MAX check.
        region.id = RegionId(u16::try_from(index).unwrap_or(u16::MAX));
    }
    Ok(regions)
}

/// Validation helpers bound to the file being checked, so every error names it.
struct Checker<'a> {
    file: &'a Path,
}

impl Checker<'_> {
    fn invalid(
        &self,
        key: impl Into<String>,
        value: impl std::fmt::Display,
        reason: impl Into<String>,
    ) -> ConfigError {
        ConfigError::Invalid {
            file: self.file.to_path_buf(),
            key: key.into(),
            value: value.to_string(),
            reason: reason.into(),
        }
    }

    fn ttl(&self, key: &str, ttl: u32) -> Result<u32, ConfigError> {
        if ttl > MAX_TTL {
            return Err(self.invalid(key, ttl, format!("must be at most {MAX_TTL}")));
        }
        Ok(ttl)
    }

    fn region(&self, raw: RawRegion) -> Result<Region, ConfigError> {
        let stem = self.file.file_stem().and_then(|s| s.to_str()).unwrap_or("");
        if !is_region_name(&raw.name) {
            return Err(self.invalid(
                "name",
                &raw.name,
                "use lower-case letters, digits and '-' (1-63 characters)",
            ));
        }
        if raw.name != stem {
            return Err(self.invalid(
                "name",
                &raw.name,
                format!("must match the file name ({stem}.toml)"),
            ));
        }
        let (latitude, longitude) = (raw.location.latitude, raw.location.longitude);
        if !(-90.0..=90.0).contains(&latitude) {
            return Err(self.invalid("location.latitude", latitude, "must be between -90 and 90"));
        }
        if !(-180.0..=180.0).contains(&longitude) {
            return Err(self.invalid(
                "location.longitude",
                longitude,
                "must be between -180 and 180",
            ));
        }
        if raw.ipv4.is_empty() && raw.ipv6.is_empty() {
            return Err(self.invalid(
                "ipv4",
                "[]",
                "a region needs at least one ipv4 or ipv6 address",
            ));
        }
        if let Some(dup) = first_duplicate(&raw.ipv4) {
            return Err(self.invalid("ipv4", dup, "listed twice"));
        }
        if let Some(dup) = first_duplicate(&raw.ipv6) {
            return Err(self.invalid("ipv6", dup, "listed twice"));
        }
        if raw.listen.dns.is_empty() {
            return Err(self.invalid("listen.dns", "[]", "a node needs at least one DNS address"));
        }
        if let Some(dup) = first_duplicate(&raw.listen.dns) {
            return Err(self.invalid("listen.dns", dup, "listed twice"));
        }
        if let Some(wildcard) = raw
            .listen
            .dns
            .iter()
            .find(|addr| addr.ip().is_unspecified())
        {
            // A wildcard UDP socket may answer from another address than the one queried,
            // which resolvers drop: bind each service address explicitly.
            return Err(self.invalid(
                "listen.dns",
                wildcard,
                "list each address explicitly: a wildcard UDP socket can reply from the wrong address",
            ));
        }
        let status_url = match (raw.status_url, raw.listen.status) {
            (Some(url), _) => {
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(self.invalid(
                        "status_url",
                        &url,
                        "must be an http:// or https:// URL",
                    ));
                }
                url
            }
            (None, Some(status)) => format!("http://{status}/healthz"),
            (None, None) => {
                return Err(self.invalid(
                    "status_url",
                    "(missing)",
                    "set status_url or listen.status so peers can probe this region",
                ));
            }
        };
        if raw.capacity == 0 {
            return Err(self.invalid("capacity", 0, "must be at least 1"));
        }
        Ok(Region {
            id: RegionId(0),
            name: raw.name,
            location: Location {
                latitude,
                longitude,
            },
            ipv4: raw.ipv4,
            ipv6: raw.ipv6,
            listen: Listen {
                dns: raw.listen.dns,
                http: raw.listen.http,
                status: raw.listen.status,
            },
            status_url,
            capacity: raw.capacity,
        })
    }

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

    fn zone(&self, raw: &RawZone) -> Result<Zone, ConfigError> {
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
        let zone = Zone {
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

    fn services(&self, raw: &RawMain, zone: &Zone) -> Result<Vec<Service>, ConfigError> {
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
            services.push(Service { name, ttl });
        }
        Ok(services)
    }

    fn steering(
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

fn is_region_name(name: &str) -> bool {
    (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

fn is_upper_alpha(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_uppercase())
}

fn first_duplicate<T: Eq + std::hash::Hash + Copy + std::fmt::Debug>(
    items: &[T],
) -> Option<String> {
    let mut seen = HashSet::with_capacity(items.len());
    items
        .iter()
        .find(|item| !seen.insert(**item))
        .map(|item| format!("{item:?}"))
}
