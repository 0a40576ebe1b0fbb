//! Geolocation: MaxMind DB files in memory, client address selection, IP -> place.
//!
//! The database lives behind an [`ArcSwap`] so a reload never blocks or drops a query: the
//! answer path loads the current [`GeoDb`] with one atomic read.

mod centroids;
mod client;
mod database;
mod distance;
mod place;
mod reload;

pub use client::{ClientAddress, ClientSource, is_global};
pub use database::{GeoDb, GeoError, Lookup};
pub use distance::distance_km;
pub use place::{Place, PlaceLocation, Precision};
pub use reload::watch;

use std::sync::Arc;

use arc_swap::ArcSwap;

/// The shared, swappable database.
pub type SharedGeoDb = Arc<ArcSwap<GeoDb>>;
