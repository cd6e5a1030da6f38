//! Medusa-compatible inventory on Postgres: the domain and all SQL, with no
//! Node bindings, so `cargo test` exercises it directly.

#![forbid(unsafe_code)]

mod connection;
pub mod dispatch;
pub mod entity;
pub mod error;
pub mod items;
pub mod levels;
pub mod limits;
pub mod migrate;
pub mod quantity;
pub mod reservations;
pub mod service;
pub mod sql;

pub use connection::SslOption;
pub use error::{Error, ErrorType, Result};
pub use reservations::Grouping;
pub use service::{ConnectOptions, InventoryService};
