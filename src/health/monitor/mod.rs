//! The health monitor of one node: probes every region, learns every other node's votes from
//! the same probes, decides the verdicts with the quorum rules and publishes them into the
//! node's view.
//!
//! [`Core`] holds the state and the rules (no I/O: it takes results and instants); [`run`]
//! is the task that probes, feeds the core and publishes. [`Monitor`] is the shared handle the
//! status listener reads (gossip for `/healthz`, votes and verdicts for the API) and the admin
//! API writes (drains and force-ups, saved to the state file before they apply).

mod core;
mod task;

#[cfg(test)]
mod tests;

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::Notify;

pub use self::core::{Core, DueProbe, Observed, PeerInfo, Target};
pub use task::run;

use super::events::{EventKind, Timeline};
use super::gossip::Gossip;
use super::operator::{self, OperatorEntry, OperatorFileError, OperatorState};
use super::quorum::Operator;
use crate::config::RegionHealthSettings;
use crate::view::{SharedView, View};

/// The shared handle of one node's monitor.
#[derive(Debug)]
pub struct Monitor {
    core: Mutex<Core>,
    pub timeline: Timeline,
    state_file: PathBuf,
    /// Wakes the task after an operator change, so the verdict follows at once.
    wake: Notify,
    /// Demo chaos: regions this node's probes are made to fail for, as a partition would.
    cuts: Mutex<BTreeSet<String>>,
}

impl Monitor {
    /// The monitor of `local`'s node, with the operator state read back from its state file
    /// (the folder is created if missing). A state file that exists but cannot be read is an
    /// error: starting empty could bring back a drain the operator has since lifted.
    pub fn new(local: &str, settings: &RegionHealthSettings) -> Result<Self, OperatorFileError> {
        let state_file = settings.state_file(local);
        let state = operator::load(&state_file)?;
        if let Some(dir) = state_file.parent() {
            std::fs::create_dir_all(dir).map_err(|error| OperatorFileError::Read {
                path: dir.to_path_buf(),
                error,
            })?;
        }
        Ok(Self {
            core: Mutex::new(Core::new(local, settings.clone(), state)),
            timeline: Timeline::new(),
            state_file,
            wake: Notify::new(),
            cuts: Mutex::new(BTreeSet::new()),
        })
    }

    /// The state, locked; held only for reads and short updates (never across an await).
    pub fn core(&self) -> MutexGuard<'_, Core> {
        self.core.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What `/healthz` gossips now, for the node named `node` running `version` on the config
    /// `config_hash`.
    pub fn gossip(&self, node: &str, version: &str, config_hash: &str) -> Gossip {
        let now = Instant::now();
        let myself = PeerInfo {
            node: node.to_string(),
            version: version.to_string(),
            config_hash: config_hash.to_string(),
            heard: now,
            votes: Default::default(),
        };
        self.core().gossip(&myself, now)
    }

    pub fn state_file(&self) -> &Path {
        &self.state_file
    }

    /// Drains, forces up or clears (`Operator::None`) `region`, as done through this node by
    /// `by`. The new state is saved before it applies: when the save fails, nothing changes
    /// and the error says why.
    pub fn set_operator(
        &self,
        region: &str,
        state: Operator,
        by: &str,
    ) -> io::Result<OperatorEntry> {
        let at_unix_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        let entry = {
            let mut core = self.core();
            let mut candidate: OperatorState = core.operator().clone();
            let entry = candidate.set(region, state, by, at_unix_ms).clone();
            operator::save(&self.state_file, &candidate)?;
            core.set_operator_state(candidate);
            entry
        };
        self.timeline.record(
            EventKind::Operator,
            region,
            "",
            self::core::operator_word(state),
            &format!("set through this node (version {})", entry.version),
            vec![by.to_string()],
        );
        self.wake.notify_one();
        Ok(entry)
    }

    /// Publishes the verdicts known before any probe (the operator's drains and force-ups read
    /// back from the state file; every other region up) into `view`: called before the node
    /// answers its first query, so a drained region is never answered with after a restart.
    pub fn publish_initial(&self, view: &SharedView) {
        let current = view.load_full();
        let regions = current.config.region_names();
        let now = Instant::now();
        let snapshot = {
            let mut core = self.core();
            core.sync(&regions, &current.config.health, now);
            core.decide(now, &self.timeline)
        };
        if let Some(snapshot) = snapshot {
            View::publish_health(view, std::sync::Arc::new(snapshot));
        }
    }

    /// Demo chaos: makes this node's probes of `region` fail (`cut`) or work again.
    pub fn cut(&self, region: &str, cut: bool) {
        let mut cuts = self.cuts.lock().unwrap_or_else(|e| e.into_inner());
        if cut {
            cuts.insert(region.to_string());
        } else {
            cuts.remove(region);
        }
    }

    fn is_cut(&self, region: &str) -> bool {
        self.cuts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(region)
    }
}
