//! ReservationItem: every statement that writes `reservation_item`, together
//! with the `inventory_level.reserved_quantity` change that must go with it.
//!
//! Lock order, everywhere: reservation rows (by id), then level rows (by id).
//! No path locks a level and then a reservation, so no two calls deadlock.

use crate::args::{
    Creates, Ids, IdsWithConfig, LineItems, LinkableConfig, ReservationLocations, Updates,
};
use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, Result};
use crate::idempotency::{commit, commit_pipelined};
use crate::input::{get, get_flag, get_quantity, get_text, shape, Row};
use crate::ledger::{Audit, LevelChange, Moved, Quantity, NAMED_BY_ONE};
use crate::migrate::ARRIVED_FN;
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::pipeline::{flight_error, PipelinedTx};
use crate::quantity::sql_level_fits;
use crate::reservation_engine::Call;
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{
    sql_level_ids_at, sql_lock_live_levels_at, sql_stock_problem, Problem, SqlDemand,
};
use crate::write::{dto, set_clause};
use futures_util::future::join_all;
use serde_json::Value;
use std::sync::atomic::Ordering;
use tokio_postgres::error::SqlState;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Release {
    HardDelete,
    SoftDelete,
    Restore,
}

/// Deletes, soft-deletes or restores the reservations matching `cond` (SQL over
/// alias `t`) and moves reserved_quantity of their levels by the same amount,
/// in one statement ([`release_sql`], prepared as `sql` with `params`: the
/// reservations locked first, then levels, each in id order). Returns the
/// reservation ids touched and the level ids updated, or the error of the
/// problem it found (and then it changed nothing).
async fn release<C: deadpool_postgres::GenericClient>(
    c: &C,
    sql: &str,
    params: &Params,
) -> Result<Released> {
    let stmt = c.prepare_cached(sql).await?;
    run_release(c, &stmt, params).await
}

/// What a release changed: the reservations touched, the levels updated.
struct Released {
    reservations: Vec<String>,
    levels: Vec<String>,
}

/// Runs a [`release_sql`] statement prepared as `stmt` (see [`release`]).
async fn run_release<C: deadpool_postgres::GenericClient>(
    c: &C,
    stmt: &tokio_postgres::Statement,
    params: &Params,
) -> Result<Released> {
    let row = c.query_one(stmt, &params.refs()).await?;
    if let (Some(kind), Some(item), Some(loc)) = (
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
        row.get::<_, Option<String>>(4),
    ) {
        return Err(Problem::error_of(&kind, item, loc));
    }
    Ok(Released {
        reservations: row.get(0),
        levels: row.get(1),
    })
}

/// The statement of [`release`] (the call's audit bound in `params`): ids
/// touched, level ids updated, and the problem found ([`Problem`]) with its
/// item and location. With `look` (a boolean over `r0`, the rows the
/// statement locked: whether more rows arrived), the statement fails when,
/// having found no problem and holding its levels, `look` holds
/// ([`fail_when`]).
fn release_sql(
    cond: &str,
    params: &mut Params,
    mode: Release,
    look: Option<&str>,
    audit: &Audit,
) -> String {
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
        Release::Restore => return restore_sql(cond, params, look, audit),
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
    let upd = LevelChange {
        name: "upd",
        from: "lk",
        filter: "t.id = lk.id AND NOT EXISTS (SELECT 1 FROM bad)",
        moves: &[Moved {
            quantity: Quantity::Reserved,
            old: "lk.old_r",
            new: "lk.reserved",
        }],
        also_set: "",
        reservation: "lk.res",
        line_item: "lk.line",
        returning: "",
    }
    .sql(params, audit);
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
         {upd}
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                (SELECT '{beyond}' FROM bad), (SELECT item FROM bad), (SELECT loc FROM bad){look}",
        look = look_column(look, "NOT EXISTS (SELECT 1 FROM bad)"),
        at_levels = sql_level_ids_at("d"),
        fits = sql_level_fits("lk.stocked", "lk.reserved"),
        named = NAMED_BY_ONE,
        beyond = Problem::Beyond.code(),
    )
}

/// Restores soft-deleted reservations as a create would make them (the stock
/// rule, [`sql_stock_problem`]); otherwise nothing is restored and the error
/// says why (Medusa's messages). One statement: reservations locked, then levels.
fn restore_sql(cond: &str, params: &mut Params, look: Option<&str>, audit: &Audit) -> String {
    let upd = LevelChange {
        name: "upd",
        from: "chk, ok",
        filter: "ok.ok AND t.id = chk.level_id",
        moves: &[Moved {
            quantity: Quantity::Reserved,
            old: "chk.old_r",
            new: "trim_scale(t.reserved_quantity + chk.total)",
        }],
        also_set: "",
        reservation: "chk.res",
        line_item: "chk.line",
        returning: "",
    }
    .sql(params, audit);
    let after = "lk.reserved_quantity + d.total";
    let problem = sql_stock_problem(&SqlDemand {
        level: "lk.id",
        total: "d.total",
        guarded: "d.guarded",
        stocked: "lk.stocked_quantity",
        reserved_after: after,
        written: after,
    });
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
         -- Live and soft-deleted levels locked, judged live after the lock.
         {locked},
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
         {upd},
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY problem = '{missing}' DESC, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                p.problem, p.item, p.loc{look}
         FROM (SELECT 1) one LEFT JOIN p ON true",
        look = look_column(look, "(SELECT ok FROM ok)"),
        locked = sql_lock_live_levels_at("d"),
        named = NAMED_BY_ONE,
        missing = Problem::Missing.code(),
    )
}

/// The last column of a release statement with a `look` (see [`release_sql`]):
/// evaluated when `clean` (no problem found) after `upd` has run, so with every
/// row and level the statement changes locked; fails the statement when
/// `look` holds.
fn look_column(look: Option<&str>, clean: &str) -> String {
    match look {
        Some(look) => format!(
            ",\n                (SELECT {} FROM (SELECT count(*) FROM upd) u WHERE {clean})",
            fail_when(look)
        ),
        None => String::new(),
    }
}

/// SQL that fails its statement with [`FAILED_LOOK`] (division by zero) when
/// the boolean `cond` holds, and is 1 otherwise: how a release learns, in the
/// statement (or the transaction's last statement before COMMIT) that holds
/// its rows, that more matching rows arrived. A plain statement has no other
/// way to fail on a condition without a function of its own (migrate.rs
/// creates one, `ARRIVED_FN`, but a schema not migrated since lacks it): a
/// failing cast of a constant, or a division by a constant zero, is folded,
/// and raised, while Postgres plans the statement, whatever `cond` is.
fn fail_when(cond: &str) -> String {
    format!("1 / (NOT ({cond}))::int")
}

/// The error [`fail_when`] raises: the look found rows that arrived.
fn is_failed_look(code: Option<&str>) -> bool {
    code == Some(FAILED_LOOK.code())
}

const FAILED_LOOK: SqlState = SqlState::DIVISION_BY_ZERO;

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

/// A statement's text and its parameters.
struct Statement {
    sql: String,
    params: Params,
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
        input: Creates,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Creates {
            mut rows,
            was_array,
        } = input;
        self.assign_ids(&RESERVATION_ITEM, &mut rows);
        let call = Call {
            rows,
            was_array,
            audit: audit.clone(),
            trace: crate::wire::CallTrace::current(),
            queued: std::time::Instant::now(),
        };
        self.reserver.reserve(&self.pool, call).await
    }

    /// Changes quantity, location or details of reservations. The levels they
    /// leave are released, the levels they move to are checked and charged.
    pub(crate) async fn update_reservation_items(
        &self,
        input: Updates,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Updates { rows, was_array } = input;
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
        let outcome = |r: Released| outcome(r.reservations, r.levels);
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
        let mut bound = params.clone();
        let sql = release_sql(&cond, &mut bound, mode, None, audit);
        if by_id && audit.key().is_none() {
            // Ids name a fixed set of rows, all locked (and judged) by one statement.
            let c = self.client().await?;
            return Ok(outcome(release(&c, &sql, &bound).await?));
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
        let arrived =
            format!("EXISTS (SELECT 1 FROM reservation_item t WHERE ({cond}) AND {left})");
        let release = Statement { sql, params: bound };
        let look = Statement {
            sql: format!("SELECT {}", fail_when(&arrived)),
            params,
        };
        if !by_id && audit.key().is_none() {
            return self.release_pipelined(&release, &look, outcome).await;
        }
        let check = Statement {
            sql: format!("SELECT {arrived}"),
            params: look.params,
        };
        self.release_keyed(&release, (!by_id).then_some(&check), audit, outcome)
            .await
    }

    /// [`Self::release_by`] in a transaction that commits with the call's key
    /// (idempotency.rs); when `check` finds rows that arrived after the
    /// release, it rolls back and starts over.
    async fn release_keyed(
        &self,
        release: &Statement,
        check: Option<&Statement>,
        audit: &Audit,
        outcome: impl Fn(Released) -> Outcome,
    ) -> Result<Outcome> {
        let mut c = self.client().await?;
        for _ in 0..PREDICATE_PASSES {
            let tx = c.transaction().await?;
            let released = self::release(&tx, &release.sql, &release.params).await?;
            let arrived = match check {
                None => false,
                Some(check) => {
                    let stmt = tx.prepare_cached(&check.sql).await?;
                    let row = tx.query_one(&stmt, &check.params.refs()).await?;
                    row.get::<_, bool>(0)
                }
            };
            if !arrived {
                let out = outcome(released);
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
        outcome: &impl Fn(Released) -> Outcome,
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
        let sql = release_sql(&cond, &mut params, mode, Some(&look), audit);
        for _ in 0..PREDICATE_PASSES {
            let c = self.client().await?;
            let released = match c.prepare_cached(&sql).await {
                Ok(stmt) => run_release(&c, &stmt, &params).await,
                Err(e) => Err(e.into()),
            };
            match released {
                Ok(released) => return Ok(Some(outcome(released))),
                // Something matching arrived: the statement wrote nothing.
                Err(e) if is_failed_look(e.sql_state.as_deref()) => continue,
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
    /// in one round trip: BEGIN, the release, the `look` for rows that arrived
    /// meanwhile and COMMIT go out together (pipeline.rs). The look fails its
    /// statement when it finds some ([`fail_when`]), so that Postgres turns
    /// the COMMIT into a ROLLBACK and the call starts over, as in the keyed path.
    async fn release_pipelined(
        &self,
        release: &Statement,
        look: &Statement,
        outcome: impl Fn(Released) -> Outcome,
    ) -> Result<Outcome> {
        for _ in 0..PREDICATE_PASSES {
            let tx = PipelinedTx::new(self.client().await?);
            let c = tx.client();
            // Prepared first, so that the four go out in order.
            let release_stmt = c.prepare_cached(&release.sql).await?;
            let look_stmt = c.prepare_cached(&look.sql).await?;
            let look_params = look.params.refs();
            let (begun, released, looked, committed) = tokio::join!(
                tx.begin(),
                run_release(c, &release_stmt, &release.params),
                c.query_one(&look_stmt, &look_params),
                tx.commit(),
            );
            begun?;
            // A failed release failed the look after it, and its COMMIT rolled
            // back; a release that found a problem changed nothing: either way
            // its error is the call's, as in the keyed path.
            let released = released?;
            match looked {
                Err(e) if is_failed_look(e.code().map(SqlState::code)) => {
                    // Something matching arrived: the COMMIT rolled back.
                    committed?;
                    continue;
                }
                Err(e) => return Err(e.into()),
                Ok(_) => {}
            }
            committed?;
            return Ok(outcome(released));
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
        config: Option<&LinkableConfig>,
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
        ids: Ids,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.release_outcome("id", ids.ids, Release::HardDelete, None, audit)
            .await
    }

    pub(crate) async fn soft_delete_reservation_items(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        self.release_outcome("id", ids, Release::SoftDelete, Some(&config), audit)
            .await
    }

    pub(crate) async fn restore_reservation_items(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        self.release_outcome("id", ids, Release::Restore, Some(&config), audit)
            .await
    }

    pub(crate) async fn delete_reservation_items_by_line_item(
        &self,
        line_items: LineItems,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = line_items.line_items;
        self.release_outcome("line_item_id", values, Release::SoftDelete, None, audit)
            .await
    }

    pub(crate) async fn restore_reservation_items_by_line_item(
        &self,
        line_items: LineItems,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = line_items.line_items;
        self.release_outcome("line_item_id", values, Release::Restore, None, audit)
            .await
    }

    pub(crate) async fn delete_reservation_item_by_location_id(
        &self,
        locs: ReservationLocations,
        audit: &Audit,
    ) -> Result<Outcome> {
        let values = locs.locations;
        self.release_outcome("location_id", values, Release::SoftDelete, None, audit)
            .await
    }
}

/// [`InventoryService::update_reservation_items`]'s transaction on `tx`: one
/// statement ([`update_sql`]), with BEGIN and COMMIT in the same round trip
/// (pipeline.rs). Leaves `tx` open when it commits nothing.
async fn update_in(
    tx: &PipelinedTx,
    rows: &[Row],
    ids: &[String],
    was_array: bool,
    audit: &Audit,
) -> Result<Outcome> {
    let c = tx.client();
    // Up to INLINE_ROWS reservations are one row of parameters each (and are
    // updated by the same statement); more go as arrays, and are updated by
    // statements of their own after it.
    let inline = rows.len() <= INLINE_ROWS;
    let mut params = Params::default();
    let input = update_input(rows, ids, inline, &mut params);
    let change = moved_levels(&mut params, audit);
    let updates = reservation_updates(rows, inline, &mut params);
    let sql = update_sql(&input, &change, &updates.ctes);
    // Prepared before the flight, so that the statements go out in order.
    let stmt = c.prepare_cached(&sql).await?;
    let mut own_stmts = Vec::with_capacity(updates.own.len());
    for own in &updates.own {
        own_stmts.push(c.prepare_cached(&own.sql).await?);
    }
    let keyed = audit.key().is_some();
    let refs = params.refs();
    let (row, mut committed) = if inline && !keyed {
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
    let Updated { levels, mut dtos } = read_update(&row?, inline, rows.len())?;
    if !inline {
        let (own, done) = run_own_updates(tx, &updates.own, &own_stmts, keyed).await;
        committed = done;
        dtos.extend(own?);
    }
    let ids = ids_in(&Value::Array(dtos.clone()));
    let outcome = Outcome::from(shape(dtos, was_array))
        .with(LEVEL, "updated", levels)
        .with(RESERVATION, "updated", ids);
    match committed {
        Some(done) => done?,
        None => commit_pipelined(tx, audit, &outcome).await?,
    }
    Ok(outcome)
}

/// What one update row changes that moves stock: None where it keeps the
/// reservation's own value (the line item has a flag: it can be set to NULL).
struct StockTerms {
    loc: Option<String>,
    quantity: Option<String>,
    backorder: Option<bool>,
    line: Option<String>,
    has_line: bool,
}

impl StockTerms {
    fn of(r: &Row) -> Self {
        StockTerms {
            loc: get_text(r, "location_id"),
            quantity: get_quantity(r, "quantity").map(|q| q.to_string()),
            backorder: get_flag(r, "allow_backorder"),
            line: get(r, "line_item_id").and_then(|f| f.text.clone()),
            has_line: get(r, "line_item_id").is_some(),
        }
    }
}

/// The update's input as SQL, its values bound in `params`: `rows`, a
/// relation of (id, loc, q, bo, line, has_line, n), and `locked`, the array
/// of the reservation ids it locks.
struct UpdateInput {
    rows: String,
    locked: String,
}

fn update_input(rows: &[Row], ids: &[String], inline: bool, params: &mut Params) -> UpdateInput {
    let terms = rows.iter().map(StockTerms::of);
    if inline {
        let (mut values, mut locked) = (Vec::new(), Vec::new());
        for (n, (id, t)) in ids.iter().zip(terms).enumerate() {
            let id = params.push(id.clone());
            let (loc, q, bo) = (
                params.push(t.loc),
                params.push(t.quantity),
                params.push(t.backorder),
            );
            let (line, has_line) = (params.push(t.line), params.push(t.has_line));
            values.push(format!(
                "({id}::text, {loc}::text, {q}::text, {bo}::bool, {line}::text, {has_line}::bool, {}::bigint)",
                n + 1
            ));
            locked.push(format!("{id}::text"));
        }
        return UpdateInput {
            rows: format!("VALUES {}", values.join(", ")),
            locked: format!("ARRAY[{}]", locked.join(", ")),
        };
    }
    let (mut locs, mut qs, mut bos, mut lines, mut has_lines) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for t in terms {
        locs.push(t.loc);
        qs.push(t.quantity);
        bos.push(t.backorder);
        lines.push(t.line);
        has_lines.push(t.has_line);
    }
    let ids = params.push(ids.to_vec());
    let (locs, qs, bos) = (params.push(locs), params.push(qs), params.push(bos));
    let (lines, has_lines) = (params.push(lines), params.push(has_lines));
    UpdateInput {
        rows: format!(
            "SELECT * FROM unnest({ids}::text[], {locs}::text[], {qs}::text[], {bos}::bool[], \
             {lines}::text[], {has_lines}::bool[]) WITH ORDINALITY"
        ),
        locked: format!("{ids}::text[]"),
    }
}

/// The UPDATE of the levels an update moves, with their movements (CTE `m`):
/// never below zero, as in release(): a reservation from before its level was
/// re-created must not drive the new level negative. Named by the one
/// reservation, and line item, that moved the level, if one did.
fn moved_levels(params: &mut Params, audit: &Audit) -> String {
    LevelChange {
        name: "m",
        from: "chk",
        filter: "t.id = chk.id AND NOT EXISTS (SELECT 1 FROM stop)",
        moves: &[Moved {
            quantity: Quantity::Reserved,
            old: "chk.old_r",
            new: "greatest(trim_scale(t.reserved_quantity + chk.q), 0)",
        }],
        also_set: "",
        reservation: "chk.res",
        line_item: "chk.line",
        returning: ", chk.n",
    }
    .sql(params, audit)
}

/// The reservations' own UPDATEs: CTEs `r0`, `r1`... of the statement (each
/// returning its DTO), or, beyond [`INLINE_ROWS`], statements of their own.
struct ReservationUpdates {
    ctes: Vec<String>,
    own: Vec<Statement>,
}

fn reservation_updates(rows: &[Row], inline: bool, params: &mut Params) -> ReservationUpdates {
    let mut out = ReservationUpdates {
        ctes: Vec::new(),
        own: Vec::new(),
    };
    let dto = dto(&RESERVATION_ITEM);
    for (i, r) in rows.iter().enumerate() {
        let mut mine = Params::default();
        let target = if inline { &mut *params } else { &mut mine };
        let p = target.push(get_text(r, "id").unwrap_or_default());
        let sets = set_clause(r, &["id"], target);
        let update = format!("UPDATE reservation_item AS t SET {sets} WHERE t.id = {p}");
        match inline {
            true => out.ctes.push(format!(
                "r{i} AS ({update} AND NOT EXISTS (SELECT 1 FROM stop) RETURNING {dto} AS dto)"
            )),
            false => out.own.push(Statement {
                sql: format!("{update} RETURNING {dto}"),
                params: mine,
            }),
        }
    }
    out
}

/// The update's one statement. The reservations are locked (in id order;
/// looked up by id alone and judged live after the lock: with `deleted_at IS
/// NULL` in the scan, the generic plan (pipeline.rs) on stale statistics
/// walked every live reservation through a partial index, 2 ms at 8 000),
/// then the levels they leave and land on (in id order: the crate's lock
/// order). The levels are locked live or soft-deleted and judged live on the
/// locked rows (stock.rs, sql_level_ids_at): a reservation found live after
/// its lock may have been restored, with its level, by a call this one
/// waited for; judged on the snapshot, its level looked soft-deleted and was
/// left alone while the reservation changed.
///
/// Every reservation leaves its old level (-old quantity) and lands on its
/// new one (+new quantity, held to the stock rule when it grows or moves
/// without backorder). Postgres nets and checks these terms per level in
/// exact numeric: a net term need not be a valid quantity on its own (0.25 ->
/// 10^28 - 1 nets 10^28 - 1.25), only the level it leaves must be. Unless a
/// reservation is missing or a level fails, the levels move (`change`, CTE
/// `m`) and the reservations are updated (`updates`). Otherwise nothing is
/// written, and the statement says why, in Medusa's precedence: missing
/// reservations, then the first problem ([`Problem`]; first-mentioned first).
/// Few plan nodes on purpose: Postgres sets up every node of the plan on each
/// execution, and that set-up was a third of this statement's server time
/// (the input joined to the locked rows once, one aggregate per level).
fn update_sql(input: &UpdateInput, change: &str, updates: &[String]) -> String {
    let written = "greatest(trim_scale(lk.reserved_quantity + d.q), 0)";
    let problem = sql_stock_problem(&SqlDemand {
        level: "lk.id",
        total: "d.q",
        guarded: "d.guarded",
        stocked: "lk.stocked_quantity",
        reserved_after: "lk.reserved_quantity + d.q",
        written,
    });
    format!(
        "WITH i AS (SELECT * FROM ({rows}) AS i(id, loc, q, bo, line, has_line, n)),
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
                       {problem} AS problem
                FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
                WHERE d.q <> 0),
              bad AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
                      ORDER BY {rank}, n LIMIT 1),
              stop AS (SELECT 1 FROM j WHERE found IS NULL UNION ALL SELECT 1 FROM bad),
              {change}{updates}
         SELECT ARRAY(SELECT id FROM j WHERE found IS NULL ORDER BY n), b.problem, b.item, b.loc,
                ARRAY(SELECT id FROM m ORDER BY n), jsonb_build_array({outs})
         FROM (SELECT 1) one LEFT JOIN bad b ON true",
        rows = input.rows,
        locked = input.locked,
        at_levels = sql_level_ids_at("d"),
        rank = Problem::sql_rank("problem"),
        updates = updates.iter().map(|u| format!(",\n              {u}")).collect::<String>(),
        outs = (0..updates.len())
            .map(|i| format!("(SELECT dto FROM r{i})"))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

/// What an update's statement changed: the levels (in input order) and, when
/// the reservations were updated inside it, their DTOs.
struct Updated {
    levels: Vec<String>,
    dtos: Vec<Value>,
}

/// Reads [`update_sql`]'s row: the error of missing reservations or of a
/// level's problem, or what it changed.
fn read_update(row: &tokio_postgres::Row, inline: bool, n: usize) -> Result<Updated> {
    let missing: Vec<String> = row.get(0);
    if !missing.is_empty() {
        return Err(Error::invalid(format!(
            "Reservation item with id {} not found",
            missing.join(", ")
        )));
    }
    if let (Some(kind), Some(item), Some(loc)) = (
        row.get::<_, Option<String>>(1),
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
    ) {
        return Err(Problem::error_of(&kind, item, loc));
    }
    let dtos = match row.try_get::<_, Value>(5)? {
        Value::Array(values) if inline => values,
        _ => Vec::with_capacity(n),
    };
    Ok(Updated {
        levels: row.get(4),
        dtos,
    })
}

/// The reservations' own statements of an update beyond [`INLINE_ROWS`], and
/// COMMIT unless a key is to be stored, in one round trip: their DTOs, and
/// the COMMIT's answer when it went.
async fn run_own_updates(
    tx: &PipelinedTx,
    own: &[Statement],
    stmts: &[tokio_postgres::Statement],
    keyed: bool,
) -> (Result<Vec<Value>>, Option<Result<()>>) {
    let c = tx.client();
    let (updated, done) = tokio::join!(
        join_all(
            own.iter()
                .zip(stmts)
                .map(|(o, s)| async move { c.query_one(s, &o.params.refs()).await })
        ),
        async {
            match keyed {
                true => None,
                false => Some(tx.commit().await),
            }
        },
    );
    // A failed statement fails those after it (25P02) and the COMMIT rolls
    // back: report the first other error.
    let updated: Vec<Result<tokio_postgres::Row>> = updated
        .into_iter()
        .map(|u| u.map_err(Error::from))
        .collect();
    if let Some(e) = flight_error(updated.iter().filter_map(|u| u.as_ref().err())) {
        return (Err(e), done);
    }
    let dtos = updated
        .into_iter()
        .map(|u| u?.try_get::<_, Value>(0).map_err(Error::from))
        .collect();
    (dtos, done)
}

/// Any `returnLinkableKeys` given (whatever it names) returns the reservations' ids.
fn reservation_keys(config: &LinkableConfig, ids: Vec<String>) -> Value {
    if config.return_linkable_keys.is_some() && !ids.is_empty() {
        serde_json::json!({ "reservation_item_id": ids })
    } else {
        Value::Null
    }
}
