//! InventoryMovement: reads of the movement ledger (`listInventoryMovements`)
//! and its check (`verifyInventoryLedger`). Its rows are written by every
//! write path through ledger.rs. The methods' arguments are decoded in args.rs.

use crate::args::{FeedOptions, MovementCond, MovementOrder, MovementQuery, VerifyOptions};
use crate::error::{Error, Result};
use crate::service::InventoryService;
use serde_json::{json, Value};
use tokio_postgres::types::ToSql;

const MOVEMENT_DTO: &str = "jsonb_build_object('id', m.id::text, 'created_at', m.created_at,
     'inventory_level_id', m.inventory_level_id, 'inventory_item_id', m.inventory_item_id,
     'location_id', m.location_id, 'field', m.field, 'delta', m.delta, 'resulting', m.resulting,
     'reason', m.reason, 'method', m.method, 'actor', m.actor, 'reference', m.reference,
     'reservation_item_id', m.reservation_item_id, 'line_item_id', m.line_item_id,
     'idempotency_key', m.idempotency_key, 'metadata', m.metadata)";

/// WHERE clause and parameters of a movement filter.
fn movement_where(filter: &[MovementCond]) -> (String, Vec<Box<dyn ToSql + Sync + Send>>) {
    let mut conds = vec!["TRUE".to_string()];
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    for c in filter {
        match c {
            MovementCond::In { column, values } => {
                params.push(Box::new(values.clone()));
                conds.push(format!("m.{column} = ANY(${}::text[])", params.len()));
            }
            MovementCond::Bound { column, op, value } => {
                params.push(Box::new(value.clone()));
                let cast = if *column == "id" {
                    "bigint"
                } else {
                    "timestamptz"
                };
                conds.push(format!("m.{column} {op} ${}::text::{cast}", params.len()));
            }
        }
    }
    (conds.join(" AND "), params)
}

/// ORDER BY of a movement list.
fn movement_order(order: &[MovementOrder]) -> String {
    let mut order: Vec<String> = order
        .iter()
        .map(|o| format!("{} {}", o.column, if o.descending { "DESC" } else { "ASC" }))
        .collect();
    // Ledger order by default: the id. Each level's movements take their ids
    // while the writer holds the level's row lock, so per level id order is
    // the order of the changes and `resulting` the running sum of `delta`.
    // created_at is the writer's transaction start: a call that waited for a
    // lock is dated before changes that went ahead of it. Ties of an explicit
    // created_at order break by id.
    let desc = order.first().is_some_and(|o| o.ends_with("DESC"));
    if !order.iter().any(|o| o.starts_with("m.id ")) {
        order.push(format!("m.id {}", if desc { "DESC" } else { "ASC" }));
    }
    order.join(", ")
}

impl InventoryService {
    /// listInventoryMovements / listAndCountInventoryMovements (with `count`).
    pub(crate) async fn list_inventory_movements(
        &self,
        query: MovementQuery,
        count: bool,
    ) -> Result<Value> {
        let (cond, mut params) = movement_where(&query.filter);
        let order = movement_order(&query.order);
        params.push(Box::new(query.skip));
        params.push(Box::new(query.take));
        let n = params.len();
        let c = self.client().await?;
        let sql = format!(
            "SELECT coalesce(jsonb_agg(d ORDER BY o), '[]'),
                    {}
             FROM (SELECT {MOVEMENT_DTO} AS d, row_number() OVER (ORDER BY {order}) AS o
                   FROM inventory_movement m WHERE {cond} ORDER BY {order} OFFSET ${} LIMIT ${n}) page",
            if count {
                format!("(SELECT count(*) FROM inventory_movement m WHERE {cond})")
            } else {
                "0::bigint".into()
            },
            n - 1,
        );
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let row = c.query_one(&sql, &refs).await?;
        let rows: Value = row.try_get(0)?;
        Ok(if count {
            json!([rows, row.get::<_, i64>(1)])
        } else {
            rows
        })
    }

    /// Levels (live or soft-deleted) and ledger-only level ids (levels hard
    /// deleted since) whose quantities differ from the sum of their movement
    /// deltas; one page in id order. `{ ok, levels, scanned, next }`.
    pub(crate) async fn verify_inventory_ledger(&self, options: VerifyOptions) -> Result<Value> {
        let VerifyOptions {
            after,
            limit,
            inventory_item_id,
        } = options;
        // One item's levels (an item page's check): its own statement, so the
        // full scan's cached plan keeps the id range.
        let (level_of_item, movement_of_item) = match inventory_item_id {
            Some(_) => (
                " AND inventory_item_id = $3::text",
                " AND inventory_item_id = $3::text",
            ),
            None => ("", ""),
        };
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "WITH ids AS (
                   SELECT id FROM (SELECT id FROM inventory_level WHERE id > $1::text{level_of_item}
                                   UNION SELECT inventory_level_id FROM inventory_movement
                                   WHERE inventory_level_id > $1::text{movement_of_item}) a
                   ORDER BY id LIMIT $2),
                 q AS (
                   SELECT ids.id, v.field, v.quantity
                   FROM ids LEFT JOIN inventory_level l ON l.id = ids.id,
                   LATERAL (VALUES ('stocked_quantity', coalesce(l.stocked_quantity, 0)),
                                   ('reserved_quantity', coalesce(l.reserved_quantity, 0)),
                                   ('incoming_quantity', coalesce(l.incoming_quantity, 0))) v(field, quantity)),
                 s AS (
                   SELECT m.inventory_level_id AS id, m.field, sum(m.delta) AS total
                   FROM inventory_movement m WHERE m.inventory_level_id IN (SELECT id FROM ids)
                   GROUP BY 1, 2),
                 bad AS (
                   SELECT q.id, q.field, q.quantity, coalesce(s.total, 0) AS ledger_sum
                   FROM q LEFT JOIN s ON s.id = q.id AND s.field = q.field
                   WHERE q.quantity <> coalesce(s.total, 0))
                 SELECT (SELECT count(*) FROM ids), (SELECT max(id) FROM ids),
                        coalesce((SELECT jsonb_agg(jsonb_build_object('id', id, 'field', field,
                                   'quantity', quantity, 'ledger_sum', ledger_sum) ORDER BY id, field)
                                  FROM bad), '[]')"
            ))
            .await?;
        // '' sorts before any id; `$1 IS NULL OR id > $1` would lose the index
        // range once the cached statement goes to a generic plan.
        let after = after.unwrap_or_default();
        let row = match &inventory_item_id {
            Some(item) => c.query_one(&stmt, &[&after, &limit, item]).await?,
            None => c.query_one(&stmt, &[&after, &limit]).await?,
        };
        let scanned: i64 = row.get(0);
        let last: Option<String> = row.get(1);
        let levels: Value = row.try_get(2)?;
        let next = match last {
            Some(id) if scanned == limit => Value::String(id),
            _ => Value::Null,
        };
        let ok = levels.as_array().is_some_and(|a| a.is_empty());
        Ok(json!({ "ok": ok, "levels": levels, "scanned": scanned, "next": next }))
    }
}

impl InventoryService {
    /// The movement feed: movements after the cursor `after` (from the start
    /// without one), in (transaction id, id) order, at most `limit`, each with
    /// its `cursor`. Only movements of transactions older than every
    /// transaction running when the statement starts (its snapshot's xmin) are
    /// handed out: those are final (committed and visible, or rolled back), and
    /// every movement still to come has a transaction id at or above that xmin,
    /// so one not handed out yet can never fall behind a cursor. Paging on with
    /// the last cursor therefore misses and repeats nothing, however writers
    /// interleave their commits; the price is that a transaction left open
    /// holds the feed back (at it) until it ends.
    pub(crate) async fn list_inventory_movement_feed(&self, options: FeedOptions) -> Result<Value> {
        let FeedOptions { after, limit } = options;
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(&format!(
                "SELECT coalesce(jsonb_agg(d ORDER BY xid, id), '[]') FROM (
                   SELECT {MOVEMENT_DTO} || jsonb_build_object('cursor', m.xid::text || ':' || m.id::text) AS d,
                          m.xid, m.id
                   FROM inventory_movement m
                   WHERE (m.xid, m.id) > ($1::text::xid8, $2::bigint)
                     AND m.xid < pg_snapshot_xmin(pg_current_snapshot())
                   ORDER BY m.xid, m.id LIMIT $3) page"
            ))
            .await?;
        let row = c
            .query_one(&stmt, &[&after.xid.to_string(), &after.id, &limit])
            .await?;
        Ok(row.try_get(0)?)
    }
}

/// Longest retention one prune call accepts (a century): larger values would
/// overflow the interval arithmetic and mean "forever" anyway.
pub const MAX_RETENTION_DAYS: i64 = 36_500;

/// prune's options: `{ movementRetentionDays: 0..MAX_RETENTION_DAYS }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PruneOptions {
    /// Movements older than this many days are folded.
    pub movement_retention_days: i64,
}

impl PruneOptions {
    pub fn from_json(options: &Value) -> Result<Self> {
        if let Some(k) = options
            .as_object()
            .and_then(|o| o.keys().find(|k| *k != "movementRetentionDays"))
        {
            return Err(Error::invalid(format!("Unknown prune option '{k}'")));
        }
        let days = match options.get("movementRetentionDays") {
            Some(Value::Number(n)) if n.is_i64() => n.as_i64().unwrap_or(-1),
            _ => {
                return Err(Error::invalid(
                    "prune option movementRetentionDays must be an integer number of days",
                ))
            }
        };
        if !(0..=MAX_RETENTION_DAYS).contains(&days) {
            return Err(Error::invalid(format!(
                "prune option movementRetentionDays must be an integer from 0 to {MAX_RETENTION_DAYS}"
            )));
        }
        Ok(PruneOptions {
            movement_retention_days: days,
        })
    }
}

impl InventoryService {
    /// Retention, `{ movementRetentionDays }`: per level and quantity, folds
    /// the movements up to the last one older than that (in ledger order, by
    /// id: a prefix of the level's history) into one `carried_forward`
    /// movement (their sum, dated at the cutoff) that takes the last one's id
    /// and transaction id, so quantities still equal ledger sums, `resulting`
    /// stays the running sum and a feed cursor already past it sees nothing new.
    /// A lone carried_forward movement is left as it is (a second prune finds
    /// nothing). Drops expired idempotency keys. One transaction; movements
    /// written meanwhile come after the folded ones (their writers took the
    /// level's lock after those committed) and are untouched. Prunes run one at
    /// a time (an advisory lock). Resolves to `{ folded, carried, keys }`.
    pub async fn prune(&self, options: &PruneOptions) -> Result<Value> {
        let days = options.movement_retention_days;
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        // One prune at a time: the next one starts from what this one left.
        tx.execute(
            "SELECT pg_advisory_xact_lock(hashtext('medusa-inventory-rs:prune:' || current_schema()))",
            &[],
        )
        .await?;
        let row = tx
            .query_one(
                "WITH cut AS (SELECT now() - make_interval(days => $1::int) AS at),
                      edge AS (SELECT m.inventory_level_id, m.field, max(m.id) AS upto
                               FROM inventory_movement m, cut WHERE m.created_at < cut.at
                               GROUP BY 1, 2),
                      old AS (DELETE FROM inventory_movement m USING edge e
                              WHERE m.inventory_level_id = e.inventory_level_id AND m.field = e.field
                                AND m.id <= e.upto
                                AND EXISTS (SELECT 1 FROM inventory_movement o
                                            WHERE o.inventory_level_id = e.inventory_level_id AND o.field = e.field
                                              AND o.id <= e.upto AND o.reason <> 'carried_forward')
                              RETURNING m.id, m.xid, m.inventory_level_id, m.inventory_item_id, m.location_id,
                                        m.field, m.delta),
                      sums AS (SELECT inventory_level_id, min(inventory_item_id) AS item, min(location_id) AS loc,
                                      field, sum(delta) AS total, max(id) AS last,
                                      (array_agg(xid ORDER BY id DESC))[1] AS xid
                               FROM old GROUP BY inventory_level_id, field),
                      carried AS (INSERT INTO inventory_movement (id, xid, created_at, inventory_level_id,
                                    inventory_item_id, location_id, field, delta, resulting, reason)
                                  SELECT s.last, s.xid, cut.at, s.inventory_level_id, s.item, s.loc, s.field,
                                         s.total, s.total, 'carried_forward'
                                  FROM sums s, cut WHERE s.total <> 0
                                  RETURNING 1),
                      keys AS (DELETE FROM inventory_idempotency_key WHERE expires_at <= now() RETURNING 1)
                 SELECT (SELECT count(*) FROM old), (SELECT count(*) FROM carried), (SELECT count(*) FROM keys)",
                &[&(days as i32)],
            )
            .await?;
        tx.commit().await?;
        let (folded, carried, keys): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
        Ok(json!({ "folded": folded, "carried": carried, "keys": keys }))
    }
}
