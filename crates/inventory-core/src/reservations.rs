//! ReservationItem: every statement that writes `reservation_item`, together
//! with the `inventory_level.reserved_quantity` change that must go with it.
//!
//! Lock order, everywhere: reservation rows (by id), then level rows (by id).
//! No path locks a level and then a reservation, so no two calls deadlock.

use crate::entity::RESERVATION_ITEM;
use crate::error::{Error, Result};
use crate::idempotency::commit;
use crate::input::{
    get, get_flag, get_quantity, get_text, ids_of, one_or_many, parse_input, shape, strings_of,
    InputSpec,
};
use crate::ledger::{insert_sql, pivot, Audit};
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::quantity::sql_level_fits;
use crate::reservation_engine::{reservation_error, Call};
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{beyond_level, quantity_at};
use crate::write::{dto, raw_of, set_clause};
use rust_decimal::Decimal;
use serde_json::Value;
use std::collections::HashMap;

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
        Release::Restore => return restore(c, cond, params, audit).await,
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
                  t.line_item_id AS line, t.deleted_at IS NULL AS live
           FROM reservation_item t
           WHERE ({cond}) ORDER BY t.id FOR UPDATE
         ),
         r AS (SELECT * FROM r0 WHERE {pick}),
         d AS (SELECT item, loc, sum(q) AS q FROM r {counted} GROUP BY 1, 2),
         lk0 AS MATERIALIZED (
           SELECT l.id, l.inventory_item_id AS item, l.location_id AS loc, l.deleted_at,
                  l.stocked_quantity AS stocked, l.reserved_quantity AS old_r, {new_reserved} AS reserved
           FROM inventory_level l JOIN d ON l.inventory_item_id = d.item AND l.location_id = d.loc
           -- Live and soft-deleted levels, each looked up through its own index
           -- (Medusa's are partial on deleted_at): as a plain join the levels
           -- were scanned whole, seconds at millions of levels.
           WHERE l.id IN (SELECT x.id FROM d d2, LATERAL (
                   SELECT id FROM inventory_level WHERE inventory_item_id = d2.item
                     AND location_id = d2.loc AND deleted_at IS NULL
                   UNION ALL
                   SELECT id FROM inventory_level WHERE inventory_item_id = d2.item
                     AND location_id = d2.loc AND deleted_at IS NOT NULL) x)
           ORDER BY l.id FOR UPDATE OF l
         ),
         lk AS (SELECT * FROM lk0 WHERE deleted_at IS NULL),
         bad AS (SELECT item, loc FROM lk WHERE NOT {fits} ORDER BY item, loc LIMIT 1),
         ch AS ({change}),
         upd AS (
           UPDATE inventory_level t SET reserved_quantity = lk.reserved,
                  raw_reserved_quantity = {raw}, updated_at = now()
           FROM lk WHERE t.id = lk.id AND NOT EXISTS (SELECT 1 FROM bad)
           RETURNING t.id, lk.item, lk.loc, lk.old_r, t.reserved_quantity AS new_r
         ),
         mv AS ({insert})
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                (SELECT item FROM bad), (SELECT loc FROM bad)",
        raw = raw_of("lk.reserved"),
        fits = sql_level_fits("lk.stocked", "lk.reserved"),
        insert = insert_sql(&pivot(&moved_reserved("upd", "r.live")), params.0.len() + 1),
    );
    let stmt = c.prepare_cached(&sql).await?;
    let mut refs = params.refs();
    audit.extend(&mut refs);
    let row = c.query_one(&stmt, &refs).await?;
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
    audit: &Audit,
) -> Result<(Vec<String>, Vec<String>)> {
    let new_reserved = "trim_scale(t.reserved_quantity + chk.total)";
    let sql = format!(
        "WITH r0 AS MATERIALIZED (
           SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                  t.line_item_id AS line,
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
           SELECT d.item, d.loc, d.total, lk.id AS level_id, lk.reserved_quantity AS old_r,
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
           RETURNING t.id, chk.item, chk.loc, chk.old_r, t.reserved_quantity AS new_r
         ),
         mv AS ({insert}),
         p AS (SELECT problem, item, loc FROM chk WHERE problem IS NOT NULL
               ORDER BY problem = 'missing' DESC, item, loc LIMIT 1)
         SELECT ARRAY(SELECT id FROM ch ORDER BY id), ARRAY(SELECT id FROM upd ORDER BY id),
                p.problem, p.item, p.loc
         FROM (SELECT 1) one LEFT JOIN p ON true",
        raw = raw_of(new_reserved),
        fits = sql_level_fits("lk.stocked_quantity", "lk.reserved_quantity + d.total"),
        insert = insert_sql(&pivot(&moved_reserved("upd", "TRUE")), params.0.len() + 1),
    );
    let stmt = c.prepare_cached(&sql).await?;
    let mut refs = params.refs();
    audit.extend(&mut refs);
    let row = c.query_one(&stmt, &refs).await?;
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

/// Movement rows (ledger::pivot source) of the levels `upd` (id, item, loc,
/// old_r, new_r) moved by the reservations `r` (id, item, loc, line; those
/// counted match `counted`): each row names the reservation, and its line
/// item, when it was the only one at that level.
fn moved_reserved(upd: &str, counted: &str) -> String {
    format!(
        "SELECT u.id AS level_id, u.item, u.loc, NULL AS old_s, NULL AS new_s, u.old_r, u.new_r,
                NULL AS old_i, NULL AS new_i,
                (SELECT CASE WHEN count(*) = 1 THEN min(r.id) END FROM r
                 WHERE r.item = u.item AND r.loc = u.loc AND {counted}) AS reservation_item_id,
                (SELECT CASE WHEN count(*) = count(r.line) AND count(DISTINCT r.line) = 1 THEN min(r.line) END
                 FROM r WHERE r.item = u.item AND r.loc = u.loc AND {counted}) AS line_item_id
         FROM {upd} u"
    )
}

/// A reservation that moves a level in an update: its id and line item.
type Mover = (String, Option<String>);

/// Attempts a release by line item or location makes before giving up (`conflict`).
const PREDICATE_PASSES: usize = 5;

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
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let stmt = tx
            .prepare_cached(
                "SELECT id, inventory_item_id, location_id, quantity, coalesce(allow_backorder, false),
                        line_item_id
                 FROM reservation_item WHERE id = ANY($1) AND deleted_at IS NULL ORDER BY id FOR UPDATE",
            )
            .await?;
        type Current = (String, String, Decimal, bool, Option<String>);
        let current: HashMap<String, Current> = tx
            .query(&stmt, &[&ids])
            .await?
            .iter()
            .map(|r| {
                Ok((
                    r.get::<_, String>(0),
                    (r.get(1), r.get(2), quantity_at(r, 3)?, r.get(4), r.get(5)),
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
        // Which reservations (and line items) move each level, for its movement row.
        let mut movers: HashMap<(String, String), Vec<Mover>> = HashMap::new();
        for r in &rows {
            let id = get_text(r, "id").unwrap_or_default();
            let (item, old_loc, old_q, old_bo, old_line) = &current[&id];
            let line = match get(r, "line_item_id") {
                Some(f) => f.text.clone(),
                None => old_line.clone(),
            };
            let new_loc = get_text(r, "location_id").unwrap_or_else(|| old_loc.clone());
            let new_q = get_quantity(r, "quantity").unwrap_or(*old_q);
            let backorder = get_flag(r, "allow_backorder").unwrap_or(*old_bo);
            let increases = new_loc != *old_loc || new_q > *old_q;
            for (loc, q, guarded) in [
                (old_loc.clone(), -*old_q, false),
                (new_loc, new_q, increases && !backorder),
            ] {
                movers
                    .entry((item.clone(), loc.clone()))
                    .or_default()
                    .push((id.clone(), line.clone()));
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
        let (mut level_ids, mut level_deltas, mut by_res, mut by_line) =
            (vec![], vec![], vec![], vec![]);
        for m in &moved {
            let Some(id) = m.get::<_, Option<String>>(2) else {
                continue;
            };
            let who = movers.get(&pair(m)).map(Vec::as_slice).unwrap_or_default();
            let mut res: Vec<&String> = who.iter().map(|w| &w.0).collect();
            res.dedup();
            let lines: Vec<&Option<String>> = who.iter().map(|w| &w.1).collect();
            level_ids.push(id);
            level_deltas.push(m.get::<_, String>(3));
            by_res.push((res.len() == 1).then(|| res[0].clone()));
            by_line.push(match lines.first() {
                Some(Some(l)) if lines.iter().all(|x| x.as_ref() == Some(l)) => Some(l.clone()),
                _ => None,
            });
        }
        if !level_ids.is_empty() {
            // Never below zero, as in release(): a reservation from before its
            // level was re-created must not drive the new level negative. The
            // levels are locked: `o` reads their latest values.
            let new_reserved = "greatest(trim_scale(t.reserved_quantity + u.q::numeric), 0)";
            let moved =
                "SELECT m.id AS level_id, m.inventory_item_id AS item, m.location_id AS loc,
                                NULL AS old_s, NULL AS new_s, o.reserved_quantity AS old_r,
                                m.reserved_quantity AS new_r, NULL AS old_i, NULL AS new_i,
                                m.res AS reservation_item_id, m.line AS line_item_id
                         FROM m JOIN o ON o.id = m.id";
            let sql = format!(
                "WITH o AS (SELECT id, reserved_quantity FROM inventory_level WHERE id = ANY($1)),
                      m AS (UPDATE inventory_level t SET reserved_quantity = {new_reserved},
                                   raw_reserved_quantity = {}, updated_at = now()
                            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(id, q, res, line)
                            WHERE t.id = u.id
                            RETURNING t.id, t.inventory_item_id, t.location_id, t.reserved_quantity, u.res, u.line),
                      mv AS ({})
                 SELECT 1",
                raw_of(new_reserved),
                insert_sql(&pivot(moved), 5),
            );
            let stmt = tx.prepare_cached(&sql).await?;
            let mut refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                vec![&level_ids, &level_deltas, &by_res, &by_line];
            audit.extend(&mut refs);
            tx.execute(&stmt, &refs).await?;
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
                    .try_get::<_, Value>(0)?,
            );
        }
        let ids = ids_in(&Value::Array(out.clone()));
        let outcome = Outcome::from(shape(out, was_array))
            .with(LEVEL, "updated", level_ids)
            .with(RESERVATION, "updated", ids);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
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
        let mut params = Params::default();
        let p = params.push(values);
        let by_id = column == "id";
        // By line item or location, a soft delete looks at live rows only, so
        // the partial indexes on those columns serve it; a row restored while
        // this call ran is found by the check below, which starts it again.
        let live_only = !by_id && mode == Release::SoftDelete;
        let cond = match live_only {
            true => format!("t.{column} = ANY({p}::text[]) AND t.deleted_at IS NULL"),
            false => format!("t.{column} = ANY({p}::text[])"),
        };
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
