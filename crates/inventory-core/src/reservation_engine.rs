//! The reservation engine: decides a group of createReservationItems calls
//! against the levels they lock and writes the accepted ones in one
//! transaction, one statement per call, in one round trip. The group-commit
//! queue in front of it is reserver.rs.
//!
//! Lock order, as everywhere: reservation rows, then level rows (by id).

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, ErrorType, Result};
use crate::idempotency::{claim, held};
use crate::input::{get_flag, get_quantity, get_text, shape, Row};
use crate::ledger::{Audit, LevelChange, Moved, Quantity, NAMED_BY_ONE};
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::pipeline::{flight_error, PipelinedTx};
use crate::quantity::add_in_domain;
use crate::sql::Params;
use crate::stock::{
    beyond_level, quantity_of, reservation_error, sql_level_ids_at, sql_stock_problem,
    stock_problem, At, Problem, SqlDemand,
};
use crate::wire::{CallTrace, Taps};
use crate::write::{dto, in_input_order, insert_statement};
use deadpool_postgres::Pool;
use futures_util::future::join_all;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

/// One createReservationItems call: its validated rows, whether its input was
/// an array (the shape of its result) and its audit (ledger, idempotency key).
#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub rows: Vec<Row>,
    pub was_array: bool,
    pub audit: Audit,
    /// The call's trace, when it asked for one (wire.rs), and when it queued:
    /// its group's transaction runs on another task.
    pub trace: Option<Arc<CallTrace>>,
    pub queued: Instant,
}

/// What a call returns: its reservations (input order), and as changes those
/// and the levels it charged.
fn created(values: Vec<Value>, levels: Vec<String>, was_array: bool) -> Outcome {
    let ids = ids_in(&Value::Array(values.clone()));
    Outcome::from(shape(values, was_array))
        .with(RESERVATION, "created", ids)
        .with(LEVEL, "updated", levels)
}

/// One call's demand on one (item, location).
#[derive(Debug, Clone)]
struct Demand {
    key: At,
    total: Decimal,
    /// The part that may not backorder.
    guarded: Decimal,
}

/// Demand of one call per (item, location), in first-seen order. Sums are
/// checked: lines whose total leaves the decimal domain fail this call only.
fn demand_of(rows: &[Row]) -> Result<Vec<Demand>> {
    let mut out: Vec<Demand> = Vec::new();
    for r in rows {
        let key = at_of(r);
        let q = get_quantity(r, "quantity").unwrap_or_default();
        let guarded = if get_flag(r, "allow_backorder") == Some(true) {
            Decimal::ZERO
        } else {
            q
        };
        match out.iter_mut().find(|d| d.key == key) {
            Some(e) => {
                let too_big = || beyond_level("quantity", &key.item, &key.loc);
                e.total = add_in_domain(e.total, q).ok_or_else(too_big)?;
                e.guarded = add_in_domain(e.guarded, guarded).ok_or_else(too_big)?;
            }
            None => out.push(Demand {
                key,
                total: q,
                guarded,
            }),
        }
    }
    Ok(out)
}

/// A live level as a call's statement found it, locked: what [`decide`]
/// explains a refusal from.
#[derive(Debug, Clone)]
struct Locked {
    id: String,
    /// stocked - reserved.
    available: Decimal,
    reserved: Decimal,
}

/// Locks every level, live or soft-deleted, at a group's (item, location)
/// pairs in id order (the crate's lock order), before the group's calls run
/// one statement each: a call then only takes locks its group already holds.
/// A group of one call skips it (its statement locks in id order itself).
fn lock_group_sql() -> String {
    format!(
        "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[]) AS d(item, loc))
         SELECT l.id FROM inventory_level l WHERE l.id = ANY({ids}) ORDER BY l.id FOR UPDATE",
        ids = sql_level_ids_at("d"),
    )
}

/// Decides one call against the levels as the calls before it in its group
/// left them (the stock rule, stock.rs), and charges them if it passes. Pure
/// Rust, no I/O. The call's statement decides in SQL ([`reserve_sql`]); this
/// says why it refused, with Medusa's message (every missing level named).
fn decide(demand: &[Demand], levels: &mut Levels) -> Result<()> {
    let problems: Vec<(&Demand, Problem)> = demand
        .iter()
        .filter_map(|d| {
            let available = levels.get(&d.key).map(|l| l.available);
            stock_problem(available, d.total, d.guarded).map(|p| (d, p))
        })
        .collect();
    let missing: Vec<At> = problems
        .iter()
        .filter(|(_, p)| *p == Problem::Missing)
        .map(|(d, _)| d.key.clone())
        .collect();
    let short = problems
        .iter()
        .find(|(_, p)| *p == Problem::Short)
        .map(|(d, _)| d.key.clone());
    if !missing.is_empty() || short.is_some() {
        return Err(reservation_error(&missing, short));
    }
    // Compute every new level state before changing any, so a refusal charges nothing.
    let mut next = Vec::with_capacity(demand.len());
    for d in demand {
        // Reservation quantities are positive: a demand always adds, so its
        // level was found live above.
        let Some(level) = levels.get(&d.key) else {
            continue;
        };
        let beyond = || beyond_level("quantity", &d.key.item, &d.key.loc);
        let reserved = add_in_domain(level.reserved, d.total).ok_or_else(beyond)?;
        let available = add_in_domain(level.available, -d.total).ok_or_else(beyond)?;
        next.push((&d.key, available, reserved));
    }
    for (k, available, reserved) in next {
        let level = levels.get_mut(k).expect("checked above");
        level.available = available;
        level.reserved = reserved;
    }
    Ok(())
}

/// Runs `f`, turning a panic into this call's own error (last line of defence:
/// arithmetic is checked, but one caller must never fail the others).
fn no_panic<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err(Error::unexpected("the reservation could not be processed")))
}

/// The reservation engine. Every createReservationItems call goes through here,
/// alone (a group of one) or with the calls that queued behind it: the levels
/// they need are locked once (in id order), each call is decided in arrival
/// order against what the calls before it left, and only the accepted calls'
/// rows are written, in one transaction. An error of the transaction as a
/// whole (an id supplied twice, say) is returned as Err: the caller retries
/// each call alone so that only its own fails.
pub(crate) async fn reserve_group(
    pool: &Pool,
    taps: &Taps,
    calls: &[Call],
) -> Result<Vec<Result<Outcome>>> {
    taps.telemetry.grouped(calls.len());
    // A traced member gets the group's pool wait and round trips, after its queue.
    let group = calls.iter().any(|c| c.trace.is_some()).then(CallTrace::new);
    let out = reserve_group_on(pool, taps, calls, group.as_ref()).await;
    if let Some(group) = group {
        let spans = group.finish();
        let began = spans
            .iter()
            .find(|s| s.is_roundtrip())
            .map_or_else(Instant::now, |s| s.start());
        for call in calls {
            if let Some(t) = &call.trace {
                t.queue(call.queued, began, calls.len());
                t.extend(&spans);
            }
        }
    }
    out
}

async fn reserve_group_on(
    pool: &Pool,
    taps: &Taps,
    calls: &[Call],
    group: Option<&Arc<CallTrace>>,
) -> Result<Vec<Result<Outcome>>> {
    let demands: Vec<Result<Vec<Demand>>> = calls
        .iter()
        .map(|call| no_panic(|| demand_of(&call.rows)))
        .collect();
    let mut pairs: Vec<At> = Vec::new();
    for d in demands.iter().flatten().flatten() {
        if !pairs.contains(&d.key) {
            pairs.push(d.key.clone());
        }
    }
    if pairs.is_empty() {
        return Ok(demands
            .into_iter()
            .zip(calls)
            .map(|(d, call)| d.map(|_| created(vec![], vec![], call.was_array)))
            .collect());
    }
    let tx = PipelinedTx::new(taps.checkout(pool, group).await?);
    let out = decide_and_write(&tx, taps, calls, demands, &pairs).await;
    if tx.is_open() {
        // Nothing accepted, or a failure: nothing of this group is kept.
        let _ = tx.rollback().await;
    }
    out
}

/// The live levels of a call's (item, location) pairs as its statement found
/// them, as [`decide`] leaves them.
type Levels = HashMap<At, Locked>;

/// Where a reservation row is.
fn at_of(r: &Row) -> At {
    At {
        item: get_text(r, "inventory_item_id").unwrap_or_default(),
        loc: get_text(r, "location_id").unwrap_or_default(),
    }
}

/// One call's statement. It locks the levels of the call's (item, location)
/// pairs in id order (a group's are already held, [`lock_group_sql`]) and
/// judges the live ones after the lock; judges the call's demand there with
/// the stock rule ([`sql_stock_problem`], with [`stock_problem`]'s guarded
/// part: only what may not backorder must be available); and only when every
/// pair passes, charges the levels (a movement row each, with this call's
/// audit) and inserts the reservations. A refusal writes nothing and is no
/// error of the statement, so the transaction goes on: the group's other
/// calls, and a COMMIT sent with them, keep what they did.
///
/// Its one row: whether the call passed; the reservations' DTOs; and per pair
/// (in item, location order) its item, location, live level, available and
/// reserved quantities as found, and the first problem there. Quantities
/// come back as text: a value another writer left may not fit a `Decimal`.
fn reserve_sql(call: &Call) -> (String, Params) {
    let (insert, mut params) = insert_statement(
        &RESERVATION_ITEM,
        &call.rows,
        Some("(SELECT ok FROM ok)"),
        &format!("{} AS dto", dto(&RESERVATION_ITEM)),
    );
    let mut column = |f: &dyn Fn(&Row) -> Option<String>| {
        params.push(call.rows.iter().map(f).collect::<Vec<Option<String>>>())
    };
    let ids = column(&|r| get_text(r, "id"));
    let items = column(&|r| get_text(r, "inventory_item_id"));
    let locs = column(&|r| get_text(r, "location_id"));
    let quantities = column(&|r| get_text(r, "quantity"));
    let guarded = column(&|r| match get_flag(r, "allow_backorder") {
        Some(true) => Some("0".to_string()),
        _ => get_text(r, "quantity"),
    });
    let lines = column(&|r| get_text(r, "line_item_id"));
    let upd = LevelChange {
        name: "upd",
        from: "chk, ok",
        filter: "ok.ok AND t.id = chk.level_id",
        moves: &[Moved {
            quantity: Quantity::Reserved,
            old: "chk.reserved",
            new: "trim_scale(t.reserved_quantity + chk.total)",
        }],
        also_set: "",
        reservation: "chk.res",
        line_item: "chk.line",
        returning: "",
    }
    .sql(&mut params, &call.audit);
    let problem = sql_stock_problem(&SqlDemand {
        level: "lk.id",
        total: "d.total",
        guarded: "d.guarded > 0",
        stocked: "lk.stocked_quantity",
        reserved_after: "lk.reserved_quantity + d.guarded",
        written: "trim_scale(lk.reserved_quantity + d.total)",
    });
    let by_pair = |col: &str| format!("ARRAY(SELECT {col} FROM chk ORDER BY item, loc)");
    let sql = format!(
        "WITH r AS (
           SELECT * FROM unnest({ids}::text[], {items}::text[], {locs}::text[], {quantities}::text[],
                                {guarded}::text[], {lines}::text[]) AS r(id, item, loc, q, g, line)
         ),
         d AS (
           SELECT item, loc, coalesce(sum(q::numeric), 0) AS total, coalesce(sum(g::numeric), 0) AS guarded,
                  {named}
           FROM r GROUP BY item, loc
         ),
         lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity, l.deleted_at
           FROM inventory_level l WHERE l.id = ANY({at_levels})
           ORDER BY l.id FOR UPDATE
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
         chk AS MATERIALIZED (
           SELECT d.item, d.loc, d.total, d.res, d.line, lk.id AS level_id,
                  lk.stocked_quantity - lk.reserved_quantity AS available, lk.reserved_quantity AS reserved,
                  {problem} AS problem
           FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
         ),
         ok AS (SELECT NOT EXISTS (SELECT 1 FROM chk WHERE problem IS NOT NULL) AS ok),
         {upd},
         ins AS ({insert})
         SELECT (SELECT ok FROM ok), ARRAY(SELECT dto FROM ins), {item}, {loc}, {level}, {available}, {reserved}, {problems}",
        named = NAMED_BY_ONE,
        at_levels = sql_level_ids_at("d"),
        item = by_pair("item"),
        loc = by_pair("loc"),
        level = by_pair("level_id"),
        available = by_pair("available::text"),
        reserved = by_pair("reserved::text"),
        problems = by_pair("problem"),
    );
    (sql, params)
}

/// [`reserve_group`]'s transaction on `tx`, in one round trip when no call
/// has an idempotency key: BEGIN, the group's level locks (when it has more
/// than one call), each call's statement ([`reserve_sql`]) in arrival order,
/// and COMMIT, pipelined (pipeline.rs). Each statement sees what the ones
/// before it wrote, so each call is decided against what the calls before it
/// left. A keyed group claims its keys after the flight, then commits.
/// Leaves `tx` open when it commits nothing.
async fn decide_and_write(
    tx: &PipelinedTx,
    taps: &Taps,
    calls: &[Call],
    demands: Vec<Result<Vec<Demand>>>,
    pairs: &[At],
) -> Result<Vec<Result<Outcome>>> {
    let c = tx.client();
    let keyed = calls.iter().any(|c| c.audit.key().is_some());
    // Only calls with lines to reserve and a valid demand reach the database.
    let statements: Vec<Option<(String, Params)>> = calls
        .iter()
        .zip(&demands)
        .map(|(call, d)| match d {
            Ok(d) if !d.is_empty() => Some(reserve_sql(call)),
            _ => None,
        })
        .collect();
    // Everything prepared before the flight, so that it goes out in order.
    let lock = match statements.iter().flatten().count() > 1 {
        true => Some(c.prepare_cached(&lock_group_sql()).await?),
        false => None,
    };
    let mut prepared = Vec::with_capacity(statements.len());
    for s in &statements {
        prepared.push(match s {
            Some((sql, _)) => Some(c.prepare_cached(sql).await?),
            None => None,
        });
    }
    let items: Vec<&str> = pairs.iter().map(|p| p.item.as_str()).collect();
    let locs: Vec<&str> = pairs.iter().map(|p| p.loc.as_str()).collect();
    let (begun, locked, rows, committed) = tokio::join!(
        tx.begin(),
        async {
            match &lock {
                Some(l) => c.query(l, &[&items, &locs]).await.map(|_| ()),
                None => Ok(()),
            }
        },
        join_all(statements.iter().zip(&prepared).map(|(s, p)| async move {
            match (s, p) {
                (Some((_, params)), Some(stmt)) => {
                    c.query_one(stmt, &params.refs()).await.map(Some)
                }
                _ => Ok(None),
            }
        })),
        async {
            match keyed {
                true => Ok(()),
                false => tx.commit().await,
            }
        },
    );
    begun?;
    // When one statement fails, those after it fail too, as "transaction
    // aborted" (25P02), and the COMMIT rolls back: the error to report is the
    // first other one (an id given twice is the INSERT's unique violation).
    let rows: Vec<std::result::Result<Option<tokio_postgres::Row>, Error>> =
        rows.into_iter().map(|r| r.map_err(Error::from)).collect();
    let locked = locked.map_err(Error::from);
    let errors =
        std::iter::once(locked.as_ref().err()).chain(rows.iter().map(|r| r.as_ref().err()));
    if let Some(e) = flight_error(errors.flatten()) {
        return Err(e);
    }
    let mut wrote = false;
    let results: Vec<Result<Outcome>> = calls
        .iter()
        .zip(demands)
        .zip(rows)
        .map(|((call, d), row)| {
            let out = match (d, row) {
                (Err(e), _) | (Ok(_), Err(e)) => Err(e),
                (Ok(_), Ok(None)) => Ok(created(vec![], vec![], call.was_array)),
                (Ok(d), Ok(Some(row))) => no_panic(|| outcome_of(call, &d, &row)),
            };
            match &out {
                Ok(_) => wrote = wrote || !call.rows.is_empty(),
                // The stock rule's refusal (stock.rs reservation_error).
                Err(e) if e.kind == ErrorType::NotAllowed => {
                    taps.telemetry.refused.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {}
            }
            out
        })
        .collect();
    let mut commit_error = committed.err();
    if keyed && wrote {
        // Every accepted call's outcome is stored with its key in this transaction.
        claim_keys(c, calls, &results).await?;
        commit_error = tx.commit().await.err();
    }
    if let Some(e) = commit_error {
        // The COMMIT may have landed: retrying these calls alone would write
        // them twice (or report them refused), so each accepted call gets the
        // error and its outcome stays unknown, as for a lone call.
        return Ok(results
            .into_iter()
            .map(|r| r.and_then(|_| Err(e.clone())))
            .collect());
    }
    Ok(results)
}

/// A call's outcome from its statement's row ([`reserve_sql`]): its
/// reservations and the levels it charged, or why it was refused, in Medusa's
/// words ([`decide`] on the levels as the statement found them).
fn outcome_of(call: &Call, demand: &[Demand], row: &tokio_postgres::Row) -> Result<Outcome> {
    let passed: bool = row.try_get(0)?;
    let (mut levels, problems) = found(row)?;
    if !passed {
        return Err(match decide(demand, &mut levels) {
            Err(e) => e,
            // A level outside what `Decimal` checks (written by another
            // writer): the statement's own judgement, missing levels first.
            Ok(()) => problems
                .into_iter()
                .min_by_key(|(code, ..)| code != Problem::Missing.code())
                .map(|(code, item, loc)| Problem::error_of(&code, item, loc))
                .unwrap_or_else(|| Error::unexpected("the reservation was refused")),
        });
    }
    let values = in_input_order(&call.rows, row.try_get(1)?)?;
    let ids = demand
        .iter()
        .filter_map(|d| levels.get(&d.key).map(|l| l.id.clone()))
        .collect();
    Ok(created(values, ids, call.was_array))
}

/// A problem a call's statement found: its code, item and location.
type Found = (String, String, String);

/// The live levels a call's statement found (read before it charged them),
/// and the problems it found there.
fn found(row: &tokio_postgres::Row) -> Result<(Levels, Vec<Found>)> {
    let items: Vec<String> = row.try_get(2)?;
    let locs: Vec<String> = row.try_get(3)?;
    let ids: Vec<Option<String>> = row.try_get(4)?;
    let available: Vec<Option<String>> = row.try_get(5)?;
    let reserved: Vec<Option<String>> = row.try_get(6)?;
    let problems: Vec<Option<String>> = row.try_get(7)?;
    let mut levels = Levels::new();
    let mut found = Vec::new();
    for (i, (item, loc)) in items.into_iter().zip(locs).enumerate() {
        if let Some(Some(code)) = problems.get(i) {
            found.push((code.clone(), item.clone(), loc.clone()));
        }
        if let Some(Some(id)) = ids.get(i) {
            let level = Locked {
                id: id.clone(),
                available: quantity_of(available.get(i).and_then(Option::as_deref))?,
                reserved: quantity_of(reserved.get(i).and_then(Option::as_deref))?,
            };
            levels.insert(At { item, loc }, level);
        }
    }
    Ok((levels, found))
}

/// Stores the keys of the accepted keyed calls with their outcomes. A key
/// another call committed first (or given twice in this group) fails the
/// group: each call is retried alone and the repeat replays.
async fn claim_keys<C: deadpool_postgres::GenericClient>(
    c: &C,
    calls: &[Call],
    results: &[Result<Outcome>],
) -> Result<()> {
    let keys: Vec<(String, String, String, String)> = calls
        .iter()
        .zip(results)
        .filter_map(|(call, r)| {
            let out = r.as_ref().ok()?;
            let a = &call.audit;
            Some((
                a.key()?.to_string(),
                a.method.to_string(),
                a.request.clone()?,
                out.to_json_string(),
            ))
        })
        .collect();
    let ttl = calls
        .iter()
        .find_map(|c| c.audit.key().map(|_| c.audit.ttl_seconds))
        .unwrap_or_default();
    if !claim(c, ttl, &keys).await? {
        let first = keys.first().map(|(key, ..)| key.clone());
        return Err(held(&first.unwrap_or_default()));
    }
    Ok(())
}
