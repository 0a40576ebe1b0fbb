//! A tiny MaxMind DB writer, to prove that databases in the wrong layout are refused.

use std::path::Path;

use meridian::geo::{GeoDb, GeoError};

use crate::support::ip;

/// The MaxMind DB data types the tests need.
pub(crate) enum Value {
    Str(&'static str),
    Double(f64),
    U16(u16),
    U32(u32),
    U64(u64),
    Map(Vec<(&'static str, Value)>),
    Array(Vec<Value>),
}

fn control(out: &mut Vec<u8>, kind: u8, size: usize) {
    let size = u8::try_from(size).unwrap_or_else(|_| panic!("test values stay small"));
    assert!(size < 29);
    if kind <= 7 {
        out.push((kind << 5) | size);
    } else {
        out.push(size);
        out.push(kind - 7);
    }
}

fn encode(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Str(text) => {
            control(out, 2, text.len());
            out.extend_from_slice(text.as_bytes());
        }
        Value::Double(number) => {
            control(out, 3, 8);
            out.extend_from_slice(&number.to_be_bytes());
        }
        Value::U16(number) => {
            control(out, 5, 2);
            out.extend_from_slice(&number.to_be_bytes());
        }
        Value::U32(number) => {
            control(out, 6, 4);
            out.extend_from_slice(&number.to_be_bytes());
        }
        Value::U64(number) => {
            control(out, 9, 8);
            out.extend_from_slice(&number.to_be_bytes());
        }
        Value::Map(pairs) => {
            control(out, 7, pairs.len());
            for (key, value) in pairs {
                encode(&Value::Str(key), out);
                encode(value, out);
            }
        }
        Value::Array(items) => {
            control(out, 11, items.len());
            for item in items {
                encode(item, out);
            }
        }
    }
}

/// Writes an IPv4 database whose every address maps to `record`.
pub(crate) fn write(path: &Path, database_type: &'static str, record: Value) {
    // One node; both records point at data offset 0 (value = node_count + 16 + offset).
    let node_count = 1u32;
    let pointer = (node_count + 16).to_be_bytes();
    let mut file = Vec::new();
    for _ in 0..2 {
        file.extend_from_slice(&pointer[1..]);
    }
    file.extend_from_slice(&[0u8; 16]);
    encode(&record, &mut file);
    file.extend_from_slice(b"\xab\xcd\xefMaxMind.com");
    let metadata = Value::Map(vec![
        ("binary_format_major_version", Value::U16(2)),
        ("binary_format_minor_version", Value::U16(0)),
        ("build_epoch", Value::U64(1_700_000_000)),
        ("database_type", Value::Str(database_type)),
        ("description", Value::Map(vec![("en", Value::Str("test"))])),
        ("ip_version", Value::U16(4)),
        ("languages", Value::Array(vec![Value::Str("en")])),
        ("node_count", Value::U32(node_count)),
        ("record_size", Value::U16(24)),
    ]);
    encode(&metadata, &mut file);
    std::fs::write(path, file).unwrap_or_else(|e| panic!("{e}"));
}

fn open(database_type: &'static str, record: Value) -> Result<GeoDb, GeoError> {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("test.mmdb");
    write(&path, database_type, record);
    GeoDb::open(&path)
}

#[test]
fn a_nested_city_record_from_the_writer_is_accepted() {
    let record = Value::Map(vec![
        ("continent", Value::Map(vec![("code", Value::Str("EU"))])),
        ("country", Value::Map(vec![("iso_code", Value::Str("GB"))])),
        (
            "location",
            Value::Map(vec![
                ("latitude", Value::Double(51.5)),
                ("longitude", Value::Double(-0.1)),
            ]),
        ),
    ]);
    let db = open("GeoIP2-City", record).unwrap_or_else(|e| panic!("{e}"));
    let place = db.place(ip("81.2.69.142"));
    assert_eq!(place.country.as_deref(), Some("GB"));
    assert!(place.location.is_some());
    // IPv6 in an IPv4-only database: simply not found, no error, no panic.
    let tree = db.merged(|_| 0).unwrap_or_else(|e| panic!("{e}"));
    let found = tree.lookup(ip("2001:db8::1"));
    assert_eq!((found.network, found.class), (None, None));
    assert_eq!(tree.lookup(ip("81.2.69.142")).class, Some(0));
}

#[test]
fn a_flat_layout_is_refused_not_answered_as_unknown() {
    let flat = Value::Map(vec![
        ("country_code", Value::Str("GB")),
        ("latitude", Value::Double(51.5)),
        ("longitude", Value::Double(-0.1)),
    ]);
    let error = open("GeoIP2-City", flat)
        .map(|_| ())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(error, GeoError::NoCountries { .. }), "{error}");
    assert!(error.to_string().contains("another layout"), "{error}");
}

#[test]
fn other_database_types_are_refused() {
    let asn = Value::Map(vec![("autonomous_system_number", Value::U32(64496))]);
    let error = open("GeoLite2-ASN", asn)
        .map(|_| ())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(matches!(error, GeoError::UnsupportedType { .. }), "{error}");
    assert!(error.to_string().contains("GeoLite2-ASN"), "{error}");
}

#[test]
fn garbage_files_are_refused() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = dir.path().join("garbage.mmdb");
    std::fs::write(&path, b"not a database at all").unwrap_or_else(|e| panic!("{e}"));
    let error = GeoDb::open(&path)
        .map(|_| ())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(error.to_string().contains("garbage.mmdb"), "{error}");
    let error = GeoDb::open(&dir.path().join("missing.mmdb"))
        .map(|_| ())
        .err()
        .unwrap_or_else(|| panic!("accepted"));
    assert!(error.to_string().contains("missing.mmdb"), "{error}");
}
