//! The model of one idem record that linearizability is judged against:
//! its [`state`], the operations on it written with interned strings
//! ([`op`]), and the transition function ([`step`]), which is
//! nondeterministic (a record may be forgotten at any point).

pub mod op;
pub mod state;
pub mod step;
pub mod symbols;
