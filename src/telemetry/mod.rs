//! The process's metrics recorder: every `metrics` handle of every node, exposed in the
//! Prometheus text format on the status listener's `/metrics`.
//!
//! Installed once per process, before a node registers its handles: a handle registered
//! before the recorder exists counts into nothing. Histograms whose name ends in `_seconds`
//! get fixed buckets (100 us to 10 s), so a scrape costs the same however many samples came in.
//! The DNS path's counts are kept apart, per thread, and appended ([`dns`], [`rate_limit`]).

pub mod dns;
pub mod rate_limit;

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

/// Latency buckets, in seconds.
const SECONDS_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

/// How often histogram samples are folded into their buckets between scrapes, so memory
/// stays bounded whether or not anybody scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the recorder (the first call in the process does; later calls return the same).
/// `None` when another recorder was installed first: `/metrics` then says so.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let installed = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".to_string()), SECONDS_BUCKETS)
                .and_then(PrometheusBuilder::install_recorder);
            match installed {
                Ok(handle) => {
                    metrics::gauge!("meridian_build_info", "version" => env!("CARGO_PKG_VERSION"))
                        .set(1.0);
                    // Every outcome from the start, so a dashboard's rate is 0 rather than
                    // missing before the first reload.
                    for outcome in ["applied", "unchanged", "failed"] {
                        metrics::counter!("meridian_config_reloads_total", "outcome" => outcome)
                            .increment(0);
                    }
                    // The same for health events: a node that has seen none yet still
                    // exports the family, so the Grafana panel reads 0, not "no data".
                    for kind in crate::health::events::EventKind::ALL {
                        metrics::counter!("meridian_health_events_total", "kind" => kind.name())
                            .increment(0);
                    }
                    Some(handle)
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot install the metrics recorder: /metrics stays empty");
                    None
                }
            }
        })
        .as_ref()
}

/// The exposition, or `None` when no recorder could be installed.
pub fn render() -> Option<String> {
    HANDLE.get().and_then(Option::as_ref).map(|handle| {
        handle.run_upkeep();
        let mut text = handle.render();
        dns::render_into(&mut text);
        rate_limit::render_into(&mut text);
        text
    })
}

/// Folds histogram samples into their buckets every few seconds until `shutdown`.
pub async fn upkeep(shutdown: CancellationToken) -> std::io::Result<()> {
    let mut every = tokio::time::interval(UPKEEP_EVERY);
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            _ = every.tick() => {
                if let Some(handle) = HANDLE.get().and_then(Option::as_ref) {
                    handle.run_upkeep();
                }
            }
        }
    }
}
