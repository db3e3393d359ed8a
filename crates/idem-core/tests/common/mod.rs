//! Shared by the core's integration tests: a simulated leader that stamps
//! entries (with a real-time clock, a skewable wall clock and terms), a
//! generated workload, and checks over the recorded trace.
#![allow(dead_code)]

pub mod checks;
pub mod sim;
pub mod workload;
