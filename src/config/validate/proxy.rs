//! Rules for `[proxy]` in a region file: backends, the balancing policy, health checks,
//! outlier detection, sticky sessions, timeouts, limits, retries, the rate limit and the
//! access log.

use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::path::Path;
use std::time::Duration;

use ipnet::IpNet;

use super::Checker;
use crate::config::ConfigError;
use crate::config::raw::{
    DEFAULT_LOAD_FACTOR, RawBackend, RawHashKey, RawHealth, RawLimits, RawOutlier, RawProxy,
    RawRateLimit, RawRetries, RawSticky, RawTimeouts,
};
use crate::region::Listen;
use crate::region::proxy::{
    AccessLog, AccessLogFormat, AccessLogTarget, Backend, HashKey, HealthCheck, Limits, Outlier,
    Policy, ProxySettings, RateLimit, Retries, RetryOn, Sticky, StickyDown, Timeouts,
};

/// Health checks further apart than this would notice a dead backend too late to matter.
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// A cap on timeouts and ejections: longer is a typo, and it keeps `Instant + timeout` far
/// from overflowing wherever the proxy adds one.
const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Browsers cap `Max-Age` at 400 days (RFC 6265bis); a longer lifetime would be cut anyway.
const MAX_COOKIE_LIFETIME_SECONDS: u64 = 400 * 24 * 3600;

/// hyper refuses a read buffer smaller than 8 KiB; above 1 MiB a header is an attack.
const HEADER_BYTES: std::ops::RangeInclusive<usize> = 8192..=1024 * 1024;

const POLICIES: &str = "round-robin, weighted-round-robin, least-request or consistent-hash";

impl Checker<'_> {
    /// `listen` is the region's own sockets: a backend must not be one of them. `base` is
    /// the folder of `meridian.toml`, which `access_log_path` is relative to.
    pub(super) fn proxy(
        &self,
        raw: Option<RawProxy>,
        listen: &Listen,
        base: &Path,
    ) -> Result<ProxySettings, ConfigError> {
        let Some(raw) = raw else {
            return Ok(ProxySettings::default());
        };
        Ok(ProxySettings {
            backends: self.backends(&raw.backends, listen)?,
            policy: self.policy(&raw)?,
            health: self.health(raw.health)?,
            outlier: self.outlier(&raw.outlier)?,
            sticky: raw.sticky.map(|sticky| self.sticky(sticky)).transpose()?,
            timeouts: self.timeouts(&raw.timeouts)?,
            limits: self.limits(&raw.limits)?,
            retries: self.retries(raw.retries)?,
            rate_limit: raw
                .rate_limit
                .map(|limit| self.rate_limit(&limit))
                .transpose()?,
            trusted_proxies: self.trusted_proxies(&raw.trusted_proxies)?,
            healthy_share: self.share("proxy.healthy_share", raw.healthy_share)?,
            spillover: raw.spillover,
            access_log: self.access_log(&raw.access_log, raw.access_log_path.as_deref(), base)?,
        })
    }

    /// `access_log` and `access_log_path`. The path may be given while the log is off (to
    /// turn it on with one key); the folder must exist once it is on, so a typo is refused
    /// here rather than lost at run time.
    fn access_log(
        &self,
        format: &str,
        path: Option<&Path>,
        base: &Path,
    ) -> Result<AccessLog, ConfigError> {
        let format = match format {
            "off" => AccessLogFormat::Off,
            "common" => AccessLogFormat::Common,
            "combined" => AccessLogFormat::Combined,
            "json" => AccessLogFormat::Json,
            other => {
                return Err(self.invalid(
                    "proxy.access_log",
                    other,
                    "expected off, common, combined or json",
                ));
            }
        };
        let key = "proxy.access_log_path";
        let target = match path {
            None => AccessLogTarget::Stdout,
            Some(path) if path == Path::new("-") => AccessLogTarget::Stdout,
            Some(path) if path.as_os_str().is_empty() => {
                return Err(self.invalid(
                    key,
                    "\"\"",
                    "must name a file, or \"-\" for standard output",
                ));
            }
            Some(path) => AccessLogTarget::File(base.join(path)),
        };
        if let (AccessLogTarget::File(file), true) = (&target, format != AccessLogFormat::Off) {
            let shown = path.map_or_else(String::new, |p| p.display().to_string());
            if file.is_dir() {
                return Err(self.invalid(key, shown, "is a folder: name a file in it"));
            }
            match file.parent() {
                Some(folder) if folder.is_dir() => {}
                folder => {
                    return Err(self.invalid(
                        key,
                        shown,
                        format!(
                            "the folder {} does not exist (the file is created, its folder is not)",
                            folder.map_or_else(String::new, |f| f.display().to_string())
                        ),
                    ));
                }
            }
        }
        Ok(AccessLog { format, target })
    }

    fn backends(&self, raw: &[RawBackend], listen: &Listen) -> Result<Vec<Backend>, ConfigError> {
        if raw.is_empty() {
            return Err(self.invalid(
                "proxy.backend",
                "[]",
                "[proxy] needs at least one [[proxy.backend]]; remove [proxy] from a region without a proxy",
            ));
        }
        let mut backends: Vec<Backend> = Vec::with_capacity(raw.len());
        for (index, backend) in raw.iter().enumerate() {
            let key = |field: &str| format!("proxy.backend[{index}].{field}");
            if !is_backend_id(&backend.id) {
                return Err(self.invalid(
                    key("id"),
                    &backend.id,
                    "use letters, digits, '-' and '_' (1-64 characters)",
                ));
            }
            if let Some(other) = backends.iter().position(|other| other.id == backend.id) {
                return Err(self.invalid(
                    key("id"),
                    &backend.id,
                    format!("proxy.backend[{other}] has the same id: ids must be unique"),
                ));
            }
            self.backend_address(&key("address"), backend.address, listen)?;
            let address = canonical_addr(backend.address);
            if let Some(other) = backends.iter().position(|other| other.address == address) {
                return Err(self.invalid(
                    key("address"),
                    backend.address,
                    format!("proxy.backend[{other}] has the same address"),
                ));
            }
            if !(1..=1000).contains(&backend.weight) {
                return Err(self.invalid(
                    key("weight"),
                    backend.weight,
                    "must be between 1 and 1000",
                ));
            }
            backends.push(Backend {
                id: backend.id.clone(),
                address,
                weight: backend.weight,
            });
        }
        Ok(backends)
    }

    fn backend_address(
        &self,
        key: &str,
        address: SocketAddr,
        listen: &Listen,
    ) -> Result<(), ConfigError> {
        if address.port() == 0 {
            return Err(self.invalid(key, address, "a backend needs a port"));
        }
        if address.ip().is_unspecified() {
            return Err(self.invalid(
                key,
                address,
                "a wildcard address names no backend: give the backend's own address",
            ));
        }
        let own = listen
            .http
            .map(|addr| ("listen.http", addr))
            .into_iter()
            .chain(listen.status.map(|addr| ("listen.status", addr)))
            .chain(listen.dns.iter().map(|addr| ("listen.dns", *addr)));
        for (own_key, own_addr) in own {
            if reaches(own_addr, address) {
                let consequence = if own_key == "listen.http" {
                    "the proxy would send every request back to itself"
                } else {
                    "that socket is not an HTTP backend"
                };
                return Err(self.invalid(
                    key,
                    address,
                    format!("this is the region's own {own_key} ({own_addr}): {consequence}"),
                ));
            }
        }
        Ok(())
    }

    fn policy(&self, raw: &RawProxy) -> Result<Policy, ConfigError> {
        let policy = match raw.policy.as_str() {
            "round-robin" => Policy::RoundRobin,
            "weighted-round-robin" => Policy::WeightedRoundRobin,
            "least-request" => Policy::LeastRequest,
            "consistent-hash" => {
                let key = match &raw.hash {
                    None | Some(RawHashKey::ClientIp) => HashKey::ClientIp,
                    Some(RawHashKey::Header(name)) => {
                        if !is_token(name) {
                            return Err(self.invalid(
                                "proxy.hash.header",
                                name,
                                "not a header name (letters, digits and !#$%&'*+-.^_`|~)",
                            ));
                        }
                        HashKey::Header(name.to_ascii_lowercase())
                    }
                    Some(RawHashKey::Cookie(name)) => {
                        self.cookie_name("proxy.hash.cookie", name)?;
                        HashKey::Cookie(name.clone())
                    }
                };
                let load_factor = raw.load_factor.unwrap_or(DEFAULT_LOAD_FACTOR);
                // Written so that NaN fails too.
                if !(load_factor > 1.0 && load_factor.is_finite()) {
                    return Err(self.invalid(
                        "proxy.load_factor",
                        load_factor,
                        "must be a finite number above 1.0: each backend may take this many times the mean load",
                    ));
                }
                return Ok(Policy::ConsistentHash { key, load_factor });
            }
            other => {
                return Err(self.invalid("proxy.policy", other, format!("expected {POLICIES}")));
            }
        };
        let only_hashing = format!(
            "only a consistent-hash policy uses it (policy = \"{}\")",
            raw.policy
        );
        if let Some(hash) = &raw.hash {
            return Err(self.invalid("proxy.hash", show_hash_key(hash), only_hashing));
        }
        if let Some(load_factor) = raw.load_factor {
            return Err(self.invalid("proxy.load_factor", load_factor, only_hashing));
        }
        Ok(policy)
    }

    fn health(&self, raw: RawHealth) -> Result<HealthCheck, ConfigError> {
        if !raw.path.starts_with('/') || !raw.path.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(self.invalid(
                "proxy.health.path",
                &raw.path,
                "must be an absolute path starting with '/', printable ASCII without spaces",
            ));
        }
        let interval = self.millis("proxy.health.interval_ms", raw.interval_ms, MAX_INTERVAL)?;
        let fast_interval = self.millis(
            "proxy.health.fast_interval_ms",
            raw.fast_interval_ms,
            MAX_INTERVAL,
        )?;
        if !(0.0..=0.5).contains(&raw.jitter) {
            return Err(self.invalid(
                "proxy.health.jitter",
                raw.jitter,
                "must be between 0.0 and 0.5 (a share of the interval)",
            ));
        }
        let timeout = self.millis("proxy.health.timeout_ms", raw.timeout_ms, MAX_TIMEOUT)?;
        let [lowest, highest] = raw.expect;
        if !(100..=599).contains(&lowest) || !(100..=599).contains(&highest) || lowest > highest {
            return Err(self.invalid(
                "proxy.health.expect",
                format!("[{lowest}, {highest}]"),
                "must be [lowest, highest] HTTP statuses, both within 100..=599, lowest first",
            ));
        }
        for (key, count) in [
            ("proxy.health.rise", raw.rise),
            ("proxy.health.fall", raw.fall),
        ] {
            if count == 0 {
                return Err(self.invalid(key, count, "must be at least 1"));
            }
        }
        Ok(HealthCheck {
            path: raw.path,
            interval,
            fast_interval,
            jitter: raw.jitter,
            timeout,
            expect: lowest..=highest,
            rise: raw.rise,
            fall: raw.fall,
        })
    }

    fn outlier(&self, raw: &RawOutlier) -> Result<Outlier, ConfigError> {
        if raw.consecutive_failures == 0 {
            return Err(self.invalid(
                "proxy.outlier.consecutive_failures",
                0,
                "must be at least 1",
            ));
        }
        let base_ejection = self.millis(
            "proxy.outlier.base_ejection_ms",
            raw.base_ejection_ms,
            MAX_TIMEOUT,
        )?;
        let max_ejection = self.millis(
            "proxy.outlier.max_ejection_ms",
            raw.max_ejection_ms,
            MAX_TIMEOUT,
        )?;
        if max_ejection < base_ejection {
            return Err(self.invalid(
                "proxy.outlier.max_ejection_ms",
                raw.max_ejection_ms,
                format!(
                    "must be at least base_ejection_ms ({})",
                    raw.base_ejection_ms
                ),
            ));
        }
        Ok(Outlier {
            consecutive_failures: raw.consecutive_failures,
            base_ejection,
            max_ejection,
            max_ejected_share: self
                .share("proxy.outlier.max_ejected_share", raw.max_ejected_share)?,
        })
    }

    fn sticky(&self, raw: RawSticky) -> Result<Sticky, ConfigError> {
        self.cookie_name("proxy.sticky.cookie", &raw.cookie)?;
        let lifetime = match raw.lifetime_seconds {
            None => None,
            Some(seconds @ 1..=MAX_COOKIE_LIFETIME_SECONDS) => Some(Duration::from_secs(seconds)),
            Some(seconds) => {
                return Err(self.invalid(
                    "proxy.sticky.lifetime_seconds",
                    seconds,
                    format!(
                        "must be between 1 and {MAX_COOKIE_LIFETIME_SECONDS} (400 days, the most browsers keep); leave it out for a session cookie"
                    ),
                ));
            }
        };
        let on_down = match raw.on_down.as_str() {
            "repick" => StickyDown::Repick,
            "strict" => StickyDown::Strict,
            other => {
                return Err(self.invalid(
                    "proxy.sticky.on_down",
                    other,
                    "expected repick (another backend) or strict (503)",
                ));
            }
        };
        Ok(Sticky {
            cookie: raw.cookie,
            lifetime,
            on_down,
        })
    }

    fn timeouts(&self, raw: &RawTimeouts) -> Result<Timeouts, ConfigError> {
        let timeout = |field: &str, millis: u64| {
            self.millis(&format!("proxy.timeouts.{field}"), millis, MAX_TIMEOUT)
        };
        Ok(Timeouts {
            connect: timeout("connect_ms", raw.connect_ms)?,
            request_head: timeout("request_head_ms", raw.request_head_ms)?,
            response_head: timeout("response_head_ms", raw.response_head_ms)?,
            client_idle: timeout("client_idle_ms", raw.client_idle_ms)?,
            upstream_idle: timeout("upstream_idle_ms", raw.upstream_idle_ms)?,
        })
    }

    fn limits(&self, raw: &RawLimits) -> Result<Limits, ConfigError> {
        if !(1..=1000).contains(&raw.max_header_count) {
            return Err(self.invalid(
                "proxy.limits.max_header_count",
                raw.max_header_count,
                "must be between 1 and 1000",
            ));
        }
        if !HEADER_BYTES.contains(&raw.max_header_bytes) {
            return Err(self.invalid(
                "proxy.limits.max_header_bytes",
                raw.max_header_bytes,
                format!(
                    "must be between {} (the smallest buffer hyper accepts) and {} (1 MiB)",
                    HEADER_BYTES.start(),
                    HEADER_BYTES.end()
                ),
            ));
        }
        Ok(Limits {
            max_header_count: raw.max_header_count,
            max_header_bytes: raw.max_header_bytes,
            max_body_bytes: raw.max_body_bytes,
        })
    }

    fn retries(&self, raw: RawRetries) -> Result<Retries, ConfigError> {
        let mut idempotent_on = Vec::with_capacity(raw.idempotent_on.len());
        for name in &raw.idempotent_on {
            let failure = match name.as_str() {
                "timeout" => RetryOn::Timeout,
                "502" => RetryOn::Status502,
                "503" => RetryOn::Status503,
                other => {
                    return Err(self.invalid(
                        "proxy.retries.idempotent_on",
                        other,
                        "expected \"timeout\", \"502\" or \"503\"",
                    ));
                }
            };
            if idempotent_on.contains(&failure) {
                return Err(self.invalid("proxy.retries.idempotent_on", name, "listed twice"));
            }
            idempotent_on.push(failure);
        }
        Ok(Retries {
            attempts: raw.attempts,
            idempotent_on,
            budget_share: self.share("proxy.retries.budget_share", raw.budget_share)?,
            budget_min: raw.budget_min,
        })
    }

    fn rate_limit(&self, raw: &RawRateLimit) -> Result<RateLimit, ConfigError> {
        let at_least_one = |key: &str, value: u32| {
            NonZeroU32::new(value).ok_or_else(|| self.invalid(key, value, "must be at least 1"))
        };
        let per_second = at_least_one("proxy.rate_limit.per_second", raw.per_second)?;
        let burst = match raw.burst {
            Some(burst) => at_least_one("proxy.rate_limit.burst", burst)?,
            None => per_second.saturating_add(per_second.get()),
        };
        Ok(RateLimit { per_second, burst })
    }

    fn trusted_proxies(&self, raw: &[String]) -> Result<Vec<IpNet>, ConfigError> {
        self.networks(
            |_| "proxy.trusted_proxies".to_string(),
            raw,
            "10.0.0.0/8 or 192.0.2.7",
        )
    }

    /// A duration in milliseconds: at least 1, at most `max`.
    pub(super) fn millis(
        &self,
        key: &str,
        millis: u64,
        max: Duration,
    ) -> Result<Duration, ConfigError> {
        let duration = Duration::from_millis(millis);
        if millis == 0 || duration > max {
            return Err(self.invalid(
                key,
                millis,
                format!("must be between 1 and {} (milliseconds)", max.as_millis()),
            ));
        }
        Ok(duration)
    }

    /// A share of something: 0.0..=1.0 (NaN is refused too).
    fn share(&self, key: &str, share: f64) -> Result<f64, ConfigError> {
        if !(0.0..=1.0).contains(&share) {
            return Err(self.invalid(key, share, "must be between 0.0 and 1.0"));
        }
        Ok(share)
    }

    /// A cookie name is an RFC 6265 token: visible ASCII without separators.
    fn cookie_name(&self, key: &str, name: &str) -> Result<(), ConfigError> {
        if !is_token(name) {
            return Err(self.invalid(
                key,
                name,
                "not a cookie name: letters, digits and !#$%&'*+-.^_`|~ only (RFC 6265 token)",
            ));
        }
        Ok(())
    }
}

/// Whether a socket bound at `own` would receive what is sent to `backend`: the same
/// address, or a wildcard on the same port and a backend on loopback. (A wildcard also
/// receives on the host's other addresses, which this cannot know.)
fn reaches(own: SocketAddr, backend: SocketAddr) -> bool {
    let (own, backend) = (canonical_addr(own), canonical_addr(backend));
    own.port() == backend.port()
        && (own.ip() == backend.ip() || (own.ip().is_unspecified() && backend.ip().is_loopback()))
}

/// IPv4-mapped IPv6 addresses become IPv4, so one backend cannot hide under two spellings.
fn canonical_addr(address: SocketAddr) -> SocketAddr {
    SocketAddr::new(address.ip().to_canonical(), address.port())
}

/// `[A-Za-z0-9_-]{1,64}`: safe in a cookie value, a log line and a metric label.
fn is_backend_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An HTTP token (RFC 9110 `tchar`, the same set as RFC 6265's cookie-name token).
fn is_token(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

fn show_hash_key(hash: &RawHashKey) -> String {
    match hash {
        RawHashKey::Header(name) => format!("{{ header = \"{name}\" }}"),
        RawHashKey::Cookie(name) => format!("{{ cookie = \"{name}\" }}"),
        RawHashKey::ClientIp => "client-ip".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use std::net::SocketAddr;

    use super::{is_backend_id, is_token, reaches};

    #[test]
    fn backend_ids_are_short_and_plain() {
        for id in ["eu-west-0", "A_b-9", &"x".repeat(64)] {
            assert!(is_backend_id(id), "{id}");
        }
        for id in ["", "eu west", "eu.west", "é", "a/b", &"x".repeat(65)] {
            assert!(!is_backend_id(id), "{id}");
        }
    }

    #[test]
    fn tokens_refuse_separators_and_controls() {
        for name in ["meridian_backend", "X-User", "a!#$%&'*+-.^_`|~z", "1"] {
            assert!(is_token(name), "{name}");
        }
        for name in [
            "", "a b", "a;b", "a=b", "a,b", "\"a\"", "a\tb", "é", "a/b", "(a)",
        ] {
            assert!(!is_token(name), "{name}");
        }
    }

    #[test]
    fn a_backend_reaches_the_node_at_its_address_or_under_its_wildcard() {
        let addr = |text: &str| text.parse::<SocketAddr>().unwrap();
        assert!(reaches(addr("127.0.2.1:8080"), addr("127.0.2.1:8080")));
        assert!(reaches(
            addr("127.0.2.1:8080"),
            addr("[::ffff:127.0.2.1]:8080")
        ));
        assert!(reaches(addr("0.0.0.0:8080"), addr("127.0.0.1:8080")));
        assert!(reaches(addr("[::]:8080"), addr("[::1]:8080")));
        assert!(!reaches(addr("127.0.2.1:8080"), addr("127.0.2.1:9000")));
        assert!(!reaches(addr("127.0.2.1:8080"), addr("127.0.2.2:8080")));
        assert!(!reaches(addr("0.0.0.0:8080"), addr("192.0.2.1:8080")));
    }
}
