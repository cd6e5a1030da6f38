//! Level-domain rules shared by the level and reservation writes: the largest
//! quantity a level may hold, its error, and the lock protocol that removes
//! levels without racing reservations.

use crate::error::{Error, ErrorType, Result};
use crate::idempotency::commit;
use crate::ledger::{Audit, LevelChange, Moved, Quantity, NAMED_BY_ONE};
use crate::outcome::Outcome;
use crate::quantity::{sql_level_fits, MAX_DIGITS};
use crate::sql::Params;
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

/// A quantity column of a level, read back as text. Every write keeps them
/// inside the domain; a value outside it (written by other code) is refused
/// as the input path refuses it.
pub(crate) fn quantity_of(text: Option<&str>) -> Result<Decimal> {
    text.and_then(|s| s.parse::<Decimal>().ok())
        .ok_or_else(|| Error::invalid(format!("quantity must be a number within ±{LEVEL_MAX}")))
}

/// An item at a location: where a level is (at most one live).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct At {
    pub item: String,
    pub loc: String,
}

/// Why reservations cannot be made (or moved, or restored) at a level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Problem {
    /// No live level at the item and location.
    Missing,
    /// The level's stock does not cover what may not backorder.
    Short,
    /// The level would leave the quantity domain.
    Beyond,
}

impl Problem {
    /// In Medusa's precedence: missing levels before a shortage.
    const ALL: [Problem; 3] = [Problem::Missing, Problem::Short, Problem::Beyond];

    /// How SQL names it ([`sql_stock_problem`]).
    pub(crate) fn code(self) -> &'static str {
        match self {
            Problem::Missing => "missing",
            Problem::Short => "short",
            Problem::Beyond => "beyond",
        }
    }

    pub(crate) fn from_code(code: &str) -> Option<Problem> {
        Problem::ALL.into_iter().find(|p| p.code() == code)
    }

    /// SQL: the precedence of the problem code `col` (1 first).
    pub(crate) fn sql_rank(col: &str) -> String {
        let codes: Vec<String> = Problem::ALL
            .iter()
            .map(|p| format!("'{}'", p.code()))
            .collect();
        format!("array_position(ARRAY[{}]::text[], {col})", codes.join(", "))
    }

    /// Medusa's message for this problem at an item and location.
    pub(crate) fn error(self, item: String, loc: String) -> Error {
        match self {
            Problem::Missing => reservation_error(&[At { item, loc }], None),
            Problem::Short => reservation_error(&[], Some(At { item, loc })),
            Problem::Beyond => beyond_level("quantity", &item, &loc),
        }
    }

    /// The error of a problem code a statement returned.
    pub(crate) fn error_of(code: &str, item: String, loc: String) -> Error {
        match Problem::from_code(code) {
            Some(p) => p.error(item, loc),
            None => Error::unexpected(format!("unknown stock problem {code}")),
        }
    }
}

/// The stock rule, for reservations that add `total` at a level, of which
/// `guarded` may not backorder: when they add anything the level must be live;
/// its available quantity (stocked - reserved) must cover `guarded`. (The
/// level must also stay inside the quantity domain: the caller's checked sum.)
/// The create path's form; [`sql_stock_problem`] is the same rule in SQL.
pub(crate) fn stock_problem(
    available: Option<Decimal>,
    total: Decimal,
    guarded: Decimal,
) -> Option<Problem> {
    match available {
        None if total > Decimal::ZERO => Some(Problem::Missing),
        Some(a) if guarded > Decimal::ZERO && a < guarded => Some(Problem::Short),
        _ => None,
    }
}

/// [`stock_problem`] in SQL, over one level and the reservations that move it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SqlDemand<'a> {
    /// The live level's id (NULL: none at the item and location).
    pub level: &'a str,
    /// What the reservations add there (net).
    pub total: &'a str,
    /// Whether one of them may not backorder (then all of `total` is guarded).
    pub guarded: &'a str,
    pub stocked: &'a str,
    /// The level's reserved quantity with `total` added, and the value that
    /// will be written (which must stay inside the domain).
    pub reserved_after: &'a str,
    pub written: &'a str,
}

/// SQL: NULL when the reservations may move the level, else the
/// [`Problem::code`] of the first problem.
pub(crate) fn sql_stock_problem(d: &SqlDemand<'_>) -> String {
    format!(
        "CASE WHEN {level} IS NULL THEN CASE WHEN ({total}) > 0 THEN '{missing}' END
              WHEN {guarded} AND ({total}) > 0 AND ({stocked}) < ({after}) THEN '{short}'
              WHEN NOT {fits} THEN '{beyond}' END",
        level = d.level,
        total = d.total,
        guarded = d.guarded,
        stocked = d.stocked,
        after = d.reserved_after,
        fits = sql_level_fits(d.stocked, d.written),
        missing = Problem::Missing.code(),
        short = Problem::Short.code(),
        beyond = Problem::Beyond.code(),
    )
}

/// Medusa's errors for a reservation that cannot be made: missing levels are
/// reported (all of them) before a shortage.
pub(crate) fn reservation_error(missing: &[At], short: Option<At>) -> Error {
    if !missing.is_empty() {
        return Error::not_found(
            missing
                .iter()
                .map(|m| format!("Item {} is not stocked at location {}", m.item, m.loc))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let At { item, loc } = short.unwrap_or_default();
    Error::not_allowed(format!(
        "Not enough stock available for item {item} at location {loc}"
    ))
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

/// SQL: two CTEs, `lk0` locking every level, live or soft-deleted, at the
/// (item, loc) pairs of relation `pairs` in id order ([`sql_level_ids_at`]),
/// and `lk`, the live ones judged on the locked rows. Columns: id,
/// inventory_item_id, location_id, stocked_quantity, reserved_quantity,
/// deleted_at.
pub(crate) fn sql_lock_live_levels_at(pairs: &str) -> String {
    format!(
        "lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity, l.deleted_at
           FROM inventory_level l WHERE l.id = ANY({ids})
           ORDER BY l.id FOR UPDATE
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL)",
        ids = sql_level_ids_at(pairs),
    )
}

/// How often a removal re-takes its locks when reservations arrive between them.
pub(crate) const LOCK_ATTEMPTS: usize = 5;

/// Runs `sql` (with `params`, the ledger's included) in a transaction that
/// first holds the locks [`lock_levels_and_reservations`] takes (`cond` with
/// `lock_params`), starting again (a bounded number of times)
/// when reservations arrived between its steps; turns the statement's one row
/// into the call's outcome and commits with it (idempotency.rs). `cascade`:
/// see [`lock_levels_and_reservations`].
#[allow(clippy::too_many_arguments)]
pub(crate) async fn locked_removal(
    c: &mut deadpool_postgres::Client,
    cond: &str,
    cascade: Option<&str>,
    lock_params: &Params,
    sql: &str,
    params: &Params,
    audit: &Audit,
    outcome: impl Fn(&tokio_postgres::Row) -> Result<Outcome>,
) -> Result<Outcome> {
    for _ in 0..LOCK_ATTEMPTS {
        let tx = c.transaction().await?;
        if lock_levels_and_reservations(&tx, cond, cascade, lock_params).await? {
            let row = tx.query_one(sql, &params.refs()).await?;
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
    let locked = ids_locked(tx, &first, params).await?;
    // Soft-deleted levels too, said so that each half has its index (Medusa's
    // are partial on deleted_at); otherwise every level is scanned.
    let levels = ids_locked(
        tx,
        &format!(
            "SELECT t.id FROM inventory_level t WHERE ({cond})
               AND (t.deleted_at IS NULL OR t.deleted_at IS NOT NULL) ORDER BY t.id FOR UPDATE"
        ),
        params,
    )
    .await?;
    let mut look = params.clone();
    let seen = look.push(locked);
    let late_levels = match cascade {
        None => String::new(),
        Some(items) => {
            ids_locked(
                tx,
                &format!("SELECT id FROM inventory_item WHERE id = ANY({items}::text[]) ORDER BY id FOR UPDATE"),
                params,
            )
            .await?;
            let seen_levels = look.push(levels);
            format!(
                " OR EXISTS (SELECT 1 FROM inventory_level l WHERE l.inventory_item_id = ANY({items}::text[])
                     AND (l.deleted_at IS NULL OR l.deleted_at IS NOT NULL) AND l.id <> ALL({seen_levels}::text[]))"
            )
        }
    };
    // A new statement: its snapshot includes every reservation (and level)
    // committed before the locks were granted.
    let late: bool = tx
        .query_one(
            &format!(
                "SELECT EXISTS (SELECT 1 {at_levels} AND r.id <> ALL({seen}::text[])){late_levels}"
            ),
            &look.refs(),
        )
        .await?
        .get(0);
    Ok(!late)
}

/// Runs a locking query of ids (`sql` with `params`); the ids it locked.
async fn ids_locked(
    tx: &deadpool_postgres::Transaction<'_>,
    sql: &str,
    params: &Params,
) -> Result<Vec<String>> {
    let rows = tx.query(sql, &params.refs()).await?;
    Ok(rows.iter().map(|r| r.get(0)).collect())
}

/// A restore that brings levels and reservations back (restoreInventoryItems,
/// restoreInventoryLevels) for the rows `ids` name: in one transaction, the
/// reservations it restores are locked (`lock_reservations`, over `$1`,
/// returning their ids), then every level it may touch (`lock_levels`, the
/// same), the crate's lock order; then the statement of `restore` runs
/// ([`RestoreSql::sql`]), its snapshot taken after those locks, so it holds
/// every reservation committed at those levels, and none can change while
/// they are held. When it finds a reservation to restore or a level to touch
/// that was not locked (it arrived between the statements, e.g. a soft delete
/// that committed meanwhile), it writes nothing and the transaction starts
/// over ([`LOCK_ATTEMPTS`], then `conflict`): it never locks a reservation
/// while holding a level. A restored reservation that fails the stock rule
/// fails the call. `outcome` turns the statement's row into the call's outcome.
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
    restore: &RestoreSql<'_>,
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
        let (sql, params) = restore.sql(ids.clone(), levels, reservations, audit);
        let stmt = tx.prepare_cached(&sql).await?;
        let row = match tx.query_one(&stmt, &params.refs()).await {
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
            return Err(Problem::error_of(&kind, item, loc));
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

/// The statement of [`restore_locked`], from the parts its caller gives
/// (`$1` the ids the call names, `$2` the levels and `$3` the reservations
/// locked). `pre` defines `rs` (the reservations restored: id, item, loc, q,
/// bo, line) and `back` (the ids of the levels restored), each followed by a
/// comma; `late_levels` is a boolean: a level the statement may touch that
/// was not locked; `extra` adds CTEs that write only when `ok.ok`, each
/// preceded by a comma, and `extra_cols` columns after the seventh.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RestoreSql<'a> {
    pub pre: &'a str,
    pub late_levels: &'a str,
    pub extra: &'a str,
    pub extra_cols: &'a str,
}

impl RestoreSql<'_> {
    /// The statement and its parameters.
    ///
    /// Every level touched (those of `back`, and the live level at the item
    /// and location of each reservation restored) gets a reserved_quantity
    /// re-derived as the sum of the reservations live there after the
    /// restore, never the value it held before its soft delete (reservations
    /// hard-deleted meanwhile, or a level re-created meanwhile, would
    /// otherwise be miscounted), with the movement of exactly the change.
    /// Each restored reservation is held to the stock rule
    /// ([`sql_stock_problem`]); if one fails, or something arrived unlocked,
    /// nothing is written. Columns: the restored level ids, the other level
    /// ids updated, the restored reservation ids, the problem, its item and
    /// location (NULL when none), whether something arrived unlocked.
    fn sql(
        &self,
        ids: Vec<String>,
        levels: Vec<String>,
        reservations: Vec<String>,
        audit: &Audit,
    ) -> (String, Params) {
        let mut params = Params::default();
        let bound = [
            params.push(ids),
            params.push(levels),
            params.push(reservations),
        ];
        debug_assert_eq!(bound, ["$1", "$2", "$3"]);
        let sum_live =
            "(SELECT sum(r.quantity) FROM reservation_item r WHERE r.inventory_item_id = lv.item
                       AND r.location_id = lv.loc AND r.deleted_at IS NULL)";
        let upd = LevelChange {
            name: "upd",
            from: "nr, ok",
            filter: "ok.ok AND t.id = nr.id AND (nr.restored OR nr.new_r <> nr.old_r)",
            moves: &[Moved {
                quantity: Quantity::Reserved,
                old: "nr.old_r",
                new: "nr.new_r",
            }],
            also_set: "deleted_at = CASE WHEN nr.restored THEN NULL ELSE t.deleted_at END",
            reservation: "nr.res",
            line_item: "nr.line",
            returning: ", nr.restored",
        }
        .sql(&mut params, audit);
        let problem = sql_stock_problem(&SqlDemand {
            level: "nr.id",
            total: "coalesce(d.total, 0)",
            guarded: "coalesce(d.guarded, false)",
            stocked: "nr.stocked",
            reserved_after: "nr.new_r",
            written: "nr.new_r",
        });
        let sql = format!(
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
         {upd}{extra},
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY {missing_first}, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM upd WHERE restored ORDER BY id),
                ARRAY(SELECT id FROM upd WHERE NOT restored ORDER BY id),
                ARRAY(SELECT id FROM ch ORDER BY id),
                CASE WHEN NOT (SELECT late FROM late) THEN p.problem END, p.item, p.loc,
                (SELECT late FROM late){extra_cols}
         FROM (SELECT 1) one LEFT JOIN p ON true",
            pre = self.pre,
            late_levels = self.late_levels,
            extra = self.extra,
            extra_cols = self.extra_cols,
            named = NAMED_BY_ONE,
            missing_first = format_args!("problem = '{}' DESC", Problem::Missing.code()),
        );
        (sql, params)
    }
}

#[cfg(test)]
mod tests {
    use super::{stock_problem, Problem, LEVEL_MAX};
    use rust_decimal::Decimal;
    use std::str::FromStr;

    #[test]
    fn level_max_is_the_top_of_the_quantity_domain() {
        let top = Decimal::from_str("9999999999999999999999999999").unwrap();
        assert_eq!(LEVEL_MAX, top);
        assert!(crate::quantity::in_domain(&LEVEL_MAX));
        assert!(!crate::quantity::in_domain(&(LEVEL_MAX + Decimal::ONE)));
    }

    #[test]
    fn the_stock_rule_and_its_messages() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        assert_eq!(stock_problem(None, d("1"), d("0")), Some(Problem::Missing));
        assert_eq!(
            stock_problem(Some(d("2")), d("3"), d("3")),
            Some(Problem::Short)
        );
        // Backorder: only the guarded part must be available.
        assert_eq!(stock_problem(Some(d("2")), d("3"), d("2")), None);
        assert_eq!(stock_problem(Some(d("-1")), d("3"), d("0")), None);
        for p in [Problem::Missing, Problem::Short, Problem::Beyond] {
            assert_eq!(Problem::from_code(p.code()), Some(p));
        }
        let e = Problem::error_of("missing", "i".into(), "l".into());
        assert_eq!(e.message, "Item i is not stocked at location l");
        let e = Problem::error_of("short", "i".into(), "l".into());
        assert_eq!(
            e.message,
            "Not enough stock available for item i at location l"
        );
        assert_eq!(
            Problem::sql_rank("p"),
            "array_position(ARRAY['missing', 'short', 'beyond']::text[], p)"
        );
    }
}
