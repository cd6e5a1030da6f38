//! ReservationItem: every statement that writes `reservation_item`, together
//! with the `inventory_level.reserved_quantity` change that must go with it.
//!
//! Lock order, everywhere: reservation rows (by id), then level rows (by id).
//! No path locks a level and then a reservation, so no two calls deadlock.

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, Result};
use crate::idempotency::{commit, commit_pipelined};
use crate::input::{
    get, get_flag, get_quantity, get_text, ids_of, one_or_many, parse_input, shape, strings_of,
    InputSpec, Row,
};
use crate::ledger::{insert_sql, pivot, Audit};
use crate::migrate::ARRIVED_FN;
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::pipeline::{flight_error, PipelinedTx};
use crate::quantity::sql_level_fits;
use crate::reservation_engine::Call;
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{beyond_level, restore_error, sql_level_ids_at, sql_restore_problem};
use crate::write::{dto, raw_of, set_clause};
use futures_util::future::join_all;
use serde_json::Value;
use std::sync::atomic::Ordering;
use tokio_postgres::error::SqlState;

static CREATE: InputSpec = InputSpec::create(&RESERVATION_ITEM);
static UPDATE: InputSpec = InputSpec::update(&RESERVATION_ITEM);

#[derive(Clone, Copy, PartialEq, Eq)]
enum Release {
    HardDelete,
    SoftDelete,
    Restore,
}

/// Deletes, soft-deletes or restores the reservations matching `cond` (SQL over
/// alias `t`) and moves reserved_quantity of their levels by the same amount,
/// in one statement (reservations locked first, then levels, each in id order).
/// Returns the reservation ids touched and the level ids updated.
async fn release<C: deadpool_postgres::GenericClient>(
    c: &C,
    cond: &str,
    params: &Params,
    mode: Release,
    audit: &Audit,
) -> Result<(Vec<String>, Vec<String>)> {
    let stmt = c
        .prepare_cached(&release_sql(cond, params, mode, None))
        .await?;
    run_release(c, &stmt, params, audit).await
}

/// Runs a [`release_sql`] statement prepared as `stmt`: the reservation ids
/// touched and the level ids updated, or the error of the problem it found
/// (and then it changed nothing).
async fn run_release<C: deadpool_postgres::GenericClient>(
    c: &C,
    stmt: &tokio_postgres::Statement,
    params: &Params,
    audit: &Audit,
) -> Result<(Vec<String>, Vec<String>)> {
    let mut refs = params.refs();
    audit.extend(&mut refs);
    let row = c.query_one(stmt, &refs).await?;
    if let (Some(kind), Some(item), Some(loc)) = (
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
        row.get::<_, Option<String>>(4),
    ) {
        return Err(restore_error(&kind, item, loc));
    }
    Ok((row.get(0), row.get(1)))
}

/// The statement of [`release`]: ids touched, level ids updated, and the
/// problem found (`missing`, `short` or `beyond`) with its item and location.
/// With `look` (a boolean over `r0`, the rows the statement locked: whether
/// more rows arrived), the statement fails with a division by zero when,
/// having found no problem and holding its levels, `look` holds.
fn release_sql(cond: &str, params: &Params, mode: Release, look: Option<&str>) -> String {
    let (pick, change, counted) = match mode {
        Release::HardDelete => (
            "TRUE",
            "DELETE FROM reservation_item t USING r WHERE t.id = r.id AND NOT EXISTS (SELECT 1 FROM bad)
             RETURNING t.id",
            "WHERE live",
        ),
        Release::SoftDelete => (
            "live",
            "UPDATE reservation_item t SET deleted_at = now(), updated_at = now()
             FROM r WHERE t.id = r.id AND NOT EXISTS (SELECT 1 FROM bad)
             RETURNING t.id",
            "",
        ),
        Release::Restore => return restore_sql(cond, params, look),
    };
    // Reservations and levels are locked whether or not this statement's
    // snapshot shows them live, and judged after the lock (whose row is the
    // latest version): a reservation or level restored by a call that committed
    // while this one waited is live, and is released.
    // Never below zero, even for a reservation that outlived its level's history
    // (levels taken away release their reservations, see levels.rs). A release
    // that would leave a level unreadable (past 28 significant digits: reserved
    // 10^28 - 1 released by 0.25) changes nothing and says so.
    let new_reserved = "greatest(trim_scale(l.reserved_quantity - d.q), 0)";
    format!(
        "WITH r0 AS MATERIALIZED (
           SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                  t.line_item_id AS line, t.deleted_at IS NULL AS live
           FROM reservation_item t
           WHERE ({cond}) ORDER BY t.id FOR UPDATE
         ),
         r AS (SELECT * FROM r0 WHERE {pick}),
         d AS (SELECT item, loc, sum(q) AS q, {named} FROM r {counted} GROUP BY 1, 2),
         lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.deleted_at,
                  l.stocked_quantity AS stocked, l.reserved_quantity AS old_r, {new_reserved} AS reserved,
                  d.res, d.line
           FROM inventory_level l JOIN d ON l.inventory_item_id = d.item AND l.location_id = d.loc
           WHERE l.id = ANY({at_levels})
           ORDER BY l.id FOR UPDATE OF l
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
         bad AS (SELECT item, loc FROM lk WHERE NOT {fits} ORDER BY item, loc LIMIT 1),
         ch AS ({change}),
         upd AS (
           UPDATE inventory_level t SET reserved_quantity = lk.reserved,
                  raw_reserved_quantity = {raw}, updated_at = now()
           FROM lk WHERE t.id = lk.id AND NOT EXISTS (SELECT 1 FROM bad)
           RETURNING t.id, lk.item, lk.loc, lk.old_r, t.reserved_quantity AS new_r, lk.res, lk.line
         ),
         mv AS ({insert})
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                (SELECT 'beyond' FROM bad), (SELECT item FROM bad), (SELECT loc FROM bad){look}",
        look = look_column(look, "NOT EXISTS (SELECT 1 FROM bad)"),
        at_levels = sql_level_ids_at("d"),
        raw = raw_of("lk.reserved"),
        fits = sql_level_fits("lk.stocked", "lk.reserved"),
        named = NAMED_BY_ONE,
        insert = insert_sql(&pivot(MOVED_RESERVED), params.0.len() + 1),
    )
}

/// Restores soft-deleted reservations as a create would make them: the level
/// must be live and, unless the reservation allows backorder, have the
/// quantity available; otherwise nothing is restored and the error says why
/// (Medusa's messages). One statement: reservations locked, then levels.
fn restore_sql(cond: &str, params: &Params, look: Option<&str>) -> String {
    let new_reserved = "trim_scale(t.reserved_quantity + chk.total)";
    format!(
        "WITH r0 AS MATERIALIZED (
           SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                  t.line_item_id AS line,
                  coalesce(t.allow_backorder, false) AS bo, t.deleted_at IS NOT NULL AS gone
           FROM reservation_item t
           WHERE ({cond}) ORDER BY t.id FOR UPDATE
         ),
         r AS (SELECT * FROM r0 WHERE gone),
         d AS (
           SELECT item, loc, sum(q) AS total, bool_or(NOT bo) AS guarded, {named}
           FROM r GROUP BY 1, 2
         ),
         -- Live and soft-deleted levels locked, judged live after the lock
         -- (stock.rs, sql_level_ids_at).
         lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity, l.deleted_at
           FROM inventory_level l WHERE l.id = ANY({at_levels})
           ORDER BY l.id FOR UPDATE
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
         chk AS MATERIALIZED (
           SELECT d.item, d.loc, d.total, d.res, d.line, lk.id AS level_id, lk.reserved_quantity AS old_r,
                  {problem} AS problem
           FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
         ),
         ok AS (SELECT NOT EXISTS (SELECT 1 FROM chk WHERE problem IS NOT NULL) AS ok),
         ch AS (
           UPDATE reservation_item t SET deleted_at = NULL, updated_at = now()
           FROM r, ok WHERE ok.ok AND t.id = r.id RETURNING t.id
         ),
         upd AS (
           UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                  raw_reserved_quantity = {raw}, updated_at = now()
           FROM chk, ok WHERE ok.ok AND t.id = chk.level_id
           RETURNING t.id, chk.item, chk.loc, chk.old_r, t.reserved_quantity AS new_r, chk.res, chk.line
         ),
         mv AS ({insert}),
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY problem = 'missing' DESC, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                p.problem, p.item, p.loc{look}
         FROM (SELECT 1) one LEFT JOIN p ON true",
        look = look_column(look, "(SELECT ok FROM ok)"),
        raw = raw_of(new_reserved),
        at_levels = sql_level_ids_at("d"),
        problem = sql_restore_problem(
            "lk.id",
            "d.guarded",
            "lk.stocked_quantity",
            "lk.reserved_quantity + d.total"
        ),
        named = NAMED_BY_ONE,
        insert = insert_sql(&pivot(MOVED_RESERVED), params.0.len() + 1),
    )
}

/// The last column of a release statement with a `look` (see [`release_sql`]):
/// evaluated when `clean` (no problem found) after `upd` has run, so with every
/// row and level the statement changes locked; `1 / 0` when `look` holds. A
/// division by zero, not a constant one (which Postgres folds, and raises,
/// while planning): the only way a plain statement can fail on a condition.
fn look_column(look: Option<&str>, clean: &str) -> String {
    match look {
        Some(look) => format!(
            ",\n                (SELECT 1 / (NOT {look})::int FROM (SELECT count(*) FROM upd) u WHERE {clean})"
        ),
        None => String::new(),
    }
}

/// Per level of `d` (grouping the reservations `r`: id, line), the one
/// reservation and the one line item that moved it, if only one did: what its
/// movement row names. Aggregated with the level's sum rather than looked up
/// per level afterwards, which cost two subplans per statement.
pub(crate) const NAMED_BY_ONE: &str = "CASE WHEN count(*) = 1 THEN min(id) END AS res,
    CASE WHEN count(*) = count(line) AND count(DISTINCT line) = 1 THEN min(line) END AS line";

/// Movement rows (ledger::pivot source) of the levels `upd` moved (id, item,
/// loc, old_r, new_r, and res, line from [`NAMED_BY_ONE`]).
pub(crate) const MOVED_RESERVED: &str =
    "SELECT u.id AS level_id, u.item, u.loc, NULL AS old_s, NULL AS new_s, u.old_r, u.new_r,
    NULL AS old_i, NULL AS new_i, u.res AS reservation_item_id, u.line AS line_item_id FROM upd u";

/// Most rows a call sends as parameters of their own in one statement: the
/// reservations an update changes inside its levels' statement, the line items
/// or locations a release without a key takes (`release_at_once`).
const INLINE_ROWS: usize = 32;

/// The reservations (alias `t`) whose `column` is one of `vals` (a text array
/// in SQL), only the live ones when `live_only`.
fn matching(column: &str, vals: &str, live_only: bool) -> String {
    match live_only {
        true => format!("t.{column} = ANY({vals}) AND t.deleted_at IS NULL"),
        false => format!("t.{column} = ANY({vals})"),
    }
}

/// Attempts a release by line item or location makes before giving up (`conflict`).
const PREDICATE_PASSES: usize = 5;

/// The error of a release by line item or location that found new matching
/// rows on every one of its [`PREDICATE_PASSES`].
fn kept_arriving() -> Error {
    Error::new(
        crate::error::ErrorType::Conflict,
        "reservations kept arriving for this call; retry it",
    )
}

impl InventoryService {
    pub(crate) async fn create_reservation_items(
        &self,
        input: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let (rows, was_array) = self.parse_create(&CREATE, input)?;
        let call = Call {
            rows,
            was_array,
            audit: audit.clone(),
        };
        self.reserver.reserve(&self.pool, call).await
    }

    /// Changes quantity, location or details of reservations. The levels they
    /// leave are released, the levels they move to are checked and charged.
    pub(crate) async fn update_reservation_items(
        &self,
        input: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let (inputs, was_array) = one_or_many(input);
        let rows = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| parse_input(&UPDATE, v, was_array.then_some(i)))
            .collect::<Result<Vec<_>>>()?;
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        let ids: Vec<String> = rows.iter().filter_map(|r| get_text(r, "id")).collect();
        // Two changes to one reservation in one call would each be computed from
        // its old quantity and release it twice: refuse, naming the id.
        let mut seen = std::collections::HashSet::new();
        if let Some(dup) = ids.iter().find(|id| !seen.insert(id.as_str())) {
            return Err(Error::invalid(format!(
                "Reservation item with id {dup} appears more than once in one update"
            )));
        }
        let tx = PipelinedTx::new(self.client().await?);
        let out = update_in(&tx, &rows, &ids, was_array, audit).await;
        if tx.is_open() {
            let _ = tx.rollback().await;
        }
        out
    }

    /// Releases or restores the reservations whose `column` is one of
    /// `values`; `outcome` builds the call's result from the reservation ids
    /// touched and the level ids updated.
    async fn release_by(
        &self,
        column: &str,
        values: Vec<String>,
        mode: Release,
        audit: &Audit,
        outcome: impl Fn(Vec<String>, Vec<String>) -> Outcome,
    ) -> Result<Outcome> {
        let by_id = column == "id";
        if !by_id
            && audit.key().is_none()
            && mode != Release::HardDelete
            && (1..=INLINE_ROWS).contains(&values.len())
            && !self.no_arrived_fn.load(Ordering::Relaxed)
        {
            if let Some(out) = self
                .release_at_once(column, &values, mode, audit, &outcome)
                .await?
            {
                return Ok(out);
            }
        }
        let mut params = Params::default();
        let p = params.push(values);
        // By line item or location, a soft delete looks at live rows only, so
        // the partial indexes on those columns serve it; a row restored while
        // this call ran is found by the check below, which starts it again.
        let live_only = !by_id && mode == Release::SoftDelete;
        let cond = matching(column, &format!("{p}::text[]"), live_only);
        let mut c = self.client().await?;
        if by_id && audit.key().is_none() {
            // Ids name a fixed set of rows, all locked (and judged) by one statement.
            let (done, levels) = release(&c, &cond, &params, mode, audit).await?;
            return Ok(outcome(done, levels));
        }
        // A line item or location also matches rows created after the statement's
        // snapshot. After the release (which holds its levels), a new statement
        // looks again; if something matching arrived meanwhile, the transaction
        // rolls back and starts over, never locking a reservation while holding a
        // level (the crate's lock order). So every matching row committed before
        // this call commits is acted on, and a create waiting on a level this
        // call holds comes after it.
        let left = match mode {
            Release::HardDelete => "TRUE",
            Release::SoftDelete => "t.deleted_at IS NULL",
            Release::Restore => "t.deleted_at IS NOT NULL",
        };
        if !by_id && audit.key().is_none() {
            drop(c);
            return self
                .release_pipelined(&cond, left, &params, mode, audit, outcome)
                .await;
        }
        let check =
            format!("SELECT EXISTS (SELECT 1 FROM reservation_item t WHERE ({cond}) AND {left})");
        for _ in 0..PREDICATE_PASSES {
            let tx = c.transaction().await?;
            let (done, levels) = release(&tx, &cond, &params, mode, audit).await?;
            let check = tx.prepare_cached(&check).await?;
            if by_id
                || !tx
                    .query_one(&check, &params.refs())
                    .await?
                    .get::<_, bool>(0)
            {
                let out = outcome(done, levels);
                commit(tx, audit, &out).await?;
                return Ok(out);
            }
            tx.rollback().await?;
        }
        Err(kept_arriving())
    }

    /// [`Self::release_by`] by line item or location for a call without a key
    /// and with at most [`INLINE_ROWS`] values: one statement, which Postgres
    /// runs as a transaction of its own, with no BEGIN or COMMIT to send and
    /// answer. Its look for rows that arrived meanwhile is migrate's function
    /// (`ARRIVED_FN`), called once the statement holds its rows and levels; an
    /// arrival fails the statement, which then wrote nothing, and the call
    /// starts over. Each value is a parameter of its own, so Postgres keeps one
    /// plan for the statement of its own accord (as in update_in). None when
    /// the function is missing (a schema not migrated since it came): the
    /// caller takes the pipelined transaction, until the next migrate.
    async fn release_at_once(
        &self,
        column: &str,
        values: &[String],
        mode: Release,
        audit: &Audit,
        outcome: &impl Fn(Vec<String>, Vec<String>) -> Outcome,
    ) -> Result<Option<Outcome>> {
        let mut params = Params::default();
        let vals: Vec<String> = values
            .iter()
            .map(|v| format!("{}::text", params.push(v.clone())))
            .collect();
        let vals = format!("ARRAY[{}]", vals.join(", "));
        let live = mode == Release::SoftDelete;
        let cond = matching(column, &vals, live);
        let by_line = column == "line_item_id";
        let look = format!("{ARRIVED_FN}({by_line}, {vals}, {live}, ARRAY(SELECT id FROM r0))");
        let sql = release_sql(&cond, &params, mode, Some(&look));
        for _ in 0..PREDICATE_PASSES {
            let c = self.client().await?;
            let released = match c.prepare_cached(&sql).await {
                Ok(stmt) => run_release(&c, &stmt, &params, audit).await,
                Err(e) => Err(e.into()),
            };
            match released {
                Ok((done, levels)) => return Ok(Some(outcome(done, levels))),
                // Something matching arrived: the statement wrote nothing.
                Err(e) if e.sql_state.as_deref() == Some(SqlState::DIVISION_BY_ZERO.code()) => {
                    continue
                }
                Err(e) if e.sql_state.as_deref() == Some(SqlState::UNDEFINED_FUNCTION.code()) => {
                    self.no_arrived_fn.store(true, Ordering::Relaxed);
                    return Ok(None);
                }
                Err(e) => return Err(e),
            }
        }
        Err(kept_arriving())
    }

    /// [`Self::release_by`] by line item or location for a call without a key,
    /// in one round trip: BEGIN, the release, the look for rows that arrived
    /// meanwhile and COMMIT go out together (pipeline.rs). The look fails its
    /// statement when it finds some, so that Postgres turns the COMMIT into a
    /// ROLLBACK and the call starts over, as in the keyed path.
    async fn release_pipelined(
        &self,
        cond: &str,
        left: &str,
        params: &Params,
        mode: Release,
        audit: &Audit,
        outcome: impl Fn(Vec<String>, Vec<String>) -> Outcome,
    ) -> Result<Outcome> {
        // A division by zero, as in look_column.
        let look = format!(
            "SELECT 1 / (NOT EXISTS (SELECT 1 FROM reservation_item t WHERE ({cond}) AND {left}))::int"
        );
        for _ in 0..PREDICATE_PASSES {
            let tx = PipelinedTx::new(self.client().await?);
            let c = tx.client();
            // Prepared first, so that the four go out in order.
            let release_stmt = c
                .prepare_cached(&release_sql(cond, params, mode, None))
                .await?;
            let look_stmt = c.prepare_cached(&look).await?;
            let look_params = params.refs();
            let (begun, released, looked, committed) = tokio::join!(
                tx.begin(),
                run_release(c, &release_stmt, params, audit),
                c.query_one(&look_stmt, &look_params),
                tx.commit(),
            );
            begun?;
            // A failed release failed the look after it, and its COMMIT rolled
            // back; a release that found a problem changed nothing: either way
            // its error is the call's, as in the keyed path.
            let (done, levels) = released?;
            match looked {
                Err(e) if e.code() == Some(&SqlState::DIVISION_BY_ZERO) => {
                    // Something matching arrived: the COMMIT rolled back.
                    committed?;
                    continue;
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            committed?;
            return Ok(outcome(done, levels));
        }
        Err(kept_arriving())
    }

    /// Releases or restores reservations and reports it as Medusa does: the levels
    /// are updated, the reservations deleted (or, beyond Medusa, restored).
    async fn release_outcome(
        &self,
        column: &str,
        values: Vec<String>,
        mode: Release,
        config: Option<&Value>,
        audit: &Audit,
    ) -> Result<Outcome> {
        let action = if mode == Release::Restore {
            "restored"
        } else {
            "deleted"
        };
        self.release_by(column, values, mode, audit, |done, levels| {
            let result = match config {
                Some(cfg) => reservation_keys(cfg, done.clone()),
                None => Value::Null,
            };
            Outcome::from(result)
                .with(LEVEL, "updated", levels)
                .with(RESERVATION, action, done)
        })
        .await
    }

    pub(crate) async fn delete_reservation_items(
        &self,
        ids: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.release_outcome("id", ids_of(ids, "ids")?, Release::HardDelete, None, audit)
            .await
    }

    pub(crate) async fn soft_delete_reservation_items(
        &self,
        ids: &Value,
        config: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.release_outcome(
            "id",
            ids_of(ids, "ids")?,
            Release::SoftDelete,
            Some(config),
            audit,
        )
        .await
    }

    pub(crate) async fn restore_reservation_items(
        &self,
        ids: &Value,
        config: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.release_outcome(
            "id",
            ids_of(ids, "ids")?,
            Release::Restore,
            Some(config),
            audit,
        )
        .await
    }

    pub(crate) async fn delete_reservation_items_by_line_item(
        &self,
        line_items: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = strings_of(line_items, "lineItemId")?;
        self.release_outcome("line_item_id", values, Release::SoftDelete, None, audit)
            .await
    }

    pub(crate) async fn restore_reservation_items_by_line_item(
        &self,
        line_items: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = strings_of(line_items, "lineItemId")?;
        self.release_outcome("line_item_id", values, Release::Restore, None, audit)
            .await
    }

    pub(crate) async fn delete_reservation_item_by_location_id(
        &self,
        locs: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = strings_of(locs, "locationId")?;
        self.release_outcome("location_id", values, Release::SoftDelete, None, audit)
            .await
    }
}

/// [`InventoryService::update_reservation_items`]'s transaction on `tx`: one
/// statement (below), with BEGIN and COMMIT in the same round trip
/// (pipeline.rs). Leaves `tx` open when it commits nothing.
async fn update_in(
    tx: &PipelinedTx,
    rows: &[Row],
    ids: &[String],
    was_array: bool,
    audit: &Audit,
) -> Result<Outcome> {
    let c = tx.client();
    // What each row changes that moves stock: NULL where it keeps the
    // reservation's own value (the line item has a flag: it can be set to NULL).
    // Up to INLINE_ROWS reservations are one row of parameters each (and
    // are updated by the same statement); more go as arrays, and are updated
    // by statements of their own after it.
    let inline = rows.len() <= INLINE_ROWS;
    let terms = rows.iter().map(|r| {
        (
            get_text(r, "location_id"),
            get_quantity(r, "quantity").map(|q| q.to_string()),
            get_flag(r, "allow_backorder"),
            get(r, "line_item_id").and_then(|f| f.text.clone()),
            get(r, "line_item_id").is_some(),
        )
    });
    let mut params = Params::default();
    let (input, locked) = if inline {
        let (mut values, mut locked) = (Vec::new(), Vec::new());
        for (n, (id, (loc, q, bo, line, has_line))) in ids.iter().zip(terms).enumerate() {
            let id = params.push(id.clone());
            let (loc, q, bo) = (params.push(loc), params.push(q), params.push(bo));
            let (line, has_line) = (params.push(line), params.push(has_line));
            values.push(format!(
                "({id}::text, {loc}::text, {q}::text, {bo}::bool, {line}::text, {has_line}::bool, {}::bigint)",
                n + 1
            ));
            locked.push(format!("{id}::text"));
        }
        (
            format!("VALUES {}", values.join(", ")),
            format!("ARRAY[{}]", locked.join(", ")),
        )
    } else {
        let (mut locs, mut qs, mut bos, mut lines, mut has_lines) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (loc, q, bo, line, has_line) in terms {
            locs.push(loc);
            qs.push(q);
            bos.push(bo);
            lines.push(line);
            has_lines.push(has_line);
        }
        let ids = params.push(ids.to_vec());
        let (locs, qs, bos) = (params.push(locs), params.push(qs), params.push(bos));
        let (lines, has_lines) = (params.push(lines), params.push(has_lines));
        (
            format!(
                "SELECT * FROM unnest({ids}::text[], {locs}::text[], {qs}::text[], {bos}::bool[], \
                 {lines}::text[], {has_lines}::bool[]) WITH ORDINALITY"
            ),
            format!("{ids}::text[]"),
        )
    };
    let first_audit = audit.push_params(&mut params);
    let mut updates = Vec::new();
    let mut own = Vec::new();
    for (i, r) in rows.iter().enumerate() {
        let mut mine = Params::default();
        let target = if inline { &mut params } else { &mut mine };
        let p = target.push(get_text(r, "id").unwrap_or_default());
        let sets = set_clause(r, &["id"], target);
        let update = format!("UPDATE reservation_item AS t SET {sets} WHERE t.id = {p}");
        let dto = dto(&RESERVATION_ITEM);
        match inline {
            true => updates.push(format!(
                "r{i} AS ({update} AND NOT EXISTS (SELECT 1 FROM stop) RETURNING {dto} AS dto)"
            )),
            false => own.push((format!("{update} RETURNING {dto}"), mine)),
        }
    }
    // One statement. The reservations are locked (in id order; looked up by id
    // alone and judged live after the lock: with `deleted_at IS NULL` in the
    // scan, the generic plan (pipeline.rs) on stale statistics walked every
    // live reservation through a partial index, 2 ms at 8 000), then the
    // levels they leave and land on (in id order: the crate's lock order).
    // The levels are locked live or soft-deleted and judged live on the
    // locked rows (stock.rs, sql_level_ids_at): a reservation found live after
    // its lock may have been restored, with its level, by a call this one
    // waited for; judged on the snapshot, its level looked soft-deleted and was
    // left alone while the reservation changed.
    // Every reservation leaves its old level (-old quantity) and lands on its
    // new one (+new quantity, checked against stock when it grows or moves
    // without backorder). Postgres nets and checks these terms per level in
    // exact numeric: a net term need not be a valid quantity on its own
    // (0.25 -> 10^28 - 1 nets 10^28 - 1.25), only the level it leaves must be.
    // Unless a reservation is missing or a level fails, the levels move (never
    // below zero, as in release(): a reservation from before its level was
    // re-created must not drive the new level negative), their movement rows
    // are written (naming the one reservation, and line item, that moved the
    // level, if one did) and the reservations are updated. Otherwise nothing
    // is written, and the statement says why, in Medusa's precedence: missing
    // reservations, a missing level, a shortage, a level that would leave the
    // quantity domain (first-mentioned first). Few plan nodes on purpose:
    // Postgres sets up every node of the plan on each execution, and that set-up
    // was a third of this statement's server time (the input joined to the
    // locked rows once, one aggregate per level).
    let fits_after = "greatest(trim_scale(lk.reserved_quantity + d.q), 0)";
    let new_reserved = "greatest(trim_scale(t.reserved_quantity + chk.q), 0)";
    let moved = "SELECT m.id AS level_id, m.inventory_item_id AS item, m.location_id AS loc,
                        NULL AS old_s, NULL AS new_s, m.old_r, m.reserved_quantity AS new_r,
                        NULL AS old_i, NULL AS new_i, m.res AS reservation_item_id, m.line AS line_item_id
                 FROM m";
    let sql = format!(
        "WITH i AS (SELECT * FROM ({input}) AS i(id, loc, q, bo, line, has_line, n)),
              cur0 AS MATERIALIZED (
                SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                       coalesce(t.allow_backorder, false) AS bo, t.line_item_id AS line,
                       t.deleted_at IS NULL AS live
                FROM reservation_item t WHERE t.id = ANY({locked})
                ORDER BY t.id FOR UPDATE),
              j AS MATERIALIZED (
                SELECT i.id, i.n, c.id AS found, c.item, c.loc AS old_loc, c.q AS old_q,
                       coalesce(i.loc, c.loc) AS new_loc, coalesce(i.q::numeric, c.q) AS new_q,
                       coalesce(i.bo, c.bo) AS new_bo,
                       CASE WHEN i.has_line THEN i.line ELSE c.line END AS line
                FROM i LEFT JOIN cur0 c ON c.id = i.id AND c.live),
              u AS (SELECT j.id, j.line, j.item, v.loc, v.q, v.guarded, v.n
                    FROM j, LATERAL (VALUES
                      (j.old_loc, -j.old_q, false, 2 * j.n - 1),
                      (j.new_loc, j.new_q, (j.new_loc <> j.old_loc OR j.new_q > j.old_q) AND NOT j.new_bo, 2 * j.n)
                    ) v(loc, q, guarded, n)
                    WHERE j.found IS NOT NULL),
              d AS (SELECT item, loc, sum(q) AS q, bool_or(guarded) AS guarded, min(n) AS n,
                           CASE WHEN count(DISTINCT id) = 1 THEN min(id) END AS res,
                           CASE WHEN count(line) = count(*) AND count(DISTINCT line) = 1 THEN min(line) END AS line
                    FROM u GROUP BY 1, 2),
              lk0 AS MATERIALIZED (
                SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity,
                       l.deleted_at
                FROM inventory_level l WHERE l.id = ANY({at_levels})
                ORDER BY l.id FOR UPDATE),
              lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
              chk AS MATERIALIZED (
                SELECT d.item, d.loc, d.q, d.n, d.res, d.line, lk.id, lk.reserved_quantity AS old_r,
                       CASE WHEN lk.id IS NULL THEN CASE WHEN d.q > 0 THEN 1 END
                            WHEN d.guarded AND d.q > 0 AND lk.stocked_quantity - lk.reserved_quantity < d.q THEN 2
                            WHEN NOT {fits} THEN 3 END AS problem
                FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
                WHERE d.q <> 0),
              bad AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL ORDER BY problem, n LIMIT 1),
              stop AS (SELECT 1 FROM j WHERE found IS NULL UNION ALL SELECT 1 FROM bad),
              m AS (UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                           raw_reserved_quantity = {raw}, updated_at = now()
                    FROM chk WHERE t.id = chk.id AND NOT EXISTS (SELECT 1 FROM stop)
                    RETURNING t.id, t.inventory_item_id, t.location_id, chk.old_r, t.reserved_quantity, chk.n,
                              chk.res, chk.line),
              mv AS ({insert}){updates}
         SELECT ARRAY(SELECT id FROM j WHERE found IS NULL ORDER BY n), b.problem, b.item, b.loc,
                ARRAY(SELECT id FROM m ORDER BY n), jsonb_build_array({outs})
         FROM (SELECT 1) one LEFT JOIN bad b ON true",
        fits = sql_level_fits("lk.stocked_quantity", fits_after),
        at_levels = sql_level_ids_at("d"),
        raw = raw_of(new_reserved),
        insert = insert_sql(&pivot(moved), first_audit),
        updates = updates.iter().map(|u| format!(",\n              {u}")).collect::<String>(),
        outs = (0..updates.len())
            .map(|i| format!("(SELECT dto FROM r{i})"))
            .collect::<Vec<_>>()
            .join(", "),
    );
    // Prepared before the flight, so that the statements go out in order.
    let stmt = c.prepare_cached(&sql).await?;
    let mut own_stmts = Vec::with_capacity(own.len());
    for (sql, _) in &own {
        own_stmts.push(c.prepare_cached(sql).await?);
    }
    let keyed = audit.key().is_some();
    let refs = params.refs();
    let (row, committed) = if inline && !keyed {
        // The whole call is this one statement: Postgres runs it as a
        // transaction of its own, with no BEGIN or COMMIT to send and answer
        // (each answer is a flush and a wake-up on both sides). It plans it
        // once and keeps that plan with no setting to force it: each value is
        // a parameter of its own, so a plan made for the values at hand would
        // run no faster than the cached one. When the statement refuses, it
        // has written nothing.
        (c.query_one(&stmt, &refs).await, Some(Ok(())))
    } else {
        // BEGIN and the statement in one round trip; COMMIT after the key is
        // stored or the reservations' own statements have run.
        let (begun, row) = tokio::join!(tx.begin(), c.query_one(&stmt, &refs));
        begun?;
        (row, None)
    };
    let row = row?;
    let missing: Vec<String> = row.get(0);
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "Reservation item with id {} not found",
            missing.join(", ")
        )));
    }
    if let (Some(kind), Some(item), Some(loc)) = (
        row.get::<_, Option<i32>>(1),
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
    ) {
        return Err(match kind {
            1 => Error::not_found(format!("Item {item} is not stocked at location {loc}")),
            2 => Error::not_allowed(format!(
                "Not enough stock available for item {item} at location {loc}"
            )),
            _ => beyond_level("quantity", &item, &loc),
        });
    }
    let level_ids: Vec<String> = row.get(4);
    let mut out: Vec<Value> = match row.try_get::<_, Value>(5)? {
        Value::Array(values) if inline => values,
        _ => Vec::with_capacity(rows.len()),
    };
    let mut committed = committed;
    if !inline {
        // The reservations' own statements, and COMMIT unless a key is to be
        // stored, in one round trip.
        let (updated, done) = tokio::join!(
            join_all(
                own.iter()
                    .zip(&own_stmts)
                    .map(|((_, p), s)| async move { c.query_one(s, &p.refs()).await })
            ),
            async {
                match keyed {
                    true => None,
                    false => Some(tx.commit().await),
                }
            },
        );
        committed = done;
        // A failed statement fails those after it (25P02) and the COMMIT rolls
        // back: report the first other error.
        let updated: Vec<Result<tokio_postgres::Row>> = updated
            .into_iter()
            .map(|u| u.map_err(Error::from))
            .collect();
        if let Some(e) = flight_error(updated.iter().filter_map(|u| u.as_ref().err())) {
            return Err(e);
        }
        for u in updated {
            out.push(u?.try_get::<_, Value>(0)?);
        }
    }
    let ids = ids_in(&Value::Array(out.clone()));
    let outcome = Outcome::from(shape(out, was_array))
        .with(LEVEL, "updated", level_ids)
        .with(RESERVATION, "updated", ids);
    match committed {
        Some(done) => done?,
        None => commit_pipelined(tx, audit, &outcome).await?,
    }
    Ok(outcome)
}

fn reservation_keys(config: &Value, ids: Vec<String>) -> Value {
    if config
        .get("returnLinkableKeys")
        .is_some_and(|v| !v.is_null())
        && !ids.is_empty()
    {
        serde_json::json!({ "reservation_item_id": ids })
    } else {
        Value::Null
    }
}
