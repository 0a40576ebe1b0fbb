//! What a database record says about a place, and the best location it yields.

use serde::Deserialize;

use super::centroids::{CONTINENT_CENTROIDS, COUNTRY_CENTROIDS};
use crate::region::Location;

/// The fields Meridian reads from a GeoIP2/GeoLite2/DB-IP City or Country record.
///
/// Decoding this slim shape instead of `geoip2::City` skips names in every language.
#[derive(Debug, Default, Deserialize)]
pub(super) struct RawRecord<'a> {
    #[serde(borrow, default)]
    continent: Option<Coded<'a>>,
    #[serde(borrow, default)]
    country: Option<Iso<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<Iso<'a>>,
    #[serde(borrow, default)]
    subdivisions: Option<Vec<Iso<'a>>>,
    #[serde(borrow, default)]
    city: Option<City<'a>>,
    #[serde(default)]
    location: Option<RawLocation>,
    #[serde(default)]
    traits: Option<Traits>,
}

#[derive(Debug, Default, Deserialize)]
struct Coded<'a> {
    #[serde(borrow, default)]
    code: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct Iso<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct City<'a> {
    #[serde(borrow, default)]
    names: Option<Names<'a>>,
}

#[derive(Debug, Default, Deserialize)]
struct Names<'a> {
    #[serde(borrow, default)]
    en: Option<&'a str>,
}

#[derive(Debug, Default, Deserialize)]
struct RawLocation {
    #[serde(default)]
    latitude: Option<f64>,
    #[serde(default)]
    longitude: Option<f64>,
}

#[derive(Debug, Default, Deserialize)]
struct Traits {
    #[serde(default)]
    is_anycast: Option<bool>,
}

/// How precise the location of a place is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Precision {
    /// Coordinates from the record (city or finer).
    Coordinates,
    /// The centroid of the record's country.
    Country,
    /// The centroid of the country the network is registered in (no country of use).
    RegisteredCountry,
    /// The centroid of the record's continent.
    Continent,
}

/// A location and how it was obtained.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlaceLocation {
    pub location: Location,
    pub precision: Precision,
}

/// Everything steering may use about where a client is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Place {
    pub continent: Option<String>,
    pub country: Option<String>,
    /// ISO 3166-2, e.g. `GB-ENG` (country code prefixed to the record's subdivision code).
    pub subdivision: Option<String>,
    pub city: Option<String>,
    pub anycast: bool,
    pub location: Option<PlaceLocation>,
}

impl Place {
    pub(super) fn from_record(record: &RawRecord<'_>) -> Self {
        let upper = |text: Option<&str>| text.map(str::to_ascii_uppercase);
        let continent = upper(record.continent.as_ref().and_then(|c| c.code));
        let country = upper(record.country.as_ref().and_then(|c| c.iso_code));
        let registered = upper(record.registered_country.as_ref().and_then(|c| c.iso_code));
        let subdivision = match (&country, record.subdivisions.as_deref()) {
            (Some(country), Some([first, ..])) => first
                .iso_code
                .map(|code| format!("{country}-{}", code.to_ascii_uppercase())),
            _ => None,
        };
        let anycast = record
            .traits
            .as_ref()
            .and_then(|t| t.is_anycast)
            .unwrap_or(false);
        let coordinates = record
            .location
            .as_ref()
            .and_then(|l| match (l.latitude, l.longitude) {
                (Some(latitude), Some(longitude))
                    if (-90.0..=90.0).contains(&latitude)
                        && (-180.0..=180.0).contains(&longitude) =>
                {
                    Some(Location {
                        latitude,
                        longitude,
                    })
                }
                _ => None,
            });
        // An anycast network is served from many places at once: its coordinates describe
        // none of them, so it is not located at all.
        let location = if anycast {
            None
        } else {
            coordinates
                .map(|location| (location, Precision::Coordinates))
                .or_else(|| {
                    centroid(COUNTRY_CENTROIDS, country.as_deref()).map(|l| (l, Precision::Country))
                })
                .or_else(|| {
                    centroid(COUNTRY_CENTROIDS, registered.as_deref())
                        .map(|l| (l, Precision::RegisteredCountry))
                })
                .or_else(|| {
                    centroid(CONTINENT_CENTROIDS, continent.as_deref())
                        .map(|l| (l, Precision::Continent))
                })
                .map(|(location, precision)| PlaceLocation {
                    location,
                    precision,
                })
        };
        Self {
            continent,
            country,
            subdivision,
            city: record
                .city
                .as_ref()
                .and_then(|c| c.names.as_ref())
                .and_then(|n| n.en)
                .map(str::to_string),
            anycast,
            location,
        }
    }
}

fn centroid(table: &[(&str, f64, f64)], code: Option<&str>) -> Option<Location> {
    let code = code?;
    let index = table.binary_search_by_key(&code, |(key, _, _)| key).ok()?;
    let (_, latitude, longitude) = table[index];
    Some(Location {
        latitude,
        longitude,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn centroid_tables_are_sorted_for_binary_search() {
        for table in [COUNTRY_CENTROIDS, CONTINENT_CENTROIDS] {
            assert!(table.windows(2).all(|pair| pair[0].0 < pair[1].0));
            assert!(
                table
                    .iter()
                    .all(|(_, lat, lon)| lat.abs() <= 90.0 && lon.abs() <= 180.0)
            );
        }
        assert_eq!(CONTINENT_CENTROIDS.len(), 7);
        assert!(COUNTRY_CENTROIDS.len() > 200, "{}", COUNTRY_CENTROIDS.len());
    }

    #[test]
    fn falls_back_from_coordinates_to_country_to_continent() {
        let record = RawRecord {
            country: Some(Iso {
                iso_code: Some("gb"),
            }),
            continent: Some(Coded { code: Some("EU") }),
            ..RawRecord::default()
        };
        let place = Place::from_record(&record);
        assert_eq!(place.country.as_deref(), Some("GB"));
        let located = place.location.map(|l| l.precision);
        assert_eq!(located, Some(Precision::Country));

        let record = RawRecord {
            continent: Some(Coded { code: Some("OC") }),
            ..RawRecord::default()
        };
        let place = Place::from_record(&record);
        assert_eq!(
            place.location.map(|l| l.precision),
            Some(Precision::Continent)
        );

        let place = Place::from_record(&RawRecord::default());
        assert_eq!(place.location, None);
    }

    #[test]
    fn anycast_is_not_located() {
        let record = RawRecord {
            country: Some(Iso {
                iso_code: Some("US"),
            }),
            location: Some(RawLocation {
                latitude: Some(37.75),
                longitude: Some(-97.82),
            }),
            traits: Some(Traits {
                is_anycast: Some(true),
            }),
            ..RawRecord::default()
        };
        let place = Place::from_record(&record);
        assert!(place.anycast);
        assert_eq!(place.location, None);
    }
}
