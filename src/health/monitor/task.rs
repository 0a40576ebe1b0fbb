//! The monitor task: sends the probes the core asks for, feeds it the results, and publishes
//! its verdicts into the node's view.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::Monitor;
use crate::health::operator;
use crate::health::probe::{ProbeResult, Prober};
use crate::health::quorum::SelfReport;
use crate::region::PeerAddresses;
use crate::view::{SharedView, View};

/// How often verdicts are decided again without a new result: ballots age out and
/// hold-downs end with time alone.
const DECIDE_EVERY: Duration = Duration::from_millis(100);

/// Probes every region of the current view until `shutdown`, publishing verdicts into
/// `view`. `peers` says where regions really listen when not where the config says; probes
/// leave from `source` when given (so network rules can tell nodes apart).
pub async fn run(
    monitor: Arc<Monitor>,
    view: SharedView,
    peers: PeerAddresses,
    source: Option<IpAddr>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    let mut timeout = view.load().config.health.probes.timeout;
    let mut prober = Prober::new(timeout, source).map_err(std::io::Error::other)?;
    let random = RandomState::new();
    let mut draws = 0u64;
    let mut unit = move || {
        draws += 1;
        (random.hash_one(draws) >> 11) as f64 / (1u64 << 53) as f64
    };
    let mut probes: JoinSet<(String, Instant, ProbeResult)> = JoinSet::new();
    let mut save_pending = false;
    loop {
        let current = view.load_full();
        if current.config.health.probes.timeout != timeout {
            // A reload changed the timeout: the clients carry it, so they are built again.
            timeout = current.config.health.probes.timeout;
            prober = Prober::new(timeout, source).map_err(std::io::Error::other)?;
        }
        let now = Instant::now();
        let due = {
            let mut core = monitor.core();
            let regions = current.config.region_names();
            core.sync(&regions, &current.config.health, now);
            core.due(now, &mut unit)
        };
        for probe in due {
            let Some(region) = current.config.region_by_name(&probe.region) else {
                continue;
            };
            let url = peers.status_url(region);
            let (prober, cut) = (prober.clone(), monitor.is_cut(&probe.region));
            probes.spawn(async move {
                let sent = Instant::now();
                let result = if cut {
                    // As behind a dropped link: nothing comes back before the timeout.
                    tokio::time::sleep(timeout).await;
                    cut_result()
                } else {
                    prober.probe(&url, probe.fresh).await
                };
                (probe.region, sent, result)
            });
        }
        let next_due = monitor.core().next_due();
        let wait = next_due
            .map_or(DECIDE_EVERY, |at| at.saturating_duration_since(now))
            .min(DECIDE_EVERY);
        tokio::select! {
            _ = shutdown.cancelled() => break,
            Some(joined) = probes.join_next() => {
                if let Ok((region, sent, result)) = joined {
                    let observed = monitor.core().observe(
                        &region,
                        sent,
                        &result,
                        Instant::now(),
                        &monitor.timeline,
                    );
                    save_pending |= observed.operator_changed;
                }
            }
            _ = tokio::time::sleep(wait) => {}
            _ = monitor.wake.notified() => {}
        }
        if save_pending {
            // Entries heard from gossip are saved too, so a restart does not forget them; a
            // failed save is tried again on the next round.
            let state = monitor.core().operator().clone();
            match operator::save(monitor.state_file(), &state) {
                Ok(()) => save_pending = false,
                Err(error) => tracing::error!(
                    file = %monitor.state_file().display(),
                    %error,
                    "cannot save the operator state; will try again"
                ),
            }
        }
        let now = Instant::now();
        let snapshot = {
            let mut core = monitor.core();
            core.settle(now, &monitor.timeline);
            core.decide(now, &monitor.timeline)
        };
        if let Some(snapshot) = snapshot {
            View::publish_health(&view, Arc::new(snapshot));
        }
    }
    probes.shutdown().await;
    Ok(())
}

/// What a probe cut by the demo's chaos control finds: nothing, as behind a dropped link.
fn cut_result() -> ProbeResult {
    ProbeResult {
        ok: false,
        latency: Duration::ZERO,
        report: SelfReport::Unknown,
        error: Some("cut by the demo's chaos control".to_string()),
        gossip: None,
        backends: None,
    }
}
