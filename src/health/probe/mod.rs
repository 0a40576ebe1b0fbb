//! One probe of a region's status URL: did it answer, how fast, and what it says of itself.
//!
//! The monitor probes every region each interval through one shared
//! [`Prober`], which keeps connections alive, and now and then on a fresh connection: a
//! reused connection can stay healthy while new ones fail (a full accept queue, a firewall
//! that drops new flows). Probes may leave from the node's own address, so that network rules
//! can tell nodes apart.
//!
//! A probe succeeds when the region answers `/healthz` with 200, or with 503 and a JSON body
//! giving the reason: both say the region is reachable, and the 503 is its self-report
//! ([`SelfReport::Unhealthy`]), counted by the verdict apart from reachability. Anything else
//! (no connection, a timeout, another status, a body that is not the status JSON) fails.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use super::gossip::Gossip;
use super::quorum::SelfReport;

/// What one probe found.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeResult {
    /// The region answered its status endpoint.
    pub ok: bool,
    /// From sending the request to the end of the response (or the failure).
    pub latency: Duration,
    /// What the region says of itself ([`SelfReport::Unknown`] when it did not answer).
    pub report: SelfReport,
    /// Why the probe failed, for logs and the timeline.
    pub error: Option<String>,
    /// What the responder gossips (its votes, config hash, operator state), when it
    /// answered with some that could be read.
    pub gossip: Option<Gossip>,
    /// The backends the region lists (its `/healthz` `backends`), for the dashboard.
    pub backends: Option<serde_json::Value>,
}

/// The HTTP clients of one node's probes: one that keeps connections alive and one that
/// opens a new connection for every probe.
#[derive(Debug, Clone)]
pub struct Prober {
    pooled: reqwest::Client,
    fresh: reqwest::Client,
}

impl Prober {
    /// Clients with a connect timeout and a whole-probe `timeout`, sending from `local` when
    /// given.
    pub fn new(timeout: Duration, local: Option<IpAddr>) -> reqwest::Result<Self> {
        let build = |keep_alive: bool| {
            let mut builder = reqwest::Client::builder()
                .no_proxy()
                .connect_timeout(timeout)
                .timeout(timeout)
                .user_agent(concat!("meridian-probe/", env!("CARGO_PKG_VERSION")));
            if !keep_alive {
                builder = builder.pool_max_idle_per_host(0);
            }
            if let Some(local) = local {
                builder = builder.local_address(local);
            }
            builder.build()
        };
        Ok(Self {
            pooled: build(true)?,
            fresh: build(false)?,
        })
    }

    /// Probes `url` once, on a new connection when `fresh`.
    pub async fn probe(&self, url: &str, fresh: bool) -> ProbeResult {
        let client = if fresh { &self.fresh } else { &self.pooled };
        let started = Instant::now();
        let outcome = async {
            let response = client.get(url).send().await?;
            let status = response.status().as_u16();
            let body = response.bytes().await?;
            Ok::<_, reqwest::Error>((status, body))
        }
        .await;
        let latency = started.elapsed();
        let mut backends = None;
        let (ok, report, error, gossip) = match outcome {
            Ok((status, body)) => {
                let json: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
                let (ok, report, error) = judge(status, json.as_ref());
                let gossip = json
                    .as_ref()
                    .filter(|_| ok)
                    .and_then(Gossip::from_status_body);
                backends = json.as_ref().and_then(|json| json.get("backends")).cloned();
                (ok, report, error, gossip)
            }
            Err(error) => (false, SelfReport::Unknown, Some(describe(&error)), None),
        };
        ProbeResult {
            ok,
            latency,
            report,
            error,
            gossip,
            backends,
        }
    }
}

/// Reads a status response: (reachable, self-report, why not).
fn judge(status: u16, json: Option<&serde_json::Value>) -> (bool, SelfReport, Option<String>) {
    match (status, json) {
        (200, Some(_)) => (true, SelfReport::Healthy, None),
        (503, Some(json)) => {
            let reason = json
                .get("reason")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("unhealthy, no reason given")
                .to_string();
            (true, SelfReport::Unhealthy(reason), None)
        }
        (status, Some(_)) => (
            false,
            SelfReport::Unknown,
            Some(format!("status endpoint answered {status}")),
        ),
        (status, None) => (
            false,
            SelfReport::Unknown,
            Some(format!(
                "status endpoint answered {status} without its JSON"
            )),
        ),
    }
}

/// A probe failure in a few words: timeouts and refused connections are the common ones.
fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_string()
    } else if error.is_connect() {
        format!("cannot connect: {}", root_cause(error))
    } else {
        root_cause(error)
    }
}

fn root_cause(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests;
