//! Level-domain rules shared by the level and reservation writes: the largest
//! quantity a level may hold, its error, and the lock protocol that removes
//! levels without racing reservations.

use crate::error::{Error, ErrorType, Result};
use crate::idempotency::commit;
use crate::ledger::{insert_sql, pivot, Audit};
use crate::outcome::Outcome;
use crate::quantity::{sql_level_fits, MAX_DIGITS};
use crate::reservation_engine::reservation_error;
use crate::reservations::{MOVED_RESERVED, NAMED_BY_ONE};
use crate::sql::Params;
use crate::write::raw_of;
use rust_decimal::Decimal;
use tokio_postgres::error::SqlState;

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

/// The rule a restore that brings reservations back is held to, as a create
/// is (one place for every restore: items, levels, reservations, by line
/// item): SQL over one level after the restore, NULL when it may happen, else
/// the problem, for [`restore_error`]. `level` is the live level's id (NULL:
/// no live level at the item and location: `missing`); `guarded` whether a
/// reservation restored there has no `allow_backorder` (then `stocked` must
/// cover `reserved`, the level's re-derived reserved_quantity: else `short`);
/// `beyond` when the level would leave the quantity domain.
pub(crate) fn sql_restore_problem(
    level: &str,
    guarded: &str,
    stocked: &str,
    reserved: &str,
) -> String {
    format!(
        "CASE WHEN {level} IS NULL THEN 'missing'
              WHEN {guarded} AND ({stocked}) < ({reserved}) THEN 'short'
              WHEN NOT {fits} THEN 'beyond' END",
        fits = sql_level_fits(stocked, reserved)
    )
}

/// The error of a [`sql_restore_problem`] at an item and location (Medusa's
/// messages for a reservation that cannot be made).
pub(crate) fn restore_error(problem: &str, item: String, loc: String) -> Error {
    match problem {
        "missing" => reservation_error(&[(item, loc)], None),
        "short" => reservation_error(&[], Some((item, loc))),
        _ => beyond_level("quantity", &item, &loc),
    }
}

/// SQL: the ids of every level, live or soft-deleted, at the (item, loc) pairs
/// of relation `pairs`, as an array. A statement that locks levels locks these
/// and judges `deleted_at` on the locked rows: a lock returns the latest
/// version of a row, but a scan that asks for live levels skips a level its
/// snapshot saw soft-deleted even when a restore that committed while the
/// statement waited brought it back. Each half is looked up through its own
/// index (Medusa's are partial on deleted_at): as a plain join the levels were
/// scanned whole, seconds at millions of levels; as one array read through
/// the primary key in id order, with fewer plan nodes than a semi-join.
pub(crate) fn sql_level_ids_at(pairs: &str) -> String {
    format!(
        "ARRAY(SELECT x.id FROM {pairs} at_p, LATERAL (
           SELECT id FROM inventory_level WHERE inventory_item_id = at_p.item
             AND location_id = at_p.loc AND deleted_at IS NULL
           UNION ALL
           SELECT id FROM inventory_level WHERE inventory_item_id = at_p.item
             AND location_id = at_p.loc AND deleted_at IS NOT NULL) x)"
    )
}

/// How often a removal re-takes its locks when reservations arrive between them.
pub(crate) const LOCK_ATTEMPTS: usize = 5;

/// Runs `sql` (same `params`, then, when it `records` movements, the call's
/// ledger parameters: see ledger::insert_sql) in a transaction that first holds the locks
/// [`lock_levels_and_reservations`] takes, starting again (a bounded number of
/// times) when reservations arrived between its steps; turns the statement's
/// one row into the call's outcome and commits with it (idempotency.rs).
/// `cascade`: see [`lock_levels_and_reservations`].
#[allow(clippy::too_many_arguments)]
pub(crate) async fn locked_removal(
    c: &mut deadpool_postgres::Client,
    cond: &str,
    cascade: Option<&str>,
    params: &Params,
    sql: &str,
    records: bool,
    audit: &Audit,
    outcome: impl Fn(&tokio_postgres::Row) -> Result<Outcome>,
) -> Result<Outcome> {
    for _ in 0..LOCK_ATTEMPTS {
        let tx = c.transaction().await?;
        if lock_levels_and_reservations(&tx, cond, cascade, params).await? {
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
///
/// `cascade`: the parameter (`$n`) holding the ids of items the caller's
/// statement hard-deletes, whose foreign keys cascade to every level and
/// reservation of theirs. Then the first step locks every reservation of those
/// items, soft-deleted ones too (left to the cascade, it would wait for one a
/// restore holds while holding the levels the restore waits for); after the
/// levels the items themselves are locked, so no level can be created for them
/// any more (its foreign key check waits); and a level of theirs committed
/// before that but not locked counts as a late arrival too (the cascade would
/// remove it without the statement closing it in the ledger). Reservation
/// creates hold a level before their foreign key check, and every level of
/// these items is held here by then, so none waits on the item lock while
/// holding something this waits for.
pub(crate) async fn lock_levels_and_reservations(
    tx: &deadpool_postgres::Transaction<'_>,
    cond: &str,
    cascade: Option<&str>,
    params: &Params,
) -> Result<bool> {
    let at_levels = format!(
        "FROM reservation_item r JOIN inventory_level t
           ON t.inventory_item_id = r.inventory_item_id AND t.location_id = r.location_id
         WHERE ({cond}) AND t.deleted_at IS NULL AND r.deleted_at IS NULL"
    );
    let first = match cascade {
        None => format!("SELECT r.id {at_levels} ORDER BY r.id FOR UPDATE OF r"),
        Some(items) => format!(
            "SELECT r.id FROM reservation_item r
             WHERE r.inventory_item_id = ANY({items}::text[]) OR r.id IN (SELECT r.id {at_levels})
             ORDER BY r.id FOR UPDATE OF r"
        ),
    };
    let locked: Vec<String> = tx
        .query(&first, &params.refs())
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let levels: Vec<String> = tx
        .query(
            // Soft-deleted levels too, said so that each half has its index (Medusa's
            // are partial on deleted_at); otherwise every level is scanned.
            &format!(
                "SELECT t.id FROM inventory_level t WHERE ({cond})
                   AND (t.deleted_at IS NULL OR t.deleted_at IS NOT NULL) ORDER BY t.id FOR UPDATE"
            ),
            &params.refs(),
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let mut refs = params.refs();
    refs.push(&locked);
    let n = refs.len();
    let late_levels = match cascade {
        None => String::new(),
        Some(items) => {
            tx.query(
                &format!("SELECT id FROM inventory_item WHERE id = ANY({items}::text[]) ORDER BY id FOR UPDATE"),
                &params.refs(),
            )
            .await?;
            refs.push(&levels);
            format!(
                " OR EXISTS (SELECT 1 FROM inventory_level l WHERE l.inventory_item_id = ANY({items}::text[])
                     AND (l.deleted_at IS NULL OR l.deleted_at IS NOT NULL) AND l.id <> ALL(${}::text[]))",
                n + 1
            )
        }
    };
    // A new statement: its snapshot includes every reservation (and level)
    // committed before the locks were granted.
    let late: bool = tx
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 {at_levels} AND r.id <> ALL(${n}::text[])){late_levels}"
            ),
            &refs,
        )
        .await?
        .get(0);
    Ok(!late)
}

/// A restore that brings levels and reservations back (restoreInventoryItems,
/// restoreInventoryLevels) for the rows `ids` name: in one transaction, the
/// reservations it restores are locked (`lock_reservations`, over `$1`,
/// returning their ids), then every level it may touch (`lock_levels`, the
/// same), the crate's lock order; then [`restore_levels_sql`] runs, its
/// snapshot taken after those locks, so it holds every reservation committed
/// at those levels, and none can change while they are held. When it finds a
/// reservation to restore or a level to touch that was not locked (it arrived
/// between the statements, e.g. a soft delete that committed meanwhile), it
/// writes nothing and the transaction starts over ([`LOCK_ATTEMPTS`], then
/// `conflict`): it never locks a reservation while holding a level. A
/// restored reservation that fails the create rule fails the call.
/// `outcome` turns the statement's row into the call's outcome.
///
/// `yields_to_new_levels`: the statement leaves an old level deleted where a
/// live one stands at its item and location (an item restore). A level created
/// there after the statement's snapshot is invisible to it but not to the
/// unique index; the statement then fails with a unique violation, and the
/// transaction starts over, so the next snapshot sees the new level. Without
/// it (a level restore) that violation is the call's answer: "already exists".
#[allow(clippy::too_many_arguments)]
pub(crate) async fn restore_locked(
    c: &mut deadpool_postgres::Client,
    ids: &Vec<String>,
    lock_reservations: &str,
    lock_levels: &str,
    sql: &str,
    yields_to_new_levels: bool,
    audit: &Audit,
    outcome: impl Fn(&tokio_postgres::Row) -> Outcome,
) -> Result<Outcome> {
    for _ in 0..LOCK_ATTEMPTS {
        let tx = c.transaction().await?;
        let ids_of = |rows: Vec<tokio_postgres::Row>| -> Vec<String> {
            rows.iter().map(|r| r.get(0)).collect()
        };
        let stmt = tx.prepare_cached(lock_reservations).await?;
        let reservations = ids_of(tx.query(&stmt, &[ids]).await?);
        let stmt = tx.prepare_cached(lock_levels).await?;
        let levels = ids_of(tx.query(&stmt, &[ids]).await?);
        let mut refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
            vec![ids, &levels, &reservations];
        audit.extend(&mut refs);
        let stmt = tx.prepare_cached(sql).await?;
        let row = match tx.query_one(&stmt, &refs).await {
            Ok(row) => row,
            Err(e) if yields_to_new_levels && e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                tx.rollback().await?;
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        if row.get::<_, bool>(6) {
            tx.rollback().await?;
            continue;
        }
        if let (Some(kind), Some(item), Some(loc)) = (
            row.get::<_, Option<String>>(3),
            row.get::<_, Option<String>>(4),
            row.get::<_, Option<String>>(5),
        ) {
            return Err(restore_error(&kind, item, loc));
        }
        let out = outcome(&row);
        commit(tx, audit, &out).await?;
        return Ok(out);
    }
    Err(Error::new(
        ErrorType::Conflict,
        "rows kept arriving at the levels being restored; retry the call",
    ))
}

/// The statement of [`restore_locked`] (`$1` the ids the call names, `$2`
/// the levels and `$3` the reservations locked, the audit parameters from
/// `$4`). `pre` defines `rs` (the reservations restored: id, item, loc, q,
/// bo, line) and `back` (the ids of the levels restored), each followed by a
/// comma; `late_levels` is a boolean: a level the statement may touch that
/// was not locked; `extra` adds CTEs that write only when `ok.ok`, each
/// preceded by a comma, and `extra_cols` columns after the seventh.
///
/// Every level touched (those of `back`, and the live level at the item and
/// location of each reservation restored) gets a reserved_quantity re-derived
/// as the sum of the reservations live there after the restore, never the
/// value it held before its soft delete (reservations hard-deleted
/// meanwhile, or a level re-created meanwhile, would otherwise be miscounted),
/// with the movement of exactly the change. Each restored reservation is
/// checked as a create ([`sql_restore_problem`]); if one fails, or something
/// arrived unlocked, nothing is written. Columns: the restored level ids, the
/// other level ids updated, the restored reservation ids, the problem, its
/// item and location (NULL when none), whether something arrived unlocked.
pub(crate) fn restore_levels_sql(
    pre: &str,
    late_levels: &str,
    extra: &str,
    extra_cols: &str,
) -> String {
    let sum_live =
        "(SELECT sum(r.quantity) FROM reservation_item r WHERE r.inventory_item_id = lv.item
                       AND r.location_id = lv.loc AND r.deleted_at IS NULL)";
    format!(
        "WITH {pre}
         late AS (SELECT EXISTS (SELECT 1 FROM rs WHERE rs.id <> ALL($3::text[])) OR ({late_levels}) AS late),
         d AS (SELECT item, loc, sum(q) AS total, bool_or(NOT bo) AS guarded, {named} FROM rs GROUP BY 1, 2),
         lv AS (SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.stocked_quantity AS stocked,
                       l.reserved_quantity AS old_r, l.id = ANY(ARRAY(SELECT id FROM back)) AS restored
                FROM inventory_level l
                WHERE l.id = ANY(ARRAY(SELECT id FROM back) || ARRAY(
                        SELECT x.id FROM d at_d, LATERAL (SELECT id FROM inventory_level
                          WHERE inventory_item_id = at_d.item AND location_id = at_d.loc AND deleted_at IS NULL) x))),
         nr AS MATERIALIZED (
           SELECT lv.*, d.guarded, d.res, d.line,
                  trim_scale(coalesce({sum_live}, 0) + coalesce(d.total, 0)) AS new_r
           FROM lv LEFT JOIN d ON d.item = lv.item AND d.loc = lv.loc),
         chk AS MATERIALIZED (
           SELECT coalesce(nr.item, d.item) AS item, coalesce(nr.loc, d.loc) AS loc,
                  {problem} AS problem
           FROM d FULL JOIN nr ON nr.item = d.item AND nr.loc = d.loc),
         ok AS (SELECT NOT (SELECT late FROM late)
                       AND NOT EXISTS (SELECT 1 FROM chk WHERE problem IS NOT NULL) AS ok),
         ch AS (UPDATE reservation_item t SET deleted_at = NULL, updated_at = now()
                FROM rs, ok WHERE ok.ok AND t.id = rs.id RETURNING t.id),
         upd AS (UPDATE inventory_level t
                 SET deleted_at = CASE WHEN nr.restored THEN NULL ELSE t.deleted_at END, updated_at = now(),
                     reserved_quantity = nr.new_r, raw_reserved_quantity = {raw}
                 FROM nr, ok WHERE ok.ok AND t.id = nr.id AND (nr.restored OR nr.new_r <> nr.old_r)
                 RETURNING t.id, nr.item, nr.loc, nr.old_r, t.reserved_quantity AS new_r, nr.res, nr.line,
                           nr.restored),
         mv AS ({insert}){extra},
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY problem = 'missing' DESC, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM upd WHERE restored ORDER BY id),
                ARRAY(SELECT id FROM upd WHERE NOT restored ORDER BY id),
                ARRAY(SELECT id FROM ch ORDER BY id),
                CASE WHEN NOT (SELECT late FROM late) THEN p.problem END, p.item, p.loc,
                (SELECT late FROM late){extra_cols}
         FROM (SELECT 1) one LEFT JOIN p ON true",
        named = NAMED_BY_ONE,
        problem = sql_restore_problem("nr.id", "coalesce(d.guarded, false)", "nr.stocked", "nr.new_r"),
        raw = raw_of("nr.new_r"),
        insert = insert_sql(&pivot(MOVED_RESERVED), 4),
    )
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
