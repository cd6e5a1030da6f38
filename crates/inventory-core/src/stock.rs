//! Level-domain rules shared by the level and reservation writes: the largest
//! quantity a level may hold, its error, and the lock protocol that removes
//! levels without racing reservations.

use crate::error::{Error, ErrorType, Result};
use crate::idempotency::commit;
use crate::ledger::Audit;
use crate::outcome::Outcome;
use crate::quantity::MAX_DIGITS;
use crate::sql::Params;
use rust_decimal::Decimal;

/// Largest magnitude a level quantity (stocked, reserved, and available =
/// stocked - reserved) may take: the top of the input domain (quantity.rs).
/// Every write that moves a level refuses to leave any of the three outside
/// the domain (magnitude and significant digits, `sql_level_fits`), so no
/// accepted write produces a level that later calls cannot read.
pub(crate) const LEVEL_MAX: Decimal =
    Decimal::from_parts(0x0fff_ffff, 0x3e25_0261, 0x204f_ce5e, false, 0);

pub(crate) fn beyond_level(field: &str, item: &str, loc: &str) -> Error {
    Error::invalid(format!(
        "{field} would take the inventory level of item {item} at location {loc} beyond {LEVEL_MAX} \
         or past {MAX_DIGITS} significant digits"
    ))
}

/// A quantity column of a level or reservation row, read as numeric. Every
/// write keeps them inside the domain; a row outside it (written by other
/// code) is refused as the text path refused it.
pub(crate) fn quantity_at(row: &tokio_postgres::Row, idx: usize) -> Result<Decimal> {
    row.try_get(idx)
        .map_err(|_| Error::invalid(format!("quantity must be a number within ±{LEVEL_MAX}")))
}

/// How often a removal re-takes its locks when reservations arrive between them.
pub(crate) const LOCK_ATTEMPTS: usize = 5;

/// Runs `sql` (same `params`, then, when it `records` movements, the call's
/// ledger parameters: see ledger::insert_sql) in a transaction that first holds the locks
/// [`lock_levels_and_reservations`] takes, starting again (a bounded number of
/// times) when reservations arrived between its steps; turns the statement's
/// one row into the call's outcome and commits with it (idempotency.rs).
pub(crate) async fn locked_removal(
    c: &mut deadpool_postgres::Client,
    cond: &str,
    params: &Params,
    sql: &str,
    records: bool,
    audit: &Audit,
    outcome: impl Fn(&tokio_postgres::Row) -> Result<Outcome>,
) -> Result<Outcome> {
    for _ in 0..LOCK_ATTEMPTS {
        let tx = c.transaction().await?;
        if lock_levels_and_reservations(&tx, cond, params).await? {
            let mut refs = params.refs();
            if records {
                audit.extend(&mut refs);
            }
            let row = tx.query_one(sql, &refs).await?;
            let out = outcome(&row)?;
            commit(tx, audit, &out).await?;
            return Ok(out);
        }
        tx.rollback().await?;
    }
    Err(Error::new(
        ErrorType::Conflict,
        "reservations kept arriving at the levels being removed; retry the call",
    ))
}

/// Locks, in the crate's order, the live reservations at the levels matching
/// `cond` (alias `t`), then those levels. A reservation created at one of them
/// between the two steps is not locked, and its holder may be waiting for the
/// level: then this returns false and the caller rolls back and starts again,
/// never waiting for a reservation while it holds a level. Once the levels are
/// locked no reservation can arrive (creates and moves lock the level first).
pub(crate) async fn lock_levels_and_reservations(
    tx: &deadpool_postgres::Transaction<'_>,
    cond: &str,
    params: &Params,
) -> Result<bool> {
    let at_levels = format!(
        "FROM reservation_item r JOIN inventory_level t
           ON t.inventory_item_id = r.inventory_item_id AND t.location_id = r.location_id
         WHERE ({cond}) AND t.deleted_at IS NULL AND r.deleted_at IS NULL"
    );
    let locked: Vec<String> = tx
        .query(
            &format!("SELECT r.id {at_levels} ORDER BY r.id FOR UPDATE OF r"),
            &params.refs(),
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    tx.query(
        // Soft-deleted levels too, said so that each half has its index (Medusa's
        // are partial on deleted_at); otherwise every level is scanned.
        &format!(
            "SELECT t.id FROM inventory_level t WHERE ({cond})
               AND (t.deleted_at IS NULL OR t.deleted_at IS NOT NULL) ORDER BY t.id FOR UPDATE"
        ),
        &params.refs(),
    )
    .await?;
    // A new statement: its snapshot includes every reservation committed before
    // the level locks were granted.
    let mut refs = params.refs();
    refs.push(&locked);
    let n = refs.len();
    let late: bool = tx
        .query_one(
            &format!("SELECT EXISTS (SELECT 1 {at_levels} AND r.id <> ALL(${n}::text[]))"),
            &refs,
        )
        .await?
        .get(0);
    Ok(!late)
}

#[cfg(test)]
mod tests {
    use super::LEVEL_MAX;
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn level_max_is_the_top_of_the_quantity_domain() {
        let top = Decimal::from_str("9999999999999999999999999999").unwrap();
        assert_eq!(LEVEL_MAX, top);
        assert!(crate::quantity::in_domain(&LEVEL_MAX));
        assert!(!crate::quantity::in_domain(&(LEVEL_MAX + Decimal::ONE)));
    }
}
