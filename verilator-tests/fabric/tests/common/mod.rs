//! Helpers shared by the fabric tests.
pub mod streams;
