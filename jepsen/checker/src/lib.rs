//! The judging half of idem's chaos harness (`jepsen/`): the history format
//! that the harness records, the checkers that read it, and the report.
//!
//! It owns the rules a history must obey: no lease ends early, an
//! acknowledged completion is replayed byte for byte until its retention
//! ends, fencing tokens only grow, and every key's operations are
//! linearizable against a model of idem's record. It must not do I/O of its
//! own nor depend on any idem crate: idem is judged as a black box, from what
//! its clients saw.

pub mod history;
