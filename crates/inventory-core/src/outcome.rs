//! What a call returns: its Medusa-shaped result and the changes (events) it
//! made. Below every entity module; depends on nothing in the crate.

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

/// A result built in Rust, or JSON text as Postgres wrote it (a list page):
/// that is passed on as it came, rather than parsed into a Value only to be
/// written out again, which was most of a 50-row list's time in the addon.
#[derive(Debug, Clone, PartialEq)]
enum Body {
    Value(Value),
    Text(String),
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
            Body::Value(v) => format!("{}{v}}}", self.head()),
            Body::Text(t) => format!("{}{t}}}", self.head()),
        }
    }

    /// [`Outcome::to_json_string`], the result text's own buffer becoming the
    /// answer's: a 1000-row result is not copied into a fresh allocation, whose
    /// every page the kernel would first have to fault in and clear (measured:
    /// more time than writing the text).
    pub fn into_json_string(self) -> String {
        let head = self.head();
        match self.result {
            Body::Value(v) => format!("{head}{v}}}"),
            Body::Text(mut t) => {
                t.reserve(head.len() + 1);
                t.insert_str(0, &head);
                t.push('}');
                t
            }
        }
    }

    /// The answer's text up to its result: keys in to_json's (sorted) order, so
    /// both texts are the same. The serialization cannot fail: strings only.
    fn head(&self) -> String {
        let changes: Vec<_> = self
            .changes
            .iter()
            .map(|c| (c.object, c.action, &c.ids))
            .collect();
        let changes = serde_json::to_string(&changes).unwrap_or_default();
        format!("{{\"changes\":{changes},\"result\":")
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
        assert_eq!(o.clone().into_json_string(), o.to_json_string());
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
        assert_eq!(o.clone().into_json_string(), o.to_json_string());
        let bare = Outcome::from_json_text(text.to_string());
        assert_eq!(bare.clone().into_json_string(), bare.to_json_string());
    }
}
