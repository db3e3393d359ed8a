//! In-process cluster tests: three real nodes (real openraft, real RocksDB
//! in a temporary directory) in one test process, over a network the test
//! controls and with wall clocks it steps. Each test is one scenario, named
//! for what it shows; the scenarios that guard against a classic bug also
//! run once with that bug planted in the nodes and must catch it.
//!
//! Nothing here starts a process or opens a socket, and no test sleeps for
//! a fixed time: each waits for a condition (a leader agreed, an answer),
//! bounded by a timeout.

mod support;

mod api_keys;
mod clock_steps;
mod follower_reads;
mod forwarding;
mod leader_change;
mod leader_lease;
mod lossy_network;
mod restart;
mod waiting;
