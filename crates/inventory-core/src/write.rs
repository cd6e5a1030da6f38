//! Row writes shared by the entities: the DTO a statement returns, UNNEST
//! inserts and SET clauses built from validated input rows.

use crate::entity::{Column, Entity, Kind};
use crate::error::{Error, Result};
use crate::input::{get, get_text, given_by_any, Row};
use crate::outcome::{Table, TableColumn};
use crate::sql::{self, Params};
use deadpool_postgres::GenericClient;
use rust_decimal::Decimal;
use serde_json::Value;

/// Full DTO of a row aliased `t`, with the entity's default fields (built once per entity).
pub(crate) fn dto(entity: &'static Entity) -> &'static str {
    use std::sync::OnceLock;
    static CACHE: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match entity.table {
        "inventory_item" => &CACHE[0],
        "inventory_level" => &CACHE[1],
        _ => &CACHE[2],
    };
    slot.get_or_init(|| {
        sql::dto_expr(entity, "t", &sql::Selection::default(), false, 0).unwrap_or_default()
    })
}

/// SQL that turns the text column `u.<name>` into the column's type.
fn cast(name: &str, kind: Kind) -> String {
    match kind {
        Kind::Text => format!("u.{name}"),
        Kind::Numeric => format!("trim_scale(u.{name}::numeric)"),
        k => format!("u.{name}::{}", k.sql_type()),
    }
}

pub(crate) fn raw_of(expr: &str) -> String {
    format!("jsonb_build_object('value', ({expr})::text, 'precision', 20)")
}

/// The INSERT of `rows` (each already validated, each with an `id`) in one
/// statement through UNNEST, of the rows only when `only_if` (SQL) holds,
/// returning `returning` (over the new rows `t`), and its parameters. The
/// columns written are those create input may set or that have an insert
/// default (entity.rs).
pub(crate) fn insert_statement(
    entity: &'static Entity,
    rows: &[Row],
    only_if: Option<&str>,
    returning: &str,
) -> (String, Params) {
    let (sql, params) = insert_sql(entity, rows, false);
    let filter = only_if.map(|c| format!(" WHERE {c}")).unwrap_or_default();
    (format!("{sql}{filter} RETURNING {returning}"), params)
}

/// [`insert_statement`] without RETURNING. With `given_only`, a column no row
/// gives is left out (the table's NULL) or, when it has an insert default,
/// written as that default, so a batch of `{ sku, title }` unnests three
/// arrays, not sixteen.
fn insert_sql(entity: &'static Entity, rows: &[Row], given_only: bool) -> (String, Params) {
    let mut params = Params::default();
    let mut names = Vec::new();
    let mut exprs = Vec::new();
    let mut unnest = Vec::new();
    let mut aliases = Vec::new();
    for col in entity.columns.iter().filter(|c| c.inserted()) {
        let values: Vec<Option<String>> = rows.iter().map(|r| get_text(r, col.name)).collect();
        if given_only && values.iter().all(Option::is_none) {
            let Some(d) = col.default else { continue };
            // The default, written once: no array of NULLs to unnest and coalesce
            // per row, and a numeric's raw twin is an InitPlan, built once (about
            // 1.5 ms of a 1000-level create's 20, measured with EXPLAIN ANALYZE).
            names.push(col.name.to_string());
            exprs.push(d.to_string());
            if col.kind == Kind::Numeric {
                names.push(format!("raw_{}", col.name));
                exprs.push(format!("(SELECT {})", raw_of(d)));
            }
            continue;
        }
        unnest.push(format!("{}::text[]", params.push(values)));
        aliases.push(col.name.to_string());
        let mut expr = cast(col.name, col.kind);
        if let Some(d) = col.default {
            expr = format!("coalesce({expr}, {d})");
        }
        names.push(col.name.to_string());
        if col.kind == Kind::Numeric {
            names.push(format!("raw_{}", col.name));
            exprs.push(expr.clone());
            exprs.push(raw_of(&expr));
        } else {
            exprs.push(expr);
        }
    }
    let sql = format!(
        "INSERT INTO {table} AS t ({names}) SELECT {exprs} FROM unnest({unnest}) AS u({aliases})",
        table = entity.table,
        names = names.join(", "),
        exprs = exprs.join(", "),
        unnest = unnest.join(", "),
        aliases = aliases.join(", "),
    );
    (sql, params)
}

/// Inserts `rows` of an entity in one statement, and returns their DTOs as
/// one table (a row of cells per DTO; the result is the array, or the one DTO
/// when `was_array` is false, as [`crate::input::shape`] shapes them), written
/// here from the validated input: the database decides only created_at and
/// updated_at, both its `now()`, which the statement returns once, rendered by
/// Postgres as its JSON renders timestamps (session time zone), so the DTOs
/// equal those built in SQL ([`dto`]). Written straight into one text rather
/// than built in SQL (or as `serde_json` maps) and serialized: for a batch of
/// 1000 building, parsing and freeing them cost more than the INSERT's round
/// trip on an idle server. `then`, when given, is a list of columns and CTEs
/// after the insert's own (`ins`, which then returns those columns of its
/// rows), with their parameters: what else the statement writes (a level's
/// opening movements).
pub(crate) async fn insert_rows_from_input<C: GenericClient>(
    c: &C,
    entity: &'static Entity,
    rows: &[Row],
    was_array: bool,
    then: Option<Then<'_>>,
) -> Result<Table> {
    let (insert, mut params) = insert_sql(entity, rows, true);
    let sql = match then {
        None => format!("WITH ins AS ({insert}) SELECT to_jsonb(now())"),
        // Only what the CTEs read: RETURNING t.* kept every column of 1000
        // rows (raw jsonb, metadata) for them, 1 ms of a 1000-level create's 18.
        Some(then) => format!(
            "WITH ins AS ({insert} RETURNING {}), {} SELECT to_jsonb(now())",
            then.returning,
            (then.ctes)(&mut params)
        ),
    };
    let stmt = c.prepare_cached(&sql).await?;
    let refs = params.refs();
    // The DTOs wait for the database only for its now(): they are written while
    // the statement runs. The first poll of the query queues it; the yield lets
    // the connection's task send it before the writing takes the thread (with
    // one worker, the default, they share it).
    let (row, cells) = tokio::join!(c.query_one(&stmt, &refs), async {
        tokio::task::yield_now().await;
        dto_cells(entity, rows, was_array)
    });
    let now: Value = row?.get(0);
    let (layout, text) = cells?;
    Ok(table(layout, text, &now.to_string(), was_array))
}

/// What else an insert's statement writes ([`insert_rows_from_input`]).
#[derive(Clone, Copy)]
pub(crate) struct Then<'a> {
    /// The columns of the inserted rows (`ins`) the CTEs read.
    pub returning: &'a str,
    /// The CTEs, their parameters bound in the statement's.
    pub ctes: &'a (dyn Fn(&mut Params) -> String + Sync),
}

/// Each DTO key's name, whether it is a raw twin, where its value comes from.
type Layout = Vec<(String, bool, Source)>;

/// Where a key's value comes from in a batch's DTOs ([`dto_cells`]).
enum Source {
    /// Each row's own cell.
    Rows,
    /// One cell for all: a column no row gives (its default, or null).
    Same(String),
    /// The statement's now().
    Now,
}

/// The [`Table`] of [`dto_cells`]' `layout` and rows `text`, `now` in place.
fn table(layout: Layout, text: String, now: &str, was_array: bool) -> Table {
    let columns = layout
        .into_iter()
        .map(|(name, raw, source)| TableColumn {
            name,
            raw,
            same: match source {
                Source::Rows => None,
                Source::Same(cell) => Some(cell),
                Source::Now => Some(now.to_string()),
            },
        })
        .collect();
    Table {
        columns,
        rows: text,
        one: !was_array,
    }
}

/// A key of an entity's DTO as [`dto`] builds it without a select.
#[derive(Debug, Clone, Copy)]
enum DtoKey {
    Column(&'static Column),
    /// A numeric column's `raw_` copy, whose cell is the value (`"<text>"`) of
    /// `{"precision":20,"value":…}` ([`TableColumn`]).
    Raw(&'static Column),
    /// stocked - reserved of the row's own values.
    Available,
}

/// The keys of `entity`'s DTO, in `serde_json`'s map order (sorted), or why
/// it cannot be built from input (a computed field that reads other rows).
fn dto_keys(entity: &'static Entity) -> Result<Vec<(String, DtoKey)>> {
    let mut keys = Vec::new();
    for c in entity.columns {
        keys.push((c.name.to_string(), DtoKey::Column(c)));
        if c.kind == Kind::Numeric {
            keys.push((format!("raw_{}", c.name), DtoKey::Raw(c)));
        }
    }
    for c in entity.computed.iter().filter(|c| c.default) {
        match c.value {
            crate::entity::Derived::Available => keys.push((c.name.to_string(), DtoKey::Available)),
            crate::entity::Derived::LevelSum(_) => {
                return Err(Error::unexpected(format!(
                    "{}.{} is not built from input",
                    entity.name, c.name
                )))
            }
        }
    }
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(keys)
}

/// A numeric column's value as the insert stores it (`trim_scale` of the
/// input, or the column's default): validated input, so it parses.
fn stored_quantity(row: &Row, col: &Column) -> Result<Option<Decimal>> {
    let text = get(row, col.name)
        .and_then(|f| f.text.as_deref())
        .or(col.default);
    text.map(|t| {
        t.parse::<Decimal>()
            .map(|d| d.normalize())
            .map_err(|_| Error::unexpected(format!("{} value {t} is not a number", col.name)))
    })
    .transpose()
}

/// [`dto_cells`] with the statement's `now` in place, as objects.
#[cfg(test)]
fn dtos_text(
    entity: &'static Entity,
    rows: &[Row],
    now: &Value,
    was_array: bool,
) -> Result<String> {
    let (layout, text) = dto_cells(entity, rows, was_array)?;
    let table = table(layout, text, &now.to_string(), was_array);
    let out = crate::outcome::Outcome::from(table).to_json_string();
    Ok(out["{\"changes\":[],\"result\":".len()..out.len() - 1].to_string())
}

/// The DTOs of inserted `rows` ([`insert_rows_from_input`]) as a [`Table`]'s
/// layout (each key's name, whether it is a raw twin, where its value comes
/// from) and its rows' text: as objects, byte for byte what `serde_json`
/// writes for the DTOs [`dto`] builds in SQL (keys in its map's order,
/// sorted; strings escaped by `serde_json` itself; numbers parsed from
/// Postgres' text for them, as jsonb's are). One DTO when `was_array` is
/// false.
fn dto_cells(entity: &'static Entity, rows: &[Row], was_array: bool) -> Result<(Layout, String)> {
    // Known once per call, not once per row.
    let keys = dto_keys(entity)?;
    let rows = if was_array {
        rows
    } else {
        &rows[..rows.len().min(1)]
    };
    let given = |name: &str| given_by_any(rows, name);
    let mut layout = Vec::with_capacity(keys.len());
    let mut varying = Vec::with_capacity(keys.len());
    for (name, key) in keys {
        let given_by_none = match key {
            DtoKey::Column(c) | DtoKey::Raw(c) => !given(c.name),
            DtoKey::Available => !given("stocked_quantity") && !given("reserved_quantity"),
        };
        let source = match key {
            DtoKey::Column(c) if matches!(c.name, "created_at" | "updated_at") => Source::Now,
            // The same in every DTO: the cell of a row that gives nothing.
            _ if given_by_none => {
                let mut cell = Vec::new();
                write_cell(entity, key, &Row::new(), &mut cell)?;
                match cell.first() {
                    // Scalars only: one object would be shared by every DTO.
                    Some(b'{' | b'[') | None => Source::Rows,
                    _ => Source::Same(into_text(cell)?),
                }
            }
            _ => Source::Rows,
        };
        if matches!(source, Source::Rows) {
            varying.push(key);
        }
        layout.push((name, matches!(key, DtoKey::Raw(_)), source));
    }
    let mut out: Vec<u8> = Vec::with_capacity(rows.len() * (8 + 24 * varying.len()) + 2);
    out.push(b'[');
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.push(b'[');
        for (j, key) in varying.iter().enumerate() {
            if j > 0 {
                out.push(b',');
            }
            write_cell(entity, *key, row, &mut out)?;
        }
        out.push(b']');
    }
    out.push(b']');
    // Any growth for what the answer puts in front of the rows
    // (Outcome::into_answer: the changes, which list every id, and the
    // columns) happens here, while the statement still runs.
    let ids: usize = rows
        .iter()
        .filter_map(|r| get(r, "id").and_then(|f| f.text.as_deref()))
        .map(|id| id.len() + 3)
        .sum();
    out.reserve(ids + layout.len() * 80 + 64);
    Ok((layout, into_text(out)?))
}

fn into_text(bytes: Vec<u8>) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| Error::unexpected(format!("DTO text: {e}")))
}

/// One cell of a row's DTO ([`dto_cells`]): the value of `key` (one of the
/// entity's, [`dto_keys`]) as JSON text.
fn write_cell(entity: &'static Entity, key: DtoKey, row: &Row, out: &mut Vec<u8>) -> Result<()> {
    let json = |e: serde_json::Error| Error::unexpected(format!("DTO text: {e}"));
    // A number as jsonb holds it: Postgres' text, read as `serde_json` reads jsonb.
    let number = |d: Decimal, out: &mut Vec<u8>| -> Result<()> {
        let v: Value = serde_json::from_str(&d.to_string()).map_err(json)?;
        serde_json::to_writer(out, &v).map_err(json)
    };
    match key {
        DtoKey::Column(col) => {
            let given = get(row, col.name).and_then(|f| f.text.as_deref());
            match (col.kind, given.or(col.default)) {
                (Kind::Timestamp, _) if matches!(col.name, "created_at" | "updated_at") => {
                    return Err(Error::unexpected(format!(
                        "{}.{} is the statement's now()",
                        entity.name, col.name
                    )))
                }
                (_, None) => out.extend_from_slice(b"null"),
                (Kind::Text, Some(t)) => serde_json::to_writer(&mut *out, t).map_err(json)?,
                (Kind::Numeric, Some(_)) => match stored_quantity(row, col)? {
                    Some(d) => number(d, out)?,
                    None => out.extend_from_slice(b"null"),
                },
                // As dto_from_input: parsed as jsonb's text would be, then written.
                (Kind::Int | Kind::Bool | Kind::Json, Some(t)) => {
                    let v: Value = serde_json::from_str(t)
                        .map_err(|e| Error::unexpected(format!("{} value {t}: {e}", col.name)))?;
                    serde_json::to_writer(&mut *out, &v).map_err(json)?
                }
                (Kind::Timestamp, Some(_)) => {
                    return Err(Error::unexpected(format!(
                        "{}.{} is not built from input",
                        entity.name, col.name
                    )))
                }
            }
        }
        DtoKey::Raw(col) => match stored_quantity(row, col)? {
            Some(d) => serde_json::to_writer(&mut *out, &d.to_string()).map_err(json)?,
            None => out.extend_from_slice(b"null"),
        },
        DtoKey::Available => {
            let value = |name: &str| {
                entity
                    .column(name)
                    .map(|c| stored_quantity(row, c))
                    .transpose()
                    .map(Option::flatten)
            };
            match (value("stocked_quantity")?, value("reserved_quantity")?) {
                // Postgres' difference keeps the larger scale, as Decimal's does.
                (Some(s), Some(r)) => number(s - r, out)?,
                _ => out.extend_from_slice(b"null"),
            }
        }
    }
    Ok(())
}

/// The DTO of an inserted `row` as [`dto`] renders it, `now` being the
/// statement's timestamp: the `serde_json` value [`dtos_text`] writes as text
/// (the tests hold the two equal).
#[cfg(test)]
fn dto_from_input(entity: &'static Entity, row: &Row, now: &Value) -> Result<Value> {
    if let Some(c) = entity.computed.iter().find(|c| c.default) {
        return Err(Error::unexpected(format!(
            "{}.{} is not built from input",
            entity.name, c.name
        )));
    }
    let mut map = serde_json::Map::new();
    for col in entity.columns {
        let given = get(row, col.name).and_then(|f| f.text.as_deref());
        let value = match (col.kind, given.or(col.default)) {
            (Kind::Timestamp, _) if matches!(col.name, "created_at" | "updated_at") => now.clone(),
            (_, None) => Value::Null,
            (Kind::Text, Some(t)) => Value::String(t.to_string()),
            // Validated input (an i64 rendered, `true`/`false`, an object's JSON)
            // or a default of the same kinds: parsed as jsonb's text would be.
            (Kind::Int | Kind::Bool | Kind::Json, Some(t)) => serde_json::from_str(t)
                .map_err(|e| Error::unexpected(format!("{} value {t}: {e}", col.name)))?,
            // Only [`dto`] knows these (quantities' scale, set timestamps).
            (Kind::Numeric | Kind::Timestamp, Some(_)) => {
                return Err(Error::unexpected(format!(
                    "{}.{} is not built from input",
                    entity.name, col.name
                )))
            }
        };
        map.insert(col.name.to_string(), value);
    }
    Ok(Value::Object(map))
}

/// SET clause for an update of the given fields, metadata merged as Medusa does
/// (keys set to "" are removed). Returns None when nothing is to be set.
pub(crate) fn set_clause(row: &Row, skip: &[&str], params: &mut Params) -> String {
    let mut sets = set_terms(row, skip, params);
    sets.push("updated_at = now()".into());
    sets.join(", ")
}

/// [`set_clause`]'s terms, without `updated_at`.
pub(crate) fn set_terms(row: &Row, skip: &[&str], params: &mut Params) -> Vec<String> {
    let mut sets = Vec::new();
    for f in row {
        if skip.contains(&f.name) {
            continue;
        }
        let p = params.push(f.text.clone());
        let expr = match f.kind {
            Kind::Text => format!("{p}::text"),
            Kind::Numeric => format!("trim_scale({p}::text::numeric)"),
            Kind::Json if f.name == "metadata" => format!(
                "CASE WHEN {p}::text IS NULL THEN NULL ELSE coalesce((SELECT jsonb_object_agg(e.key, e.value) FROM jsonb_each(coalesce(t.metadata, '{{}}'::jsonb) || {p}::text::jsonb) e WHERE e.value <> '\"\"'::jsonb), '{{}}'::jsonb) END"
            ),
            k => format!("{p}::text::{}", k.sql_type()),
        };
        sets.push(format!("{} = {expr}", f.name));
        if f.kind == Kind::Numeric {
            sets.push(format!("raw_{} = {}", f.name, raw_of(&expr)));
        }
    }
    sets
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entity::INVENTORY_ITEM;
    use crate::input::{parse_input, shape, InputSpec};
    use serde_json::json;

    /// The DTO text written straight equals `serde_json`'s text of the values
    /// the maps path built, byte for byte, for every kind of column and for
    /// strings `serde_json` escapes.
    #[test]
    fn dto_text_is_the_maps_text() {
        let spec = InputSpec::create(&INVENTORY_ITEM);
        let inputs = [
            json!({ "sku": "a" }),
            json!({ "id": "iitem_given", "sku": "q\"uo\\te\n\t\u{1}\u{7f}é😀", "title": "</script>" }),
            json!({ "title": "t", "weight": 10, "length": -3, "height": 0, "width": 2147483647,
                    "requires_shipping": false, "origin_country": "dk", "hs_code": "h", "mid_code": "m",
                    "material": "wool", "unit_of_measure": "kg", "description": "d", "thumbnail": "x.png",
                    "metadata": { "z": 1.5, "a": [1, "b", null, { "y": true, "b": {} }], "m": "é\"" } }),
            json!({ "sku": null, "title": null, "metadata": null, "requires_shipping": true }),
        ];
        let rows: Vec<Row> = inputs
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let mut row = parse_input(&spec, v, Some(i)).unwrap();
                if get(&row, "id").is_none() {
                    row.push(crate::input::FieldValue {
                        name: "id",
                        kind: Kind::Text,
                        text: Some(format!("iitem_{i:026}")),
                        typed: crate::input::Typed::Untyped,
                    });
                }
                row
            })
            .collect();
        // now() as Postgres renders it, with and without fractions of a second.
        for (now, was_array) in [
            (json!("2026-12-07T00:01:02.345678+00:00"), true),
            (json!("2026-12-07T00:01:02+05:30"), true),
            (json!("2026-12-07T00:01:02.3+00:00"), false),
        ] {
            let values = rows
                .iter()
                .map(|r| dto_from_input(&INVENTORY_ITEM, r, &now).unwrap())
                .collect();
            let maps = shape(values, was_array).to_string();
            assert_eq!(
                dtos_text(&INVENTORY_ITEM, &rows, &now, was_array).unwrap(),
                maps
            );
        }
        let now = json!("2026-12-07T00:01:02.345678+00:00");
        assert_eq!(dtos_text(&INVENTORY_ITEM, &[], &now, true).unwrap(), "[]");
        assert_eq!(
            dtos_text(&INVENTORY_ITEM, &[], &now, false).unwrap(),
            "null"
        );
    }

    /// A level's DTO text: quantities as `trim_scale` stores them and jsonb
    /// renders them, read as `serde_json` reads jsonb; raw twins; the default
    /// reserved quantity; available = stocked - reserved.
    #[test]
    fn level_dto_text_renders_quantities_as_postgres_stores_them() {
        let spec = InputSpec::create(&crate::entity::INVENTORY_LEVEL);
        let input = json!({ "id": "ilev_1", "inventory_item_id": "i", "location_id": "l",
                            "stocked_quantity": "2.50", "incoming_quantity": "9999999999999999999999999999" });
        let row = parse_input(&spec, &input, None).unwrap();
        let now = json!("2026-12-07T00:01:02.345678+00:00");
        let text = dtos_text(&crate::entity::INVENTORY_LEVEL, &[row], &now, false).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"available_quantity":2.5,"created_at":"2026-12-07T00:01:02.345678+00:00","deleted_at":null,"#,
                r#""id":"ilev_1","incoming_quantity":1e+28,"inventory_item_id":"i","location_id":"l","metadata":null,"#,
                r#""raw_incoming_quantity":{"precision":20,"value":"9999999999999999999999999999"},"#,
                r#""raw_reserved_quantity":{"precision":20,"value":"0"},"#,
                r#""raw_stocked_quantity":{"precision":20,"value":"2.5"},"reserved_quantity":0,"#,
                r#""stocked_quantity":2.5,"updated_at":"2026-12-07T00:01:02.345678+00:00"}"#
            )
        );
    }
}
