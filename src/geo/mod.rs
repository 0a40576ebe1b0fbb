//! Geolocation: MaxMind DB files in memory, client address selection, IP -> place.
//!
//! A loaded [`GeoDb`] is immutable; a reload builds a new one and publishes it in a new
//! [`View`](crate::view::View), so a swap never blocks or drops a query.

mod centroids;
mod client;
mod database;
mod distance;
mod merged;
mod place;

pub(crate) use client::special_block;
pub use client::{ClientAddress, ClientSource, is_global, usable_subnet};
pub use database::{GeoDb, GeoError, GeoIdentity};
pub use distance::distance_km;
pub use merged::{MAX_CLASS, MergedLookup, MergedTree, TreeError};
pub use place::{Place, PlaceLocation, Precision};
