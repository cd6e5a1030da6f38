//! The reservation engine: decides a group of createReservationItems calls
//! against the levels they lock and writes the accepted ones in one
//! transaction: one statement for the group, in one round trip when it
//! passes as a whole. The group-commit queue in front of it is reserver.rs.
//!
//! Lock order, as everywhere: reservation rows, then level rows (by id).

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, ErrorType, Result};
use crate::idempotency::{claim, held};
use crate::input::{get_flag, get_quantity, get_text, shape, Row};
use crate::ledger::{record_by_call, set_quantity, Audit, Quantity, NAMED_BY_ONE};
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::pipeline::PipelinedTx;
use crate::quantity::add_in_domain;
use crate::sql::Params;
use crate::stock::{
    beyond_level, quantity_of, reservation_error, sql_lock_live_levels_at, sql_stock_problem,
    stock_problem, At, Problem, SqlDemand,
};
use crate::wire::{CallTrace, Taps};
use crate::write::{dto, insert_statement};
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

/// A live level as a group's statement found it, locked: what [`decide`]
/// decides a refused group from.
#[derive(Debug, Clone)]
struct Locked {
    id: String,
    /// stocked - reserved.
    available: Decimal,
    reserved: Decimal,
}

/// Decides one call against the levels as the calls before it in its group
/// left them (the stock rule, stock.rs), and charges them if it passes. Pure
/// Rust, no I/O. The group's statement decides in SQL ([`group_sql`]); when
/// it refuses, this picks the calls that pass and says why the others do not,
/// with Medusa's message (every missing level named).
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
    // The calls that write: a valid demand with lines to reserve.
    let writing: Vec<usize> = (0..calls.len())
        .filter(|&i| demands[i].as_ref().is_ok_and(|d| !d.is_empty()))
        .collect();
    let mut results: Vec<Option<Result<Outcome>>> = demands
        .iter()
        .zip(calls)
        .map(|(d, call)| match d {
            Err(e) => Some(Err(e.clone())),
            Ok(d) if d.is_empty() => Some(Ok(created(vec![], vec![], call.was_array))),
            Ok(_) => None,
        })
        .collect();
    if !writing.is_empty() {
        let tx = PipelinedTx::new(taps.checkout(pool, group).await?);
        let out = decide_and_write(&tx, calls, &demands, &writing, &mut results).await;
        if tx.is_open() {
            // Nothing accepted, or a failure: nothing of this group is kept.
            let _ = tx.rollback().await;
        }
        out?;
    }
    let results: Vec<Result<Outcome>> = results
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(Error::unexpected("the reservation was not decided"))))
        .collect();
    for r in &results {
        if r.as_ref().is_err_and(|e| e.kind == ErrorType::NotAllowed) {
            // The stock rule's refusal (stock.rs reservation_error).
            taps.telemetry.refused.fetch_add(1, Ordering::Relaxed);
        }
    }
    Ok(results)
}

/// The live levels of a group's (item, location) pairs as its statement
/// found them, as [`decide`] leaves them.
type Levels = HashMap<At, Locked>;

/// Where a reservation row is.
fn at_of(r: &Row) -> At {
    At {
        item: get_text(r, "inventory_item_id").unwrap_or_default(),
        loc: get_text(r, "location_id").unwrap_or_default(),
    }
}

/// The statement of a group (`members`, in arrival order). It locks the
/// levels of the group's (item, location) pairs in id order and judges the
/// live ones after the lock; judges each call, in order, against what the
/// calls before it take (the stock rule, [`sql_stock_problem`], with
/// [`stock_problem`]'s guarded part: only what may not backorder must be
/// available); and only when every call passes, charges the levels (one
/// UPDATE per level, the group's sum), writes a movement per call and level
/// (with that call's audit and the reserved quantity right after it) and
/// inserts the reservations. A refusal writes nothing and is not an error
/// of the statement: the transaction goes on.
///
/// Its one row: whether the group passed; the reservations' DTOs; per pair
/// (in item, location order) its item, location, live level, available and
/// reserved quantities as found (text: a value another writer left may not
/// fit a `Decimal`); and the first problem (code, item, location) of the
/// first call that has one.
fn group_sql(members: &[&Call]) -> (String, Params) {
    let rows: Vec<Row> = members
        .iter()
        .flat_map(|c| c.rows.iter().cloned())
        .collect();
    let (insert, mut params) = insert_statement(
        &RESERVATION_ITEM,
        &rows,
        Some("(SELECT ok FROM ok)"),
        &format!("{} AS dto", dto(&RESERVATION_ITEM)),
    );
    let call_nos: Vec<i32> = members
        .iter()
        .enumerate()
        .flat_map(|(i, c)| std::iter::repeat_n(i as i32 + 1, c.rows.len()))
        .collect();
    let call_no = params.push(call_nos);
    let mut column = |f: &dyn Fn(&Row) -> Option<String>| {
        params.push(rows.iter().map(f).collect::<Vec<Option<String>>>())
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
    let audits: Vec<&Audit> = members.iter().map(|c| &c.audit).collect();
    let movements = record_by_call(
        "SELECT c.call_no, c.level_id, c.item, c.loc, 'reserved_quantity' AS field, c.total AS delta,
                trim_scale(c.reserved + c.prior + c.total) AS resulting,
                c.res AS reservation_item_id, c.line AS line_item_id
         FROM chk c, ok WHERE ok.ok",
        &mut params,
        &audits,
    );
    let problem = sql_stock_problem(&SqlDemand {
        level: "c.level_id",
        total: "c.total",
        guarded: "c.guarded > 0",
        stocked: "c.stocked",
        reserved_after: "c.reserved + c.prior + c.guarded",
        written: "trim_scale(c.reserved + c.prior + c.total)",
    });
    let by_pair = |col: &str| format!("ARRAY(SELECT {col} FROM found ORDER BY item, loc)");
    let sql = format!(
        "WITH r AS (
           SELECT * FROM unnest({call_no}::int[], {ids}::text[], {items}::text[], {locs}::text[],
                                {quantities}::text[], {guarded}::text[], {lines}::text[])
                    AS r(call_no, id, item, loc, q, g, line)
         ),
         d AS (
           SELECT call_no, item, loc, coalesce(sum(q::numeric), 0) AS total,
                  coalesce(sum(g::numeric), 0) AS guarded, {named}
           FROM r GROUP BY call_no, item, loc
         ),
         p AS (SELECT DISTINCT item, loc FROM d),
         {locked},
         chk AS MATERIALIZED (
           SELECT d.call_no, d.item, d.loc, d.total, d.guarded, d.res, d.line, lk.id AS level_id,
                  lk.stocked_quantity AS stocked, lk.reserved_quantity AS reserved,
                  coalesce(sum(d.total) OVER (PARTITION BY d.item, d.loc ORDER BY d.call_no
                                              ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS prior
           FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
         ),
         bad AS MATERIALIZED (
           SELECT * FROM (SELECT c.call_no, c.item, c.loc, {problem} AS problem FROM chk c) x
           WHERE problem IS NOT NULL
         ),
         ok AS (SELECT NOT EXISTS (SELECT 1 FROM bad) AS ok),
         sums AS (SELECT level_id, sum(total) AS total FROM chk WHERE level_id IS NOT NULL GROUP BY level_id),
         upd AS (
           UPDATE inventory_level t SET {set}
           FROM sums, ok WHERE ok.ok AND t.id = sums.level_id
         ),
         mv AS ({movements}),
         ins AS ({insert}),
         found AS (
           SELECT p.item, p.loc, lk.id,
                  (lk.stocked_quantity - lk.reserved_quantity)::text AS available, lk.reserved_quantity::text AS reserved
           FROM p LEFT JOIN lk ON lk.inventory_item_id = p.item AND lk.location_id = p.loc
         )
         SELECT (SELECT ok FROM ok), ARRAY(SELECT dto FROM ins),
                {item}, {loc}, {level}, {available}, {reserved},
                (SELECT ARRAY[problem, item, loc] FROM bad ORDER BY call_no, problem <> '{missing}', item, loc LIMIT 1)",
        named = NAMED_BY_ONE,
        locked = sql_lock_live_levels_at("p"),
        set = set_quantity(Quantity::Reserved, "trim_scale(t.reserved_quantity + sums.total)"),
        item = by_pair("item"),
        loc = by_pair("loc"),
        level = by_pair("id"),
        available = by_pair("available"),
        reserved = by_pair("reserved"),
        missing = Problem::Missing.code(),
    );
    (sql, params)
}

/// What a group's statement answered ([`group_sql`]).
struct Answer {
    passed: bool,
    /// The reservations' DTOs by id.
    dtos: HashMap<String, Value>,
    levels: Levels,
    /// The first problem it found: code, item, location.
    problem: Option<(String, String, String)>,
}

impl Answer {
    fn of(row: &tokio_postgres::Row) -> Result<Answer> {
        let dtos: Vec<Value> = row.try_get(1)?;
        let items: Vec<String> = row.try_get(2)?;
        let locs: Vec<String> = row.try_get(3)?;
        let ids: Vec<Option<String>> = row.try_get(4)?;
        let available: Vec<Option<String>> = row.try_get(5)?;
        let reserved: Vec<Option<String>> = row.try_get(6)?;
        let problem: Option<Vec<String>> = row.try_get(7)?;
        let mut levels = Levels::new();
        for (i, (item, loc)) in items.into_iter().zip(locs).enumerate() {
            if let Some(Some(id)) = ids.get(i) {
                let level = Locked {
                    id: id.clone(),
                    available: quantity_of(available.get(i).and_then(Option::as_deref))?,
                    reserved: quantity_of(reserved.get(i).and_then(Option::as_deref))?,
                };
                levels.insert(At { item, loc }, level);
            }
        }
        Ok(Answer {
            passed: row.try_get(0)?,
            dtos: dtos
                .into_iter()
                .map(|v| (v["id"].as_str().unwrap_or_default().to_string(), v))
                .collect(),
            levels,
            problem: problem.and_then(|p| match <[String; 3]>::try_from(p) {
                Ok([code, item, loc]) => Some((code, item, loc)),
                Err(_) => None,
            }),
        })
    }
}

/// Runs [`group_sql`] for `members` on `tx`: with BEGIN before it when
/// `begin`, and COMMIT after it when `commit`, in one flight. Returns the
/// answer, and the COMMIT's error when it went and failed (the transaction's
/// outcome is then unknown).
async fn run_group(
    tx: &PipelinedTx,
    members: &[&Call],
    begin: bool,
    commit: bool,
) -> Result<(Answer, Option<Error>)> {
    let c = tx.client();
    let (sql, params) = group_sql(members);
    // Prepared before the flight, so that it goes out in order (pipeline.rs).
    let stmt = c.prepare_cached(&sql).await?;
    let (begun, row, committed) = tokio::join!(
        async {
            match begin {
                true => tx.begin().await,
                false => Ok(()),
            }
        },
        async {
            c.query_one(&stmt, &params.refs())
                .await
                .map_err(Error::from)
        },
        async {
            match commit {
                true => Some(tx.commit().await),
                false => None,
            }
        },
    );
    begun?;
    // A failed statement makes Postgres answer the COMMIT with a ROLLBACK.
    let answer = Answer::of(&row?)?;
    Ok((answer, committed.and_then(Result::err)))
}

/// [`reserve_group`]'s transaction on `tx` for the calls at `writing`,
/// filling their `results`.
///
/// One round trip when the group passes as a whole and no call has an
/// idempotency key: BEGIN, the group's statement and COMMIT in one flight
/// (pipeline.rs). A keyed group claims its keys after the statement, then
/// commits. A group whose statement refuses a call is decided again with its
/// locks held: BEGIN and the statement again (the first flight's COMMIT
/// ended that transaction, having written nothing), [`decide`] on the levels
/// it found picks the calls that pass, and the statement for those alone
/// writes them. A group of one refused is only explained. Leaves `tx` open
/// when it commits nothing.
async fn decide_and_write(
    tx: &PipelinedTx,
    calls: &[Call],
    demands: &[Result<Vec<Demand>>],
    writing: &[usize],
    results: &mut [Option<Result<Outcome>>],
) -> Result<()> {
    let keyed = writing.iter().any(|&i| calls[i].audit.key().is_some());
    let members: Vec<&Call> = writing.iter().map(|&i| &calls[i]).collect();
    let (mut answer, mut commit_error) = run_group(tx, &members, true, !keyed).await?;
    let mut accepted: Vec<usize> = writing.to_vec();
    if !answer.passed && writing.len() > 1 {
        if !keyed {
            (answer, _) = run_group(tx, &members, true, false).await?;
        }
        if !answer.passed {
            let mut levels = answer.levels.clone();
            accepted.clear();
            for &i in writing {
                let demand = demands[i].as_deref().unwrap_or_default();
                match no_panic(|| decide(demand, &mut levels)) {
                    Ok(()) => accepted.push(i),
                    Err(e) => results[i] = Some(Err(e)),
                }
            }
            if accepted.is_empty() {
                return Ok(());
            }
            let members: Vec<&Call> = accepted.iter().map(|&i| &calls[i]).collect();
            let answered;
            (answered, commit_error) = run_group(tx, &members, false, !keyed).await?;
            if !answered.passed {
                // The levels are locked and unchanged since `decide`: not expected.
                return Err(Error::unexpected("the reservations could not be decided"));
            }
            answer = Answer {
                levels: answer.levels,
                ..answered
            };
        }
    }
    if !answer.passed {
        // A group of one, refused: why, in Medusa's words.
        let i = writing[0];
        let mut levels = answer.levels;
        let demand = demands[i].as_deref().unwrap_or_default();
        results[i] = Some(Err(match no_panic(|| decide(demand, &mut levels)) {
            Err(e) => e,
            // A level outside what `Decimal` checks (written by another
            // writer): the statement's own judgement.
            Ok(()) => answer
                .problem
                .map(|(code, item, loc)| Problem::error_of(&code, item, loc))
                .unwrap_or_else(|| Error::unexpected("the reservation was refused")),
        }));
        return Ok(());
    }
    for &i in &accepted {
        results[i] = Some(no_panic(|| {
            let call = &calls[i];
            let values = call
                .rows
                .iter()
                .map(|r| {
                    let id = get_text(r, "id").unwrap_or_default();
                    answer.dtos.remove(&id).ok_or_else(|| {
                        Error::unexpected(format!("reservation {id} was not returned"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let demand = demands[i].as_deref().unwrap_or_default();
            let ids = demand
                .iter()
                .filter_map(|d| answer.levels.get(&d.key).map(|l| l.id.clone()))
                .collect();
            Ok(created(values, ids, call.was_array))
        }));
    }
    if keyed {
        // Every accepted call's outcome is stored with its key in this transaction.
        let stored: Vec<(&Call, &Result<Outcome>)> = accepted
            .iter()
            .filter_map(|&i| Some((&calls[i], results[i].as_ref()?)))
            .collect();
        claim_keys(tx.client(), &stored).await?;
        commit_error = tx.commit().await.err();
    } else if tx.is_open() {
        // Decided again with the locks held, and passed as a whole.
        commit_error = tx.commit().await.err();
    }
    if let Some(e) = commit_error {
        // The COMMIT may have landed: retrying these calls alone would write
        // them twice (or report them refused), so each accepted call gets the
        // error and its outcome stays unknown, as for a lone call.
        for &i in &accepted {
            results[i] = Some(Err(e.clone()));
        }
    }
    Ok(())
}

/// Stores the keys of the accepted keyed calls with their outcomes. A key
/// another call committed first (or given twice in this group) fails the
/// group: each call is retried alone and the repeat replays.
async fn claim_keys<C: deadpool_postgres::GenericClient>(
    c: &C,
    accepted: &[(&Call, &Result<Outcome>)],
) -> Result<()> {
    let keys: Vec<(String, String, String, String)> = accepted
        .iter()
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
    let ttl = accepted
        .iter()
        .find_map(|(c, _)| c.audit.key().map(|_| c.audit.ttl_seconds))
        .unwrap_or_default();
    if !claim(c, ttl, &keys).await? {
        let first = keys.first().map(|(key, ..)| key.clone());
        return Err(held(&first.unwrap_or_default()));
    }
    Ok(())
}
