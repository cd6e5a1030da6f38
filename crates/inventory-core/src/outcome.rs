//! What a call returns: its Medusa-shaped result and the changes (events) it
//! made. Below every entity module; depends on nothing in the crate.

use serde_json::value::RawValue;
use serde_json::Value;
use std::borrow::Cow;

/// One kind of change a call made, for Medusa's events (`inventory.<object>.<action>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub object: &'static str,
    pub action: &'static str,
    pub ids: Vec<String>,
}

/// What a call returns: the Medusa-shaped result, and what it changed once committed.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    result: Body,
    pub changes: Vec<Change>,
}

/// A result built in Rust, JSON text as Postgres wrote it (a list page), or
/// DTOs written as a table (a create): text is passed on as it came, rather
/// than parsed into a Value only to be written out again, which was most of a
/// 50-row list's time in the addon.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Value(Value),
    Text(String),
    Table(Table),
}

/// DTOs of one entity as rows of cells: what a bulk create returns. A key
/// whose value is the same in every DTO (a default no row gave, the
/// statement's timestamp) is written once, in its column; the rows hold the
/// others' cells. The host may take it as it is (an answer's `columns` and
/// `rows`): Node parses 1000 short arrays in a fraction of the time it takes
/// for 1000 objects that repeat every key and every default. Anyone else gets
/// the objects, written from the table.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Table {
    /// The DTO's keys in the order its objects have them (sorted, as
    /// `serde_json` writes a map).
    pub columns: Vec<TableColumn>,
    /// JSON text `[[cell, …], …]`, one array per DTO, a cell for each column
    /// without a `same` value, in `columns`' order.
    pub rows: String,
    /// The result is the first DTO (or null) rather than the array.
    pub one: bool,
}

/// A key of a [`Table`]'s DTOs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TableColumn {
    /// An entity's identifier: nothing to escape.
    pub name: String,
    /// The value is a BigNumber's raw twin: `{"precision":20,"value":<cell>}`.
    pub raw: bool,
    /// The cell of every DTO (JSON text of a scalar: never an object that the
    /// host would then share between them), or None: each row has its own.
    pub same: Option<String>,
}

impl Table {
    /// The result as objects' JSON text: `[{…}, …]`, or the one object.
    fn objects(&self) -> String {
        // Written by write.rs, so it parses; if it did not, null, as a Text
        // body that did not parse reads.
        let Ok(rows) = serde_json::from_str::<Vec<Vec<&RawValue>>>(&self.rows) else {
            return "null".into();
        };
        let rows = if self.one {
            &rows[..rows.len().min(1)]
        } else {
            &rows[..]
        };
        if self.one && rows.is_empty() {
            return "null".into();
        }
        let mut out = String::with_capacity(self.rows.len() * 3 + 2);
        if !self.one {
            out.push('[');
        }
        for (i, row) in rows.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('{');
            let mut cells = row.iter();
            for (j, col) in self.columns.iter().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                let cell = match &col.same {
                    Some(text) => text.as_str(),
                    None => cells.next().map_or("null", |c| c.get()),
                };
                out.push('"');
                out.push_str(&col.name);
                out.push_str("\":");
                if col.raw {
                    out.push_str("{\"precision\":20,\"value\":");
                    out.push_str(cell);
                    out.push('}');
                } else {
                    out.push_str(cell);
                }
            }
            out.push('}');
        }
        if !self.one {
            out.push(']');
        }
        out
    }

    /// `head`, then `"columns":[…],"rows":` and the rows. A column is its
    /// name, `["<name>",20]` for a raw twin (the cells are its value), or with
    /// its `same` value `{"name":…,"value":…}` (raw: `{"name":…,"precision":20,
    /// "value":…}`). The rows' own buffer becomes the answer's (see
    /// [`Outcome::into_answer`]).
    fn columns_and_rows(self, head: String) -> String {
        let mut lead = head;
        lead.push_str("\"columns\":[");
        for (i, col) in self.columns.iter().enumerate() {
            if i > 0 {
                lead.push(',');
            }
            let name = &col.name;
            match (&col.same, col.raw) {
                (None, false) => lead.push_str(&format!("\"{name}\"")),
                (None, true) => lead.push_str(&format!("[\"{name}\",20]")),
                (Some(v), false) => {
                    lead.push_str(&format!("{{\"name\":\"{name}\",\"value\":{v}}}"))
                }
                (Some(v), true) => lead.push_str(&format!(
                    "{{\"name\":\"{name}\",\"precision\":20,\"value\":{v}}}"
                )),
            }
        }
        lead.push_str("],\"rows\":");
        let mut out = self.rows;
        out.reserve(lead.len() + 1);
        out.insert_str(0, &lead);
        out.push('}');
        out
    }
}

impl From<Table> for Outcome {
    fn from(table: Table) -> Self {
        Outcome {
            result: Body::Table(table),
            changes: Vec::new(),
        }
    }
}

impl From<Value> for Outcome {
    fn from(result: Value) -> Self {
        Outcome {
            result: Body::Value(result),
            changes: Vec::new(),
        }
    }
}

pub(crate) const ITEM: &str = "inventory_item";
pub(crate) const LEVEL: &str = "inventory_level";
pub(crate) const RESERVATION: &str = "reservation_item";

impl Outcome {
    /// Records a change; empty id lists are dropped.
    pub(crate) fn with(
        mut self,
        object: &'static str,
        action: &'static str,
        ids: Vec<String>,
    ) -> Self {
        if !ids.is_empty() {
            self.changes.push(Change {
                object,
                action,
                ids,
            });
        }
        self
    }

    /// A result that is JSON text Postgres wrote (valid JSON by construction).
    pub(crate) fn from_json_text(text: String) -> Self {
        Outcome {
            result: Body::Text(text),
            changes: Vec::new(),
        }
    }

    /// The result as a Value (parsed, when it is text).
    pub fn result(&self) -> Cow<'_, Value> {
        match &self.result {
            Body::Value(v) => Cow::Borrowed(v),
            Body::Text(t) => Cow::Owned(serde_json::from_str(t).unwrap_or(Value::Null)),
            Body::Table(t) => Cow::Owned(serde_json::from_str(&t.objects()).unwrap_or(Value::Null)),
        }
    }

    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|c| serde_json::json!([c.object, c.action, c.ids]))
            .collect();
        serde_json::json!({ "result": self.result(), "changes": changes })
    }

    /// [`Outcome::to_json`] as text, written straight from `self`: a 1000-row result
    /// is not copied into a second Value first.
    pub fn to_json_string(&self) -> String {
        match &self.result {
            Body::Value(v) => format!("{}{v}}}", self.head(true)),
            Body::Text(t) => format!("{}{t}}}", self.head(true)),
            Body::Table(t) => format!("{}{}}}", self.head(true), t.objects()),
        }
    }

    /// The answer the host receives: [`Outcome::to_json_string`], except that
    /// with `columns` a table's DTOs stay a table, `{"changes":…,"columns":[…],
    /// "rows":[[…],…]}` in place of `"result"` (see [`Table`]). The result
    /// text's own buffer becomes the answer's: a 1000-row result is not copied
    /// into a fresh allocation, whose every page the kernel would first have to
    /// fault in and clear (measured: more time than writing the text).
    pub fn into_answer(self, columns: bool) -> String {
        let as_table = matches!(&self.result, Body::Table(t) if columns && !t.one);
        let head = self.head(!as_table);
        match self.result {
            Body::Value(v) => format!("{head}{v}}}"),
            Body::Text(mut t) => {
                t.reserve(head.len() + 1);
                t.insert_str(0, &head);
                t.push('}');
                t
            }
            Body::Table(t) if as_table => t.columns_and_rows(head),
            Body::Table(t) => format!("{head}{}}}", t.objects()),
        }
    }

    /// The answer's text up to its result (`"result":` when `result`, else up
    /// to the comma after the changes): keys in to_json's (sorted) order, so
    /// both texts are the same. The serialization cannot fail: strings only.
    fn head(&self, result: bool) -> String {
        let changes: Vec<_> = self
            .changes
            .iter()
            .map(|c| (c.object, c.action, &c.ids))
            .collect();
        let changes = serde_json::to_string(&changes).unwrap_or_default();
        let then = if result { "\"result\":" } else { "" };
        format!("{{\"changes\":{changes},{then}")
    }
}

/// The `id`s of a DTO or an array of DTOs.
pub(crate) fn ids_in(v: &Value) -> Vec<String> {
    match v {
        Value::Array(a) => a.iter().flat_map(ids_in).collect(),
        Value::Object(o) => o
            .get("id")
            .and_then(Value::as_str)
            .map(|s| vec![s.to_string()])
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_to_json_as_text() {
        let o = Outcome::from(serde_json::json!([{ "id": "a", "m": { "z": 1.5, "a": "é\"" } }]))
            .with(ITEM, "created", vec!["a".into()])
            .with(LEVEL, "deleted", vec!["b".into(), "c".into()]);
        assert_eq!(o.to_json_string(), o.to_json().to_string());
        let empty = Outcome::from(Value::Null);
        assert_eq!(empty.to_json_string(), empty.to_json().to_string());
        assert_eq!(o.clone().into_answer(false), o.to_json_string());
        assert_eq!(o.clone().into_answer(true), o.to_json_string());
    }

    #[test]
    fn text_result_goes_out_as_written() {
        let text = r#"[{"id": "a", "m": {"z": 1.50, "a": "é\""}}]"#;
        let o = Outcome::from_json_text(text.to_string()).with(ITEM, "updated", vec!["a".into()]);
        assert_eq!(
            o.to_json_string(),
            format!(r#"{{"changes":[["inventory_item","updated",["a"]]],"result":{text}}}"#)
        );
        let parsed: Value = serde_json::from_str(&o.to_json_string()).unwrap();
        assert_eq!(parsed, o.to_json());
        assert_eq!(o.result()[0]["m"]["a"], "é\"");
        assert_eq!(o.clone().into_answer(false), o.to_json_string());
        assert_eq!(o.clone().into_answer(true), o.to_json_string());
        let bare = Outcome::from_json_text(text.to_string());
        assert_eq!(bare.clone().into_answer(false), bare.to_json_string());
    }

    fn table(rows: &str, one: bool) -> Table {
        let col = |name: &str, raw: bool, same: Option<&str>| TableColumn {
            name: name.into(),
            raw,
            same: same.map(String::from),
        };
        Table {
            columns: vec![
                col("a", false, None),
                col("at", false, Some(r#""2026-12-07T00:01:02+00:00""#)),
                col("raw_q", true, None),
                col("raw_z", true, Some(r#""0""#)),
                col("z", false, None),
            ],
            rows: rows.into(),
            one,
        }
    }

    #[test]
    fn a_table_is_objects_unless_columns_are_asked_for() {
        let rows = r#"[[1.5,"2",{"k":[1,"é\""]}],[null,null,"x"]]"#;
        let o = Outcome::from(table(rows, false)).with(LEVEL, "created", vec!["a".into()]);
        let at = "2026-12-07T00:01:02+00:00";
        let zero = serde_json::json!({ "precision": 20, "value": "0" });
        let objects = serde_json::json!([
            { "a": 1.5, "at": at, "raw_q": { "precision": 20, "value": "2" }, "raw_z": zero,
              "z": { "k": [1, "é\""] } },
            { "a": null, "at": at, "raw_q": { "precision": 20, "value": null }, "raw_z": zero,
              "z": "x" },
        ]);
        assert_eq!(o.result().into_owned(), objects);
        // Byte for byte what serde_json writes for the objects.
        assert_eq!(o.to_json_string(), o.to_json().to_string());
        assert_eq!(o.clone().into_answer(false), o.to_json_string());
        assert_eq!(
            o.clone().into_answer(true),
            format!(
                concat!(
                    r#"{{"changes":[["inventory_level","created",["a"]]],"columns":["a","#,
                    r#"{{"name":"at","value":"2026-12-07T00:01:02+00:00"}},["raw_q",20],"#,
                    r#"{{"name":"raw_z","precision":20,"value":"0"}},"z"],"rows":{}}}"#
                ),
                rows
            )
        );
        let answer: Value = serde_json::from_str(&o.into_answer(true)).unwrap();
        assert_eq!(answer["rows"][1][2], "x");
    }

    #[test]
    fn a_table_of_one_is_its_object_or_null() {
        let one = Outcome::from(table(r#"[[1,"2",3]]"#, true));
        let object = serde_json::json!({ "a": 1, "at": "2026-12-07T00:01:02+00:00",
            "raw_q": { "precision": 20, "value": "2" }, "raw_z": { "precision": 20, "value": "0" },
            "z": 3 });
        assert_eq!(one.result().into_owned(), object);
        assert_eq!(one.clone().into_answer(true), one.to_json_string());
        let none = Outcome::from(table("[]", true));
        assert_eq!(none.result().into_owned(), Value::Null);
        assert_eq!(
            none.clone().into_answer(true),
            r#"{"changes":[],"result":null}"#
        );
        let empty = Outcome::from(table("[]", false));
        assert!(empty
            .clone()
            .into_answer(true)
            .ends_with(r#""z"],"rows":[]}"#));
        assert_eq!(empty.into_answer(false), r#"{"changes":[],"result":[]}"#);
    }
}
