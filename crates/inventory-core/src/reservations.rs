//! ReservationItem: every statement that writes `reservation_item`, together
//! with the `inventory_level.reserved_quantity` change that must go with it.
//!
//! Lock order, everywhere: reservation rows (by id), then level rows (by id).
//! No path locks a level and then a reservation, so no two calls deadlock.

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, Result};
use crate::levels::lock_levels;
use crate::quantity::Rule;
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

/// The whole reservation in one statement: lock the levels in id order, check
/// the batch's summed demand per level against what is available under those
/// locks, and only if every level passes, raise reserved_quantity and insert
/// the rows. A failing batch writes nothing and reports what failed.
fn create_sql() -> &'static str {
    static SQL: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SQL.get_or_init(build_create_sql)
}

fn build_create_sql() -> String {
    let dto_col = format!("{} AS dto", dto(&RESERVATION_ITEM));
    let unnest: Vec<String> = (1..=INSERT_COLS.len())
        .map(|i| format!("${i}::text[]"))
        .collect();
    format!(
        "WITH u AS (
           SELECT * FROM unnest({unnest}) WITH ORDINALITY
             AS u({cols}, ord)
         ),
         d AS (
           SELECT inventory_item_id AS item, location_id AS loc, min(ord) AS ord,
                  sum(quantity::numeric) AS total,
                  coalesce(sum(quantity::numeric) FILTER (WHERE NOT coalesce(allow_backorder::boolean, false)), 0) AS guarded
           FROM u GROUP BY 1, 2
         ),
         lk AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id, l.location_id,
                  l.stocked_quantity - l.reserved_quantity AS available
           FROM inventory_level l
           WHERE l.deleted_at IS NULL
             AND (l.inventory_item_id, l.location_id) IN (SELECT item, loc FROM d)
           ORDER BY l.id FOR UPDATE
         ),
         chk AS MATERIALIZED (
           SELECT d.item, d.loc, d.ord, d.total, lk.id AS level_id,
                  CASE WHEN lk.id IS NULL THEN 'missing'
                       WHEN d.guarded > 0 AND lk.available < d.guarded THEN 'short' END AS problem
           FROM d LEFT JOIN lk ON lk.inventory_item_id = d.item AND lk.location_id = d.loc
         ),
         ok AS (SELECT NOT EXISTS (SELECT 1 FROM chk WHERE problem IS NOT NULL) AS ok),
         upd AS (
           UPDATE inventory_level t
           SET reserved_quantity = trim_scale(t.reserved_quantity + chk.total),
               raw_reserved_quantity = {raw},
               updated_at = now()
           FROM chk, ok WHERE ok.ok AND t.id = chk.level_id
           RETURNING t.id
         ),
         ins AS (
           INSERT INTO reservation_item AS t
             (id, inventory_item_id, location_id, quantity, raw_quantity, allow_backorder,
              line_item_id, external_id, description, created_by, metadata)
           SELECT u.id, u.inventory_item_id, u.location_id, trim_scale(u.quantity::numeric),
                  {raw_q}, coalesce(u.allow_backorder::boolean, false),
                  u.line_item_id, u.external_id, u.description, u.created_by, u.metadata::jsonb
           FROM u, ok WHERE ok.ok
           RETURNING {dto}
         )
         SELECT chk.problem, chk.item, chk.loc, NULL::jsonb, chk.ord FROM chk WHERE chk.problem IS NOT NULL
         UNION ALL
         SELECT 'row', NULL, NULL, ins.dto, NULL FROM (SELECT {dto_ref} AS dto FROM ins) ins
         UNION ALL
         SELECT 'level', upd.id, NULL, NULL, NULL FROM upd",
        unnest = unnest.join(", "),
        cols = INSERT_COLS.join(", "),
        raw = raw_of("trim_scale(t.reserved_quantity + chk.total)"),
        raw_q = raw_of("trim_scale(u.quantity::numeric)"),
        dto = dto_col,
        dto_ref = "ins.dto",
    )
}

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
    let (pick, change, sign, counted) = match mode {
        Release::HardDelete => (
            "TRUE",
            "DELETE FROM reservation_item t USING r WHERE t.id = r.id
             RETURNING t.id, t.inventory_item_id, t.location_id, t.quantity, r.live",
            "-",
            "WHERE live",
        ),
        Release::SoftDelete => (
            "t.deleted_at IS NULL",
            "UPDATE reservation_item t SET deleted_at = now(), updated_at = now() FROM r WHERE t.id = r.id
             RETURNING t.id, t.inventory_item_id, t.location_id, t.quantity, r.live",
            "-",
            "",
        ),
        Release::Restore => (
            "t.deleted_at IS NOT NULL",
            "UPDATE reservation_item t SET deleted_at = NULL, updated_at = now() FROM r WHERE t.id = r.id
             RETURNING t.id, t.inventory_item_id, t.location_id, t.quantity, r.live",
            "+",
            "",
        ),
    };
    let new_reserved = format!("trim_scale(t.reserved_quantity {sign} d.q)");
    let sql = format!(
        "WITH r AS MATERIALIZED (
           SELECT t.id, t.deleted_at IS NULL AS live FROM reservation_item t
           WHERE ({cond}) AND {pick} ORDER BY t.id FOR UPDATE
         ),
         ch AS ({change}),
         d AS (SELECT inventory_item_id AS item, location_id AS loc, sum(quantity) AS q FROM ch {counted} GROUP BY 1, 2),
         lk AS MATERIALIZED (
           SELECT l.id FROM inventory_level l JOIN d ON l.inventory_item_id = d.item AND l.location_id = d.loc
           WHERE l.deleted_at IS NULL ORDER BY l.id FOR UPDATE OF l
         ),
         upd AS (
           UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                  raw_reserved_quantity = {raw}, updated_at = now()
           FROM d WHERE t.id IN (SELECT id FROM lk) AND t.inventory_item_id = d.item AND t.location_id = d.loc
           RETURNING t.id
         )
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id)",
        raw = raw_of(&new_reserved),
    );
    let stmt = c.prepare_cached(&sql).await?;
    let row = c.query_one(&stmt, &params.refs()).await?;
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

/// Runs one call's reservations as the single guarded statement (one round trip).
async fn reserve_alone(pool: &Pool, rows: &[Row]) -> Result<Reserved> {
    let mut params = Params::default();
    for col in INSERT_COLS {
        let values: Vec<Option<String>> = rows.iter().map(|r| get_text(r, col)).collect();
        params.push(values);
    }
    let c = pool.get().await?;
    let stmt = c.prepare_cached(create_sql()).await?;
    let out = c.query(&stmt, &params.refs()).await?;
    let mut problems: Vec<(i64, String, String, String)> = Vec::new();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let mut levels: Vec<String> = Vec::new();
    for r in &out {
        let kind: String = r.get(0);
        match kind.as_str() {
            "row" => {
                let v: Value = r.get(3);
                by_id.insert(v["id"].as_str().unwrap_or_default().to_string(), v);
            }
            "level" => levels.push(r.get(1)),
            _ => problems.push((r.get(4), kind, r.get(1), r.get(2))),
        }
    }
    if !problems.is_empty() {
        problems.sort();
        let missing: Vec<(String, String)> = problems
            .iter()
            .filter(|p| p.1 == "missing")
            .map(|p| (p.2.clone(), p.3.clone()))
            .collect();
        let short = problems.first().map(|p| (p.2.clone(), p.3.clone()));
        return Err(reservation_error(&missing, short));
    }
    let values = rows
        .iter()
        .map(|r| {
            let id = get_text(r, "id").unwrap_or_default();
            by_id
                .remove(&id)
                .ok_or_else(|| Error::unexpected(format!("reservation {id} was not returned")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((values, levels))
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

/// Demand of one call per (item, location), in first-seen order.
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
                e.1 += q;
                e.2 += guarded;
            }
            None => out.push((key, q, guarded)),
        }
    }
    Ok(out)
}

/// Several calls' reservations in one transaction: the levels they need are
/// locked once (in id order), each call is checked in arrival order against
/// what the calls before it left, and succeeds or fails on its own. This is
/// what lets concurrent buyers of one hot item share a row lock instead of
/// queueing on it one commit at a time.
async fn reserve_batch(pool: &Pool, calls: &[&[Row]]) -> Result<Vec<Result<Reserved>>> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    let demands = calls
        .iter()
        .map(|rows| demand_of(rows))
        .collect::<Result<Vec<_>>>()?;
    let mut pairs: Vec<(String, String)> = Vec::new();
    for d in &demands {
        for (k, _, _) in d {
            if !pairs.contains(k) {
                pairs.push(k.clone());
            }
        }
    }
    let locked = lock_levels(&tx, &pairs).await?;
    let mut remaining: HashMap<(String, String), (String, Decimal)> = locked
        .into_iter()
        .map(|(id, item, loc, available)| ((item, loc), (id, available)))
        .collect();
    let mut outcomes: Vec<Option<Error>> = Vec::with_capacity(calls.len());
    let mut level_delta: Vec<(String, Decimal)> = Vec::new();
    let mut accepted_rows: Vec<Row> = Vec::new();
    for d in &demands {
        let missing: Vec<(String, String)> = d
            .iter()
            .filter(|(k, _, _)| !remaining.contains_key(k))
            .map(|(k, _, _)| k.clone())
            .collect();
        let short = d
            .iter()
            .find(|(k, _, guarded)| {
                *guarded > Decimal::ZERO && remaining.get(k).is_some_and(|(_, a)| *a < *guarded)
            })
            .map(|(k, _, _)| k.clone());
        if !missing.is_empty() || short.is_some() {
            outcomes.push(Some(reservation_error(&missing, short)));
            continue;
        }
        for (k, total, _) in d {
            let (id, available) = remaining.get_mut(k).expect("checked above");
            *available -= *total;
            match level_delta.iter_mut().find(|(l, _)| l == id) {
                Some(e) => e.1 += *total,
                None => level_delta.push((id.clone(), *total)),
            }
        }
        outcomes.push(None);
    }
    for (rows, outcome) in calls.iter().zip(&outcomes) {
        if outcome.is_none() {
            accepted_rows.extend(rows.iter().cloned());
        }
    }
    let mut inserted: HashMap<String, Value> = HashMap::new();
    if !accepted_rows.is_empty() {
        let new_reserved = "trim_scale(t.reserved_quantity + u.q::numeric)";
        let sql = format!(
            "UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                    raw_reserved_quantity = {}, updated_at = now()
             FROM unnest($1::text[], $2::text[]) AS u(id, q) WHERE t.id = u.id",
            raw_of(new_reserved)
        );
        let ids: Vec<&str> = level_delta.iter().map(|(i, _)| i.as_str()).collect();
        let qs: Vec<String> = level_delta.iter().map(|(_, q)| q.to_string()).collect();
        let stmt = tx.prepare_cached(&sql).await?;
        tx.execute(&stmt, &[&ids, &qs]).await?;
        let values = insert_rows(
            &tx,
            &RESERVATION_ITEM,
            INSERT_COLS,
            &[("allow_backorder", "false")],
            &accepted_rows,
        )
        .await?;
        for v in values {
            inserted.insert(v["id"].as_str().unwrap_or_default().to_string(), v);
        }
    }
    tx.commit().await?;
    let results = calls
        .iter()
        .zip(demands.iter())
        .zip(outcomes)
        .map(|((rows, d), outcome)| match outcome {
            Some(e) => Err(e),
            None => {
                let values = rows
                    .iter()
                    .map(|r| {
                        let id = get_text(r, "id").unwrap_or_default();
                        inserted.remove(&id).ok_or_else(|| {
                            Error::unexpected(format!("reservation {id} was not returned"))
                        })
                    })
                    .collect::<Result<Vec<_>>>()?;
                let levels = d
                    .iter()
                    .filter_map(|(k, _, _)| remaining.get(k).map(|(id, _)| id.clone()))
                    .collect();
                Ok((values, levels))
            }
        })
        .collect();
    Ok(results)
}

struct Waiting {
    rows: Vec<Row>,
    reply: oneshot::Sender<Result<Reserved>>,
}

#[derive(Default)]
struct Lane {
    busy: bool,
    queue: Vec<Waiting>,
}

/// Group commit for reservations: while one reservation statement of this
/// process is in flight, calls that arrive queue up and then go to Postgres
/// together as one batch. An idle process pays one round trip per call; a busy
/// one amortises the row locks and commits over every waiting caller.
#[derive(Default, Clone)]
pub struct Reserver {
    lane: Arc<StdMutex<Lane>>,
    grouped: bool,
}

/// Largest number of calls one batch carries.
const MAX_BATCH: usize = 256;

/// Hands the lane to the next batch (or marks it idle) however the holder ends,
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

impl Reserver {
    pub fn new(grouped: bool) -> Self {
        Reserver {
            lane: Default::default(),
            grouped,
        }
    }

    async fn reserve(&self, pool: &Pool, rows: Vec<Row>) -> Result<Reserved> {
        if !self.grouped {
            return reserve_alone(pool, &rows).await;
        }
        // Either join the queue (Ok) or take the idle lane (Err gives the rows back).
        let queued = {
            let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
            if lane.busy {
                let (reply, rx) = oneshot::channel();
                lane.queue.push(Waiting { rows, reply });
                Ok(rx)
            } else {
                lane.busy = true;
                Err(rows)
            }
        };
        match queued {
            Ok(rx) => rx
                .await
                .unwrap_or_else(|_| Err(Error::unexpected("reservation batch was dropped"))),
            Err(rows) => {
                let _guard = LaneGuard {
                    reserver: self.clone(),
                    pool: pool.clone(),
                };
                reserve_alone(pool, &rows).await
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
            let calls: Vec<&[Row]> = batch.iter().map(|w| w.rows.as_slice()).collect();
            match reserve_batch(&pool, &calls).await {
                Ok(results) => {
                    for (w, r) in batch.into_iter().zip(results) {
                        let _ = w.reply.send(r);
                    }
                }
                // A database error fails the batch's transaction as a whole (an id
                // supplied twice, say): retry each call alone so only its own fails.
                Err(_) => {
                    for w in batch {
                        let r = reserve_alone(&pool, &w.rows).await;
                        let _ = w.reply.send(r);
                    }
                }
            }
            drop(guard);
        });
    }
}

fn dec(s: &str) -> Result<Decimal> {
    Decimal::from_str(s).map_err(|e| Error::unexpected(e.to_string()))
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
        // Net change per (item, location), and whether any non-backorder increase lands there.
        let mut delta: Vec<((String, String), Decimal, bool)> = Vec::new();
        let mut add = |key: (String, String), q: Decimal, guarded: bool| match delta
            .iter_mut()
            .find(|(k, _, _)| *k == key)
        {
            Some(e) => {
                e.1 += q;
                e.2 |= guarded;
            }
            None => delta.push((key, q, guarded)),
        };
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
            add((item.clone(), old_loc.clone()), -*old_q, false);
            add((item.clone(), new_loc), new_q, increases && !backorder);
        }
        delta.retain(|(_, q, _)| !q.is_zero());
        let pairs: Vec<(String, String)> = delta.iter().map(|(k, _, _)| k.clone()).collect();
        let locked = lock_levels(&tx, &pairs).await?;
        let mut level_ids = Vec::new();
        let mut level_deltas = Vec::new();
        for ((item, loc), q, guarded) in &delta {
            match locked.iter().find(|l| &l.1 == item && &l.2 == loc) {
                Some((id, _, _, available)) => {
                    if *guarded && q.is_sign_positive() && *available < *q {
                        return Err(Error::not_allowed(format!(
                            "Not enough stock available for item {item} at location {loc}"
                        )));
                    }
                    level_ids.push(id.clone());
                    level_deltas.push(q.to_string());
                }
                // A release from a level that no longer exists has nothing to give back.
                None if q.is_sign_negative() => {}
                None => {
                    return Err(Error::not_found(format!(
                        "Item {item} is not stocked at location {loc}"
                    )))
                }
            }
        }
        if !level_ids.is_empty() {
            let new_reserved = "trim_scale(t.reserved_quantity + u.q::numeric)";
            let sql = format!(
                "UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                        raw_reserved_quantity = {}, updated_at = now()
                 FROM unnest($1::text[], $2::text[]) AS u(id, q) WHERE t.id = u.id",
                raw_of(new_reserved)
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
        let c = self.client().await?;
        release(&c, &format!("t.{column} = ANY({p}::text[])"), &params, mode).await
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
