//! Shared vocabulary for a region's HTTP proxy: its backends and how they are balanced,
//! checked, retried and protected. `config` builds these from `[proxy]` in
//! `regions/<name>.toml`; `proxy` reads them from the published view.

use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;

/// One backend of a region's proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Backend {
    /// Stable across reloads and nodes: sticky cookies and in-flight counts follow it,
    /// not the position in the list. `[A-Za-z0-9_-]{1,64}`, unique within the region.
    pub id: String,
    pub address: SocketAddr,
    /// Relative share of traffic, 1..=1000 (default 1).
    pub weight: u32,
}

/// How a request picks a backend.
#[derive(Debug, Clone, PartialEq)]
pub enum Policy {
    /// Each eligible backend in turn, weights ignored.
    RoundRobin,
    /// Smooth weighted round robin (nginx): weights respected, picks interleaved.
    WeightedRoundRobin,
    /// Least in-flight requests among two random eligible backends (weights scale the
    /// comparison).
    LeastRequest,
    /// A hash ring over the backends; a key always lands on the same backend unless that
    /// backend is ineligible or above `load_factor` times the mean load (bounded load).
    ConsistentHash { key: HashKey, load_factor: f64 },
}

/// What a consistent-hash policy hashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashKey {
    /// A request header, lower-case name. Missing header: the client IP.
    Header(String),
    /// A cookie by name. Missing cookie: the client IP.
    Cookie(String),
    ClientIp,
}

/// Active health checks: the proxy asks each backend for `path`.
#[derive(Debug, Clone, PartialEq)]
pub struct HealthCheck {
    /// Absolute path with optional query, sent as `GET`.
    pub path: String,
    /// Between checks of a healthy backend (default 1 s), jittered by +-`jitter`.
    pub interval: Duration,
    /// Between checks of a backend that failed its last check or is down (default 250 ms).
    pub fast_interval: Duration,
    /// Share of the interval, 0.0..=0.5 (default 0.2).
    pub jitter: f64,
    /// Per check (default 1 s).
    pub timeout: Duration,
    /// Statuses that count as success (default 200..=399).
    pub expect: RangeInclusive<u16>,
    /// Consecutive successes that bring a down backend back (default 2).
    pub rise: u32,
    /// Consecutive failures that take a backend down (default 2).
    pub fall: u32,
}

/// Passive outlier detection from live traffic.
#[derive(Debug, Clone, PartialEq)]
pub struct Outlier {
    /// Consecutive failures (connect failure, 5xx, timeout) that eject (default 3).
    pub consecutive_failures: u32,
    /// First ejection time; each repeat doubles it (default 5 s).
    pub base_ejection: Duration,
    /// Cap on the ejection time (default 300 s).
    pub max_ejection: Duration,
    /// At most this share of the backends is ejected at once, 0.0..=1.0 (default 0.5); at
    /// least one backend can always be ejected.
    pub max_ejected_share: f64,
}

/// Session persistence through a signed cookie naming a backend id.
#[derive(Debug, Clone, PartialEq)]
pub struct Sticky {
    /// Cookie name (default `meridian_backend`).
    pub cookie: String,
    /// `Max-Age`; `None` makes a session cookie (the default).
    pub lifetime: Option<Duration>,
    /// What happens when the cookie's backend is not available.
    pub on_down: StickyDown,
}

/// What a sticky request does when its backend is down or gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StickyDown {
    /// Pick another backend by the region's policy and rewrite the cookie (default).
    Repick,
    /// Answer 503: the application cannot move a session.
    Strict,
}

/// Timeouts of each phase of a proxied request.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeouts {
    /// TCP connect to a backend (default 1 s).
    pub connect: Duration,
    /// A client's whole request head; slower clients get 408 (default 10 s).
    pub request_head: Duration,
    /// From the request sent to the backend's response head (default 30 s).
    pub response_head: Duration,
    /// A downstream keep-alive connection with no request (default 60 s).
    pub client_idle: Duration,
    /// A pooled upstream connection with no request; keep it below the backends' own
    /// keep-alive timeout so they never close a connection we are about to use (default 4 s).
    pub upstream_idle: Duration,
}

/// Size limits on what clients send.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// Header fields per request; more gets 431 (default 100).
    pub max_header_count: usize,
    /// Bytes of the whole request head; more gets 431 (default 16 KiB, at least 8 KiB).
    pub max_header_bytes: usize,
    /// Bytes of a request body; more gets 413 (default 10 MiB).
    pub max_body_bytes: u64,
}

/// When a failed attempt is tried again on another backend.
#[derive(Debug, Clone, PartialEq)]
pub struct Retries {
    /// Extra attempts after the first (default 2). A request that never reached a backend
    /// is retried regardless of method; never on a backend already tried.
    pub attempts: u32,
    /// Failures after which an idempotent request is retried even though it was sent
    /// (default: none).
    pub idempotent_on: Vec<RetryOn>,
    /// Retries of requests that reached a backend may add at most this share of the
    /// region's requests over the last 10 s (default 0.2) ...
    pub budget_share: f64,
    /// ... plus this many per second (default 3). Requests that never reached a backend
    /// are retried outside the budget: they cost no backend anything.
    pub budget_min: u32,
}

/// A failure of a sent request that an idempotent request may be retried on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryOn {
    Timeout,
    Status502,
    Status503,
}

/// Per-client-IP rate limit (token bucket).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub per_second: NonZeroU32,
    pub burst: NonZeroU32,
}

/// Everything about a region's proxy. A region without `[proxy]` has no backends: its HTTP
/// listener spills every request to another region, or answers 503.
#[derive(Debug, Clone, PartialEq)]
pub struct ProxySettings {
    /// In file order; ids unique.
    pub backends: Vec<Backend>,
    pub policy: Policy,
    pub health: HealthCheck,
    pub outlier: Outlier,
    pub sticky: Option<Sticky>,
    pub timeouts: Timeouts,
    pub limits: Limits,
    pub retries: Retries,
    pub rate_limit: Option<RateLimit>,
    /// Peers whose `X-Forwarded-For` is kept and extended; from anyone else it is replaced.
    pub trusted_proxies: Vec<IpNet>,
    /// `/healthz` says 503 below this share of healthy capacity (weights), 0.0..=1.0
    /// (default 0.5).
    pub healthy_share: f64,
    /// A request that finds no backend to pick goes to the nearest healthy other region's
    /// proxy instead of a 503 (default true; a region without backends spills too).
    pub spillover: bool,
    /// One line per request (default off).
    pub access_log: AccessLog,
}

/// The per-request access log of a region's proxy (off by default).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessLog {
    pub format: AccessLogFormat,
    pub target: AccessLogTarget,
}

/// One line per request, in which format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum AccessLogFormat {
    /// No access log (the default).
    #[default]
    Off,
    /// NCSA Common Log Format: `client - - [time] "request" status bytes`.
    Common,
    /// Common plus `"referer" "user agent"`: Apache's and nginx's `combined`.
    Combined,
    /// One JSON object per line.
    Json,
}

/// Where the access log goes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AccessLogTarget {
    /// The process's standard output (`-`; the default). Meridian's own logs go to stderr.
    #[default]
    Stdout,
    /// A file, appended to, reopened on reload and when it is moved away.
    File(PathBuf),
}

impl AccessLog {
    pub fn is_on(&self) -> bool {
        self.format != AccessLogFormat::Off
    }
}

/// The HMAC key that signs sticky cookies, from `MERIDIAN_COOKIE_KEY` or `[admin]
/// cookie_key`. `Debug` prints no part of it.
#[derive(Clone, PartialEq, Eq)]
pub struct CookieKey(pub Vec<u8>);

impl fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CookieKey(<redacted>)")
    }
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            path: "/".to_string(),
            interval: Duration::from_secs(1),
            fast_interval: Duration::from_millis(250),
            jitter: 0.2,
            timeout: Duration::from_secs(1),
            expect: 200..=399,
            rise: 2,
            fall: 2,
        }
    }
}

impl Default for Outlier {
    fn default() -> Self {
        Self {
            consecutive_failures: 3,
            base_ejection: Duration::from_secs(5),
            max_ejection: Duration::from_secs(300),
            max_ejected_share: 0.5,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            connect: Duration::from_secs(1),
            request_head: Duration::from_secs(10),
            response_head: Duration::from_secs(30),
            client_idle: Duration::from_secs(60),
            upstream_idle: Duration::from_secs(4),
        }
    }
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_header_count: 100,
            max_header_bytes: 16 * 1024,
            max_body_bytes: 10 * 1024 * 1024,
        }
    }
}

impl Default for Retries {
    fn default() -> Self {
        Self {
            attempts: 2,
            idempotent_on: Vec::new(),
            budget_share: 0.2,
            budget_min: 3,
        }
    }
}

impl Default for ProxySettings {
    /// No backends; every other setting at its documented default.
    fn default() -> Self {
        Self {
            backends: Vec::new(),
            policy: Policy::RoundRobin,
            health: HealthCheck::default(),
            outlier: Outlier::default(),
            sticky: None,
            timeouts: Timeouts::default(),
            limits: Limits::default(),
            retries: Retries::default(),
            rate_limit: None,
            trusted_proxies: Vec::new(),
            healthy_share: 0.5,
            spillover: true,
            access_log: AccessLog::default(),
        }
    }
}
