//! The operator's drain of one backend, applied: the proxy implements the status listener's
//! [`BackendControl`]. The drain is saved first (`health::backend_drain`), then set on the
//! backend's live state, which the balancer reads at every pick.
//!
//! A drained backend is never picked by the balancer, so it gets no new requests, but it
//! keeps what it has, as HAProxy's `drain` does: requests in flight finish, a sticky session
//! whose cookie names it keeps going to it while it is healthy (only if it goes down or
//! is ejected is the session re-picked, or refused with `on_down = "strict"`), and its
//! health checks go on, so `/healthz` still says when it fails. It counts as no healthy
//! capacity. When every backend is drained (or down), a request has nothing to pick and
//! spills to another region like one that finds every backend down.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::state::Proxy;
use crate::health::backend_drain::{BackendControl, DrainChange, DrainError};

impl BackendControl for Proxy {
    fn set_drained(&self, id: &str, drained: bool, by: &str) -> Result<DrainChange, DrainError> {
        let snapshot = self.snapshot();
        let configured = snapshot.index_of(id).is_some();
        // An id the config no longer has may still be undrained, to clean the file up.
        let cleanup = !drained && self.drains.is_drained(id);
        if !configured && !cleanup {
            let known: Vec<&str> = snapshot.backends.iter().map(|b| b.id.as_str()).collect();
            return Err(DrainError::UnknownBackend {
                region: self.region.clone(),
                id: id.to_string(),
                known: if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                },
            });
        }
        drop(snapshot);
        let at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let changed = self
            .drains
            .set(id, drained, by, at_unix_ms)
            .map_err(|error| DrainError::Save {
                file: self.drains.file().to_path_buf(),
                error,
            })?;
        {
            // Under the rebuild lock: a snapshot being built now has read the drains before
            // this (and is stored before the lock is free) or reads them after.
            let _no_rebuild = self
                .rebuilding
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for state in self.snapshot.load().backends.iter() {
                if state.id == id {
                    state.set_draining(drained);
                }
            }
        }
        self.publish_local_health();
        if changed {
            tracing::info!(
                region = %self.region,
                backend = id,
                by,
                "{}",
                if drained {
                    "backend drained: no new requests; requests in flight and sticky sessions go on"
                } else {
                    "backend undrained: it takes new requests again"
                }
            );
        }
        let report = {
            let snapshot = self.snapshot();
            let now = Instant::now();
            snapshot
                .backends
                .iter()
                .zip(&snapshot.settings.backends)
                .find(|(state, _)| state.id == id)
                .map(|(state, backend)| state.report(backend.weight, now))
        };
        Ok(DrainChange {
            region: self.region.clone(),
            backend: id.to_string(),
            drained,
            changed,
            report,
        })
    }
}
