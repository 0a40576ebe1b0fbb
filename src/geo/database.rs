//! One loaded MaxMind DB file: open, validate the layout, look addresses up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use maxminddb::{MaxMindDbError, Reader, WithinOptions};

use super::place::{Place, RawRecord};

/// Why a database file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The reader's error is part of the message and deliberately not a `source()`: it
    /// already repeats its own cause, and anyhow's `{:#}` would print the OS error again.
    #[error("{}: cannot open the geo database: {error}", path.display())]
    Open {
        path: PathBuf,
        error: MaxMindDbError,
    },
    #[error(
        "{}: database type {database_type:?} is not supported: use a GeoIP2/GeoLite2/DB-IP City or Country database",
        path.display()
    )]
    UnsupportedType {
        path: PathBuf,
        database_type: String,
    },
    #[error(
        "{}: database type {database_type:?} claims a City/Country layout, but none of its first records holds a country: the file is in another layout and would answer every client as unknown",
        path.display()
    )]
    NoCountries {
        path: PathBuf,
        database_type: String,
    },
    #[error(
        "{}: loading the geo database took longer than {}s: the file is corrupt or the disk is stalled",
        path.display(),
        limit.as_secs_f64()
    )]
    TimedOut { path: PathBuf, limit: Duration },
    #[error("{}: the thread loading the geo database failed", path.display())]
    LoaderFailed { path: PathBuf },
}

/// The longest any database load may take. A full City database (about 70 MB) loads and
/// validates in well under a second here; a corrupt file must not hang a start or a reload.
pub(crate) const LOAD_TIMEOUT: Duration = Duration::from_secs(20);

/// How many steps of the network iterator the layout check takes at most, successes and
/// errors alike: a corrupt search tree (a cycle) yields errors without end, so counting only
/// the records found would never stop.
const WALK_LIMIT: usize = 64 * 1024;

/// How many records are sampled at load to prove the layout.
const LAYOUT_SAMPLE: usize = 256;

/// How many records are sampled at load, at most, to find one with a subdivision. More than
/// for the layout: a City database may begin with networks placed only by country. Walking
/// them costs a few milliseconds once per load.
const SUBDIVISION_SAMPLE: usize = 4096;

/// Runs `load` on its own thread and waits at most `limit` for it. A load that overruns is
/// abandoned (its thread finishes or not on its own; the walk is bounded, so it does) and
/// reported as an error naming `path`, so a start fails and a reload keeps the running view.
fn time_boxed<T: Send + 'static>(
    path: &Path,
    limit: Duration,
    load: impl FnOnce() -> Result<T, GeoError> + Send + 'static,
) -> Result<T, GeoError> {
    let (sender, receiver) = mpsc::sync_channel(1);
    let spawned = std::thread::Builder::new()
        .name("geo-load".to_string())
        .spawn(move || {
            // The receiver may be gone after a timeout: nobody wants the result then.
            let _ = sender.send(load());
        });
    if spawned.is_err() {
        return Err(GeoError::LoaderFailed {
            path: path.to_path_buf(),
        });
    }
    match receiver.recv_timeout(limit) {
        Ok(result) => result,
        Err(mpsc::RecvTimeoutError::Timeout) => Err(GeoError::TimedOut {
            path: path.to_path_buf(),
            limit,
        }),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err(GeoError::LoaderFailed {
            path: path.to_path_buf(),
        }),
    }
}

/// A validated database, immutable once loaded.
#[derive(Debug)]
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    path: PathBuf,
    has_subdivisions: bool,
}

/// The outcome of one tree walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The most specific database network holding the address (with or without data).
    pub network: Option<(IpAddr, u8)>,
    /// Offset of the data record, shared by every network with the same data: a cache key.
    pub record: Option<usize>,
}

impl GeoDb {
    /// Reads the whole file into memory and checks it is a City or Country database, within
    /// [`LOAD_TIMEOUT`].
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let owned = path.to_path_buf();
        time_boxed(path, LOAD_TIMEOUT, move || Self::open_now(&owned))
    }

    fn open_now(path: &Path) -> Result<Self, GeoError> {
        let reader = Reader::open_readfile(path).map_err(|error| GeoError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        Self::validated(reader, path)
    }

    /// A database from bytes already in memory, validated as [`Self::open`] does but without
    /// its time box; `path` names it in errors. For fuzzing and tests of the layout check.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self, GeoError> {
        let reader = Reader::from_source(bytes).map_err(|error| GeoError::Open {
            path: path.to_path_buf(),
            error,
        })?;
        Self::validated(reader, path)
    }

    fn validated(reader: Reader<Vec<u8>>, path: &Path) -> Result<Self, GeoError> {
        let mut db = Self {
            reader,
            path: path.to_path_buf(),
            has_subdivisions: false,
        };
        db.has_subdivisions = db.validate()?;
        Ok(db)
    }

    /// Checks the type and layout; returns whether sampled records carry subdivisions.
    fn validate(&self) -> Result<bool, GeoError> {
        let database_type = self.database_type().to_string();
        let lower = database_type.to_ascii_lowercase();
        if !["city", "country", "enterprise"]
            .iter()
            .any(|kind| lower.contains(kind))
        {
            return Err(GeoError::UnsupportedType {
                path: self.path.clone(),
                database_type,
            });
        }
        // Country databases have no subdivision field at all: do not walk them for one.
        let may_have_subdivisions = ["city", "enterprise"]
            .iter()
            .any(|kind| lower.contains(kind));
        // A flat layout decodes into an empty record without error; sample real records and
        // insist that some of the first ones carry a country.
        let (mut has_country, mut has_subdivisions) = (false, false);
        if let Ok(networks) = self.reader.networks(WithinOptions::default()) {
            let records = networks
                .take(WALK_LIMIT)
                .filter_map(Result::ok)
                .filter(|result| result.has_data())
                .take(SUBDIVISION_SAMPLE);
            for (index, result) in records.enumerate() {
                if index == LAYOUT_SAMPLE && !has_country {
                    break;
                }
                let Ok(Some(record)) = result.decode::<RawRecord<'_>>() else {
                    continue;
                };
                let place = Place::from_record(&record);
                has_country |= place.country.is_some();
                has_subdivisions |= place.subdivision.is_some();
                if has_country && (has_subdivisions || !may_have_subdivisions) {
                    break;
                }
            }
        }
        if !has_country {
            return Err(GeoError::NoCountries {
                path: self.path.clone(),
                database_type,
            });
        }
        Ok(may_have_subdivisions && has_subdivisions)
    }

    /// Whether steering by subdivision (`steering.subdivision`) can match anything: true for
    /// City and Enterprise databases whose sampled records carry subdivisions (GeoLite2-City,
    /// GeoIP2-City, the full DB-IP City Lite file), false for Country databases and the
    /// shipped coarse file.
    pub fn has_subdivisions(&self) -> bool {
        self.has_subdivisions
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn database_type(&self) -> &str {
        &self.reader.metadata().database_type
    }

    /// Build time of the file, seconds since the Unix epoch.
    pub fn build_epoch(&self) -> u64 {
        self.reader.metadata().build_epoch
    }

    /// Walks the tree for a canonical address. An IPv6 address in an IPv4-only database is
    /// simply not found.
    pub fn lookup(&self, addr: IpAddr) -> Lookup {
        match self.reader.lookup(addr) {
            Ok(result) => Lookup {
                network: result
                    .network()
                    .ok()
                    .map(|network| (network.network(), network.prefix())),
                record: result.offset(),
            },
            Err(_) => Lookup {
                network: None,
                record: None,
            },
        }
    }

    /// Decodes what the record found by `lookup` says about the place.
    pub fn place(&self, addr: IpAddr) -> Place {
        match self.reader.lookup(addr) {
            Ok(result) => match result.decode::<RawRecord<'_>>() {
                Ok(Some(record)) => Place::from_record(&record),
                _ => Place::default(),
            },
            Err(_) => Place::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use super::{GeoDb, GeoError, time_boxed};

    fn repo(path: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
    }

    fn open(path: &str) -> GeoDb {
        GeoDb::open(&repo(path)).unwrap()
    }

    #[test]
    fn city_databases_with_subdivisions_say_so() {
        for path in [
            "tests/data/geo/GeoIP2-City-Test.mmdb",
            "tests/data/geo/GeoLite2-City-Test.mmdb",
        ] {
            assert!(open(path).has_subdivisions(), "{path}");
        }
    }

    #[test]
    fn country_databases_and_the_coarse_file_have_no_subdivisions() {
        for path in [
            "tests/data/geo/GeoLite2-Country-Test.mmdb",
            "tests/data/geo/GeoIP2-Country-Test.mmdb",
            "geo-data/dbip-city-lite-coarse.mmdb",
        ] {
            let db = open(path);
            assert!(!db.has_subdivisions(), "{path} ({})", db.database_type());
        }
        // The coarse file is a City layout: it is the sampling, not the type, that decides.
        let coarse = open("geo-data/dbip-city-lite-coarse.mmdb");
        assert!(
            coarse.database_type().to_ascii_lowercase().contains("city"),
            "{}",
            coarse.database_type()
        );
    }

    #[test]
    fn a_missing_file_shows_the_os_error_once() {
        let error = GeoDb::open(&repo("tests/data/geo/missing.mmdb")).expect_err("accepted");
        assert!(matches!(error, GeoError::Open { .. }), "{error}");
        let chain = format!("{:#}", anyhow::Error::from(error));
        assert!(chain.contains("missing.mmdb"), "{chain}");
        assert_eq!(chain.matches("(os error 2)").count(), 1, "{chain}");
    }

    #[test]
    fn a_load_that_overruns_its_time_fails_naming_the_file() {
        let path = repo("tests/data/geo/slow.mmdb");
        let started = Instant::now();
        let result = time_boxed(&path, Duration::from_millis(50), || {
            std::thread::sleep(Duration::from_secs(5));
            Ok(())
        });
        assert!(started.elapsed() < Duration::from_secs(4));
        let error = result.expect_err("waited for the slow load");
        assert!(matches!(error, GeoError::TimedOut { .. }), "{error}");
        assert!(error.to_string().contains("slow.mmdb"), "{error}");
    }
}
