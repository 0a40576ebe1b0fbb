//! Steering tests.
