//! # cp-kernel — the Control Plane kernel
//!
//! An embedded, governed runtime kernel for LLM agents. Data flows one way:
//! [`plane`] (a directory of governed files) → [`attention`] (assembles context, read-only) →
//! [`router`] (authenticates, budgets, calls the provider) → [`ledger`] (append-only,
//! SHA-256 hash-chained record of everything that happened).
//!
//! * [`plane`] — the installed root: tiers, layout, the one path-resolution function.
//! * [`ledger`] — entries, RFC 8785 canonical JSON, the [`ledger::LedgerStore`] trait with SQLite
//!   and JSONL backends, verification, signed checkpoints, Control Plane v2 compatibility.
//! * [`registry`] — the CSV registries (frameworks, specs, file ownership, package state).
//! * [`schema`] — JSON Schema (draft 2020-12) validation of every document the kernel reads.
//! * [`framework`] — framework manifests and spec packs.
//! * [`package`] — package manifests, archives, the install transaction.
//! * [`contract`] — prompt contracts; [`signing`] — Ed25519 keys; [`hashing`] — SHA-256 forms.
//! * [`gates`] — G0A, G0B, G1, G1-COMPLETE, G5, G6.
//! * [`attention`], [`router`], [`budget`], [`providers`], [`auth`] — the prompt path.
//!
//! The library never prints; it emits `tracing` events. Binaries install the subscriber.

pub mod attention;
pub mod auth;
pub mod budget;
pub mod contract;
pub mod env_vars;
pub mod framework;
pub mod fsx;
pub mod gates;
pub mod hashing;
pub mod ledger;
pub mod package;
pub mod plane;
pub mod providers;
pub mod quickstart;
pub mod registry;
pub mod router;
pub mod schema;
pub mod signing;
#[cfg(feature = "testkit")]
pub mod testkit;

pub use ledger::{LedgerEntry, LedgerQuery, LedgerStore, NewEntry, Provenance};
pub use plane::{Plane, Tier};
pub use schema::SchemaSet;
