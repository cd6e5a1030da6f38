//! A transaction whose BEGIN and COMMIT travel with the statements next to
//! them: tokio-postgres pipelines requests made at once on one connection,
//! so `join!(tx.begin(), first statement)` is one round trip, and so is
//! `join!(last statements, tx.commit())`. A write that used to wait for
//! BEGIN, each statement and COMMIT in turn waits for two or three.
//!
//! Requests go out in the order their futures are first polled, so every
//! statement of a flight must be prepared before the flight (a statement
//! still to prepare sends its Parse first and its Execute only after the
//! answer, which would let a COMMIT overtake it).
//!
//! Each statement is its own Sync: when one fails, the ones after it in the
//! transaction fail with 25P02 and Postgres answers the COMMIT with a
//! ROLLBACK. So a caller that pipelines its COMMIT checks the statements'
//! results first: the transaction committed only if all of them succeeded.

use crate::error::{Error, Result};
use deadpool_postgres::Client;
use std::sync::atomic::{AtomicBool, Ordering};

/// SQLSTATE of a statement sent after another one of its transaction failed.
const IN_FAILED_TRANSACTION: &str = "25P02";

/// The error to report for a flight of statements (in the order they were
/// sent): the first that is not "transaction aborted" (25P02), which only
/// echoes an earlier failure; None when all succeeded.
pub(crate) fn flight_error<'a>(errors: impl IntoIterator<Item = &'a Error>) -> Option<Error> {
    let errors: Vec<&Error> = errors.into_iter().collect();
    errors
        .iter()
        .find(|e| e.sql_state.as_deref() != Some(IN_FAILED_TRANSACTION))
        .or(errors.first())
        .map(|e| (*e).clone())
}

/// An explicit transaction on a pooled connection. If it is dropped while
/// open (an early return, a panic), its connection is closed rather than
/// returned to the pool, so the server rolls it back and no later call can
/// run inside it or wait on its locks.
pub(crate) struct PipelinedTx {
    client: Option<Client>,
    open: AtomicBool,
}

impl PipelinedTx {
    pub(crate) fn new(client: Client) -> Self {
        PipelinedTx {
            client: Some(client),
            open: AtomicBool::new(false),
        }
    }

    pub(crate) fn client(&self) -> &Client {
        self.client
            .as_ref()
            .expect("the client is only taken on drop")
    }

    /// Whether BEGIN went out and no COMMIT or ROLLBACK has ended it yet.
    pub(crate) fn is_open(&self) -> bool {
        self.open.load(Ordering::Relaxed)
    }

    /// BEGIN; poll it first in a `join!` with the transaction's first statements.
    ///
    /// The transaction's prepared statements run on their generic plan. They
    /// take arrays, and Postgres prices a generic plan for an array of unknown
    /// length above a custom one for the array at hand, so it planned the
    /// level lock and the level update anew on every call (about 0.15 ms
    /// each, as much as running them). The statements that go through here
    /// look rows up by key (ids, item and location, line item) so that the
    /// generic plan is the same index lookup whatever the values; a lookup
    /// that would let stale statistics pick a scan instead is written
    /// around it (see reservations.rs, update_in).
    pub(crate) async fn begin(&self) -> Result<()> {
        self.open.store(true, Ordering::Relaxed);
        self.client()
            .batch_execute("BEGIN; SET LOCAL plan_cache_mode = force_generic_plan")
            .await?;
        Ok(())
    }

    /// COMMIT; poll it last in a `join!` with the transaction's last statements.
    /// Ok does not mean committed when one of them failed (see the module doc).
    pub(crate) async fn commit(&self) -> Result<()> {
        self.end("COMMIT").await
    }

    pub(crate) async fn rollback(&self) -> Result<()> {
        self.end("ROLLBACK").await
    }

    /// After an error the connection's state is unknown: it stays marked open,
    /// and is closed on drop.
    async fn end(&self, how: &str) -> Result<()> {
        self.client().batch_execute(how).await?;
        self.open.store(false, Ordering::Relaxed);
        Ok(())
    }
}

impl Drop for PipelinedTx {
    fn drop(&mut self) {
        if self.open.load(Ordering::Relaxed) {
            if let Some(c) = self.client.take() {
                drop(deadpool_postgres::Object::take(c));
            }
        }
    }
}
