//! InventoryLevel: every statement that writes `inventory_level`, and the
//! quantity reads served from it.

use crate::entity::INVENTORY_LEVEL;
use crate::error::{Error, ErrorType, Result};
use crate::idempotency::commit;
use crate::ledger::{insert_sql, pivot, whole_levels, Audit};

use crate::input::{get_text, ids_of, one_or_many, parse_input, shape, InputSpec};
use crate::outcome::{ids_in, Outcome, LEVEL, RESERVATION};
use crate::quantity::sql_level_fits;
use crate::quantity::{parse_quantity, Rule};
use crate::service::InventoryService;
use crate::sql::Params;
use crate::stock::{beyond_level, locked_removal, restore_levels_sql, restore_locked};
use crate::write::{dto, in_input_order, insert_statement, raw_of, set_clause};
use rust_decimal::Decimal;
use serde_json::{json, Value};

static CREATE: InputSpec = InputSpec::create(&INVENTORY_LEVEL);
static UPDATE: InputSpec = InputSpec::update(&INVENTORY_LEVEL);

/// Locks the live levels of the given (item, location) pairs in id order, the
/// lock order every multi-level write in this crate uses, and returns
/// (id, item, location, available) for those that exist.
pub(crate) async fn lock_levels<C: deadpool_postgres::GenericClient>(
    c: &C,
    pairs: &[(String, String)],
) -> Result<Vec<(String, String, String, Decimal)>> {
    let items: Vec<&str> = pairs.iter().map(|p| p.0.as_str()).collect();
    let locs: Vec<&str> = pairs.iter().map(|p| p.1.as_str()).collect();
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
            let avail: Decimal = r.try_get(3).map_err(|e| Error::unexpected(e.to_string()))?;
            Ok((r.get(0), r.get(1), r.get(2), avail))
        })
        .collect()
}

/// The compare-and-set field of level updates and cycle counts.
const EXPECTED: &str = "expected_stocked_quantity";

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

/// The call option `expectedStockedQuantity` given to a call of several levels.
fn one_level_only(method: &str, what: &str, field: &str) -> Error {
    Error::invalid(format!(
        "call option expectedStockedQuantity applies to a {method} call of one {what}; \
         give each {what} its own {field}"
    ))
}

/// One expected stock from the row's own field and the call option: either, or
/// both when they agree.
fn agree(row: Option<Decimal>, option: Option<Decimal>, field: &str) -> Result<Option<Decimal>> {
    match (row, option) {
        (Some(r), Some(o)) if r != o => Err(Error::invalid(format!(
            "{field} {r} and call option expectedStockedQuantity {o} disagree"
        ))),
        (r, o) => Ok(r.or(o)),
    }
}

fn not_stocked(item: &str, loc: &str) -> String {
    format!("Item {item} is not stocked at location {loc}")
}

fn level_not_found(item: &str, loc: &str) -> Error {
    Error::not_found(format!(
        "Inventory level for item {item} and location {loc} not found"
    ))
}

fn locations_of(v: &Value) -> Result<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| {
                x.as_str()
                    .map(str::to_string)
                    .ok_or_else(|| Error::invalid("locationIds must be an array of strings"))
            })
            .collect(),
        _ => Err(Error::invalid("locationIds must be an array of strings")),
    }
}

fn id_arg(v: &Value, name: &str) -> Result<String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| Error::invalid(format!("{name} must be a string")))
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
fn linkable_ids(config: &Value, levels: &[String]) -> Value {
    let pick: Vec<&str> = config
        .get("returnLinkableKeys")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut map = serde_json::Map::new();
    if !levels.is_empty() && (pick.is_empty() || pick.contains(&"inventory_level_id")) {
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

impl InventoryService {
    pub(crate) async fn create_inventory_levels(
        &self,
        input: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let (rows, was_array) = self.parse_create(&CREATE, input)?;
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        // One statement: the levels and their opening movements.
        let (insert, params) = insert_statement(
            &INVENTORY_LEVEL,
            &rows,
            &format!("t.*, {} AS dto", dto(&INVENTORY_LEVEL)),
        );
        let opened = format!("SELECT {} FROM ins l", whole_levels("l", true));
        let sql = format!(
            "WITH ins AS ({insert}), mv AS ({}) SELECT dto FROM ins",
            insert_sql(&pivot(&opened), params.0.len() + 1)
        );
        let mut refs = params.refs();
        audit.extend(&mut refs);
        let mut c = self.client().await?;
        let out = match audit.key() {
            None => {
                let stmt = c.prepare_cached(&sql).await?;
                c.query(&stmt, &refs).await?
            }
            Some(_) => {
                let tx = c.transaction().await?;
                let stmt = tx.prepare_cached(&sql).await?;
                let out = tx.query(&stmt, &refs).await?;
                let values = in_input_order(&rows, out.iter().map(|r| r.get(0)).collect())?;
                let ids = ids_in(&Value::Array(values.clone()));
                let outcome = Outcome::from(shape(values, was_array)).with(LEVEL, "created", ids);
                commit(tx, audit, &outcome).await?;
                return Ok(outcome);
            }
        };
        let values = in_input_order(&rows, out.iter().map(|r| r.get(0)).collect())?;
        let ids = ids_in(&Value::Array(values.clone()));
        Ok(Outcome::from(shape(values, was_array)).with(LEVEL, "created", ids))
    }

    /// Sets stocked/incoming quantities and metadata of levels addressed by
    /// (inventory_item_id, location_id). reserved_quantity is never taken from input.
    /// A row with `expected_stocked_quantity` is applied only if the level still
    /// holds that stock (compare-and-set); otherwise the call is refused as stale.
    pub(crate) async fn update_inventory_levels(
        &self,
        input: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.set_levels(input, audit, false).await
    }

    /// Cycle counts: as updateInventoryLevels, each row required to name the
    /// stock it expects (`expected_stocked_quantity`); reason `cycle_count`.
    pub(crate) async fn set_inventory_quantities(
        &self,
        input: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        self.set_levels(input, audit, true).await
    }

    async fn set_levels(&self, input: &Value, audit: &Audit, compare: bool) -> Result<Outcome> {
        let (inputs, was_array) = one_or_many(input);
        // The call option is the expected stock of the call's one level; of several
        // it would name none in particular.
        let option = audit.options.expected_stocked_quantity;
        if option.is_some() && inputs.len() != 1 {
            return Err(one_level_only(audit.method, "row", EXPECTED));
        }
        let mut rows = Vec::with_capacity(inputs.len());
        let mut expected = Vec::with_capacity(inputs.len());
        for (i, v) in inputs.iter().enumerate() {
            let at = |m: String| match was_array {
                true => Error::invalid(format!("{m} (at index {i})")),
                false => Error::invalid(m),
            };
            let mut v = (*v).clone();
            let e = match v.as_object_mut().and_then(|o| o.remove(EXPECTED)) {
                None | Some(Value::Null) => None,
                Some(q) => {
                    Some(parse_quantity(&q, EXPECTED, Rule::Any).map_err(|er| at(er.message))?)
                }
            };
            let e = agree(e, option, EXPECTED).map_err(|er| at(er.message))?;
            if compare && e.is_none() {
                return Err(at(format!("{EXPECTED} is required")));
            }
            let row = parse_input(&UPDATE, &v, was_array.then_some(i))?;
            // A cycle count sets the stock it counted: a row without one would
            // only compare.
            if compare && crate::input::get(&row, "stocked_quantity").is_none() {
                return Err(at("stocked_quantity is required".into()));
            }
            expected.push(e);
            rows.push(row);
        }
        if rows.is_empty() {
            return Ok(shape(vec![], was_array).into());
        }
        let pairs: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    get_text(r, "inventory_item_id").unwrap_or_default(),
                    get_text(r, "location_id").unwrap_or_default(),
                )
            })
            .collect();
        let mut c = self.client().await?;
        let tx = c.transaction().await?;
        let locked = lock_levels(&tx, &pairs).await?;
        let missing: Vec<String> = pairs
            .iter()
            .filter(|(i, l)| !locked.iter().any(|x| &x.1 == i && &x.2 == l))
            .map(|(i, l)| not_stocked(i, l))
            .collect();
        if !missing.is_empty() {
            return Err(Error::not_found(missing.join(", ")));
        }
        let mut out = Vec::with_capacity(rows.len());
        for ((r, (item, loc)), want) in rows.iter().zip(&pairs).zip(&expected) {
            let mut params = Params::default();
            let pi = params.push(item.clone());
            let pl = params.push(loc.clone());
            let pe = params.push(want.map(|d| d.to_string()));
            let sets = set_clause(r, &["id", "inventory_item_id", "location_id"], &mut params);
            let moved = "SELECT u.id AS level_id, u.inventory_item_id AS item, u.location_id AS loc,
                                u.old_s, u.stocked_quantity AS new_s, NULL AS old_r, NULL AS new_r,
                                u.old_i, u.incoming_quantity AS new_i,
                                NULL::text AS reservation_item_id, NULL::text AS line_item_id FROM u";
            // The level is locked: `o` reads its latest values. The new row must
            // read back (its available = stocked - reserved too); otherwise the
            // error drops the transaction, rolling it back.
            let sql = format!(
                "WITH o AS (SELECT id, stocked_quantity, incoming_quantity FROM inventory_level
                            WHERE inventory_item_id = {pi} AND location_id = {pl} AND deleted_at IS NULL),
                      u AS (UPDATE inventory_level AS t SET {sets} FROM o
                            WHERE t.id = o.id AND ({pe}::text IS NULL OR o.stocked_quantity = {pe}::text::numeric)
                            RETURNING t.id, t.inventory_item_id, t.location_id, t.stocked_quantity,
                                      t.incoming_quantity, o.stocked_quantity AS old_s,
                                      o.incoming_quantity AS old_i, {} AS dto, {} AS fits),
                      mv AS ({})
                 SELECT (SELECT dto FROM u), (SELECT fits FROM u), (SELECT stocked_quantity::text FROM o)",
                dto(&INVENTORY_LEVEL),
                sql_level_fits("t.stocked_quantity", "t.reserved_quantity"),
                insert_sql(&pivot(moved), params.0.len() + 1),
            );
            let mut refs = params.refs();
            audit.extend(&mut refs);
            let stmt = tx.prepare_cached(&sql).await?;
            let row = tx.query_one(&stmt, &refs).await?;
            match (
                row.get::<_, Option<Value>>(0),
                row.get::<_, Option<bool>>(1),
            ) {
                (Some(dto), Some(true)) => out.push(dto),
                (Some(_), _) => return Err(beyond_level("stocked_quantity", item, loc)),
                (None, _) => {
                    let found: Option<String> = row.get(2);
                    return Err(stale(item, loc, want, found.as_deref()));
                }
            }
        }
        let outcome = updated_levels(out, was_array);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
    }

    /// Adds `adjustment` to stocked_quantity as one guarded statement, so
    /// concurrent adjustments never lose an update. With an expected stock
    /// (`expectedStockedQuantity`) it applies only if the level still holds it.
    pub(crate) async fn adjust_inventory(&self, args: &[Value], audit: &Audit) -> Result<Outcome> {
        type Entry = (String, String, Decimal, Option<Decimal>);
        let (entries, was_array): (Vec<Entry>, bool) = match args.first() {
            Some(Value::Array(list)) => (
                list.iter()
                    .enumerate()
                    .map(|(i, e)| {
                        let at = |m: String| Error::invalid(format!("{m} (at index {i})"));
                        let item = e
                            .get("inventoryItemId")
                            .and_then(Value::as_str)
                            .ok_or_else(|| at("inventoryItemId must be a string".into()))?;
                        let loc = e
                            .get("locationId")
                            .and_then(Value::as_str)
                            .ok_or_else(|| at("locationId must be a string".into()))?;
                        let adj = parse_quantity(
                            e.get("adjustment").unwrap_or(&Value::Null),
                            "adjustment",
                            Rule::Any,
                        )
                        .map_err(|er| at(er.message))?;
                        let expected = match e.get("expectedStockedQuantity") {
                            None | Some(Value::Null) => None,
                            Some(q) => Some(
                                parse_quantity(q, "expectedStockedQuantity", Rule::Any)
                                    .map_err(|er| at(er.message))?,
                            ),
                        };
                        if let Some(obj) = e.as_object() {
                            if let Some(k) = obj.keys().find(|k| {
                                ![
                                    "inventoryItemId",
                                    "locationId",
                                    "adjustment",
                                    "expectedStockedQuantity",
                                ]
                                .contains(&k.as_str())
                            }) {
                                return Err(at(format!("Unknown field '{k}' for adjustInventory")));
                            }
                        }
                        Ok((item.to_string(), loc.to_string(), adj, expected))
                    })
                    .collect::<Result<Vec<_>>>()
                    .and_then(|mut entries: Vec<Entry>| {
                        let option = audit.options.expected_stocked_quantity;
                        if option.is_some() {
                            if entries.len() != 1 {
                                return Err(one_level_only(
                                    audit.method,
                                    "entry",
                                    "expectedStockedQuantity",
                                ));
                            }
                            let e = &mut entries[0];
                            e.3 = agree(e.3, option, "expectedStockedQuantity").map_err(|er| {
                                Error::invalid(format!("{} (at index 0)", er.message))
                            })?;
                        }
                        Ok(entries)
                    })?,
                true,
            ),
            Some(item) => {
                let item = id_arg(item, "inventoryItemId")?;
                let loc = id_arg(args.get(1).unwrap_or(&Value::Null), "locationId")?;
                let adj =
                    parse_quantity(args.get(2).unwrap_or(&Value::Null), "adjustment", Rule::Any)?;
                let expected = audit.options.expected_stocked_quantity;
                (vec![(item, loc, adj, expected)], false)
            }
            None => return Err(Error::invalid("adjustInventory needs arguments")),
        };
        // One statement answers every question: the level is locked (latest
        // version), then moved only if it stays readable (and holds the
        // expected stock), its movement written. The first column is its DTO,
        // NULL when refused; the second says whether a live level was there, in
        // the same snapshot (a second query could see a level restored meanwhile
        // and misreport a missing level as out of range); the third is the stock
        // it had.
        let moved = "SELECT u.id AS level_id, u.inventory_item_id AS item, u.location_id AS loc,
                            u.old_s, u.stocked_quantity AS new_s, NULL AS old_r, NULL AS new_r,
                            NULL AS old_i, NULL AS new_i,
                            NULL::text AS reservation_item_id, NULL::text AS line_item_id FROM u";
        let sql = format!(
            "WITH lv AS MATERIALIZED (
               SELECT id, stocked_quantity AS old_s FROM inventory_level
               WHERE inventory_item_id = $1 AND location_id = $2 AND deleted_at IS NULL FOR UPDATE
             ),
             u AS (
               UPDATE inventory_level AS t
               SET stocked_quantity = trim_scale(t.stocked_quantity + $3::text::numeric),
                   raw_stocked_quantity = {},
                   updated_at = now()
               FROM lv WHERE t.id = lv.id AND {}
                 AND ($4::text IS NULL OR lv.old_s = $4::text::numeric)
               RETURNING t.id, t.inventory_item_id, t.location_id, t.stocked_quantity, lv.old_s,
                         {} AS dto
             ),
             mv AS ({})
             SELECT (SELECT dto FROM u), EXISTS (SELECT 1 FROM lv), (SELECT old_s::text FROM lv)",
            raw_of("trim_scale(t.stocked_quantity + $3::text::numeric)"),
            sql_level_fits(
                "t.stocked_quantity + $3::text::numeric",
                "t.reserved_quantity"
            ),
            dto(&INVENTORY_LEVEL),
            insert_sql(&pivot(moved), 5),
        );
        let outcome_of =
            |row: tokio_postgres::Row, (item, loc, _, expected): &Entry| -> Result<Value> {
                match (row.get::<_, Option<Value>>(0), row.get::<_, bool>(1)) {
                    (Some(dto), _) => Ok(dto),
                    (None, false) => Err(level_not_found(item, loc)),
                    (None, true) => {
                        let had: Option<String> = row.get(2);
                        let had_expected = match (expected, had.as_deref()) {
                            (Some(e), Some(h)) => h.parse::<Decimal>().is_ok_and(|h| h == *e),
                            _ => true,
                        };
                        if had_expected {
                            Err(beyond_level("adjustment", item, loc))
                        } else {
                            Err(stale(item, loc, expected, had.as_deref()))
                        }
                    }
                }
            };
        let entry_refs = |e: &Entry| (e.2.to_string(), e.3.map(|d| d.to_string()));
        let mut c = self.client().await?;
        if entries.len() == 1 && audit.key().is_none() {
            // One statement, autocommit: the row lock it takes is its whole critical section.
            let e = &entries[0];
            let (adj, expected) = entry_refs(e);
            let mut refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                vec![&e.0, &e.1, &adj, &expected];
            audit.extend(&mut refs);
            let stmt = c.prepare_cached(&sql).await?;
            let row = c.query_one(&stmt, &refs).await?;
            return Ok(updated_levels(vec![outcome_of(row, e)?], was_array));
        }
        let tx = c.transaction().await?;
        // Several levels are locked up front in id order (the crate's lock
        // order); one (a keyed single adjustment) is locked by its statement,
        // which also reports it missing.
        if entries.len() > 1 {
            let pairs: Vec<(String, String)> = entries
                .iter()
                .map(|(i, l, _, _)| (i.clone(), l.clone()))
                .collect();
            let locked = lock_levels(&tx, &pairs).await?;
            if let Some((i, l)) = pairs
                .iter()
                .find(|(i, l)| !locked.iter().any(|x| &x.1 == i && &x.2 == l))
            {
                return Err(level_not_found(i, l));
            }
        }
        let stmt = tx.prepare_cached(&sql).await?;
        let mut out = Vec::with_capacity(entries.len());
        for e in &entries {
            let (adj, expected) = entry_refs(e);
            let mut refs: Vec<&(dyn tokio_postgres::types::ToSql + Sync)> =
                vec![&e.0, &e.1, &adj, &expected];
            audit.extend(&mut refs);
            let row = tx.query_one(&stmt, &refs).await?;
            out.push(outcome_of(row, e)?);
        }
        let outcome = updated_levels(out, was_array);
        commit(tx, audit, &outcome).await?;
        Ok(outcome)
    }

    pub(crate) async fn retrieve_inventory_level_by_item_and_location(
        &self,
        item: &Value,
        loc: &Value,
    ) -> Result<Outcome> {
        let item = id_arg(item, "inventoryItemId")?;
        let loc = id_arg(loc, "locationId")?;
        let cfg = crate::sql::FindConfig::default();
        let c = self.client().await?;
        let filter = json!({ "inventory_item_id": item, "location_id": loc });
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
        let closed = if hard {
            let gone = format!("SELECT {} FROM lv", whole_levels("lv", false));
            format!(
                ", mv AS ({})",
                insert_sql(&pivot(&gone), params.0.len() + 1)
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
        locked_removal(&mut c, cond, None, params, &sql, hard, audit, |row| {
            Ok(outcome(row.get(0), row.get(1)))
        })
        .await
    }

    pub(crate) async fn delete_inventory_level(
        &self,
        item: &Value,
        loc: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let item = id_arg(item, "inventoryItemId")?;
        let loc = id_arg(loc, "locationId")?;
        let mut params = Params::default();
        let (pi, pl) = (params.push(item), params.push(loc));
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

    pub(crate) async fn delete_inventory_levels(
        &self,
        ids: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let mut params = Params::default();
        let p = params.push(ids_of(ids, "ids")?);
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
        ids: &Value,
        config: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let mut params = Params::default();
        let p = params.push(ids_of(ids, "ids")?);
        self.remove_levels(
            &format!("t.id = ANY({p}::text[])"),
            &params,
            false,
            audit,
            |levels, released| {
                let level_ids = ids_in(&Value::Array(levels));
                Outcome::from(linkable_ids(config, &level_ids))
                    .with(LEVEL, "deleted", level_ids)
                    .with(RESERVATION, "deleted", released)
            },
        )
        .await
    }

    /// Restores levels with the reservations that were released with them (same
    /// deleted_at), checked as a create would check them, and sets each
    /// level's reserved_quantity to what is live there after the restore
    /// (stock.rs, restore_levels_sql). A level whose item and location has a
    /// live level again is refused by the unique index (`invalid_data`, "...
    /// already exists"), and the call writes nothing.
    pub(crate) async fn restore_inventory_levels(
        &self,
        ids: &Value,
        config: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let ids = ids_of(ids, "ids")?;
        // Only these levels are touched: a reservation restored here lands on
        // its own level.
        let sql = restore_levels_sql(
            "src AS (SELECT id, inventory_item_id, location_id, deleted_at FROM inventory_level
                     WHERE id = ANY($1) AND deleted_at IS NOT NULL),
             rs AS (SELECT t.id, t.inventory_item_id AS item, t.location_id AS loc, t.quantity AS q,
                           coalesce(t.allow_backorder, false) AS bo, t.line_item_id AS line
                    FROM reservation_item t JOIN src ON t.inventory_item_id = src.inventory_item_id
                      AND t.location_id = src.location_id AND t.deleted_at = src.deleted_at),
             back AS (SELECT id FROM src),",
            "EXISTS (SELECT 1 FROM src WHERE src.id <> ALL($2::text[]))",
            "",
            "",
        );
        let mut c = self.client().await?;
        restore_locked(
            &mut c,
            &ids,
            "SELECT r.id FROM reservation_item r JOIN inventory_level l
               ON l.inventory_item_id = r.inventory_item_id AND l.location_id = r.location_id
             WHERE l.id = ANY($1) AND l.deleted_at IS NOT NULL AND r.deleted_at = l.deleted_at
             ORDER BY r.id FOR UPDATE OF r",
            "SELECT id FROM inventory_level WHERE id = ANY($1) ORDER BY id FOR UPDATE",
            &sql,
            false,
            audit,
            |row| {
                let level_ids: Vec<String> = row.get(0);
                Outcome::from(linkable_ids(config, &level_ids))
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
        loc: &Value,
        audit: &Audit,
    ) -> Result<Outcome> {
        let mut params = Params::default();
        let p = params.push(locations_of(loc)?);
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
        item: &Value,
        locs: &Value,
        expr: &str,
        check_item_when_empty: bool,
    ) -> Result<(String, String)> {
        let item = id_arg(item, "inventoryItemId")?;
        let locs = locations_of(locs)?;
        if locs.is_empty() && !check_item_when_empty {
            return Ok((item, "0".into()));
        }
        let (exists, sum) = self.sum_over_levels(&item, &locs, expr).await?;
        if !exists {
            return Err(Error::not_found(format!(
                "InventoryItem with id: {item} was not found"
            )));
        }
        Ok((item, if locs.is_empty() { "0".into() } else { sum }))
    }

    pub(crate) async fn retrieve_available_quantity(
        &self,
        item: &Value,
        locs: &Value,
    ) -> Result<Value> {
        let (_, q) = self
            .quantity(item, locs, "stocked_quantity - reserved_quantity", false)
            .await?;
        Ok(number(&q))
    }

    pub(crate) async fn retrieve_stocked_quantity(
        &self,
        item: &Value,
        locs: &Value,
    ) -> Result<Value> {
        let (_, q) = self.quantity(item, locs, "stocked_quantity", false).await?;
        Ok(number(&q))
    }

    pub(crate) async fn retrieve_reserved_quantity(
        &self,
        item: &Value,
        locs: &Value,
    ) -> Result<Value> {
        let (_, q) = self.quantity(item, locs, "reserved_quantity", true).await?;
        Ok(number(&q))
    }

    pub(crate) async fn confirm_inventory(
        &self,
        item: &Value,
        locs: &Value,
        qty: &Value,
    ) -> Result<Value> {
        let wanted = parse_quantity(qty, "quantity", Rule::NonNegative)?;
        let (_, q) = self
            .quantity(item, locs, "stocked_quantity - reserved_quantity", false)
            .await?;
        // Compared as exact decimals of any size: a sum over several levels may
        // exceed what one level can hold.
        Ok(Value::Bool(
            compare_decimal_text(&q, &wanted.to_string()).is_ge(),
        ))
    }
}
