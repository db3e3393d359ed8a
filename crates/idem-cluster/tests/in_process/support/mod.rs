//! The in-process cluster the scenarios run on.

pub mod cluster;
pub mod net;

pub use cluster::*;
