//! Idempotency keys: a write called with `idempotencyKey` stores its response
//! under the key in the transaction that applies it (`inventory_idempotency_key`,
//! a table of this module's own). A repeat of the call with the key (after a
//! lost reply, from another process) gets that response and applies nothing;
//! the key with other arguments is refused. Keys expire after the connect
//! option `idempotencyKeyTtl` (seconds, default a day).
//!
//! The key row is written last, just before COMMIT: a transaction that holds
//! an uncommitted key waits for nothing, so a twin blocked on the key cannot
//! deadlock with it. When twins run at once, the second one's key insert
//! finds the first's committed key and its transaction rolls back (nothing
//! applied); it then answers with the stored response.

use crate::error::{Error, Result};
use crate::ledger::{Audit, CallOptions};
use crate::outcome::Outcome;
use crate::pipeline::PipelinedTx;
use deadpool_postgres::GenericClient;
use serde_json::{json, Value};

/// Seconds a key is kept when the connect options name no other time.
pub const DEFAULT_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The request a key stands for: the method, its arguments and the call options
/// that change what it does (compared as jsonb, so key order in objects does not
/// matter). `expectedStockedQuantity` decides whether the write applies, so a
/// repeat with another one is another request. The ledger labels (reason, actor,
/// reference, metadata) only describe the call: a repeat (whose reference may be
/// a new workflow transaction's id) replays the first call's. Without an
/// expected stock the text is `[method, args]`, as keys stored before it.
pub(crate) fn request_text(method: &str, args: &[Value], options: &CallOptions) -> String {
    match options.expected_stocked_quantity {
        None => json!([method, args]).to_string(),
        Some(d) => json!([
            method,
            args,
            { "expectedStockedQuantity": d.normalize().to_string() }
        ])
        .to_string(),
    }
}

pub(crate) fn reused(key: &str, method: &str) -> Error {
    Error::invalid(format!(
        "idempotencyKey {key} was already used for a different call ({method} with other arguments)"
    ))
}

/// Claims the keys of committed-to-be calls (key, method, request, response)
/// in the caller's transaction; false when one is held by another call
/// (which has committed: the insert waited for it), and the caller must
/// roll back.
pub(crate) async fn claim<C: GenericClient>(
    c: &C,
    ttl_seconds: i64,
    keys: &[(String, String, String, String)],
) -> Result<bool> {
    if keys.is_empty() {
        return Ok(true);
    }
    let mut sorted: Vec<_> = keys.iter().collect();
    sorted.sort();
    let (k, m, q, r): (Vec<&str>, Vec<&str>, Vec<&str>, Vec<&str>) = (
        sorted.iter().map(|x| x.0.as_str()).collect(),
        sorted.iter().map(|x| x.1.as_str()).collect(),
        sorted.iter().map(|x| x.2.as_str()).collect(),
        sorted.iter().map(|x| x.3.as_str()).collect(),
    );
    let stmt = c
        .prepare_cached(
            "INSERT INTO inventory_idempotency_key AS t (key, method, request_hash, response, expires_at)
             SELECT u.k, u.m, md5(u.q::jsonb::text), u.r::jsonb, now() + make_interval(secs => $5)
             FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(k, m, q, r)
             ON CONFLICT (key) DO UPDATE SET method = excluded.method, request_hash = excluded.request_hash,
                response = excluded.response, created_at = now(), expires_at = excluded.expires_at
             WHERE t.expires_at <= now()",
        )
        .await?;
    let n = c
        .execute(&stmt, &[&k, &m, &q, &r, &(ttl_seconds as f64)])
        .await?;
    Ok(n as usize == keys.len())
}

/// Stores the call's key (if any) with its response in the caller's
/// transaction; a key another call committed first is refused (`conflict`),
/// and the caller must then roll back.
async fn claim_call<C: GenericClient>(c: &C, audit: &Audit, out: &Outcome) -> Result<()> {
    if let (Some(key), Some(request)) = (audit.key(), audit.request.as_deref()) {
        let row = (
            key.to_string(),
            audit.method.to_string(),
            request.to_string(),
            out.to_json_string(),
        );
        if !claim(c, audit.ttl_seconds, &[row]).await? {
            return Err(held(key));
        }
    }
    Ok(())
}

/// Commits `tx` with the call's key (if any) and response; a key another
/// call committed first is refused (`conflict`) and nothing is applied.
pub(crate) async fn commit(
    tx: deadpool_postgres::Transaction<'_>,
    audit: &Audit,
    out: &Outcome,
) -> Result<()> {
    claim_call(&tx, audit, out).await?;
    tx.commit().await?;
    Ok(())
}

/// [`commit`] for a [`PipelinedTx`] (left open when the key is refused).
pub(crate) async fn commit_pipelined(tx: &PipelinedTx, audit: &Audit, out: &Outcome) -> Result<()> {
    claim_call(tx.client(), audit, out).await?;
    tx.commit().await
}

/// The key is held by a call that committed first (the caller replays it).
pub(crate) fn held(key: &str) -> Error {
    Error::new(
        crate::error::ErrorType::Conflict,
        format!("idempotencyKey {key} is held by another call"),
    )
}
