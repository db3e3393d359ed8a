//! # idem-server: the HTTP API and the `idem` binary
//!
//! This crate owns the edge: HTTP routes and their JSON bodies, who may
//! call each (API keys, `http::auth`), input and connection limits, the
//! mapping of outcomes and errors to status codes and
//! `application/problem+json` (done once, here), metrics, the cluster's
//! first admin key (`auth_bootstrap`), and the command line (with `idem
//! certs`). It turns validated requests into `idem_core` commands, made
//! with the caller's key, and hands them to a [`backend::Backend`] (the
//! cluster).
//!
//! It must not touch storage or Raft directly, and must not decide anything
//! about leases or tokens: that is `idem-core`'s job.

pub mod auth_bootstrap;
pub mod backend;
pub mod cli;
pub mod cluster_backend;
pub mod http;
#[cfg(feature = "memory-backend")]
pub mod memory_backend;
