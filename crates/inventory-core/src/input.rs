//! Call input: validation of one create or update input object into a typed
//! row, following the entity description (entity.rs), and Medusa's
//! one-or-many / id selector shapes.

use crate::entity::{Column, Entity, Input, Kind};
use crate::error::{Error, Result};
use crate::quantity::parse_quantity;
use crate::sql::scalar_text;
use rust_decimal::Decimal;
use serde_json::{Map, Value};

/// What a create or update may carry for one entity: the entity's columns'
/// `create` or `update` rules.
#[derive(Debug)]
pub(crate) struct InputSpec {
    pub(crate) entity: &'static Entity,
    update: bool,
}

impl InputSpec {
    pub(crate) const fn create(entity: &'static Entity) -> Self {
        InputSpec {
            entity,
            update: false,
        }
    }
    pub(crate) const fn update(entity: &'static Entity) -> Self {
        InputSpec {
            entity,
            update: true,
        }
    }
    fn rule(&self, col: &Column) -> Input {
        if self.update {
            col.update
        } else {
            col.create
        }
    }
}

/// One validated field value, rendered as text for a `::type` cast in SQL,
/// and kept typed where Rust decides on it (quantities, booleans).
#[derive(Debug, Clone)]
pub(crate) struct FieldValue {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    pub(crate) text: Option<String>,
    pub(crate) typed: Typed,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Typed {
    /// Null, or a kind only SQL reads.
    Untyped,
    Quantity(Decimal),
    Flag(bool),
}

pub(crate) type Row = Vec<FieldValue>;

pub(crate) fn get<'a>(row: &'a Row, name: &str) -> Option<&'a FieldValue> {
    row.iter().find(|f| f.name == name)
}

pub(crate) fn get_text(row: &Row, name: &str) -> Option<String> {
    get(row, name).and_then(|f| f.text.clone())
}

/// Whether some row gives field `name` a value (not null): where none does, a
/// create stores the column's default in every row.
pub(crate) fn given_by_any(rows: &[Row], name: &str) -> bool {
    rows.iter()
        .any(|r| get(r, name).is_some_and(|f| f.text.is_some()))
}

/// A numeric field's value, when given and not null.
pub(crate) fn get_quantity(row: &Row, name: &str) -> Option<Decimal> {
    match get(row, name)?.typed {
        Typed::Quantity(d) => Some(d),
        _ => None,
    }
}

/// A boolean field's value, when given and not null.
pub(crate) fn get_flag(row: &Row, name: &str) -> Option<bool> {
    match get(row, name)?.typed {
        Typed::Flag(b) => Some(b),
        _ => None,
    }
}

/// Validates one input object: unknown fields, wrong types, bad quantities and
/// missing required fields are rejected naming the field.
pub(crate) fn parse_input(spec: &InputSpec, v: &Value, index: Option<usize>) -> Result<Row> {
    let ctx = |msg: String| match index {
        Some(i) => Error::invalid(format!("{msg} (at index {i})")),
        None => Error::invalid(msg),
    };
    let obj: &Map<String, Value> = v
        .as_object()
        .ok_or_else(|| ctx(format!("{} input must be an object", spec.entity.name)))?;
    let mut row = Row::new();
    for (k, val) in obj {
        if spec.entity.ignored.contains(&k.as_str()) {
            continue;
        }
        let Some(col) = spec.entity.column(k).filter(|c| spec.rule(c) != Input::No) else {
            return Err(ctx(format!("Unknown field '{k}' for {}", spec.entity.name)));
        };
        row.push(field_value(spec, col, val).map_err(|e| ctx(e.message))?);
    }
    for c in spec.entity.columns {
        if spec.rule(c) == Input::Required && get(&row, c.name).is_none() {
            return Err(ctx(format!("{} is required", c.name)));
        }
    }
    Ok(row)
}

/// One field's value, checked against its column's kind and input rule.
fn field_value(spec: &InputSpec, col: &Column, val: &Value) -> Result<FieldValue> {
    let (k, rule) = (col.name, spec.rule(col));
    let mut typed = Typed::Untyped;
    let text = match (col.kind, val) {
        (_, Value::Null) => {
            if matches!(rule, Input::Required | Input::NotNull) {
                return Err(Error::invalid(format!("{k} must not be null")));
            }
            None
        }
        (Kind::Numeric, _) => {
            let d = parse_quantity(val, k, spec.entity.numeric_rule)?;
            typed = Typed::Quantity(d);
            Some(d.to_string())
        }
        (Kind::Bool, Value::Bool(b)) => {
            typed = Typed::Flag(*b);
            Some(b.to_string())
        }
        (Kind::Json, Value::Object(_)) => {
            let text = val.to_string();
            crate::limits::check_metadata(k, &text)?;
            Some(text)
        }
        (Kind::Json, _) => return Err(Error::invalid(format!("{k} must be an object"))),
        (Kind::Text, Value::String(s)) if rule == Input::Required && s.is_empty() => {
            return Err(Error::invalid(format!("{k} must not be empty")))
        }
        (Kind::Text, Value::String(s)) => {
            crate::limits::check_text(k, s)?;
            Some(s.clone())
        }
        (kind, _) => Some(scalar_text(val, kind, k)?),
    };
    Ok(FieldValue {
        name: col.name,
        kind: col.kind,
        text,
        typed,
    })
}

/// Accepts one object or an array of them; reports whether the input was an array.
pub(crate) fn one_or_many(v: &Value) -> (Vec<&Value>, bool) {
    match v {
        Value::Array(a) => (a.iter().collect(), true),
        other => (vec![other], false),
    }
}

pub(crate) fn shape(values: Vec<Value>, was_array: bool) -> Value {
    if was_array {
        Value::Array(values)
    } else {
        values.into_iter().next().unwrap_or(Value::Null)
    }
}

/// `string | string[]` arguments and filters (line items, locations, ledger columns).
pub(crate) fn strings_of(v: &Value, name: &str) -> Result<Vec<String>> {
    let bad = || Error::invalid(format!("{name} must be a string or an array of strings"));
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        _ => Err(bad()),
    }
}

/// Ids from Medusa's `string | string[] | { id: ... }` selector shapes.
pub(crate) fn ids_of(v: &Value, what: &str) -> Result<Vec<String>> {
    let bad = || Error::invalid(format!("{what} must be an id or an array of ids"));
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a
            .iter()
            .map(|x| x.as_str().map(str::to_string).ok_or_else(bad))
            .collect(),
        Value::Object(o) if o.len() == 1 && o.contains_key("id") => ids_of(&o["id"], what),
        _ => Err(bad()),
    }
}
