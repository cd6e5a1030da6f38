//! Quantities arrive from JS as numbers, numeric strings or Medusa's BigNumber
//! shapes (`{ value: "5", precision: 20 }`); they are kept exact as Decimal.

use crate::error::{Error, Result};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// > 0: reservation quantities.
    Positive,
    /// >= 0: stock levels, confirmInventory's quantity.
    NonNegative,
    /// any finite value: adjustments.
    Any,
}

fn parse_str(s: &str) -> Option<Decimal> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Decimal::from_str(s)
        .ok()
        .or_else(|| Decimal::from_scientific(s).ok())
}

/// Parses `value` as an exact decimal, naming `field` in every rejection.
pub fn parse_quantity(value: &Value, field: &str, rule: Rule) -> Result<Decimal> {
    let bad = |why: &str| Error::invalid(format!("{field} {why}"));
    let d = match value {
        Value::Number(n) => {
            // Shortest round-trip text of the f64 keeps 0.1 as 0.1, not its binary expansion.
            let text = n.to_string();
            parse_str(&text).ok_or_else(|| bad("must be a finite number"))?
        }
        Value::String(s) => parse_str(s)
            .ok_or_else(|| Error::invalid(format!("{field} must be a number, received \"{s}\"")))?,
        Value::Object(map) => {
            // The facade encodes NaN/Infinity as {"$nonFinite": "NaN"} since JSON cannot carry them.
            if let Some(v) = map.get("$nonFinite") {
                return Err(Error::invalid(format!(
                    "{field} must be a finite number, received {}",
                    v.as_str().unwrap_or("a non-finite value")
                )));
            }
            match map.get("value") {
                Some(inner @ (Value::Number(_) | Value::String(_))) => {
                    return parse_quantity(inner, field, rule)
                }
                _ => return Err(bad("must be a number")),
            }
        }
        Value::Null => return Err(bad("is required")),
        _ => return Err(bad("must be a number")),
    };
    match rule {
        Rule::Positive if d <= Decimal::ZERO => Err(bad("must be greater than 0")),
        Rule::NonNegative if d < Decimal::ZERO => Err(bad("must not be negative")),
        _ => Ok(d.normalize()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_numbers_strings_and_bignumber_shapes() {
        let d = |v: Value| parse_quantity(&v, "quantity", Rule::Positive).unwrap();
        assert_eq!(d(json!(5)).to_string(), "5");
        assert_eq!(d(json!(49.5)).to_string(), "49.5");
        assert_eq!(d(json!(0.1)).to_string(), "0.1");
        assert_eq!(d(json!("0.25")).to_string(), "0.25");
        assert_eq!(d(json!({"value": "7", "precision": 20})).to_string(), "7");
        assert_eq!(d(json!("1e3")).to_string(), "1000");
        assert_eq!(d(json!("5.000")).to_string(), "5");
    }

    #[test]
    fn rejects_bad_values_naming_the_field() {
        let e = |v: Value, r: Rule| parse_quantity(&v, "quantity", r).unwrap_err();
        for (v, r) in [
            (json!(-1), Rule::Positive),
            (json!(0), Rule::Positive),
            (json!(-0.5), Rule::NonNegative),
            (json!("abc"), Rule::Any),
            (json!(""), Rule::Any),
            (json!(true), Rule::Any),
            (json!([1]), Rule::Any),
            (json!(null), Rule::Any),
            (json!({"$nonFinite": "NaN"}), Rule::Any),
            (json!({"value": null}), Rule::Any),
        ] {
            let err = e(v.clone(), r);
            assert_eq!(err.kind, crate::error::ErrorType::InvalidData, "{v}");
            assert!(err.message.starts_with("quantity "), "{}", err.message);
        }
    }

    #[test]
    fn any_rule_allows_negative_adjustments() {
        let d = parse_quantity(&json!(-3), "adjustment", Rule::Any).unwrap();
        assert_eq!(d.to_string(), "-3");
    }
}
