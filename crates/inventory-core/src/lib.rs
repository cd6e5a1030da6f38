//! Medusa-compatible inventory on Postgres: the domain and all SQL, with no
//! Node bindings, so `cargo test` exercises it directly.
//!
//! Modules, top to bottom; each `use`s only modules below it (tests/layers.rs
//! holds the floors and fails on a use of a sibling or of a module above):
//!
//! - `dispatch`: method names (Medusa's and this module's extensions) to
//!   their argument types and calls, with the idempotent replay of keyed writes.
//! - `items`, `levels`, `reservations`: each entity's writes and reads
//!   (`impl InventoryService` blocks); `movements`: the ledger's reads and
//!   check; `reconcile`: finds and fixes levels whose reserved quantity
//!   drifted from their live reservations, or their quantities from the ledger.
//! - `service`: the handle (connect, pool, ids) and generic list/retrieve.
//! - `args`: each method's positional JSON arguments decoded once, at the
//!   manifest, into the typed values the modules above take.
//! - `reserver`: group commit of concurrent reservation calls, in front of
//! - `reservation_engine`: decides and writes a group of reservations.
//! - `stock`: level-domain rules shared by levels and reservations: the
//!   stock rule and its messages, LEVEL_MAX, the level-removal lock protocol.
//! - `idempotency`: a keyed call's key and result, stored at commit.
//! - `ledger`: call options, and `LevelChange`: the one statement builder that
//!   changes a level's quantities and writes their movement rows.
//! - `pipeline`: transactions whose BEGIN and COMMIT share round trips with
//!   their statements.
//! - `write`: DTOs, inserts and SET clauses from validated rows.
//! - `input`: input specs and validation into rows; `outcome`: results and
//!   change events.
//! - `sql` (filters, selections, DTO expressions), `entity` (the tables),
//!   `quantity`, `limits`, `migrate`, `connection` (the connection string,
//!   TLS, and what connect errors may say), `hosts` (host-by-host connect,
//!   each attempt bounded), `relay` (a caller's connection, lent inside its
//!   transaction, as the connection of one call), `error`.
//! - `wire`: each connection's protocol followed on its socket (round trips,
//!   their SQL), a call's trace, the service's counters and events.

#![forbid(unsafe_code)]

mod args;
mod connection;
pub mod dispatch;
pub mod entity;
pub mod error;
mod hosts;
mod idempotency;
mod input;
mod items;
mod ledger;
mod levels;
mod limits;
mod migrate;
mod movements;
mod outcome;
mod pipeline;
mod quantity;
mod reconcile;
pub mod relay;
mod reservation_engine;
mod reservations;
mod reserver;
mod service;
mod sql;
mod stock;
pub mod wire;
mod write;

pub use connection::SslOption;
pub use error::{Error, ErrorType, Result};
pub use movements::PruneOptions;
pub use outcome::{Change, Outcome};
pub use reconcile::ReconcileOptions;
pub use reserver::Grouping;
pub use service::{ConnectOptions, InventoryService};
