//! What a call returns: its Medusa-shaped result and the changes (events) it
//! made. Below every entity module; depends on nothing in the crate.

use serde_json::Value;

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
    pub result: Value,
    pub changes: Vec<Change>,
}

impl From<Value> for Outcome {
    fn from(result: Value) -> Self {
        Outcome {
            result,
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

    pub fn to_json(&self) -> Value {
        let changes: Vec<Value> = self
            .changes
            .iter()
            .map(|c| serde_json::json!([c.object, c.action, c.ids]))
            .collect();
        serde_json::json!({ "result": self.result, "changes": changes })
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
