//! Live config: load the config and geo database into a [`View`], and reload them into a new
//! view, published with one store, when asked (SIGHUP, `POST /-/reload`) or when a file
//! changes on disk.
//!
//! A reload reads and validates everything before it publishes anything: an invalid config
//! or database is refused whole (logged and counted by the caller) and the running view
//! stays. What a view cannot change (this node's listen addresses) is refused as needing a
//! restart rather than half applied.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use tokio_util::sync::CancellationToken;

use crate::config::{Config, ConfigError};
use crate::decision::SteeringMap;
use crate::geo::{GeoDb, GeoError};
use crate::health::HealthSnapshot;
use crate::region::Listen;
use crate::view::{SharedView, View};

/// Where a node's configuration comes from.
#[derive(Debug, Clone)]
pub struct Source {
    pub config: PathBuf,
    /// `--geo-db`: used instead of the config's database, on every reload too.
    pub geo_override: Option<PathBuf>,
}

/// Why a config or database was not (re)loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Geo(#[from] GeoError),
    #[error("{file}: {key} changed from {old} to {new}: listen addresses need a restart")]
    NeedsRestart {
        file: String,
        key: String,
        old: String,
        new: String,
    },
    #[error(
        "region {0} is no longer in the config: a node cannot change its region without a restart"
    )]
    RegionGone(String),
}

impl Source {
    /// Reads and validates the config (with the geo override applied).
    pub fn load_config(&self) -> Result<Config, ConfigError> {
        let mut config = Config::load(&self.config)?;
        if let Some(path) = &self.geo_override {
            config.geo.database = path.clone();
        }
        Ok(config)
    }

    /// The first view of a node: config, database, no health verdicts yet.
    pub fn load_view(&self) -> Result<View, LoadError> {
        let config = self.load_config()?;
        let geo = GeoDb::open(&config.geo.database)?;
        check_geo(&config, &geo)?;
        Ok(View::new(
            Arc::new(config),
            Arc::new(geo),
            Arc::new(HealthSnapshot::empty()),
        )?)
    }
}

/// The rules that depend on the database (subdivision overrides need subdivision data).
fn check_geo(config: &Config, geo: &GeoDb) -> Result<(), ConfigError> {
    config.check_geo(geo.database_type(), geo.has_subdivisions())
}

/// What a successful reload did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A new view was published.
    Applied {
        generation: u64,
        config_hash: String,
    },
    /// Nothing changed on disk: the running view stays (and its caches stay warm).
    Unchanged { generation: u64 },
}

/// Counters and the last failure, for `/healthz`, logs and (later) metrics.
#[derive(Debug, Default)]
pub struct ReloadStats {
    pub applied: AtomicU64,
    pub unchanged: AtomicU64,
    pub failed: AtomicU64,
    pub last_error: Mutex<Option<String>>,
}

/// Which of this node's listen addresses come from the config (and so cannot change live);
/// the rest were given on the command line.
#[derive(Debug, Clone, Copy, Default)]
pub struct ListenFromConfig {
    pub dns: bool,
    pub http: bool,
    pub status: bool,
}

/// Reloads one node's view.
#[derive(Debug)]
pub struct Reloader {
    source: Source,
    view: SharedView,
    /// The node's region, whose listen addresses are pinned until a restart.
    region: Option<String>,
    pinned: ListenFromConfig,
    /// The database file as last loaded, to tell a replaced file from an unchanged one.
    geo_file: Mutex<Option<Fingerprint>>,
    /// One reload at a time, whoever asks.
    busy: Mutex<()>,
    /// The watched files as they were when the running view was read from them (taken when
    /// the reloader is made, right after the first load): the watcher starts from these, so
    /// an edit made before its first look is still a change.
    files_at_start: Vec<(PathBuf, Option<Fingerprint>)>,
    pub stats: ReloadStats,
}

impl Reloader {
    pub fn new(
        source: Source,
        view: SharedView,
        region: Option<String>,
        pinned: ListenFromConfig,
    ) -> Self {
        let geo_file = fingerprint(view.load().geo.path());
        let mut reloader = Self {
            source,
            view,
            region,
            pinned,
            geo_file: Mutex::new(geo_file),
            busy: Mutex::new(()),
            files_at_start: Vec::new(),
            stats: ReloadStats::default(),
        };
        reloader.files_at_start = reloader.watched();
        reloader
    }

    pub fn view(&self) -> &SharedView {
        &self.view
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    /// Reads, validates and publishes. Blocking (file reads): call it from a blocking thread.
    pub fn reload(&self) -> Result<Outcome, LoadError> {
        let _busy = self
            .busy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let result = self.reload_locked();
        let outcome = match &result {
            Ok(Outcome::Applied { .. }) => "applied",
            Ok(Outcome::Unchanged { .. }) => "unchanged",
            Err(_) => "failed",
        };
        // Rare enough for a lookup per reload.
        metrics::counter!("meridian_config_reloads_total", "outcome" => outcome).increment(1);
        match &result {
            Ok(Outcome::Applied { .. }) => {
                self.stats.applied.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Outcome::Unchanged { .. }) => {
                self.stats.unchanged.fetch_add(1, Ordering::Relaxed);
            }
            Err(error) => {
                self.stats.failed.fetch_add(1, Ordering::Relaxed);
                *self
                    .stats
                    .last_error
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(error.to_string());
            }
        }
        result
    }

    fn reload_locked(&self) -> Result<Outcome, LoadError> {
        let current = self.view.load_full();
        let config = self.source.load_config()?;
        self.check_restart(&current.config, &config)?;
        let geo_path = config.geo.database.clone();
        let on_disk = fingerprint(&geo_path);
        let mut loaded = self
            .geo_file
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let same_geo = geo_path == current.geo.path() && on_disk.is_some() && on_disk == *loaded;
        let geo = if same_geo {
            current.geo.clone()
        } else {
            Arc::new(GeoDb::open(&geo_path)?)
        };
        // Either may have changed: a new database without subdivisions, or a config that
        // starts using them.
        check_geo(&config, &geo)?;
        if same_geo && config.content_hash == current.config.content_hash {
            return Ok(Outcome::Unchanged {
                generation: current.generation,
            });
        }
        let config = Arc::new(config);
        // rcu, not store: health verdicts published meanwhile are kept, not overwritten.
        let zone = Arc::new(crate::zone::ZoneData::build(&config));
        let steering = SteeringMap::shared(&geo, &config)?;
        let previous = self.view.rcu(|latest| {
            View::assemble(
                config.clone(),
                zone.clone(),
                geo.clone(),
                steering.clone(),
                latest.health_snapshot.clone(),
            )
        });
        drop(previous);
        let published = self.view.load();
        *loaded = on_disk;
        Ok(Outcome::Applied {
            generation: published.generation,
            config_hash: published.config.content_hash.clone(),
        })
    }

    /// Refuses a config that moves this node's own listen addresses.
    fn check_restart(&self, old: &Config, new: &Config) -> Result<(), LoadError> {
        let Some(name) = &self.region else {
            return Ok(());
        };
        let (Some(old_region), new_region) = (old.region_by_name(name), new.region_by_name(name))
        else {
            return Ok(());
        };
        let new_region = new_region.ok_or_else(|| LoadError::RegionGone(name.clone()))?;
        let file = format!("regions/{name}.toml");
        let changed = |key: &str, old: String, new: String| LoadError::NeedsRestart {
            file: file.clone(),
            key: key.to_string(),
            old,
            new,
        };
        let (Listen { dns, http, status }, new_listen) = (&old_region.listen, &new_region.listen);
        if self.pinned.dns && *dns != new_listen.dns {
            return Err(changed(
                "listen.dns",
                format!("{dns:?}"),
                format!("{:?}", new_listen.dns),
            ));
        }
        if self.pinned.http && *http != new_listen.http {
            return Err(changed(
                "listen.http",
                format!("{http:?}"),
                format!("{:?}", new_listen.http),
            ));
        }
        if self.pinned.status && *status != new_listen.status {
            return Err(changed(
                "listen.status",
                format!("{status:?}"),
                format!("{:?}", new_listen.status),
            ));
        }
        Ok(())
    }

    /// Reloads on a blocking thread and logs the outcome; `trigger` says who asked.
    pub async fn reload_logged(self: &Arc<Self>, trigger: &'static str) -> Result<Outcome, String> {
        let reloader = self.clone();
        let result = tokio::task::spawn_blocking(move || reloader.reload())
            .await
            .map_err(|error| format!("reload task failed: {error}"))?;
        let region = self.region.as_deref().unwrap_or("-");
        match &result {
            Ok(Outcome::Applied {
                generation,
                config_hash,
            }) => {
                tracing::info!(
                    trigger,
                    region,
                    generation,
                    config_hash = %crate::config::short_hash(config_hash),
                    "reload applied"
                );
                for warning in &self.view.load().config.warnings {
                    tracing::warn!(region, "config: {warning}");
                }
            }
            Ok(Outcome::Unchanged { generation }) => {
                tracing::info!(trigger, region, generation, "reload: nothing changed")
            }
            Err(error) => tracing::error!(
                trigger,
                region,
                %error,
                "reload refused; still answering from the running config"
            ),
        }
        result.map_err(|error| error.to_string())
    }

    /// Watches the config files and the database every `geo.reload_check` until `shutdown`, and
    /// reloads once a change has settled (editors and updaters write in several steps).
    pub async fn watch(self: Arc<Self>, shutdown: CancellationToken) {
        let mut seen = self.files_at_start.clone();
        // A version that failed is not retried until it changes again (SIGHUP forces it).
        loop {
            // Read every time: a reload may change the interval too.
            let interval = self.view.load().config.geo.reload_check;
            tokio::select! {
                () = shutdown.cancelled() => return,
                () = tokio::time::sleep(interval) => {}
            }
            let mut current = self.watched();
            if current == seen {
                continue;
            }
            // Debounce: wait until two looks in a row agree.
            loop {
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = tokio::time::sleep(SETTLE) => {}
                }
                let again = self.watched();
                if again == current {
                    break;
                }
                current = again;
            }
            seen = current;
            let _ = self.reload_logged("file change").await;
        }
    }

    /// Fingerprints of every file a reload reads: the main file, the region files (and their
    /// folder's listing, so a new region file counts), the database.
    fn watched(&self) -> Vec<(PathBuf, Option<Fingerprint>)> {
        let view = self.view.load();
        let mut files = vec![self.source.config.clone(), view.config.regions_dir.clone()];
        if let Ok(entries) = fs::read_dir(&view.config.regions_dir) {
            let mut regions: Vec<PathBuf> = entries
                .filter_map(|entry| entry.ok().map(|entry| entry.path()))
                .filter(|path| path.extension().is_some_and(|ext| ext == "toml"))
                .collect();
            regions.sort();
            files.extend(regions);
        }
        files.push(
            self.source
                .geo_override
                .clone()
                .unwrap_or_else(|| view.config.geo.database.clone()),
        );
        files
            .into_iter()
            .map(|path| {
                let print = fingerprint(&path);
                (path, print)
            })
            .collect()
    }
}

/// How long a changed file must stay unchanged before it is read.
const SETTLE: Duration = Duration::from_millis(200);

/// What tells one version of a file from another without reading it: a rename changes the
/// inode, an in-place write the size or modification time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fingerprint {
    inode: u64,
    len: u64,
    modified: Option<SystemTime>,
}

fn fingerprint(path: &Path) -> Option<Fingerprint> {
    let metadata = fs::metadata(path).ok()?;
    Some(Fingerprint {
        inode: std::os::unix::fs::MetadataExt::ino(&metadata),
        len: metadata.len(),
        modified: metadata.modified().ok(),
    })
}
