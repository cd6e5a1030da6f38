//! The reservation engine: decides a group of createReservationItems calls
//! against the levels they lock and writes the accepted ones in one
//! transaction. The group-commit queue in front of it is reserver.rs.
//!
//! Lock order, as everywhere: reservation rows, then level rows (by id).

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, ErrorType, Result};
use crate::idempotency::{claim, held};
use crate::input::{get_flag, get_quantity, get_text, shape, Row};
use crate::ledger::{
    insert_charges, prepare_charges, set_quantity, Audit, AuditColumns, Charges, Quantity,
};
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::pipeline::{flight_error, PipelinedTx};
use crate::quantity::add_in_domain;
use crate::stock::{beyond_level, quantity_at, reservation_error, stock_problem, At, Problem};
use crate::wire::{CallTrace, Taps};
use crate::write::{dto, insert_rows, insert_statement};
use deadpool_postgres::Pool;
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

/// A locked live level.
#[derive(Debug, Clone)]
struct Locked {
    id: String,
    /// stocked - reserved.
    available: Decimal,
    reserved: Decimal,
}

/// Locks the live levels of a group's (item, location) pairs in id order (the
/// crate's lock order); [`lock_for_reserve`] runs it.
const LOCK_FOR_RESERVE: &str = "SELECT l.id, l.inventory_item_id, l.location_id,
        l.stocked_quantity - l.reserved_quantity, l.reserved_quantity
 FROM inventory_level l
 WHERE l.deleted_at IS NULL
   AND (l.inventory_item_id, l.location_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
 ORDER BY l.id FOR UPDATE";

/// Runs [`LOCK_FOR_RESERVE`], prepared by the caller as `stmt`.
async fn lock_for_reserve<C: deadpool_postgres::GenericClient>(
    c: &C,
    stmt: &tokio_postgres::Statement,
    pairs: &[At],
) -> Result<Levels> {
    let items: Vec<&str> = pairs.iter().map(|p| p.item.as_str()).collect();
    let locs: Vec<&str> = pairs.iter().map(|p| p.loc.as_str()).collect();
    c.query(stmt, &[&items, &locs])
        .await?
        .iter()
        .map(|r| {
            let level = Locked {
                id: r.get(0),
                available: quantity_at(r, 3)?,
                reserved: quantity_at(r, 4)?,
            };
            let at = At {
                item: r.get(1),
                loc: r.get(2),
            };
            Ok((at, level))
        })
        .collect()
}

/// Decides one call against the levels as the calls before it in its group
/// left them (the stock rule, stock.rs), and charges them if it passes. Pure
/// Rust, no I/O: the same decision for a call alone and for a call inside a group.
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

/// The levels of a group's (item, location) pairs, locked, as `decide` leaves them.
type Levels = HashMap<At, Locked>;

/// Where a reservation row is.
fn at_of(r: &Row) -> At {
    At {
        item: get_text(r, "inventory_item_id").unwrap_or_default(),
        loc: get_text(r, "location_id").unwrap_or_default(),
    }
}

/// [`reserve_group`]'s transaction on `tx`, in two round trips when no call
/// has an idempotency key: BEGIN with the level locks, then the writes with
/// COMMIT (pipeline.rs). A keyed group claims its keys between the writes and
/// COMMIT. Leaves `tx` open when it commits nothing.
async fn decide_and_write(
    tx: &PipelinedTx,
    taps: &Taps,
    calls: &[Call],
    demands: Vec<Result<Vec<Demand>>>,
    pairs: &[At],
) -> Result<Vec<Result<Outcome>>> {
    let c = tx.client();
    let lock = c.prepare_cached(LOCK_FOR_RESERVE).await?;
    let (begun, locked) = tokio::join!(tx.begin(), lock_for_reserve(c, &lock, pairs));
    begun?;
    let mut levels = locked?;
    // Each accepted call's movement rows: the level's reserved quantity right
    // after it, as `decide` leaves it for the next call of the group.
    let mut charges = Charges::default();
    let mut charge_audits: Vec<&Audit> = Vec::new();
    let decided: Vec<Result<Vec<Demand>>> = demands
        .into_iter()
        .zip(calls)
        .map(|(d, call)| {
            let d = d.and_then(|d| no_panic(|| decide(&d, &mut levels)).map(|_| d));
            if d.as_ref().is_err_and(|e| e.kind == ErrorType::NotAllowed) {
                // The stock rule's refusal (stock.rs reservation_error).
                taps.telemetry.refused.fetch_add(1, Ordering::Relaxed);
            }
            let d = d?;
            for demand in &d {
                charge(&mut charges, call, demand, &levels);
                charge_audits.push(&call.audit);
            }
            Ok(d)
        })
        .collect();
    let accepted = Accepted::of(calls, &decided, &levels);
    let keyed = calls.iter().any(|c| c.audit.key().is_some());
    let mut written = Written::default();
    if !accepted.rows.is_empty() {
        let audits = Audit::columns(charge_audits.into_iter());
        written = write_accepted(tx, &accepted, &charges, &audits, keyed).await?;
    }
    // Every accepted call's outcome, before COMMIT: keyed calls store theirs
    // with their key in this transaction.
    let results = outcomes(calls, decided, &levels, &mut written.inserted);
    let mut commit_error = written.commit_error;
    if keyed && !accepted.rows.is_empty() {
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

/// Adds the movement row of one accepted call's `demand` to `charges`: the
/// level's reserved quantity as `decide` left it, naming the one reservation
/// and line item of the call there, if only one.
fn charge(charges: &mut Charges, call: &Call, demand: &Demand, levels: &Levels) {
    let At { item, loc } = &demand.key;
    let at: Vec<&Row> = call
        .rows
        .iter()
        .filter(|r| {
            get_text(r, "inventory_item_id").as_ref() == Some(item)
                && get_text(r, "location_id").as_ref() == Some(loc)
        })
        .collect();
    let lines: Vec<Option<String>> = at.iter().map(|r| get_text(r, "line_item_id")).collect();
    let level = &levels[&demand.key];
    charges.level.push(level.id.clone());
    charges.item.push(item.clone());
    charges.loc.push(loc.clone());
    charges.delta.push(demand.total.to_string());
    charges.resulting.push(level.reserved.to_string());
    charges
        .reservation
        .push((at.len() == 1).then(|| get_text(at[0], "id")).flatten());
    charges.line_item.push(match lines.first() {
        Some(Some(l)) if lines.iter().all(|x| x.as_ref() == Some(l)) => Some(l.clone()),
        _ => None,
    });
}

/// The rows of the accepted calls, each with the id of its level and its quantity.
#[derive(Default)]
struct Accepted {
    rows: Vec<Row>,
    level_ids: Vec<String>,
    quantities: Vec<String>,
}

impl Accepted {
    fn of(calls: &[Call], decided: &[Result<Vec<Demand>>], levels: &Levels) -> Self {
        let mut out = Accepted::default();
        for (call, d) in calls.iter().zip(decided) {
            if d.is_err() {
                continue;
            }
            for r in &call.rows {
                out.level_ids.push(levels[&at_of(r)].id.clone());
                out.quantities
                    .push(get_text(r, "quantity").unwrap_or_default());
                out.rows.push(r.clone());
            }
        }
        out
    }
}

/// What [`write_accepted`] wrote: the reservations' DTOs by id, and the
/// error of the COMMIT when it went out with the writes and failed (the
/// transaction's outcome is then unknown).
#[derive(Default)]
struct Written {
    inserted: HashMap<String, Value>,
    commit_error: Option<Error>,
}

/// The accepted rows' writes in one flight: the levels' UPDATE, the
/// reservations' INSERT, the movements' INSERT, and COMMIT unless a key is to
/// be claimed first. The movements stay a statement of their own: a row per
/// call and level (the reserved quantity after each call of the group, with
/// that call's audit), not per level as a [`crate::ledger::LevelChange`]
/// writes them; pipelined with the others, they cost no round trip.
async fn write_accepted(
    tx: &PipelinedTx,
    accepted: &Accepted,
    charges: &Charges,
    audits: &AuditColumns,
    keyed: bool,
) -> Result<Written> {
    let c = tx.client();
    // Postgres sums the accepted lines itself (exact numeric). The levels are
    // locked and `decide` judged them exactly (add_in_domain on the locked
    // values), so the new values are inside the domain without a SQL guard
    // (which cost about 0.06 ms per call). Every id is a level this
    // transaction locked live, so each is updated exactly once.
    let sql = format!(
        "WITH d AS (SELECT id, sum(q::numeric) AS q FROM unnest($1::text[], $2::text[]) AS u(id, q) GROUP BY id)
         UPDATE inventory_level t SET {}
         FROM d WHERE t.id = d.id",
        set_quantity(Quantity::Reserved, "trim_scale(t.reserved_quantity + d.q)"),
    );
    // All prepared before the flight, so that the statements go out in order
    // and the COMMIT (when it goes with them) last.
    let update = c.prepare_cached(&sql).await?;
    let (insert_sql, insert_params) =
        insert_statement(&RESERVATION_ITEM, &accepted.rows, dto(&RESERVATION_ITEM));
    let insert = c.prepare_cached(&insert_sql).await?;
    let charge = prepare_charges(c, charges, audits).await?;
    let (updated, values, charged, committed) = tokio::join!(
        async {
            c.execute(&update, &[&accepted.level_ids, &accepted.quantities])
                .await
                .map_err(Error::from)
        },
        insert_rows(c, &insert, &insert_params, &accepted.rows),
        insert_charges(c, charge.as_ref(), charges, audits),
        async {
            match keyed {
                true => Ok(()),
                false => tx.commit().await,
            }
        },
    );
    // When one statement fails, those after it fail too, as "transaction
    // aborted" (25P02), and the COMMIT rolls back: the error to report is
    // the first other one (an id given twice is the INSERT's unique
    // violation).
    let errors = [
        updated.as_ref().err(),
        values.as_ref().err(),
        charged.as_ref().err(),
    ];
    if let Some(e) = flight_error(errors.into_iter().flatten()) {
        return Err(e);
    }
    let mut written = Written {
        commit_error: committed.err(),
        ..Written::default()
    };
    for v in values? {
        let id = v["id"].as_str().unwrap_or_default().to_string();
        written.inserted.insert(id, v);
    }
    Ok(written)
}

/// Each call's outcome: its reservations (taken from `inserted`) and the
/// levels it charged, or its own error.
fn outcomes(
    calls: &[Call],
    decided: Vec<Result<Vec<Demand>>>,
    levels: &Levels,
    inserted: &mut HashMap<String, Value>,
) -> Vec<Result<Outcome>> {
    calls
        .iter()
        .zip(decided)
        .map(|(call, d)| {
            let d = d?;
            let values = call
                .rows
                .iter()
                .map(|r| {
                    let id = get_text(r, "id").unwrap_or_default();
                    inserted.remove(&id).ok_or_else(|| {
                        Error::unexpected(format!("reservation {id} was not returned"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let ids = d.iter().map(|d| levels[&d.key].id.clone()).collect();
            Ok(created(values, ids, call.was_array))
        })
        .collect()
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
