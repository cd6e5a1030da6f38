//! Reconcile: finds live levels whose reserved quantity is not the sum of the
//! live reservations at them (or whose raw copy disagrees with it), and fixes
//! them. Writers outside this crate (Medusa's own module, hand-run SQL) can
//! leave such drift; this module's own writes keep the two equal.
//!
//! The scan pages through levels by id (keyset, a bounded page each call); each
//! fix is its own transaction under the crate's lock order, so the value it
//! writes is the sum of the reservations it holds locked.

use crate::error::{Error, ErrorType, Result};
use crate::ledger::{record, Audit, LevelChange, Moved, Quantity, MAX_LABEL};
use crate::quantity::sql_level_fits;
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{lock_levels_and_reservations, LOCK_ATTEMPTS};
use serde_json::Value;

/// Levels scanned per call when the caller names no limit.
pub const DEFAULT_LIMIT: i64 = 1_000;
/// Largest page: one call's report stays small whatever the table's size.
pub const MAX_LIMIT: i64 = 10_000;

#[derive(Debug, Clone, PartialEq)]
pub struct ReconcileOptions {
    /// Report drift without writing.
    pub dry_run: bool,
    /// Scan levels with an id after this one (the `next` of the previous page).
    pub after: Option<String>,
    /// Levels scanned by this call.
    pub limit: i64,
    /// Only this item's levels (an item page's reconcile, not a full scan).
    pub inventory_item_id: Option<String>,
    /// Who the `reconcile` movements name as their actor (e.g. an admin user).
    pub actor: Option<String>,
}

impl ReconcileOptions {
    /// `{ dryRun?: boolean, after?: string | null, limit?: integer,
    /// inventory_item_id?: string, actor?: string }`.
    pub fn from_json(v: &Value) -> Result<Self> {
        let mut opts = ReconcileOptions {
            dry_run: false,
            after: None,
            limit: DEFAULT_LIMIT,
            inventory_item_id: None,
            actor: None,
        };
        let Some(obj) = v.as_object() else {
            return Err(Error::invalid("reconcile options must be an object"));
        };
        for (k, val) in obj {
            match (k.as_str(), val) {
                (_, Value::Null)
                    if ["dryRun", "after", "limit", "inventory_item_id", "actor"]
                        .contains(&k.as_str()) => {}
                ("dryRun", Value::Bool(b)) => opts.dry_run = *b,
                ("after", Value::String(s)) if s.contains('\0') => {
                    return Err(Error::invalid(
                        "reconcile option after must not contain NUL (\\u0000) characters",
                    ))
                }
                ("after", Value::String(s)) => opts.after = Some(s.clone()),
                ("limit", Value::Number(n)) => match n.as_i64() {
                    Some(l @ 1..=MAX_LIMIT) => opts.limit = l,
                    _ => {
                        return Err(Error::invalid(format!(
                            "reconcile option limit must be an integer from 1 to {MAX_LIMIT}"
                        )))
                    }
                },
                ("inventory_item_id", Value::String(s)) if !s.is_empty() && !s.contains('\0') => {
                    opts.inventory_item_id = Some(s.clone())
                }
                ("inventory_item_id", _) => {
                    return Err(Error::invalid(
                        "reconcile option inventory_item_id must be a non-empty string without NUL characters",
                    ))
                }
                ("actor", Value::String(s))
                    if !s.is_empty() && s.len() <= MAX_LABEL && !s.contains('\0') =>
                {
                    opts.actor = Some(s.clone())
                }
                ("actor", _) => {
                    return Err(Error::invalid(format!(
                        "reconcile option actor must be a non-empty string of at most {MAX_LABEL} bytes without NUL characters"
                    )))
                }
                ("dryRun" | "after" | "limit", _) => {
                    return Err(Error::invalid(format!(
                        "reconcile option {k} has the wrong type"
                    )))
                }
                _ => return Err(Error::invalid(format!("Unknown reconcile option '{k}'"))),
            }
        }
        Ok(opts)
    }
}

/// SQL predicate over a level aliased `l`: its raw reserved copy holds the same
/// number as `reserved_quantity`. Text that is not a number disagrees (checked
/// before the cast, which would otherwise fail the whole scan).
fn raw_agrees(l: &str) -> String {
    format!(
        "(jsonb_typeof({l}.raw_reserved_quantity -> 'value') = 'string'
          AND ({l}.raw_reserved_quantity ->> 'value') ~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]{{1,3}})?\\s*$'
          AND ({l}.raw_reserved_quantity ->> 'value')::numeric = {l}.reserved_quantity)"
    )
}

/// Sum of the live reservations at the level aliased `l`.
const LIVE_SUM: &str = "coalesce((SELECT sum(r.quantity) FROM reservation_item r
     WHERE r.inventory_item_id = l.inventory_item_id AND r.location_id = l.location_id
       AND r.deleted_at IS NULL), 0)";

/// One report line, built in SQL from a row with the level `l` and its `live` sum.
const REPORT: &str = "jsonb_build_object('id', l.id, 'inventory_item_id', l.inventory_item_id,
     'location_id', l.location_id, 'reserved_quantity', l.reserved_quantity,
     'raw_reserved_quantity', l.raw_reserved_quantity -> 'value',
     'reservation_quantity', d.live, 'difference', l.reserved_quantity - d.live)";

impl ReconcileOptions {
    /// The audit of the movements this reconcile writes: reason `reconcile`,
    /// and the caller's `actor` when it names one.
    fn audit(&self, enabled: bool) -> Audit {
        let mut audit = Audit::internal("reconcile", "reconcile", enabled);
        audit.options.actor = self.actor.clone();
        audit
    }
}

impl InventoryService {
    /// Scans one page of live levels (id > `after`, in id order, at most
    /// `limit`) and reports each drifted one; unless `dry_run`, fixes each in
    /// a transaction of its own. Resolves to `{ levels, next, scanned }`:
    /// `next` is the cursor of the following page, null after the last.
    pub async fn reconcile(&self, opts: &ReconcileOptions) -> Result<Value> {
        let c = self.client().await?;
        // A database only Medusa's module migrated has no ledger yet: a dry run
        // still reports reserved drift; a fix (which records its movement) needs
        // our migration first.
        let has_ledger: bool = c
            .query_one("SELECT to_regclass('inventory_movement') IS NOT NULL", &[])
            .await?
            .get(0);
        if !has_ledger && !opts.dry_run {
            return Err(Error::new(
                ErrorType::NotAllowed,
                "reconcile needs this module's tables: run migrate() (medusa db:migrate) first, or reconcile with dryRun",
            ));
        }
        // One item's levels: a statement of its own, so the full scan's cached
        // plan keeps the id range.
        let of_item = match opts.inventory_item_id {
            Some(_) => " AND l.inventory_item_id = $3::text",
            None => "",
        };
        let sql = format!(
            "WITH page AS (SELECT l.*, {LIVE_SUM} AS live FROM inventory_level l
                           WHERE l.deleted_at IS NULL AND l.id > $1::text{of_item}
                           ORDER BY l.id LIMIT $2)
             SELECT (SELECT count(*) FROM page), (SELECT max(id) FROM page),
                    coalesce((SELECT jsonb_agg({REPORT} ORDER BY l.id)
                              FROM page l, LATERAL (SELECT l.live) d
                              WHERE l.reserved_quantity IS DISTINCT FROM l.live OR NOT {raw}), '[]')",
            raw = raw_agrees("l"),
        );
        // No `$1 IS NULL OR id > $1`: once the cached statement goes to a generic
        // plan that cannot use the primary key's range, and every page scans all
        // levels (minutes per migrate at millions of levels). '' sorts before any id.
        let after = opts.after.clone().unwrap_or_default();
        let stmt = c.prepare_cached(&sql).await?;
        let row = match &opts.inventory_item_id {
            Some(item) => c.query_one(&stmt, &[&after, &opts.limit, item]).await?,
            None => c.query_one(&stmt, &[&after, &opts.limit]).await?,
        };
        drop(c);
        let scanned: i64 = row.get(0);
        let last: Option<String> = row.get(1);
        let found: Value = row.try_get(2)?;
        let next = match last {
            Some(id) if scanned == opts.limit => Some(id),
            _ => None,
        };
        // Gaps first: a change another writer made came before this call's
        // fixes, so its movement comes first in the level's history. A
        // connection with `ledger: false` writes no movements, so it closes
        // no gap either: it reports them as a dry run does (`fixed: false`).
        let ledger = match has_ledger {
            true => {
                let write = !opts.dry_run && self.ledger;
                self.reconcile_ledger(opts, next.as_deref(), !write).await?
            }
            false => Value::Array(vec![]),
        };
        let mut levels = Vec::new();
        for mut level in found.as_array().cloned().unwrap_or_default() {
            if opts.dry_run {
                level["fixed"] = Value::Bool(false);
                levels.push(level);
                continue;
            }
            let id = level["id"].as_str().unwrap_or_default().to_string();
            // Under the locks the level may already agree (fixed meanwhile) or be gone.
            if let Some(fixed) = self.fix_level(&id, opts).await? {
                levels.push(fixed);
            }
        }
        Ok(
            serde_json::json!({ "levels": levels, "ledger": ledger, "next": next, "scanned": scanned }),
        )
    }

    /// Levels with an id in (`after`, `upto`] (live, soft-deleted, or only in
    /// the ledger since a hard delete) whose quantities differ from the sum of
    /// their movements: reported, and unless `dry_run` closed with a movement
    /// of reason `reconcile` each (the level's value is the truth). One
    /// transaction: the levels are locked, then a new statement (which sees
    /// every movement committed before the locks) writes the gaps.
    async fn reconcile_ledger(
        &self,
        opts: &ReconcileOptions,
        upto: Option<&str>,
        dry_run: bool,
    ) -> Result<Value> {
        let after = opts.after.as_deref();
        let mut params = Params::default();
        let bound = [
            params.push(after.map(str::to_string)),
            params.push(upto.map(str::to_string)),
            params.push(dry_run),
            params.push(opts.inventory_item_id.clone()),
        ];
        debug_assert_eq!(bound, ["$1", "$2", "$3", "$4"]);
        let item = "($4::text IS NULL OR inventory_item_id = $4)";
        let range =
            format!("($1::text IS NULL OR id > $1) AND ($2::text IS NULL OR id <= $2) AND {item}");
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        if !dry_run {
            tx.query(
                "SELECT id FROM inventory_level
                 WHERE ($1::text IS NULL OR id > $1) AND ($2::text IS NULL OR id <= $2)
                   AND ($3::text IS NULL OR inventory_item_id = $3)
                 ORDER BY id FOR UPDATE",
                &[&after, &upto, &opts.inventory_item_id],
            )
            .await?;
        }
        let audit = opts.audit(self.ledger && !dry_run);
        let gaps = "SELECT g.id AS level_id, g.item, g.loc, g.field, g.quantity - g.total AS delta,
                           g.quantity AS resulting, NULL::text AS reservation_item_id,
                           NULL::text AS line_item_id FROM gap g";
        let sql = format!(
            "WITH ids AS (SELECT id FROM inventory_level WHERE {range}
                          UNION SELECT inventory_level_id FROM inventory_movement
                          WHERE ($1::text IS NULL OR inventory_level_id > $1)
                            AND ($2::text IS NULL OR inventory_level_id <= $2) AND {item}),
                  s AS (SELECT m.inventory_level_id AS id, m.field, sum(m.delta) AS total,
                               min(m.inventory_item_id) AS item, min(m.location_id) AS loc
                        FROM inventory_movement m WHERE m.inventory_level_id IN (SELECT id FROM ids)
                        GROUP BY 1, 2),
                  q AS (SELECT ids.id, coalesce(l.inventory_item_id, (SELECT min(item) FROM s WHERE s.id = ids.id)) AS item,
                               coalesce(l.location_id, (SELECT min(loc) FROM s WHERE s.id = ids.id)) AS loc,
                               v.field, v.quantity
                        FROM ids LEFT JOIN inventory_level l ON l.id = ids.id,
                        LATERAL (VALUES ('stocked_quantity', coalesce(l.stocked_quantity, 0)),
                                        ('reserved_quantity', coalesce(l.reserved_quantity, 0)),
                                        ('incoming_quantity', coalesce(l.incoming_quantity, 0))) v(field, quantity)),
                  gap AS MATERIALIZED (
                        SELECT q.*, coalesce(s.total, 0) AS total
                        FROM q LEFT JOIN s ON s.id = q.id AND s.field = q.field
                        WHERE q.quantity <> coalesce(s.total, 0)),
                  mv AS ({})
             SELECT coalesce(jsonb_agg(jsonb_build_object('id', id, 'field', field, 'quantity', quantity,
                                       'ledger_sum', total, 'fixed', NOT $3) ORDER BY id, field), '[]')
             FROM gap",
            record(gaps, &mut params, &audit)
        );
        let found: Value = tx.query_one(&sql, &params.refs()).await?.try_get(0)?;
        tx.commit().await?;
        Ok(found)
    }

    /// Fixes one level in a transaction of its own: locks the live reservations
    /// at it (by id), then the level, and writes their sum. With every one
    /// locked no writer can change the sum before this commits (creates lock
    /// the level first; when one arrived between the two steps, the protocol
    /// starts again). Returns the report line, or None when under the locks
    /// the level is gone or agrees. A sum that would take the level outside
    /// the quantity domain is reported and left unfixed.
    async fn fix_level(&self, id: &str, opts: &ReconcileOptions) -> Result<Option<Value>> {
        let mut params = Params::default();
        let p = params.push(id.to_string());
        let cond = format!("t.id = {p}");
        let live = "trim_scale(d.live)";
        let lock_params = params.clone();
        let audit = opts.audit(self.ledger);
        let fits = sql_level_fits("t.stocked_quantity", live);
        let filter = format!("t.id = d.id AND {fits}");
        let fixed = LevelChange {
            name: "fixed",
            from: "drifted d",
            filter: &filter,
            moves: &[Moved {
                quantity: Quantity::Reserved,
                old: "d.reserved_quantity",
                new: live,
            }],
            also_set: "",
            reservation: "NULL::text",
            line_item: "NULL::text",
            returning: "",
        }
        .sql(&mut params, &audit);
        let sql = format!(
            "WITH d AS (SELECT l.id, {LIVE_SUM} AS live FROM inventory_level l
                        WHERE l.id = {p} AND l.deleted_at IS NULL),
             drifted AS (SELECT l.*, d.live FROM inventory_level l JOIN d ON d.id = l.id
                         WHERE l.reserved_quantity IS DISTINCT FROM d.live OR NOT {raw}),
             {fixed}
             SELECT {REPORT} || jsonb_build_object('fixed', EXISTS (SELECT 1 FROM fixed))
             FROM drifted l, LATERAL (SELECT l.live) d",
            raw = raw_agrees("l"),
        );
        let refs = params.refs();
        let mut c = self.client().await?;
        for _ in 0..LOCK_ATTEMPTS {
            let tx = c.transaction().await?;
            if lock_levels_and_reservations(&tx, &cond, None, &lock_params).await? {
                // A new statement: it sees exactly the reservations now locked.
                let row = tx.query_opt(&sql, &refs).await?;
                tx.commit().await?;
                return Ok(row.map(|r| r.get(0)));
            }
            tx.rollback().await?;
        }
        Err(Error::new(
            ErrorType::Conflict,
            format!(
                "reservations kept arriving at inventory level {id} while reconciling it; retry"
            ),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn message(v: Value) -> String {
        ReconcileOptions::from_json(&v).unwrap_err().message
    }

    #[test]
    fn item_and_actor_options_parse_or_are_refused_by_name() {
        let o = ReconcileOptions::from_json(
            &json!({ "dryRun": true, "inventory_item_id": "iitem_1", "actor": "user_1" }),
        )
        .unwrap();
        assert_eq!(o.inventory_item_id.as_deref(), Some("iitem_1"));
        assert_eq!(o.actor.as_deref(), Some("user_1"));
        assert!(o.dry_run);
        let none =
            ReconcileOptions::from_json(&json!({ "inventory_item_id": null, "actor": null }))
                .unwrap();
        assert_eq!((none.inventory_item_id, none.actor), (None, None));
        for bad in [json!(""), json!(1), json!({}), json!("a\0b")] {
            assert_eq!(
                message(json!({ "inventory_item_id": bad })),
                "reconcile option inventory_item_id must be a non-empty string without NUL characters"
            );
        }
        for bad in [json!(""), json!(true), json!("x".repeat(MAX_LABEL + 1))] {
            assert_eq!(
                message(json!({ "actor": bad })),
                format!("reconcile option actor must be a non-empty string of at most {MAX_LABEL} bytes without NUL characters")
            );
        }
        let audit = o.audit(true);
        assert_eq!(audit.options.actor.as_deref(), Some("user_1"));
    }
}
