//! One loaded MaxMind DB file: open, validate the layout, look addresses up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::time::Duration;

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileExt, MetadataExt};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};

use super::merged::{MergedTree, TreeError, TreeLayout};
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
    #[error(
        "{}: the geo database changed on disk since it was loaded (rewritten in place): reload it",
        path.display()
    )]
    Changed { path: PathBuf },
    #[error("{}: the geo database is corrupt: {error}", path.display())]
    Tree { path: PathBuf, error: TreeError },
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

/// A validated database. What stays in memory is its metadata and an open handle on the
/// file: the tree and the records are read again only to build a [`MergedTree`] (at load
/// and at a config change) and to describe one place (`explain`), so a full City database
/// does not stay resident.
#[derive(Debug)]
pub struct GeoDb {
    source: Source,
    path: PathBuf,
    database_type: String,
    build_epoch: u64,
    node_count: u64,
    has_subdivisions: bool,
    /// One reading of the file at a time: however many explain requests come at once,
    /// at most one more copy of the file is in memory.
    reading: Mutex<()>,
}

/// A file's bytes, shared by the reader and the tree merge (the reader keeps its own
/// private).
#[derive(Debug, Clone)]
struct Shared(Arc<Vec<u8>>);

impl AsRef<[u8]> for Shared {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// What tells one loaded database file from another (see [`GeoDb::identity`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GeoIdentity {
    file: (u64, u64, u64, i64, i64),
    build_epoch: u64,
    node_count: u64,
}

/// Where the bytes are read from again.
#[derive(Debug)]
enum Source {
    /// The file as opened: its inode stays the same whatever is renamed over the path.
    File { file: File, len: usize },
    /// Bytes given in memory (fuzzing, tests): small.
    Memory(Vec<u8>),
}

impl GeoDb {
    /// Reads the whole file and checks it is a City or Country database, within
    /// [`LOAD_TIMEOUT`].
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let owned = path.to_path_buf();
        time_boxed(path, LOAD_TIMEOUT, move || Self::open_now(&owned))
    }

    fn open_now(path: &Path) -> Result<Self, GeoError> {
        let open_error = |error: std::io::Error| GeoError::Open {
            path: path.to_path_buf(),
            error: MaxMindDbError::Io(error),
        };
        let mut file = File::open(path).map_err(open_error)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(open_error)?;
        let len = bytes.len();
        let reader =
            Reader::from_source(Shared(Arc::new(bytes))).map_err(|error| GeoError::Open {
                path: path.to_path_buf(),
                error,
            })?;
        Self::validated(&reader, Source::File { file, len }, path)
    }

    /// A database from bytes already in memory, validated as [`Self::open`] does but without
    /// its time box; `path` names it in errors. For fuzzing and tests of the layout check.
    pub fn from_bytes(bytes: Vec<u8>, path: &Path) -> Result<Self, GeoError> {
        let reader = Reader::from_source(Shared(Arc::new(bytes.clone()))).map_err(|error| {
            GeoError::Open {
                path: path.to_path_buf(),
                error,
            }
        })?;
        Self::validated(&reader, Source::Memory(bytes), path)
    }

    fn validated(reader: &Reader<Shared>, source: Source, path: &Path) -> Result<Self, GeoError> {
        let metadata = reader.metadata();
        let has_subdivisions = validate(reader, path)?;
        Ok(Self {
            source,
            path: path.to_path_buf(),
            database_type: metadata.database_type.clone(),
            build_epoch: metadata.build_epoch,
            node_count: u64::from(metadata.node_count),
            has_subdivisions,
            reading: Mutex::new(()),
        })
    }

    /// The file's contents again, checked to be the database that was validated: a file
    /// rewritten in place since (not renamed over the path, which the open handle does not
    /// see) is refused.
    fn reader(&self) -> Result<(Reader<Shared>, Shared), GeoError> {
        let changed = || GeoError::Changed {
            path: self.path.clone(),
        };
        let bytes = match &self.source {
            Source::Memory(bytes) => bytes.clone(),
            Source::File { file, len } => {
                let mut bytes = vec![0; *len];
                file.read_exact_at(&mut bytes, 0).map_err(|_| changed())?;
                bytes
            }
        };
        let shared = Shared(Arc::new(bytes));
        let reader = Reader::from_source(shared.clone()).map_err(|_| changed())?;
        let metadata = reader.metadata();
        if metadata.build_epoch != self.build_epoch
            || u64::from(metadata.node_count) != self.node_count
            || metadata.database_type != self.database_type
        {
            return Err(changed());
        }
        Ok((reader, shared))
    }

    /// Which file this is, for sharing what is built from it: the open file's device,
    /// inode, length and modification time, and the metadata. `None` for bytes given in
    /// memory, which are never shared.
    pub fn identity(&self) -> Option<GeoIdentity> {
        let Source::File { file, .. } = &self.source else {
            return None;
        };
        let metadata = file.metadata().ok()?;
        Some(GeoIdentity {
            file: (
                metadata.dev(),
                metadata.ino(),
                metadata.len(),
                metadata.mtime(),
                metadata.mtime_nsec(),
            ),
            build_epoch: self.build_epoch,
            node_count: self.node_count,
        })
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
        &self.database_type
    }

    /// Build time of the file, seconds since the Unix epoch.
    pub fn build_epoch(&self) -> u64 {
        self.build_epoch
    }

    /// The search tree merged by `classify`, which maps each distinct record's place to a
    /// class (see [`MergedTree`]). Reads the file again.
    pub fn merged(&self, mut classify: impl FnMut(&Place) -> u32) -> Result<MergedTree, GeoError> {
        let _one_at_a_time = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        let (reader, bytes) = self.reader()?;
        let metadata = reader.metadata();
        let layout = TreeLayout {
            node_count: metadata.node_count as usize,
            record_size: metadata.record_size,
            ip_version: metadata.ip_version,
        };
        let data_start = layout.node_count + 16;
        MergedTree::build(bytes.as_ref(), layout, |addr, pointer| {
            classify(&place_at(&reader, addr, pointer.checked_sub(data_start)))
        })
        .map_err(|error| GeoError::Tree {
            path: self.path.clone(),
            error,
        })
    }

    /// What the database says about the place of `addr`: for `explain`, which reads the
    /// file again. A file that changed since it was loaded describes no place.
    pub fn place(&self, addr: IpAddr) -> Place {
        let _one_at_a_time = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        match self.reader() {
            Ok((reader, _)) => place_at(&reader, addr, None),
            Err(_) => Place::default(),
        }
    }
}

/// The place of the record holding `addr`; when `offset` is given, only if the record is
/// the one at that data offset.
fn place_at(reader: &Reader<Shared>, addr: IpAddr, offset: Option<usize>) -> Place {
    match reader.lookup(addr) {
        Ok(result) if offset.is_none() || result.offset() == offset => {
            match result.decode::<RawRecord<'_>>() {
                Ok(Some(record)) => Place::from_record(&record),
                _ => Place::default(),
            }
        }
        _ => Place::default(),
    }
}

/// Checks the type and layout; returns whether sampled records carry subdivisions.
fn validate(reader: &Reader<Shared>, path: &Path) -> Result<bool, GeoError> {
    let database_type = reader.metadata().database_type.clone();
    let lower = database_type.to_ascii_lowercase();
    if !["city", "country", "enterprise"]
        .iter()
        .any(|kind| lower.contains(kind))
    {
        return Err(GeoError::UnsupportedType {
            path: path.to_path_buf(),
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
    if let Ok(networks) = reader.networks(WithinOptions::default()) {
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
            path: path.to_path_buf(),
            database_type,
        });
    }
    Ok(may_have_subdivisions && has_subdivisions)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};
    use std::time::{Duration, Instant};

    use maxminddb::WithinOptions;

    use super::{GeoDb, GeoError, Place, place_at, time_boxed};

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

    /// Every network the reader lists gets, from the merged tree, the place the reader
    /// decodes for it, in a merged network at least as wide.
    #[test]
    fn the_merged_tree_agrees_with_the_reader_on_every_network() {
        for path in [
            "tests/data/geo/GeoIP2-City-Test.mmdb",
            "tests/data/geo/GeoLite2-City-Test.mmdb",
            "tests/data/geo/GeoLite2-Country-Test.mmdb",
            "geo-data/dbip-city-lite-coarse.mmdb",
        ] {
            let db = open(path);
            let mut places: Vec<Place> = Vec::new();
            let tree = db
                .merged(|place| {
                    let at = places.iter().position(|known| known == place);
                    at.unwrap_or_else(|| {
                        places.push(place.clone());
                        places.len() - 1
                    }) as u32
                })
                .unwrap_or_else(|e| panic!("{path}: {e}"));
            let (reader, _) = db.reader().unwrap_or_else(|e| panic!("{e}"));
            let mut checked = 0;
            let networks = reader
                .networks(WithinOptions::default())
                .unwrap_or_else(|e| panic!("{e}"));
            for network in networks.filter_map(Result::ok).take(50_000) {
                let net = network.network().unwrap_or_else(|e| panic!("{e}"));
                let addr = net.network();
                let found = tree.lookup(addr);
                let expected = network.has_data().then(|| place_at(&reader, addr, None));
                let got = found.class.map(|class| places[class as usize].clone());
                assert_eq!(got, expected, "{path}: {addr}/{}", net.prefix());
                let (merged, prefix) = found.network.unwrap_or_else(|| panic!("{addr}"));
                assert!(
                    prefix <= net.prefix(),
                    "{path}: {addr}/{} in /{prefix}",
                    net.prefix()
                );
                assert!(
                    ipnet::IpNet::new(merged, prefix)
                        .is_ok_and(|block| block.contains(&addr) && block.network() == merged),
                    "{path}: {addr} in {merged}/{prefix}"
                );
                checked += 1;
            }
            assert!(checked > 100, "{path}: {checked}");
            assert!(places.len() > 1, "{path}");
        }
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
