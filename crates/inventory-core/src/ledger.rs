//! The movement ledger (`inventory_movement`, a table of this module's own):
//! one row per change of a level's stocked, reserved or incoming quantity,
//! with why (reason), who (actor), what for (reference, reservation, line
//! item) and the idempotency key of the call. Every write path adds its rows
//! in the statement or transaction that moves the level, while it holds the
//! level's lock, so for every level each quantity equals the sum of its
//! deltas (verifyInventoryLedger, movements.rs, checks exactly that).
//! A level's quantities change in place only through [`LevelChange`], which
//! writes the UPDATE and its movement rows in one statement; levels that
//! appear or go whole record theirs with [`record`].
//!
//! Also here: [`Audit`], the who/why of one call, and the options a caller
//! passes with a write (`CallOptions`).

use crate::error::{Error, Result};
use crate::limits::{check_metadata, check_text};
use crate::quantity::{parse_quantity, Rule};
use crate::sql::Params;
use crate::write::raw_of;
use rust_decimal::Decimal;
use serde_json::Value;

/// What a caller may pass with a call (the standalone API's trailing options
/// argument; in Medusa, the shared context's `inventory`).
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct CallOptions {
    pub reason: Option<String>,
    pub actor: Option<String>,
    pub reference: Option<String>,
    pub idempotency_key: Option<String>,
    /// Text of a JSON object.
    pub metadata: Option<String>,
    /// Compare-and-set for adjustInventory's positional form.
    pub expected_stocked_quantity: Option<Decimal>,
}

const OPTION_NAMES: [&str; 6] = [
    "reason",
    "actor",
    "reference",
    "idempotencyKey",
    "metadata",
    "expectedStockedQuantity",
];

/// Longest reason, actor, reference or idempotency key, in bytes (keys are
/// indexed: a btree entry must stay well under its 2 704-byte limit).
pub const MAX_LABEL: usize = 1_000;

impl CallOptions {
    /// `{ reason?, actor?, reference?, idempotencyKey?, metadata?, expectedStockedQuantity? }`;
    /// null or absent is no options.
    pub(crate) fn from_json(v: &Value) -> Result<Self> {
        let mut o = CallOptions::default();
        let obj = match v {
            Value::Null => return Ok(o),
            Value::Object(obj) => obj,
            _ => return Err(Error::invalid("call options must be an object")),
        };
        for (k, val) in obj {
            if val.is_null() && OPTION_NAMES.contains(&k.as_str()) {
                continue;
            }
            let text = |val: &Value| -> Result<String> {
                let s = val
                    .as_str()
                    .ok_or_else(|| Error::invalid(format!("call option {k} must be a string")))?;
                if s.is_empty() || s.len() > MAX_LABEL {
                    return Err(Error::invalid(format!(
                        "call option {k} must be 1 to {MAX_LABEL} bytes"
                    )));
                }
                if s.contains('\0') {
                    return Err(Error::invalid(format!(
                        "call option {k} must not contain NUL (\\u0000) characters"
                    )));
                }
                check_text(k, s)?;
                Ok(s.to_string())
            };
            match k.as_str() {
                "reason" => o.reason = Some(text(val)?),
                "actor" => o.actor = Some(text(val)?),
                "reference" => o.reference = Some(text(val)?),
                "idempotencyKey" => o.idempotency_key = Some(text(val)?),
                "metadata" => {
                    if !val.is_object() {
                        return Err(Error::invalid("call option metadata must be an object"));
                    }
                    // Postgres' jsonb cannot hold U+0000, in a key or a value, at any depth.
                    if crate::limits::has_nul(val) {
                        return Err(Error::invalid(
                            "call option metadata must not contain NUL (\\u0000) characters",
                        ));
                    }
                    let s = val.to_string();
                    check_metadata("metadata", &s)?;
                    o.metadata = Some(s);
                }
                "expectedStockedQuantity" => {
                    o.expected_stocked_quantity =
                        Some(parse_quantity(val, "expectedStockedQuantity", Rule::Any)?)
                }
                _ => return Err(Error::invalid(format!("Unknown call option '{k}'"))),
            }
        }
        Ok(o)
    }
}

/// The who and why of one call, as its movement rows carry it.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    pub method: &'static str,
    pub options: CallOptions,
    /// The method and arguments as JSON, when the call has an idempotency key.
    pub request: Option<String>,
    reason: String,
    /// The ledger is on (connect option `ledger`, default true).
    enabled: bool,
    /// Seconds an idempotency key is kept (connect option `idempotencyKeyTtl`).
    pub(crate) ttl_seconds: i64,
}

impl Audit {
    /// `default_reason`: the method's own (its manifest entry), for when the
    /// caller names none.
    pub(crate) fn new(
        method: &'static str,
        default_reason: &str,
        options: CallOptions,
        enabled: bool,
        ttl_seconds: i64,
    ) -> Self {
        let reason = options
            .reason
            .clone()
            .unwrap_or_else(|| default_reason.to_string());
        Audit {
            method,
            options,
            request: None,
            reason,
            enabled,
            ttl_seconds,
        }
    }

    /// A call the module makes on its own (reconcile, migrations).
    pub(crate) fn internal(method: &'static str, reason: &str, enabled: bool) -> Self {
        Audit::new(method, reason, CallOptions::default(), enabled, 1)
    }

    pub(crate) fn key(&self) -> Option<&str> {
        self.options.idempotency_key.as_deref()
    }

    /// Binds this call's parameters of a movement INSERT in `params`; returns
    /// the number of the first (the rest follow it).
    fn bind(&self, params: &mut Params) -> usize {
        let first = params.0.len() + 1;
        params.push(self.reason.clone());
        params.push(self.method.to_string());
        params.push(self.options.actor.clone());
        params.push(self.options.reference.clone());
        params.push(self.options.idempotency_key.clone());
        params.push(self.options.metadata.clone());
        params.push(self.enabled);
        first
    }
}

const COLUMNS: &str = "inventory_level_id, inventory_item_id, location_id, field, delta, resulting,
     reservation_item_id, line_item_id, reason, method, actor, reference, idempotency_key, metadata";

/// The INSERT of the movement rows `source` yields, columns (level_id, item,
/// loc, field, delta, resulting, reservation_item_id, line_item_id), stamped
/// with the call's audit, whose values it binds in `params`. Rows whose delta
/// is zero or NULL (a quantity the change left alone) are not written.
pub(crate) fn record(source: &str, params: &mut Params, audit: &Audit) -> String {
    let first = audit.bind(params);
    let p = |i: usize| format!("${}", first + i);
    format!(
        "INSERT INTO inventory_movement ({COLUMNS})
         SELECT s.level_id, s.item, s.loc, s.field, s.delta, s.resulting, s.reservation_item_id,
                s.line_item_id, {}::text, {}::text, {}::text, {}::text, {}::text, {}::text::jsonb
         FROM ({source}) s WHERE s.delta <> 0 AND {}::bool",
        p(0),
        p(1),
        p(2),
        p(3),
        p(4),
        p(5),
        p(6)
    )
}

/// [`record`] for a statement that writes the movements of several calls,
/// each with its own audit: `source` rows carry `call_no`, the call's
/// 1-based position in `audits`, whose values are bound in `params` as
/// arrays (one element per call). The reservation engine's groups.
pub(crate) fn record_by_call(source: &str, params: &mut Params, audits: &[&Audit]) -> String {
    let mut each = |f: &dyn Fn(&Audit) -> Option<String>| {
        params.push(audits.iter().map(|a| f(a)).collect::<Vec<_>>())
    };
    let reason = each(&|a| Some(a.reason.clone()));
    let method = each(&|a| Some(a.method.to_string()));
    let actor = each(&|a| a.options.actor.clone());
    let reference = each(&|a| a.options.reference.clone());
    let key = each(&|a| a.options.idempotency_key.clone());
    let metadata = each(&|a| a.options.metadata.clone());
    let enabled = params.push(audits.iter().map(|a| a.enabled).collect::<Vec<_>>());
    format!(
        "INSERT INTO inventory_movement ({COLUMNS})
         SELECT s.level_id, s.item, s.loc, s.field, s.delta, s.resulting, s.reservation_item_id,
                s.line_item_id, a.reason, a.method, a.actor, a.reference, a.key, a.metadata::jsonb
         FROM ({source}) s
         JOIN unnest({reason}::text[], {method}::text[], {actor}::text[], {reference}::text[], {key}::text[],
                     {metadata}::text[], {enabled}::bool[])
              WITH ORDINALITY AS a(reason, method, actor, reference, key, metadata, enabled, call_no)
           ON a.call_no = s.call_no
         WHERE s.delta <> 0 AND a.enabled
         ORDER BY s.call_no, s.level_id"
    )
}

/// The SET terms that give a level's `quantity` the value `new` (SQL over the
/// row before the change): the column, its raw copy, and updated_at.
pub(crate) fn set_quantity(quantity: Quantity, new: &str) -> String {
    format!("{}, updated_at = now()", quantity_terms(quantity, new))
}

/// A quantity of a level: its column, with a `raw_*` copy beside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quantity {
    Stocked,
    Reserved,
    Incoming,
}

impl Quantity {
    pub(crate) fn column(self) -> &'static str {
        match self {
            Quantity::Stocked => "stocked_quantity",
            Quantity::Reserved => "reserved_quantity",
            Quantity::Incoming => "incoming_quantity",
        }
    }
}

/// `column = new` and its raw copy.
fn quantity_terms(quantity: Quantity, new: &str) -> String {
    let col = quantity.column();
    format!("{col} = {new}, raw_{col} = {}", raw_of(new))
}

/// One quantity a [`LevelChange`] sets: its value before (SQL over the
/// source rows) and after (over the level `t` before the change, and the source).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Moved<'a> {
    pub quantity: Quantity,
    pub old: &'a str,
    pub new: &'a str,
}

/// A change of levels' quantities with its movement rows, as two CTEs of one
/// statement: `{name}`, the UPDATE of `inventory_level t` from `from` where
/// `filter`, and `{name}_mv`, the INSERT of one movement per quantity moved
/// (see [`record`]). Every statement that changes a level's quantities in
/// place builds them here. `{name}` returns per level changed: id, item, loc,
/// `old_<q>`/`new_<q>` for each quantity set (`q` the column's first letter),
/// reservation_item_id, line_item_id, and the columns of `returning`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LevelChange<'a> {
    pub name: &'a str,
    pub from: &'a str,
    pub filter: &'a str,
    pub moves: &'a [Moved<'a>],
    /// More SET terms (`deleted_at = ...`), comma-separated, or "".
    pub also_set: &'a str,
    /// The one reservation and line item that moved a level (SQL over the
    /// source, `NULL` when none): what its movement rows name.
    pub reservation: &'a str,
    pub line_item: &'a str,
    /// More RETURNING columns (each preceded by a comma), or "".
    pub returning: &'a str,
}

impl LevelChange<'_> {
    /// The two CTEs (`{name} AS (...), {name}_mv AS (...)`); the movements'
    /// audit values are bound in `params`. A change that moves no quantity
    /// (a level update that sets only metadata) is the UPDATE alone.
    pub(crate) fn sql(&self, params: &mut Params, audit: &Audit) -> String {
        let name = self.name;
        let letter = |m: &Moved<'_>| &m.quantity.column()[..1];
        let mut sets: Vec<String> = Vec::new();
        if !self.also_set.is_empty() {
            sets.push(self.also_set.to_string());
        }
        sets.extend(self.moves.iter().map(|m| quantity_terms(m.quantity, m.new)));
        sets.push("updated_at = now()".to_string());
        let olds: String = self
            .moves
            .iter()
            .map(|m| {
                let q = letter(m);
                format!(
                    ", {} AS old_{q}, t.{} AS new_{q}",
                    m.old,
                    m.quantity.column()
                )
            })
            .collect();
        let update = format!(
            "{name} AS (
               UPDATE inventory_level t SET {sets}
               FROM {from} WHERE {filter}
               RETURNING t.id, t.inventory_item_id AS item, t.location_id AS loc{olds},
                         {res} AS reservation_item_id, {line} AS line_item_id{returning})",
            sets = sets.join(", "),
            from = self.from,
            filter = self.filter,
            res = self.reservation,
            line = self.line_item,
            returning = self.returning,
        );
        if self.moves.is_empty() {
            return update;
        }
        let moved: Vec<Quantity> = self.moves.iter().map(|m| m.quantity).collect();
        let rows = movement_rows(&format!("{name} c"), "c.id", &moved);
        format!(
            "{update},
             {name}_mv AS ({})",
            record(&rows, params, audit)
        )
    }
}

/// Rows of (level_id, item, loc, field, delta, resulting, reservation_item_id,
/// line_item_id), one per quantity of `moved` for each row of `from` (a table
/// or subquery aliased `c`, with `item`, `loc`, `old_<q>` and `new_<q>` per
/// quantity, `q` its column's first letter, `reservation_item_id` and
/// `line_item_id`; `level_id` names the level's id in it). One quantity is a
/// projection of each row: a LATERAL VALUES of one row per level was a nested
/// loop that cost 1.2 ms of a 1000-level create's 17.5 (EXPLAIN ANALYZE).
fn movement_rows(from: &str, level_id: &str, moved: &[Quantity]) -> String {
    let terms = |q: Quantity| {
        let l = &q.column()[..1];
        [
            format!("'{}'", q.column()),
            format!("c.new_{l}::numeric - c.old_{l}::numeric"),
            format!("c.new_{l}::numeric"),
        ]
    };
    let (values, lateral) = match moved {
        // Nothing moves: a delta of 0, which record() drops.
        [] => (
            "NULL::text AS field, 0::numeric AS delta, 0::numeric AS resulting".to_string(),
            String::new(),
        ),
        [one] => {
            let [field, delta, resulting] = terms(*one);
            let values = format!("{field} AS field, {delta} AS delta, {resulting} AS resulting");
            (values, String::new())
        }
        _ => {
            let rows: Vec<String> = moved
                .iter()
                .map(|q| format!("({})", terms(*q).join(", ")))
                .collect();
            let lateral = format!(
                ", LATERAL (VALUES {}) v(field, delta, resulting)",
                rows.join(", ")
            );
            ("v.field, v.delta, v.resulting".to_string(), lateral)
        }
    };
    format!(
        "SELECT {level_id} AS level_id, c.item, c.loc, {values},
                c.reservation_item_id, c.line_item_id
         FROM {from}{lateral}"
    )
}

/// Movement rows from one row per level with each quantity's value before and
/// after (`src` columns: level_id, item, loc, old_s, new_s, old_r, new_r,
/// old_i, new_i, reservation_item_id, line_item_id), for the quantities of
/// `moved` (the others do not move).
pub(crate) fn pivot(src: &str, moved: &[Quantity]) -> String {
    movement_rows(&format!("({src}) c"), "c.level_id", moved)
}

/// Every quantity a level has.
pub(crate) const ALL_QUANTITIES: [Quantity; 3] =
    [Quantity::Stocked, Quantity::Reserved, Quantity::Incoming];

/// The columns of a level that [`whole_levels`] reads.
pub(crate) const WHOLE_LEVEL_COLUMNS: &str =
    "id, inventory_item_id, location_id, stocked_quantity, reserved_quantity, incoming_quantity";

/// `src` rows for whole levels of alias `l` appearing (`opening`: from 0 to
/// their values) or going away (from their values to 0); `l` has the
/// columns of [`WHOLE_LEVEL_COLUMNS`].
pub(crate) fn whole_levels(l: &str, opening: bool) -> String {
    let pair = |col: &str, q: char| {
        let v = format!("{l}.{col}");
        let (old, new) = if opening {
            ("0", v.as_str())
        } else {
            (v.as_str(), "0")
        };
        format!("{old} AS old_{q}, {new} AS new_{q}")
    };
    format!(
        "{l}.id AS level_id, {l}.inventory_item_id AS item, {l}.location_id AS loc, {}, {}, {},
         NULL::text AS reservation_item_id, NULL::text AS line_item_id",
        pair("stocked_quantity", 's'),
        pair("reserved_quantity", 'r'),
        pair("incoming_quantity", 'i'),
    )
}

/// Per level of `d` (grouping the reservations `r`: id, line), the one
/// reservation and the one line item that moved it, if only one did: what its
/// movement row names. Aggregated with the level's sum rather than looked up
/// per level afterwards, which cost two subplans per statement.
pub(crate) const NAMED_BY_ONE: &str = "CASE WHEN count(*) = 1 THEN min(id) END AS res,
    CASE WHEN count(*) = count(line) AND count(DISTINCT line) = 1 THEN min(line) END AS line";

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn options_are_checked_and_named() {
        assert_eq!(
            CallOptions::from_json(&Value::Null).unwrap(),
            CallOptions::default()
        );
        let o = CallOptions::from_json(
            &json!({ "reason": "damaged", "idempotencyKey": "k1", "metadata": { "a": 1 } }),
        )
        .unwrap();
        assert_eq!(o.reason.as_deref(), Some("damaged"));
        assert_eq!(o.metadata.as_deref(), Some("{\"a\":1}"));
        for bad in [
            json!({ "reason": 5 }),
            json!({ "nope": 1 }),
            json!({ "reason": "" }),
            json!([1]),
        ] {
            assert_eq!(
                CallOptions::from_json(&bad).unwrap_err().kind,
                crate::ErrorType::InvalidData
            );
        }
        let e = CallOptions::from_json(&json!({ "actor": "x".repeat(MAX_LABEL + 1) })).unwrap_err();
        assert!(e.message.contains("actor"), "{}", e.message);
    }

    #[test]
    fn whole_levels_names_old_and_new() {
        let s = whole_levels("l", true);
        assert!(s.contains("0 AS old_s, l.stocked_quantity AS new_s"), "{s}");
        let s = whole_levels("l", false);
        assert!(
            s.contains("l.reserved_quantity AS old_r, 0 AS new_r"),
            "{s}"
        );
    }

    #[test]
    fn level_change_binds_its_audit_and_records_each_moved_quantity() {
        let audit = Audit::internal("reconcile", "reconcile", true);
        let mut params = Params::default();
        params.push("level".to_string());
        let change = LevelChange {
            name: "u",
            from: "s",
            filter: "t.id = s.id",
            moves: &[Moved {
                quantity: Quantity::Stocked,
                old: "s.old",
                new: "s.new",
            }],
            also_set: "",
            reservation: "NULL::text",
            line_item: "NULL::text",
            returning: ", s.n",
        };
        let sql = change.sql(&mut params, &audit);
        assert_eq!(params.0.len(), 1 + 7, "{sql}");
        assert!(
            sql.contains("stocked_quantity = s.new, raw_stocked_quantity = jsonb_build_object"),
            "{sql}"
        );
        assert!(
            sql.contains("$2::text") && sql.contains("$8::bool"),
            "{sql}"
        );
        assert!(
            sql.contains("u_mv AS (INSERT INTO inventory_movement"),
            "{sql}"
        );
        assert!(!sql.contains("reserved_quantity"), "{sql}");
        // A change that moves no quantity is the UPDATE alone, and binds nothing.
        let mut none = Params::default();
        let sql = LevelChange {
            moves: &[],
            ..change
        }
        .sql(&mut none, &audit);
        assert!(none.0.is_empty(), "{sql}");
        assert!(!sql.contains("inventory_movement"), "{sql}");
    }
}
