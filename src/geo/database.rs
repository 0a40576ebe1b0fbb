//! One loaded MaxMind DB file: open, validate the layout, look addresses up.

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use maxminddb::{MaxMindDbError, Reader, WithinOptions};

use super::place::{Place, RawRecord};

/// Why a database file was refused.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    #[error("{}: cannot open the geo database: {source}", path.display())]
    Open {
        path: PathBuf,
        source: MaxMindDbError,
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
}

/// How many records are sampled at load to prove the layout.
const LAYOUT_SAMPLE: usize = 256;

/// A validated database, immutable once loaded.
#[derive(Debug)]
pub struct GeoDb {
    reader: Reader<Vec<u8>>,
    path: PathBuf,
    generation: u64,
}

/// Source of [`GeoDb::generation`]; never reused within a process.
static GENERATIONS: AtomicU64 = AtomicU64::new(1);

/// The outcome of one tree walk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookup {
    /// The most specific database network holding the address (with or without data).
    pub network: Option<(IpAddr, u8)>,
    /// Offset of the data record, shared by every network with the same data: a cache key.
    pub record: Option<usize>,
}

impl GeoDb {
    /// Reads the whole file into memory and checks it is a City or Country database.
    pub fn open(path: &Path) -> Result<Self, GeoError> {
        let reader = Reader::open_readfile(path).map_err(|source| GeoError::Open {
            path: path.to_path_buf(),
            source,
        })?;
        let db = Self {
            reader,
            path: path.to_path_buf(),
            generation: GENERATIONS.fetch_add(1, Ordering::Relaxed),
        };
        db.validate()?;
        Ok(db)
    }

    fn validate(&self) -> Result<(), GeoError> {
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
        // A flat layout decodes into an empty record without error; sample real records and
        // insist that some of them carry a country.
        let options = WithinOptions::default();
        let has_country = self.reader.networks(options).is_ok_and(|networks| {
            networks
                .filter_map(Result::ok)
                .filter(|result| result.has_data())
                .take(LAYOUT_SAMPLE)
                .any(|result| {
                    matches!(result.decode::<RawRecord<'_>>(), Ok(Some(record)) if Place::from_record(&record).country.is_some())
                })
        });
        if !has_country {
            return Err(GeoError::NoCountries {
                path: self.path.clone(),
                database_type,
            });
        }
        Ok(())
    }

    /// Unique per loaded file: caches keyed by record offset are valid for one generation.
    pub fn generation(&self) -> u64 {
        self.generation
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
