//! InventoryMovement: reads of the movement ledger (`listInventoryMovements`)
//! and its check (`verifyInventoryLedger`). Its rows are written by every
//! write path through ledger.rs.

use crate::error::{Error, Result};
use crate::input::strings_of;
use crate::service::InventoryService;
use serde_json::{json, Value};
use tokio_postgres::types::ToSql;

/// Movement filters accepted by listInventoryMovements: text columns, each a
/// string or an array of strings.
const TEXT_FILTERS: [&str; 10] = [
    "inventory_level_id",
    "inventory_item_id",
    "location_id",
    "field",
    "reason",
    "actor",
    "reference",
    "reservation_item_id",
    "line_item_id",
    "idempotency_key",
];

const MOVEMENT_DTO: &str = "jsonb_build_object('id', m.id::text, 'created_at', m.created_at,
     'inventory_level_id', m.inventory_level_id, 'inventory_item_id', m.inventory_item_id,
     'location_id', m.location_id, 'field', m.field, 'delta', m.delta, 'resulting', m.resulting,
     'reason', m.reason, 'method', m.method, 'actor', m.actor, 'reference', m.reference,
     'reservation_item_id', m.reservation_item_id, 'line_item_id', m.line_item_id,
     'idempotency_key', m.idempotency_key, 'metadata', m.metadata)";

/// `{ after?: string, limit?: 1..MAX_VERIFY }`.
fn verify_options(v: &Value) -> Result<(Option<String>, i64)> {
    let (mut after, mut limit) = (None, MAX_VERIFY);
    match v {
        Value::Null => {}
        Value::Object(o) => {
            for (k, val) in o {
                match (k.as_str(), val) {
                    (_, Value::Null) if k == "after" || k == "limit" => {}
                    ("after", Value::String(s)) => after = Some(s.clone()),
                    ("limit", Value::Number(n)) => match n.as_i64() {
                        Some(l @ 1..=MAX_VERIFY) => limit = l,
                        _ => {
                            return Err(Error::invalid(format!(
                                "verifyInventoryLedger option limit must be an integer from 1 to {MAX_VERIFY}"
                            )))
                        }
                    },
                    ("after" | "limit", _) => {
                        return Err(Error::invalid(format!(
                            "verifyInventoryLedger option {k} has the wrong type"
                        )))
                    }
                    _ => {
                        return Err(Error::invalid(format!(
                            "Unknown verifyInventoryLedger option '{k}'"
                        )))
                    }
                }
            }
        }
        _ => {
            return Err(Error::invalid(
                "verifyInventoryLedger options must be an object",
            ))
        }
    }
    Ok((after, limit))
}

/// Levels one verifyInventoryLedger call checks (a page; `next` continues).
pub const MAX_VERIFY: i64 = 100_000;

/// Largest page of movements one call returns.
pub const MAX_TAKE: i64 = 10_000;

/// WHERE clause and parameters of a movement filter.
fn movement_filter(filter: &Value) -> Result<(String, Vec<Box<dyn ToSql + Sync + Send>>)> {
    let mut conds = vec!["TRUE".to_string()];
    let mut params: Vec<Box<dyn ToSql + Sync + Send>> = Vec::new();
    let obj = match filter {
        Value::Null => return Ok((conds.join(" AND "), params)),
        Value::Object(o) => o,
        _ => return Err(Error::invalid("filters must be an object")),
    };
    for (k, v) in obj {
        if let Some(col) = TEXT_FILTERS.iter().find(|c| **c == k) {
            params.push(Box::new(strings_of(v, k)?));
            conds.push(format!("m.{col} = ANY(${}::text[])", params.len()));
        } else if k == "created_at" || k == "id" {
            let ops = v.as_object().ok_or_else(|| {
                Error::invalid(format!(
                    "{k} filter must be an object of $gt, $gte, $lt, $lte"
                ))
            })?;
            for (op, bound) in ops {
                let sql_op = match op.as_str() {
                    "$gt" => ">",
                    "$gte" => ">=",
                    "$lt" => "<",
                    "$lte" => "<=",
                    _ => return Err(Error::invalid(format!("Unknown operator '{op}' for {k}"))),
                };
                let text = bound
                    .as_str()
                    .map(str::to_string)
                    .or_else(|| bound.as_i64().filter(|_| k == "id").map(|n| n.to_string()))
                    .ok_or_else(|| Error::invalid(format!("{k} bounds must be strings")))?;
                if k == "created_at" && !crate::limits::is_timestamp(&text) {
                    return Err(Error::invalid(format!("{k} {op} must be a timestamp")));
                }
                // Movement ids are bigint: digits only, at most i64::MAX.
                if k == "id"
                    && (!text.bytes().all(|b| b.is_ascii_digit()) || text.parse::<i64>().is_err())
                {
                    return Err(Error::invalid(format!("{k} {op} must be a movement id")));
                }
                params.push(Box::new(text));
                let cast = if k == "id" { "bigint" } else { "timestamptz" };
                conds.push(format!("m.{k} {sql_op} ${}::text::{cast}", params.len()));
            }
        } else {
            return Err(Error::invalid(format!(
                "Unknown filter '{k}' for inventory movements"
            )));
        }
    }
    Ok((conds.join(" AND "), params))
}

/// ORDER BY, OFFSET and LIMIT of a movement find config.
fn movement_page(config: &Value) -> Result<(String, i64, i64)> {
    let mut order = Vec::new();
    let (mut skip, mut take) = (0, 100);
    if let Some(obj) = config.as_object() {
        for (k, v) in obj {
            match k.as_str() {
                "skip" => {
                    skip = v
                        .as_i64()
                        .filter(|n| *n >= 0)
                        .ok_or_else(|| Error::invalid("skip must be a non-negative integer"))?
                }
                "take" => {
                    take = v
                        .as_i64()
                        .filter(|n| (0..=MAX_TAKE).contains(n))
                        .ok_or_else(|| {
                            Error::invalid(format!("take must be an integer from 0 to {MAX_TAKE}"))
                        })?
                }
                "order" => {
                    let o = v
                        .as_object()
                        .ok_or_else(|| Error::invalid("order must be an object"))?;
                    for (field, dir) in o {
                        let col = match field.as_str() {
                            "id" => "m.id",
                            "created_at" => "m.created_at",
                            _ => {
                                return Err(Error::invalid(format!(
                                    "Cannot order movements by '{field}'"
                                )))
                            }
                        };
                        let dir = match dir.as_str().map(str::to_ascii_uppercase).as_deref() {
                            Some("ASC") => "ASC",
                            Some("DESC") => "DESC",
                            _ => return Err(Error::invalid("order direction must be ASC or DESC")),
                        };
                        order.push(format!("{col} {dir}"));
                    }
                }
                _ => {
                    return Err(Error::invalid(format!(
                        "Unknown find option '{k}' for inventory movements"
                    )))
                }
            }
        }
    } else if !config.is_null() {
        return Err(Error::invalid("config must be an object"));
    }
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
    Ok((order.join(", "), skip, take))
}

impl InventoryService {
    /// listInventoryMovements / listAndCountInventoryMovements (with `count`).
    pub(crate) async fn list_inventory_movements(
        &self,
        filter: &Value,
        config: &Value,
        count: bool,
    ) -> Result<Value> {
        let (cond, mut params) = movement_filter(filter)?;
        let (order, skip, take) = movement_page(config)?;
        params.push(Box::new(skip));
        params.push(Box::new(take));
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
    pub(crate) async fn verify_inventory_ledger(&self, options: &Value) -> Result<Value> {
        let (after, limit) = verify_options(options)?;
        let c = self.client().await?;
        let stmt = c
            .prepare_cached(
                "WITH ids AS (
                   SELECT id FROM (SELECT id FROM inventory_level WHERE id > $1::text
                                   UNION SELECT inventory_level_id FROM inventory_movement
                                   WHERE inventory_level_id > $1::text) a
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
                                  FROM bad), '[]')",
            )
            .await?;
        // '' sorts before any id; `$1 IS NULL OR id > $1` would lose the index
        // range once the cached statement goes to a generic plan.
        let after = after.unwrap_or_default();
        let row = c.query_one(&stmt, &[&after, &limit]).await?;
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

/// A position in the movement feed: the (transaction id, movement id) of the
/// last movement delivered; `"<xid>:<id>"`, opaque to callers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct FeedCursor {
    xid: u64,
    id: i64,
}

impl FeedCursor {
    fn parse(text: &str) -> Option<Self> {
        let (xid, id) = text.split_once(':')?;
        let digits = |s: &str, max: usize| {
            !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_digit())
        };
        if !digits(xid, 20) || !digits(id, 19) {
            return None;
        }
        Some(FeedCursor {
            xid: xid.parse().ok()?,
            id: id.parse().ok()?,
        })
    }
}

/// `{ after?: cursor | null, limit?: 1..MAX_TAKE }` of listInventoryMovementFeed.
fn feed_options(v: &Value) -> Result<(FeedCursor, i64)> {
    const NAME: &str = "listInventoryMovementFeed";
    let (mut after, mut limit) = (FeedCursor::default(), 100);
    let obj = match v {
        Value::Null => return Ok((after, limit)),
        Value::Object(o) => o,
        _ => return Err(Error::invalid(format!("{NAME} options must be an object"))),
    };
    for (k, val) in obj {
        match (k.as_str(), val) {
            ("after" | "limit", Value::Null) => {}
            ("after", Value::String(s)) => {
                after = FeedCursor::parse(s).ok_or_else(|| {
                    Error::invalid(format!(
                        "{NAME} option after must be the cursor of a movement this method returned"
                    ))
                })?
            }
            ("limit", Value::Number(n)) => match n.as_i64() {
                Some(l @ 1..=MAX_TAKE) => limit = l,
                _ => {
                    return Err(Error::invalid(format!(
                        "{NAME} option limit must be an integer from 1 to {MAX_TAKE}"
                    )))
                }
            },
            ("after" | "limit", _) => {
                return Err(Error::invalid(format!(
                    "{NAME} option {k} has the wrong type"
                )))
            }
            _ => return Err(Error::invalid(format!("Unknown {NAME} option '{k}'"))),
        }
    }
    Ok((after, limit))
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
    pub(crate) async fn list_inventory_movement_feed(&self, options: &Value) -> Result<Value> {
        let (after, limit) = feed_options(options)?;
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
    pub async fn prune(&self, options: &Value) -> Result<Value> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feed_cursors_parse_or_are_refused() {
        assert_eq!(
            FeedCursor::parse("18446744073709551615:9223372036854775807"),
            Some(FeedCursor {
                xid: u64::MAX,
                id: i64::MAX
            })
        );
        for bad in [
            "",
            ":",
            "1:",
            ":1",
            "1",
            "a:1",
            "1:-1",
            "-1:1",
            "1:2:3",
            " 1:2",
            "18446744073709551616:1",
            "1:9223372036854775808",
        ] {
            assert_eq!(FeedCursor::parse(bad), None, "{bad}");
        }
        assert_eq!(
            feed_options(&Value::Null).unwrap(),
            (FeedCursor::default(), 100)
        );
        for (bad, name) in [
            (json!({ "after": "x" }), "after"),
            (json!({ "after": 1 }), "after"),
            (json!({ "limit": 0 }), "limit"),
            (json!({ "limit": MAX_TAKE + 1 }), "limit"),
            (json!({ "from": "1:1" }), "from"),
        ] {
            let e = feed_options(&bad).unwrap_err();
            assert_eq!(e.kind, crate::ErrorType::InvalidData);
            assert!(e.message.contains(name), "{}", e.message);
        }
    }
}
