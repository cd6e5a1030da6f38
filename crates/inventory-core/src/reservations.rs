//! ReservationItem: every statement that writes `reservation_item`, together
//! with the `inventory_level.reserved_quantity` change that must go with it.
//!
//! Lock order, everywhere: reservation rows (by id), then level rows (by id).
//! No path locks a level and then a reservation, so no two calls deadlock.

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, Result};
use crate::quantity::{add_in_domain, sql_level_fits, Rule, MAX_DIGITS};
use crate::service::*;
use crate::sql::Params;
use deadpool_postgres::Pool;
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashMap;
use std::str::FromStr;
use std::sync::{Arc, Mutex as StdMutex};
use tokio::sync::oneshot;

static CREATE: InputSpec = InputSpec {
    entity: &RESERVATION_ITEM,
    writable: &[
        "id",
        "inventory_item_id",
        "location_id",
        "quantity",
        "allow_backorder",
        "line_item_id",
        "external_id",
        "description",
        "created_by",
        "metadata",
    ],
    ignored: &[],
    required: &["inventory_item_id", "location_id", "quantity"],
    not_null: &["id", "allow_backorder"],
    numeric_rule: Rule::Positive,
};

static UPDATE: InputSpec = InputSpec {
    entity: &RESERVATION_ITEM,
    writable: &[
        "id",
        "location_id",
        "quantity",
        "allow_backorder",
        "line_item_id",
        "external_id",
        "description",
        "created_by",
        "metadata",
    ],
    ignored: &[],
    required: &["id"],
    not_null: &["location_id", "quantity", "allow_backorder"],
    numeric_rule: Rule::Positive,
};

const INSERT_COLS: &[&str] = &[
    "id",
    "inventory_item_id",
    "location_id",
    "quantity",
    "allow_backorder",
    "line_item_id",
    "external_id",
    "description",
    "created_by",
    "metadata",
];

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
) -> Result<(Vec<String>, Vec<String>)> {
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
        Release::Restore => return restore(c, cond, params).await,
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
    let sql = format!(
        "WITH r0 AS MATERIALIZED (
           SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                  t.deleted_at IS NULL AS live
           FROM reservation_item t
           WHERE ({cond}) ORDER BY t.id FOR UPDATE
         ),
         r AS (SELECT * FROM r0 WHERE {pick}),
         d AS (SELECT item, loc, sum(q) AS q FROM r {counted} GROUP BY 1, 2),
         lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.deleted_at,
                  l.stocked_quantity AS stocked, {new_reserved} AS reserved
           FROM inventory_level l JOIN d ON l.inventory_item_id = d.item AND l.location_id = d.loc
           ORDER BY l.id FOR UPDATE OF l
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
         bad AS (SELECT item, loc FROM lk WHERE NOT {fits} ORDER BY item, loc LIMIT 1),
         ch AS ({change}),
         upd AS (
           UPDATE inventory_level t SET reserved_quantity = lk.reserved,
                  raw_reserved_quantity = {raw}, updated_at = now()
           FROM lk WHERE t.id = lk.id AND NOT EXISTS (SELECT 1 FROM bad)
           RETURNING t.id
         )
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                (SELECT item FROM bad), (SELECT loc FROM bad)",
        raw = raw_of("lk.reserved"),
        fits = sql_level_fits("lk.stocked", "lk.reserved"),
    );
    let stmt = c.prepare_cached(&sql).await?;
    let row = c.query_one(&stmt, &params.refs()).await?;
    if let (Some(item), Some(loc)) = (
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
    ) {
        return Err(beyond_level("quantity", &item, &loc));
    }
    Ok((row.get(0), row.get(1)))
}

/// Restores soft-deleted reservations as a create would make them: the level
/// must be live and, unless the reservation allows backorder, have the
/// quantity available; otherwise nothing is restored and the error says why
/// (Medusa's messages). One statement: reservations locked, then levels.
async fn restore<C: deadpool_postgres::GenericClient>(
    c: &C,
    cond: &str,
    params: &Params,
) -> Result<(Vec<String>, Vec<String>)> {
    let new_reserved = "trim_scale(t.reserved_quantity + chk.total)";
    let sql = format!(
        "WITH r0 AS MATERIALIZED (
           SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                  coalesce(t.allow_backorder, false) AS bo, t.deleted_at IS NOT NULL AS gone
           FROM reservation_item t
           WHERE ({cond}) ORDER BY t.id FOR UPDATE
         ),
         r AS (SELECT * FROM r0 WHERE gone),
         d AS (
           SELECT item, loc, sum(q) AS total, coalesce(sum(q) FILTER (WHERE NOT bo), 0) AS guarded
           FROM r GROUP BY 1, 2
         ),
         lk AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity
           FROM inventory_level l
           WHERE l.deleted_at IS NULL AND (l.inventory_item_id, l.location_id) IN (SELECT item, loc FROM d)
           ORDER BY l.id FOR UPDATE
         ),
         chk AS MATERIALIZED (
           SELECT d.item, d.loc, d.total, lk.id AS level_id,
                  CASE WHEN lk.id IS NULL THEN 'missing'
                       WHEN d.guarded > 0 AND lk.stocked_quantity - lk.reserved_quantity < d.guarded THEN 'short'
                       WHEN NOT {fits} THEN 'beyond' END AS problem
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
           RETURNING t.id
         ),
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY problem = 'missing' DESC, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                p.problem, p.item, p.loc
         FROM (SELECT 1) one LEFT JOIN p ON true",
        raw = raw_of(new_reserved),
        fits = sql_level_fits("lk.stocked_quantity", "lk.reserved_quantity + d.total"),
    );
    let stmt = c.prepare_cached(&sql).await?;
    let row = c.query_one(&stmt, &params.refs()).await?;
    if let (Some(kind), Some(item), Some(loc)) = (
        row.get::<_, Option<String>>(2),
        row.get::<_, Option<String>>(3),
        row.get::<_, Option<String>>(4),
    ) {
        return Err(match kind.as_str() {
            "missing" => reservation_error(&[(item, loc)], None),
            "short" => reservation_error(&[], Some((item, loc))),
            _ => beyond_level("quantity", &item, &loc),
        });
    }
    Ok((row.get(0), row.get(1)))
}

fn strings_of(v: &Value, name: &str) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str().map(str::to_string).ok_or_else(|| {
                    Error::invalid(format!("{name} must be a string or an array of strings"))
                })
            })
            .collect(),
        _ => Err(Error::invalid(format!(
            "{name} must be a string or an array of strings"
        ))),
    }
}

/// What one createReservationItems call gets back: its reservations (input order)
/// and the ids of the levels it charged.
type Reserved = (Vec<Value>, Vec<String>);

/// Attempts a release by line item or location makes before giving up (`conflict`).
const PREDICATE_PASSES: usize = 5;

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

/// Medusa's errors for a reservation that cannot be made: missing levels are
/// reported (all of them) before a shortage.
fn reservation_error(missing: &[(String, String)], short: Option<(String, String)>) -> Error {
    if !missing.is_empty() {
        return Error::not_found(
            missing
                .iter()
                .map(|(i, l)| format!("Item {i} is not stocked at location {l}"))
                .collect::<Vec<_>>()
                .join(", "),
        );
    }
    let (i, l) = short.unwrap_or_default();
    Error::not_allowed(format!(
        "Not enough stock available for item {i} at location {l}"
    ))
}

/// One call's demand on one (item, location): (key, total, non-backorder part).
type Demand = ((String, String), Decimal, Decimal);

/// Demand of one call per (item, location), in first-seen order. Sums are
/// checked: lines whose total leaves the decimal domain fail this call only.
fn demand_of(rows: &[Row]) -> Result<Vec<Demand>> {
    let mut out: Vec<Demand> = Vec::new();
    for r in rows {
        let key = (
            get_text(r, "inventory_item_id").unwrap_or_default(),
            get_text(r, "location_id").unwrap_or_default(),
        );
        let q = dec(&get_text(r, "quantity").unwrap_or_default())?;
        let guarded = if get_text(r, "allow_backorder").as_deref() == Some("true") {
            Decimal::ZERO
        } else {
            q
        };
        match out.iter_mut().find(|(k, _, _)| *k == key) {
            Some(e) => {
                let too_big = || beyond_level("quantity", &key.0, &key.1);
                e.1 = add_in_domain(e.1, q).ok_or_else(too_big)?;
                e.2 = add_in_domain(e.2, guarded).ok_or_else(too_big)?;
            }
            None => out.push((key, q, guarded)),
        }
    }
    Ok(out)
}

/// A locked live level: id, available (stocked - reserved), reserved.
type Locked = (String, Decimal, Decimal);

/// Locks the live levels of `pairs` in id order (the crate's lock order).
async fn lock_for_reserve<C: deadpool_postgres::GenericClient>(
    c: &C,
    pairs: &[(String, String)],
) -> Result<HashMap<(String, String), Locked>> {
    let items: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    let locs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
    let stmt = c
        .prepare_cached(
            "SELECT l.id, l.inventory_item_id, l.location_id,
                    (l.stocked_quantity - l.reserved_quantity)::text, l.reserved_quantity::text
             FROM inventory_level l
             WHERE l.deleted_at IS NULL
               AND (l.inventory_item_id, l.location_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
             ORDER BY l.id FOR UPDATE",
        )
        .await?;
    c.query(&stmt, &[&items, &locs])
        .await?
        .iter()
        .map(|r| {
            Ok((
                (r.get(1), r.get(2)),
                (r.get(0), dec(r.get(3))?, dec(r.get(4))?),
            ))
        })
        .collect()
}

/// Decides one call against the levels as the calls before it in its group
/// left them, and charges them if it passes. Pure Rust, no I/O: the same
/// decision for a call alone and for a call inside a group.
fn decide(demand: &[Demand], levels: &mut HashMap<(String, String), Locked>) -> Result<()> {
    let missing: Vec<(String, String)> = demand
        .iter()
        .filter(|(k, _, _)| !levels.contains_key(k))
        .map(|(k, _, _)| k.clone())
        .collect();
    let short = demand
        .iter()
        .find(|(k, _, guarded)| {
            *guarded > Decimal::ZERO && levels.get(k).is_some_and(|(_, a, _)| *a < *guarded)
        })
        .map(|(k, _, _)| k.clone());
    if !missing.is_empty() || short.is_some() {
        return Err(reservation_error(&missing, short));
    }
    // Compute every new level state before changing any, so a refusal charges nothing.
    let mut next = Vec::with_capacity(demand.len());
    for (k, total, _) in demand {
        let (_, available, reserved) = &levels[k];
        let beyond = || beyond_level("quantity", &k.0, &k.1);
        let reserved = add_in_domain(*reserved, *total).ok_or_else(beyond)?;
        let available = add_in_domain(*available, -*total).ok_or_else(beyond)?;
        next.push((k, available, reserved));
    }
    for (k, available, reserved) in next {
        let e = levels.get_mut(k).expect("checked above");
        e.1 = available;
        e.2 = reserved;
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
async fn reserve_group(pool: &Pool, calls: &[Vec<Row>]) -> Result<Vec<Result<Reserved>>> {
    let demands: Vec<Result<Vec<Demand>>> = calls
        .iter()
        .map(|rows| no_panic(|| demand_of(rows)))
        .collect();
    let mut pairs: Vec<(String, String)> = Vec::new();
    for d in demands.iter().flatten() {
        for (k, _, _) in d {
            if !pairs.contains(k) {
                pairs.push(k.clone());
            }
        }
    }
    if pairs.is_empty() {
        return Ok(demands
            .into_iter()
            .map(|d| d.map(|_| (vec![], vec![])))
            .collect());
    }
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let mut levels = lock_for_reserve(&tx, &pairs).await?;
    let decided: Vec<Result<Vec<Demand>>> = demands
        .into_iter()
        .map(|d| d.and_then(|d| no_panic(|| decide(&d, &mut levels)).map(|_| d)))
        .collect();
    let mut accepted: Vec<Row> = Vec::new();
    let mut charge_ids: Vec<String> = Vec::new();
    let mut charge_qs: Vec<String> = Vec::new();
    for (rows, d) in calls.iter().zip(&decided) {
        if d.is_ok() {
            for r in rows {
                let key = (
                    get_text(r, "inventory_item_id").unwrap_or_default(),
                    get_text(r, "location_id").unwrap_or_default(),
                );
                charge_ids.push(levels[&key].0.clone());
                charge_qs.push(get_text(r, "quantity").unwrap_or_default());
                accepted.push(r.clone());
            }
        }
    }
    let mut inserted: HashMap<String, Value> = HashMap::new();
    if !accepted.is_empty() {
        // Postgres sums the accepted lines itself (exact numeric), and refuses a
        // level that would leave the readable domain (the checks above already do).
        let new_reserved = "trim_scale(t.reserved_quantity + d.q)";
        let sql = format!(
            "WITH d AS (SELECT id, sum(q::numeric) AS q FROM unnest($1::text[], $2::text[]) AS u(id, q) GROUP BY id)
             UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                    raw_reserved_quantity = {}, updated_at = now()
             FROM d WHERE t.id = d.id AND {}",
            raw_of(new_reserved),
            sql_level_fits("t.stocked_quantity", new_reserved),
        );
        let stmt = tx.prepare_cached(&sql).await?;
        let (updated, values) = tokio::try_join!(
            async {
                tx.execute(&stmt, &[&charge_ids, &charge_qs])
                    .await
                    .map_err(Error::from)
            },
            insert_rows(
                &tx,
                &RESERVATION_ITEM,
                INSERT_COLS,
                &[("allow_backorder", "false")],
                &accepted,
            )
        )?;
        let mut distinct = charge_ids.clone();
        distinct.sort();
        distinct.dedup();
        if updated as usize != distinct.len() {
            return Err(Error::invalid(
                "quantity would take an inventory level beyond what it can hold",
            ));
        }
        for v in values {
            inserted.insert(v["id"].as_str().unwrap_or_default().to_string(), v);
        }
    }
    if let Err(e) = tx.commit().await {
        // The COMMIT may have landed: retrying these calls alone would write
        // them twice (or report them refused), so each accepted call gets the
        // error and its outcome stays unknown, as for a lone call.
        let e = Error::from(e);
        return Ok(decided
            .into_iter()
            .map(|d| d.and_then(|_| Err(e.clone())))
            .collect());
    }
    Ok(calls
        .iter()
        .zip(decided)
        .map(|(rows, d)| {
            let d = d?;
            let values = rows
                .iter()
                .map(|r| {
                    let id = get_text(r, "id").unwrap_or_default();
                    inserted.remove(&id).ok_or_else(|| {
                        Error::unexpected(format!("reservation {id} was not returned"))
                    })
                })
                .collect::<Result<Vec<_>>>()?;
            let ids = d.iter().map(|(k, _, _)| levels[k].0.clone()).collect();
            Ok((values, ids))
        })
        .collect())
}

/// Runs a group on its own task so that even a panic in it is contained; when
/// the group fails as a whole, every call is retried as a group of one.
async fn run_group(pool: Pool, calls: Vec<Vec<Row>>) -> Vec<Result<Reserved>> {
    let n = calls.len();
    let calls = Arc::new(calls);
    let (p, c) = (pool.clone(), calls.clone());
    let whole = tokio::spawn(async move { reserve_group(&p, &c).await }).await;
    match whole {
        Ok(Ok(results)) => results,
        Ok(Err(e)) if n == 1 => vec![Err(e)],
        Err(_) if n == 1 => vec![Err(Error::unexpected(
            "the reservation could not be processed",
        ))],
        _ => {
            let mut out = Vec::with_capacity(n);
            for call in calls.iter() {
                let (p, one) = (pool.clone(), vec![call.clone()]);
                let r = match tokio::spawn(async move { reserve_group(&p, &one).await }).await {
                    Ok(Ok(mut r)) => r.pop().unwrap_or_else(|| {
                        Err(Error::unexpected("the reservation could not be processed"))
                    }),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Error::unexpected("the reservation could not be processed")),
                };
                out.push(r);
            }
            out
        }
    }
}

struct Waiting {
    rows: Vec<Row>,
    reply: oneshot::Sender<Result<Reserved>>,
}

#[derive(Default)]
struct Lane {
    busy: bool,
    queue: Vec<Waiting>,
    /// Forced groups drained so far; a late flush timer of an earlier group must
    /// not split the next one.
    groups: u64,
}

/// How createReservationItems calls of this process are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Every call is a group of one.
    Off,
    /// Group commit: while a group is in flight, calls that arrive queue up and
    /// then go to Postgres together as the next group.
    Auto,
    /// Test hook: calls wait until this many are queued and then run as one
    /// group (or, after a second, whatever has queued), so grouped behaviour
    /// can be tested deterministically.
    ForceGroupOf(usize),
}

/// Group commit for reservations. An idle process pays one transaction per
/// call; a busy one amortises the row locks and commits over every waiting
/// caller. Grouping only changes which calls share a transaction: the decision
/// for each call is the same engine (`reserve_group`) either way.
#[derive(Clone)]
pub struct Reserver {
    lane: Arc<StdMutex<Lane>>,
    grouping: Grouping,
}

impl std::fmt::Debug for Reserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reserver")
            .field("grouping", &self.grouping)
            .finish_non_exhaustive()
    }
}

/// Largest number of calls one group carries.
const MAX_BATCH: usize = 256;

/// Hands the lane to the next group (or marks it idle) however the holder ends,
/// panics included, so a failure can never leave reservations stuck.
struct LaneGuard {
    reserver: Reserver,
    pool: Pool,
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        self.reserver.hand_off(self.pool.clone());
    }
}

fn send_all(batch: Vec<Waiting>, results: Vec<Result<Reserved>>) {
    let mut results = results.into_iter();
    for w in batch {
        let r = results
            .next()
            .unwrap_or_else(|| Err(Error::unexpected("the reservation could not be processed")));
        let _ = w.reply.send(r);
    }
}

impl Grouping {
    /// `{ forceGroupOf: n }`, 1 <= n <= MAX_BATCH: the test hook.
    pub fn from_json(o: &serde_json::Map<String, Value>) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "connect option groupReservations must be a boolean or {{ forceGroupOf: 1..{MAX_BATCH} }}"
            ))
        };
        match (o.len(), o.get("forceGroupOf").and_then(Value::as_u64)) {
            (1, Some(n)) if (1..=MAX_BATCH as u64).contains(&n) => {
                Ok(Grouping::ForceGroupOf(n as usize))
            }
            _ => Err(bad()),
        }
    }
}

impl Reserver {
    pub fn new(grouping: Grouping) -> Self {
        Reserver {
            lane: Default::default(),
            grouping,
        }
    }

    async fn reserve(&self, pool: &Pool, rows: Vec<Row>) -> Result<Reserved> {
        let one = |r: Vec<Result<Reserved>>| {
            r.into_iter()
                .next()
                .unwrap_or_else(|| Err(Error::unexpected("the reservation could not be processed")))
        };
        let queued = match self.grouping {
            Grouping::Off => return one(run_group(pool.clone(), vec![rows]).await),
            Grouping::ForceGroupOf(n) => {
                let (reply, rx) = oneshot::channel();
                let (full, group) = {
                    let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
                    lane.queue.push(Waiting { rows, reply });
                    let group = lane.groups;
                    let full = lane.queue.len() >= n;
                    if full {
                        lane.groups += 1;
                    }
                    (
                        full.then(|| lane.queue.drain(..).collect::<Vec<_>>()),
                        group,
                    )
                };
                let pool = pool.clone();
                match full {
                    Some(batch) => {
                        tokio::spawn(async move {
                            let calls = batch.iter().map(|w| w.rows.clone()).collect();
                            send_all(batch, run_group(pool, calls).await);
                        });
                    }
                    None => {
                        let lane = self.lane.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                            let batch: Vec<Waiting> = {
                                let mut lane = lane.lock().unwrap_or_else(|p| p.into_inner());
                                if lane.groups != group {
                                    return;
                                }
                                lane.groups += 1;
                                lane.queue.drain(..).collect()
                            };
                            if !batch.is_empty() {
                                let calls = batch.iter().map(|w| w.rows.clone()).collect();
                                send_all(batch, run_group(pool, calls).await);
                            }
                        });
                    }
                }
                Ok(rx)
            }
            Grouping::Auto => {
                // Either join the queue (Ok) or take the idle lane (Err gives the rows back).
                let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
                if lane.busy {
                    let (reply, rx) = oneshot::channel();
                    lane.queue.push(Waiting { rows, reply });
                    Ok(rx)
                } else {
                    lane.busy = true;
                    Err(rows)
                }
            }
        };
        match queued {
            Ok(rx) => rx.await.unwrap_or_else(|_| {
                Err(Error::unexpected("the reservation could not be processed"))
            }),
            Err(rows) => {
                let _guard = LaneGuard {
                    reserver: self.clone(),
                    pool: pool.clone(),
                };
                one(run_group(pool.clone(), vec![rows]).await)
            }
        }
    }

    fn hand_off(&self, pool: Pool) {
        let batch: Vec<Waiting> = {
            let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
            if lane.queue.is_empty() {
                lane.busy = false;
                return;
            }
            let n = lane.queue.len().min(MAX_BATCH);
            lane.queue.drain(..n).collect()
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            for w in batch {
                let _ = w
                    .reply
                    .send(Err(Error::unexpected("no async runtime for reservations")));
            }
            self.lane.lock().unwrap_or_else(|p| p.into_inner()).busy = false;
            return;
        };
        let guard = LaneGuard {
            reserver: self.clone(),
            pool,
        };
        handle.spawn(async move {
            let pool = guard.pool.clone();
            let calls = batch.iter().map(|w| w.rows.clone()).collect();
            send_all(batch, run_group(pool, calls).await);
            drop(guard);
        });
    }
}

fn dec(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|_| {
        Error::invalid(format!(
            "quantity must be a number within ±{LEVEL_MAX}, received \"{s}\""
        ))
    })
}

impl InventoryService {
    pub async fn create_reservation_items(&self, input: &Value) -> Result<Outcome> {
        let (rows, was_array) = self.parse_create(&CREATE, input)?;
        let (values, levels) = self.reserver.reserve(&self.pool, rows).await?;
        let ids = ids_in(&Value::Array(values.clone()));
        Ok(Outcome::from(shape(values, was_array))
            .with(RESERVATION, "created", ids)
            .with(LEVEL, "updated", levels))
    }

    /// Changes quantity, location or details of reservations. The levels they
    /// leave are released, the levels they move to are checked and charged.
    pub async fn update_reservation_items(&self, input: &Value) -> Result<Outcome> {
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
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, inventory_item_id, location_id, quantity::text, coalesce(allow_backorder, false)
                 FROM reservation_item WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR UPDATE",
            )
            .await?;
        let current: HashMap<String, (String, String, Decimal, bool)> = tx
            .query(&stmt, &[&ids])
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.get::<_, String>(0),
                    (r.get(1), r.get(2), dec(r.get::<_, &str>(3))?, r.get(4)),
                ))
            })
            .collect::<Result<_>>()?;
        let missing: Vec<&String> = ids.iter().filter(|i| !current.contains_key(*i)).collect();
        if !missing.is_empty() {
            return Err(Error::invalid(format!(
                "Reservation item with id {} not found",
                missing
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
        // Every reservation leaves its old level (-old quantity) and lands on its
        // new one (+new quantity, checked against stock when it grows or moves
        // without backorder). Postgres nets and checks these terms per level in
        // exact numeric: a net term need not be a valid quantity on its own
        // (0.25 -> 10^28 - 1 nets 10^28 - 1.25), only the level it leaves must be.
        let (mut t_item, mut t_loc, mut t_q, mut t_guard) = (vec![], vec![], vec![], vec![]);
        for r in &rows {
            let id = get_text(r, "id").unwrap_or_default();
            let (item, old_loc, old_q, old_bo) = &current[&id];
            let new_loc = get_text(r, "location_id").unwrap_or_else(|| old_loc.clone());
            let new_q = match get_text(r, "quantity") {
                Some(q) => dec(&q)?,
                None => *old_q,
            };
            let backorder = match get_text(r, "allow_backorder") {
                Some(b) => b == "true",
                None => *old_bo,
            };
            let increases = new_loc != *old_loc || new_q > *old_q;
            for (loc, q, guarded) in [
                (old_loc.clone(), -*old_q, false),
                (new_loc, new_q, increases && !backorder),
            ] {
                t_item.push(item.clone());
                t_loc.push(loc);
                t_q.push(q.to_string());
                t_guard.push(guarded);
            }
        }
        // Levels locked in id order (the crate's lock order), then one row per
        // level the call moves, in first-mention order.
        let new_reserved = "greatest(trim_scale(lk.reserved_quantity + d.q), 0)";
        let sql = format!(
            "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bool[])
                        WITH ORDINALITY AS u(item, loc, q, guarded, n)),
                  d AS (SELECT item, loc, sum(q::numeric) AS q, bool_or(guarded) AS guarded, min(n) AS n
                        FROM u GROUP BY 1, 2),
                  lk AS MATERIALIZED (
                    SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity, l.reserved_quantity
                    FROM inventory_level l
                    WHERE l.deleted_at IS NULL AND (l.inventory_item_id, l.location_id) IN (SELECT item, loc FROM d)
                    ORDER BY l.id FOR UPDATE)
             SELECT d.item, d.loc, lk.id, d.q::text, d.q > 0,
                    d.guarded AND d.q > 0 AND lk.stocked_quantity - lk.reserved_quantity < d.q,
                    {fits}
             FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
             WHERE d.q <> 0 ORDER BY d.n",
            fits = sql_level_fits("lk.stocked_quantity", new_reserved),
        );
        let stmt = tx.prepare_cached(&sql).await?;
        let moved = tx.query(&stmt, &[&t_item, &t_loc, &t_q, &t_guard]).await?;
        // Errors in Medusa's precedence, as for creates: a missing level, then a
        // shortage, then a level that would leave the quantity domain.
        let pair = |m: &tokio_postgres::Row| (m.get::<_, String>(0), m.get::<_, String>(1));
        let live = |m: &tokio_postgres::Row| m.get::<_, Option<String>>(2).is_some();
        if let Some(m) = moved.iter().find(|m| !live(m) && m.get::<_, bool>(4)) {
            let (item, loc) = pair(m);
            return Err(Error::not_found(format!(
                "Item {item} is not stocked at location {loc}"
            )));
        }
        if let Some(m) = moved.iter().find(|m| live(m) && m.get::<_, bool>(5)) {
            let (item, loc) = pair(m);
            return Err(Error::not_allowed(format!(
                "Not enough stock available for item {item} at location {loc}"
            )));
        }
        if let Some(m) = moved.iter().find(|m| live(m) && !m.get::<_, bool>(6)) {
            let (item, loc) = pair(m);
            return Err(beyond_level("quantity", &item, &loc));
        }
        // A release from a level that no longer exists has nothing to give back.
        let (level_ids, level_deltas): (Vec<String>, Vec<String>) = moved
            .iter()
            .filter_map(|m| Some((m.get::<_, Option<String>>(2)?, m.get::<_, String>(3))))
            .unzip();
        if !level_ids.is_empty() {
            // Never below zero, as in release(): a reservation from before its
            // level was re-created must not drive the new level negative.
            let new_reserved = "greatest(trim_scale(t.reserved_quantity + u.q::numeric), 0)";
            let sql = format!(
                "UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                        raw_reserved_quantity = {}, updated_at = now()
                 FROM unnest($1::text[], $2::text[]) AS u(id, q) WHERE t.id = u.id",
                raw_of(new_reserved),
            );
            let stmt = tx.prepare_cached(&sql).await?;
            tx.execute(&stmt, &[&level_ids, &level_deltas]).await?;
        }
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut params = Params::default();
            let p = params.push(get_text(r, "id").unwrap_or_default());
            let sets = set_clause(r, &["id"], &mut params);
            let sql = format!(
                "UPDATE reservation_item AS t SET {sets} WHERE t.id = {p} RETURNING {}",
                dto(&RESERVATION_ITEM)
            );
            let stmt = tx.prepare_cached(&sql).await?;
            out.push(
                tx.query_one(&stmt, &params.refs())
                    .await?
                    .get::<_, Value>(0),
            );
        }
        tx.commit().await?;
        let ids = ids_in(&Value::Array(out.clone()));
        Ok(Outcome::from(shape(out, was_array))
            .with(LEVEL, "updated", level_ids)
            .with(RESERVATION, "updated", ids))
    }

    async fn release_by(
        &self,
        column: &str,
        values: Vec<String>,
        mode: Release,
    ) -> Result<(Vec<String>, Vec<String>)> {
        let mut params = Params::default();
        let p = params.push(values);
        let cond = format!("t.{column} = ANY({p}::text[])");
        let mut c = self.client().await?;
        if column == "id" {
            // Ids name a fixed set of rows, all locked (and judged) by one statement.
            return release(&c, &cond, &params, mode).await;
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
        let check =
            format!("SELECT EXISTS (SELECT 1 FROM reservation_item t WHERE ({cond}) AND {left})");
        for _ in 0..PREDICATE_PASSES {
            let tx = c.transaction().await?;
            let done = release(&tx, &cond, &params, mode).await?;
            if !tx
                .query_one(&check, &params.refs())
                .await?
                .get::<_, bool>(0)
            {
                tx.commit().await?;
                return Ok(done);
            }
            tx.rollback().await?;
        }
        Err(Error::new(
            crate::error::ErrorType::Conflict,
            "reservations kept arriving for this call; retry it",
        ))
    }

    /// Releases or restores reservations and reports it as Medusa does: the levels
    /// are updated, the reservations deleted (or, beyond Medusa, restored).
    async fn release_outcome(
        &self,
        column: &str,
        values: Vec<String>,
        mode: Release,
        config: Option<&Value>,
    ) -> Result<Outcome> {
        let (done, levels) = self.release_by(column, values, mode).await?;
        let result = match config {
            Some(cfg) => reservation_keys(cfg, done.clone()),
            None => Value::Null,
        };
        let action = if mode == Release::Restore {
            "restored"
        } else {
            "deleted"
        };
        Ok(Outcome::from(result)
            .with(LEVEL, "updated", levels)
            .with(RESERVATION, action, done))
    }

    pub async fn delete_reservation_items(&self, ids: &Value) -> Result<Outcome> {
        self.release_outcome("id", ids_of(ids, "ids")?, Release::HardDelete, None)
            .await
    }

    pub async fn soft_delete_reservation_items(
        &self,
        ids: &Value,
        config: &Value,
    ) -> Result<Outcome> {
        self.release_outcome("id", ids_of(ids, "ids")?, Release::SoftDelete, Some(config))
            .await
    }

    pub async fn restore_reservation_items(&self, ids: &Value, config: &Value) -> Result<Outcome> {
        self.release_outcome("id", ids_of(ids, "ids")?, Release::Restore, Some(config))
            .await
    }

    pub async fn delete_reservation_items_by_line_item(
        &self,
        line_items: &Value,
    ) -> Result<Outcome> {
        let values = strings_of(line_items, "lineItemId")?;
        self.release_outcome("line_item_id", values, Release::SoftDelete, None)
            .await
    }

    pub async fn restore_reservation_items_by_line_item(
        &self,
        line_items: &Value,
    ) -> Result<Outcome> {
        let values = strings_of(line_items, "lineItemId")?;
        self.release_outcome("line_item_id", values, Release::Restore, None)
            .await
    }

    pub async fn delete_reservation_item_by_location_id(&self, locs: &Value) -> Result<Outcome> {
        let values = strings_of(locs, "locationId")?;
        self.release_outcome("location_id", values, Release::SoftDelete, None)
            .await
    }
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
