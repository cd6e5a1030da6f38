//! InventoryLevel: every statement that writes `inventory_level`, and the
//! quantity reads served from it.

use crate::entity::INVENTORY_LEVEL;
use crate::error::{Error, ErrorType, Result};
use crate::idempotency::commit;
use crate::ledger::{
    pivot, record, whole_levels, Audit, LevelChange, Moved, Quantity, ALL_QUANTITIES,
    WHOLE_LEVEL_COLUMNS,
};

use crate::args::{
    Adjustment, Adjustments, Confirmation, Creates, CycleCounts, Ids, IdsWithConfig,
    ItemAtLocations, LevelAt, LevelLocations, LevelSet, LevelUpdates, LinkableConfig,
};
use crate::input::{get, get_text, given_by_any, shape};
use crate::outcome::{ids_in, Outcome, Table, LEVEL, RESERVATION};
use crate::quantity::sql_level_fits;
use crate::service::InventoryService;
use crate::sql::{Filter, Params};
use crate::stock::{beyond_level, locked_removal, restore_locked, At, RestoreSql};
use crate::write::{dto, insert_rows_from_input, set_terms, Then};
use rust_decimal::Decimal;
use serde_json::{json, Value};

/// Locks the live levels of the given (item, location) pairs in id order, the
/// lock order every multi-level write in this crate uses, and returns where
/// those that exist are.
pub(crate) async fn lock_levels<C: deadpool_postgres::GenericClient>(
    c: &C,
    pairs: &[(String, String)],
) -> Result<Vec<At>> {
    let items: Vec<&str> = pairs.iter().map(|(item, _)| item.as_str()).collect();
    let locs: Vec<&str> = pairs.iter().map(|(_, loc)| loc.as_str()).collect();
    let stmt = c
        .prepare_cached(
            "SELECT l.id, l.inventory_item_id, l.location_id, l.stocked_quantity - l.reserved_quantity
             FROM inventory_level l
             WHERE l.deleted_at IS NULL
               AND (l.inventory_item_id, l.location_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))
             ORDER BY l.id FOR UPDATE",
        )
        .await?;
    let rows = c.query(&stmt, &[&items, &locs]).await?;
    rows.iter()
        .map(|r| {
            // The available quantity is read as the text path read it: a level
            // outside the domain fails the call.
            let _available: Decimal = r.try_get(3).map_err(|e| Error::unexpected(e.to_string()))?;
            Ok(At {
                item: r.get(1),
                loc: r.get(2),
            })
        })
        .collect()
}

/// A compare-and-set whose level moved (Shopify's COMPARE_QUANTITY_STALE):
/// `conflict`, with that code, naming what was expected and what is there.
fn stale(item: &str, loc: &str, expected: &Option<Decimal>, found: Option<&str>) -> Error {
    let expected = expected.map(|d| d.to_string()).unwrap_or_default();
    let found = found.map(str::to_string).unwrap_or_default();
    Error::new(
        ErrorType::Conflict,
        format!(
            "The stocked_quantity of item {item} at location {loc} is {found}, not the expected {expected}: \
             it changed since it was read"
        ),
    )
    .with_code(crate::error::COMPARE_QUANTITY_STALE)
}

fn not_stocked(item: &str, loc: &str) -> String {
    format!("Item {item} is not stocked at location {loc}")
}

fn level_not_found(item: &str, loc: &str) -> Error {
    Error::not_found(format!(
        "Inventory level for item {item} and location {loc} not found"
    ))
}

/// The outcome of a level update: the levels (one or an array, as given) and one
/// `updated` change naming each level once.
fn updated_levels(levels: Vec<Value>, was_array: bool) -> Outcome {
    let mut seen = std::collections::HashSet::new();
    let ids: Vec<String> = ids_in(&Value::Array(levels.clone()))
        .into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect();
    Outcome::from(shape(levels, was_array)).with(LEVEL, "updated", ids)
}

/// The outcome of a hard delete of levels: nothing, the levels and the
/// reservations released with them deleted.
fn deleted(levels: Vec<Value>, released: Vec<String>) -> Outcome {
    Outcome::from(Value::Null)
        .with(LEVEL, "deleted", ids_in(&Value::Array(levels)))
        .with(RESERVATION, "deleted", released)
}

/// As Medusa's generated softDelete/restore result for levels: their ids under
/// `inventory_level_id`, unless `returnLinkableKeys` leaves that key out.
fn linkable_ids(config: &LinkableConfig, levels: &[String]) -> Value {
    let pick: &[String] = config.return_linkable_keys.as_deref().unwrap_or_default();
    let mut map = serde_json::Map::new();
    if !levels.is_empty() && (pick.is_empty() || pick.iter().any(|k| k == "inventory_level_id")) {
        map.insert("inventory_level_id".into(), json!(levels));
    }
    Value::Object(map)
}

fn number(text: &str) -> Value {
    let f: f64 = text.parse().unwrap_or(0.0);
    json!(f)
}

/// Orders two plain decimal texts (optional '-', digits, optional '.digits')
/// exactly, whatever their size.
fn compare_decimal_text(a: &str, b: &str) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    let split = |s: &str| -> (bool, String, String) {
        let (neg, s) = s.strip_prefix('-').map_or((false, s), |r| (true, r));
        let (i, f) = s.split_once('.').unwrap_or((s, ""));
        let i = i.trim_start_matches('0').to_string();
        let f = f.trim_end_matches('0').to_string();
        let zero = i.is_empty() && f.is_empty();
        (neg && !zero, i, f)
    };
    let (na, ia, fa) = split(a);
    let (nb, ib, fb) = split(b);
    let mag = ia
        .len()
        .cmp(&ib.len())
        .then_with(|| ia.cmp(&ib))
        .then_with(|| fa.cmp(&fb));
    match (na, nb) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => mag,
        (true, true) => mag.reverse(),
    }
}

/// [`set_level`]'s statement and its parameters.
fn set_level_sql(set: &LevelSet, item: &str, loc: &str, audit: &Audit) -> (String, Params) {
    let mut params = Params::default();
    let pi = params.push(item.to_string());
    let pl = params.push(loc.to_string());
    let pe = params.push(set.expected.map(|d| d.to_string()));
    // The quantities the row sets move the level (with their movements); its
    // other fields (metadata) are plain SET terms.
    let news: Vec<(Quantity, String)> = [Quantity::Stocked, Quantity::Incoming]
        .into_iter()
        .filter_map(|q| {
            let f = get(&set.row, q.column())?;
            Some((
                q,
                format!("trim_scale({}::text::numeric)", params.push(f.text.clone())),
            ))
        })
        .collect();
    let others = set_terms(
        &set.row,
        &[
            "id",
            "inventory_item_id",
            "location_id",
            "stocked_quantity",
            "incoming_quantity",
        ],
        &mut params,
    );
    let old = |q: Quantity| match q {
        Quantity::Incoming => "o.incoming_quantity",
        _ => "o.stocked_quantity",
    };
    let moves: Vec<Moved<'_>> = news
        .iter()
        .map(|(q, new)| Moved {
            quantity: *q,
            old: old(*q),
            new,
        })
        .collect();
    let filter =
        format!("t.id = o.id AND ({pe}::text IS NULL OR o.stocked_quantity = {pe}::text::numeric)");
    let returning = format!(
        ", {} AS dto, {} AS fits",
        dto(&INVENTORY_LEVEL),
        sql_level_fits("t.stocked_quantity", "t.reserved_quantity"),
    );
    let change = LevelChange {
        name: "u",
        from: "o",
        filter: &filter,
        moves: &moves,
        also_set: &others.join(", "),
        reservation: "NULL::text",
        line_item: "NULL::text",
        returning: &returning,
    }
    .sql(&mut params, audit);
    // The level is locked: `o` reads its latest values. The new row must
    // read back (its available = stocked - reserved too); otherwise the
    // error drops the transaction, rolling it back.
    let sql = format!(
        "WITH o AS (SELECT id, stocked_quantity, incoming_quantity FROM inventory_level
                    WHERE inventory_item_id = {pi} AND location_id = {pl} AND deleted_at IS NULL),
              {change}
         SELECT (SELECT dto FROM u), (SELECT fits FROM u), (SELECT stocked_quantity::text FROM o)"
    );
    (sql, params)
}

/// One row of a level update on its locked level (at `item`, `loc`): the new
/// values and the row's movements in one statement ([`set_level_sql`]); the
/// level's DTO, or the refusal (out of range, or not holding the expected stock).
async fn set_level<C: deadpool_postgres::GenericClient>(
    tx: &C,
    set: &LevelSet,
    item: &str,
    loc: &str,
    audit: &Audit,
) -> Result<Value> {
    let (sql, params) = set_level_sql(set, item, loc, audit);
    let refs = params.refs();
    let stmt = tx.prepare_cached(&sql).await?;
    let row = tx.query_one(&stmt, &refs).await?;
    match (
        row.get::<_, Option<Value>>(0),
        row.get::<_, Option<bool>>(1),
    ) {
        (Some(dto), Some(true)) => Ok(dto),
        (Some(_), _) => Err(beyond_level("stocked_quantity", item, loc)),
        (None, _) => {
            let found: Option<String> = row.get(2);
            Err(stale(item, loc, &set.expected, found.as_deref()))
        }
    }
}

/// adjustInventory's statement for one entry, and its parameters: `$1` item,
/// `$2` location, `$3` the adjustment, `$4` the expected stock (or NULL),
/// then the audit's values. The same text for every entry.
fn adjust_sql(e: &Adjustment, audit: &Audit) -> (String, Params) {
    let mut params = Params::default();
    let bound = [
        params.push(e.item.clone()),
        params.push(e.location.clone()),
        params.push(e.delta.to_string()),
        params.push(e.expected.map(|d| d.to_string())),
    ];
    debug_assert_eq!(bound, ["$1", "$2", "$3", "$4"]);
    // One statement answers every question: the level is locked (latest
    // version), then moved only if it stays readable (and holds the
    // expected stock), its movement written. The first column is its DTO,
    // NULL when refused; the second says whether a live level was there, in
    // the same snapshot (a second query could see a level restored meanwhile
    // and misreport a missing level as out of range); the third is the stock
    // it had.
    let filter = format!(
        "t.id = lv.id AND {} AND ($4::text IS NULL OR lv.old_s = $4::text::numeric)",
        sql_level_fits(
            "t.stocked_quantity + $3::text::numeric",
            "t.reserved_quantity"
        ),
    );
    let returning = format!(", {} AS dto", dto(&INVENTORY_LEVEL));
    let change = LevelChange {
        name: "u",
        from: "lv",
        filter: &filter,
        moves: &[Moved {
            quantity: Quantity::Stocked,
            old: "lv.old_s",
            new: "trim_scale(t.stocked_quantity + $3::text::numeric)",
        }],
        also_set: "",
        reservation: "NULL::text",
        line_item: "NULL::text",
        returning: &returning,
    }
    .sql(&mut params, audit);
    let sql = format!(
        "WITH lv AS MATERIALIZED (
               SELECT id, stocked_quantity AS old_s FROM inventory_level
               WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL FOR UPDATE
             ),
             {change}
             SELECT (SELECT dto FROM u), EXISTS (SELECT 1 FROM lv), (SELECT old_s::text FROM lv)"
    );
    (sql, params)
}

/// The level's DTO from [`adjust_sql`]'s row, or why the adjustment was refused.
fn adjusted(row: tokio_postgres::Row, e: &Adjustment) -> Result<Value> {
    let (item, loc) = (&e.item, &e.location);
    match (row.get::<_, Option<Value>>(0), row.get::<_, bool>(1)) {
        (Some(dto), _) => Ok(dto),
        (None, false) => Err(level_not_found(item, loc)),
        (None, true) => {
            let had: Option<String> = row.get(2);
            let had_expected = match (e.expected, had.as_deref()) {
                (Some(x), Some(h)) => h.parse::<Decimal>().is_ok_and(|h| h == x),
                _ => true,
            };
            if had_expected {
                Err(beyond_level("adjustment", item, loc))
            } else {
                Err(stale(item, loc, &e.expected, had.as_deref()))
            }
        }
    }
}

impl InventoryService {
    pub(crate) async fn create_inventory_levels(
        &self,
        input: Creates,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Creates {
            mut rows,
            was_array,
        } = input;
        self.assign_ids(&INVENTORY_LEVEL, &mut rows);
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        // One statement: the levels and their opening movements. The DTOs are
        // built from the input (write.rs), not in SQL and parsed back.
        let opened = format!("SELECT {} FROM ins l", whole_levels("l", true));
        // A quantity no row gives is its default, 0, in every level: it does not
        // move (a stock of 0 does not either; the filter drops it).
        let moved: Vec<Quantity> = ALL_QUANTITIES
            .into_iter()
            .filter(|q| given_by_any(&rows, q.column()))
            .collect();
        let movements = |params: &mut Params| {
            format!("mv AS ({})", record(&pivot(&opened, &moved), params, audit))
        };
        let opening = Then {
            returning: WHOLE_LEVEL_COLUMNS,
            ctes: &movements,
        };
        let outcome = |table: Table| {
            let ids = rows.iter().filter_map(|r| get_text(r, "id")).collect();
            Outcome::from(table).with(LEVEL, "created", ids)
        };
        let mut c = self.client().await?;
        if audit.key().is_none() {
            let table =
                insert_rows_from_input(&c, &INVENTORY_LEVEL, &rows, was_array, Some(opening))
                    .await?;
            return Ok(outcome(table));
        }
        let tx = c.transaction().await?;
        let table =
            insert_rows_from_input(&tx, &INVENTORY_LEVEL, &rows, was_array, Some(opening)).await?;
        let out = outcome(table);
        commit(tx, audit, &out).await?;
        Ok(out)
    }

    /// Sets stocked/incoming quantities and metadata of levels addressed by
    /// (inventory_item_id, location_id). reserved_quantity is never taken from input.
    /// A row with `expected_stocked_quantity` is applied only if the level still
    /// holds that stock (compare-and-set); otherwise the call is refused as stale.
    pub(crate) async fn update_inventory_levels(
        &self,
        input: LevelUpdates,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.set_levels(input.rows, input.was_array, audit).await
    }

    /// Cycle counts: as updateInventoryLevels, each row required to name the
    /// stock it expects (`expected_stocked_quantity`); reason `cycle_count`.
    pub(crate) async fn set_inventory_quantities(
        &self,
        input: CycleCounts,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.set_levels(input.rows, input.was_array, audit).await
    }

    async fn set_levels(
        &self,
        rows: Vec<LevelSet>,
        was_array: bool,
        audit: &Audit,
    ) -> Result<Outcome> {
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        let pairs: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    get_text(&r.row, "inventory_item_id").unwrap_or_default(),
                    get_text(&r.row, "location_id").unwrap_or_default(),
                )
            })
            .collect();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let locked = lock_levels(&tx, &pairs).await?;
        let missing: Vec<String> = pairs
            .iter()
            .filter(|(i, l)| !locked.iter().any(|x| &x.item == i && &x.loc == l))
            .map(|(i, l)| not_stocked(i, l))
            .collect();
        if !missing.is_empty() {
            return Err(Error::not_found(missing.join(", ")));
        }
        let mut out = Vec::with_capacity(rows.len());
        for (r, (item, loc)) in rows.iter().zip(&pairs) {
            out.push(set_level(&tx, r, item, loc, audit).await?);
        }
        let outcome = updated_levels(out, was_array);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
    }

    /// Adds `adjustment` to stocked_quantity as one guarded statement, so
    /// concurrent adjustments never lose an update. With an expected stock
    /// (`expectedStockedQuantity`) it applies only if the level still holds it.
    pub(crate) async fn adjust_inventory(
        &self,
        args: Adjustments,
        audit: &Audit,
    ) -> Result<Outcome> {
        let Adjustments { entries, was_array } = args;
        let mut c = self.client().await?;
        if entries.len() == 1 && audit.key().is_none() {
            // One statement, autocommit: the row lock it takes is its whole critical section.
            let e = &entries[0];
            let (sql, params) = adjust_sql(e, audit);
            let stmt = c.prepare_cached(&sql).await?;
            let row = c.query_one(&stmt, &params.refs()).await?;
            return Ok(updated_levels(vec![adjusted(row, e)?], was_array));
        }
        let tx = c.transaction().await?;
        // Several levels are locked up front in id order (the crate's lock
        // order); one (a keyed single adjustment) is locked by its statement,
        // which also reports it missing.
        if entries.len() > 1 {
            let pairs: Vec<(String, String)> = entries
                .iter()
                .map(|e| (e.item.clone(), e.location.clone()))
                .collect();
            let locked = lock_levels(&tx, &pairs).await?;
            if let Some((i, l)) = pairs
                .iter()
                .find(|(i, l)| !locked.iter().any(|x| &x.item == i && &x.loc == l))
            {
                return Err(level_not_found(i, l));
            }
        }
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            // The same text for every entry: prepared once (cached).
            let (sql, params) = adjust_sql(e, audit);
            let stmt = tx.prepare_cached(&sql).await?;
            let row = tx.query_one(&stmt, &params.refs()).await?;
            out.push(adjusted(row, e)?);
        }
        let outcome = updated_levels(out, was_array);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
    }

    pub(crate) async fn retrieve_inventory_level_by_item_and_location(
        &self,
        at: LevelAt,
    ) -> Result<Outcome> {
        let LevelAt {
            item,
            location: loc,
        } = at;
        let cfg = crate::sql::FindConfig::default();
        let filter = Filter::equal(
            &INVENTORY_LEVEL,
            &[("inventory_item_id", &item), ("location_id", &loc)],
        )?;
        let c = self.client().await?;
        crate::service::first_dto(&c, &INVENTORY_LEVEL, &filter, cfg)
            .await?
            .ok_or_else(|| level_not_found(&item, &loc))
    }

    /// Takes away the levels matching `cond` (SQL over alias `t`) together with
    /// their live reservations, which are soft-deleted at the same instant (as
    /// soft-deleting an item does): a reservation cannot outlive its level, so
    /// a level re-created later starts from nothing reserved and the invariant
    /// "reserved_quantity = sum of live reservations at the live level" holds.
    /// A hard-deleted level closes in the ledger (its quantities to 0); a
    /// soft-deleted one keeps its quantities, so it has no movement.
    /// `outcome` builds the call's result from the levels' DTOs and the
    /// reservation ids released.
    async fn remove_levels(
        &self,
        cond: &str,
        params: &Params,
        hard: bool,
        audit: &Audit,
        outcome: impl Fn(Vec<Value>, Vec<String>) -> Outcome,
    ) -> Result<Outcome> {
        let mut c = self.client().await?;
        let change = if hard {
            format!("DELETE FROM inventory_level t WHERE ({cond})")
        } else {
            format!(
                "UPDATE inventory_level t SET deleted_at = now(), updated_at = now()
                 WHERE ({cond}) AND t.deleted_at IS NULL"
            )
        };
        // A hard delete returns the old row: only levels that were live held reservations.
        let held = if hard {
            "lv.deleted_at IS NULL"
        } else {
            "TRUE"
        };
        let mut bound = params.clone();
        let closed = if hard {
            let gone = format!("SELECT {} FROM lv", whole_levels("lv", false));
            format!(
                ", mv AS ({})",
                record(&pivot(&gone, &ALL_QUANTITIES), &mut bound, audit)
            )
        } else {
            String::new()
        };
        let sql = format!(
            "WITH lv AS ({change} RETURNING t.id, t.inventory_item_id, t.location_id, t.deleted_at,
                         t.stocked_quantity, t.reserved_quantity, t.incoming_quantity, {dto} AS dto),
                  rr AS (UPDATE reservation_item r SET deleted_at = now(), updated_at = now()
                         FROM lv WHERE {held}
                           AND r.inventory_item_id = lv.inventory_item_id AND r.location_id = lv.location_id
                           AND r.deleted_at IS NULL
                         RETURNING r.id){closed}
             SELECT ARRAY(SELECT dto FROM lv), ARRAY(SELECT id FROM rr ORDER BY id)",
            dto = dto(&INVENTORY_LEVEL)
        );
        locked_removal(&mut c, cond, None, params, &sql, &bound, audit, |row| {
            Ok(outcome(row.get(0), row.get(1)))
        })
        .await
    }

    pub(crate) async fn delete_inventory_level(
        &self,
        at: LevelAt,
        audit: &Audit,
    ) -> Result<Outcome> {
        let mut params = Params::default();
        let (pi, pl) = (params.push(at.item), params.push(at.location));
        self.remove_levels(
            &format!(
                "t.inventory_item_id = {pi} AND t.location_id = {pl} AND t.deleted_at IS NULL"
            ),
            &params,
            true,
            audit,
            deleted,
        )
        .await
    }

    pub(crate) async fn delete_inventory_levels(&self, ids: Ids, audit: &Audit) -> Result<Outcome> {
        let mut params = Params::default();
        let p = params.push(ids.ids);
        self.remove_levels(
            &format!("t.id = ANY({p}::text[])"),
            &params,
            true,
            audit,
            deleted,
        )
        .await
    }

    pub(crate) async fn soft_delete_inventory_levels(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        let mut params = Params::default();
        let p = params.push(ids);
        self.remove_levels(
            &format!("t.id = ANY({p}::text[])"),
            &params,
            false,
            audit,
            |levels, released| {
                let level_ids = ids_in(&Value::Array(levels));
                Outcome::from(linkable_ids(&config, &level_ids))
                    .with(LEVEL, "deleted", level_ids)
                    .with(RESERVATION, "deleted", released)
            },
        )
        .await
    }

    /// Restores levels with the reservations that were released with them (same
    /// deleted_at), checked as a create would check them, and sets each
    /// level's reserved_quantity to what is live there after the restore
    /// (stock.rs, RestoreSql). A level whose item and location has a
    /// live level again is refused by the unique index (`invalid_data`, "...
    /// already exists"), and the call writes nothing.
    pub(crate) async fn restore_inventory_levels(
        &self,
        args: IdsWithConfig,
        audit: &Audit,
    ) -> Result<Outcome> {
        let IdsWithConfig { ids, config } = args;
        // Only these levels are touched: a reservation restored here lands on
        // its own level.
        let restore = RestoreSql {
            pre:
                "src AS (SELECT id, inventory_item_id, location_id, deleted_at FROM inventory_level
                     WHERE id = ANY($1) AND deleted_at IS NOT NULL),
             rs AS (SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                           coalesce(t.allow_backorder, false) AS bo, t.line_item_id AS line
                    FROM reservation_item t JOIN src ON t.inventory_item_id = src.inventory_item_id
                      AND t.location_id = src.location_id AND t.deleted_at = src.deleted_at),
             back AS (SELECT id FROM src),",
            late_levels: "EXISTS (SELECT 1 FROM src WHERE src.id <> ALL($2::text[]))",
            extra: "",
            extra_cols: "",
        };
        let mut c = self.client().await?;
        restore_locked(
            &mut c,
            &ids,
            "SELECT r.id FROM reservation_item r JOIN inventory_level l
               ON l.inventory_item_id = r.inventory_item_id AND l.location_id = r.location_id
             WHERE l.id = ANY($1) AND l.deleted_at IS NOT NULL AND r.deleted_at = l.deleted_at
             ORDER BY r.id FOR UPDATE OF r",
            "SELECT id FROM inventory_level WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &restore,
            false,
            audit,
            |row| {
                let level_ids: Vec<String> = row.get(0);
                Outcome::from(linkable_ids(&config, &level_ids))
                    .with(LEVEL, "restored", level_ids)
                    .with(LEVEL, "updated", row.get(1))
                    .with(RESERVATION, "restored", row.get(2))
            },
        )
        .await
    }

    /// Soft-deletes every level at the location(s): the location is being removed.
    pub(crate) async fn delete_inventory_item_level_by_location_id(
        &self,
        locs: LevelLocations,
        audit: &Audit,
    ) -> Result<Outcome> {
        let mut params = Params::default();
        let p = params.push(locs.locations);
        self.remove_levels(
            &format!("t.location_id = ANY({p}::text[])"),
            &params,
            false,
            audit,
            |levels, released| {
                let ids = ids_in(&Value::Array(levels.clone()));
                Outcome::from(json!([levels, { "InventoryLevel": levels }]))
                    .with(LEVEL, "deleted", ids)
                    .with(RESERVATION, "deleted", released)
            },
        )
        .await
    }

    /// (item exists, sum of `expr` over the live levels at `locs`) in one round trip.
    async fn sum_over_levels(
        &self,
        item: &str,
        locs: &[String],
        expr: &str,
    ) -> Result<(bool, String)> {
        let c = self.client().await?;
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM inventory_item WHERE id = $1 AND deleted_at IS NULL),
                    coalesce((SELECT sum({expr}) FROM inventory_level
                              WHERE inventory_item_id = $1 AND location_id = ANY($2) AND deleted_at IS NULL), 0)::text"
        );
        let stmt = c.prepare_cached(&sql).await?;
        let row = c.query_one(&stmt, &[&item, &locs]).await?;
        Ok((row.get(0), row.get(1)))
    }

    async fn quantity(
        &self,
        item: &str,
        locs: &[String],
        expr: &str,
        check_item_when_empty: bool,
    ) -> Result<String> {
        if locs.is_empty() && !check_item_when_empty {
            return Ok("0".into());
        }
        let (exists, sum) = self.sum_over_levels(item, locs, expr).await?;
        if !exists {
            return Err(Error::not_found(format!(
                "InventoryItem with id: {item} was not found"
            )));
        }
        Ok(if locs.is_empty() { "0".into() } else { sum })
    }

    pub(crate) async fn retrieve_available_quantity(&self, at: ItemAtLocations) -> Result<Value> {
        let q = self
            .quantity(
                &at.item,
                &at.locations,
                "stocked_quantity - reserved_quantity",
                false,
            )
            .await?;
        Ok(number(&q))
    }

    pub(crate) async fn retrieve_stocked_quantity(&self, at: ItemAtLocations) -> Result<Value> {
        let q = self
            .quantity(&at.item, &at.locations, "stocked_quantity", false)
            .await?;
        Ok(number(&q))
    }

    pub(crate) async fn retrieve_reserved_quantity(&self, at: ItemAtLocations) -> Result<Value> {
        let q = self
            .quantity(&at.item, &at.locations, "reserved_quantity", true)
            .await?;
        Ok(number(&q))
    }

    pub(crate) async fn confirm_inventory(&self, c: Confirmation) -> Result<Value> {
        let q = self
            .quantity(
                &c.item,
                &c.locations,
                "stocked_quantity - reserved_quantity",
                false,
            )
            .await?;
        // Compared as exact decimals of any size: a sum over several levels may
        // exceed what one level can hold.
        Ok(Value::Bool(
            compare_decimal_text(&q, &c.quantity.to_string()).is_ge(),
        ))
    }
}
