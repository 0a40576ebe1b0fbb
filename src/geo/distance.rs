//! Great-circle distance between two locations (pure).

use crate::region::Location;

/// Mean Earth radius (IUGG), in kilometres.
const EARTH_RADIUS_KM: f64 = 6371.0088;

/// Haversine distance in kilometres; accurate to ~0.5%, far below what geolocation can tell.
pub fn distance_km(a: Location, b: Location) -> f64 {
    let (lat_a, lat_b) = (a.latitude.to_radians(), b.latitude.to_radians());
    let d_lat = lat_b - lat_a;
    let d_lon = (b.longitude - a.longitude).to_radians();
    let h = (d_lat / 2.0).sin().powi(2) + lat_a.cos() * lat_b.cos() * (d_lon / 2.0).sin().powi(2);
    2.0 * EARTH_RADIUS_KM * h.sqrt().min(1.0).asin()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(latitude: f64, longitude: f64) -> Location {
        Location {
            latitude,
            longitude,
        }
    }

    #[test]
    fn known_distances() {
        // London - New York is about 5570 km.
        let d = distance_km(at(51.5074, -0.1278), at(40.7128, -74.0060));
        assert!((d - 5570.0).abs() < 15.0, "{d}");
        // Across the antimeridian: Fiji to Samoa is ~1150 km, not ~39000.
        let d = distance_km(at(-18.1, 178.4), at(-13.8, -171.8));
        assert!((d - 1150.0).abs() < 60.0, "{d}");
        assert_eq!(distance_km(at(10.0, 20.0), at(10.0, 20.0)), 0.0);
        // Antipodes: half the circumference.
        let d = distance_km(at(0.0, 0.0), at(0.0, 180.0));
        assert!((d - 20015.0).abs() < 5.0, "{d}");
    }

    #[test]
    fn symmetric() {
        let (a, b) = (at(39.04, -77.49), at(1.29, 103.85));
        assert_eq!(distance_km(a, b), distance_km(b, a));
    }
}
