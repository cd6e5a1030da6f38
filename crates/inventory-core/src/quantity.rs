//! Quantities arrive from JS as numbers, numeric strings or Medusa's BigNumber
//! shapes (`{ value: "5", precision: 20 }`); they are kept exact as Decimal.
//!
//! The quantity domain, decided once: a decimal written in JSON number syntax
//! (`-12.5`, `3e4`; no `_`, `+`, hex, blanks or `.5`) with at most
//! [`MAX_DIGITS`] (28) significant digits, at most 28 decimal places and a
//! magnitude below 10^28. Every such value is exact in `rust_decimal` (96-bit
//! mantissa), in Postgres `numeric` and in Medusa's raw JSON `{ value, precision }`
//! text, so nothing inside it is rounded; anything outside is rejected as
//! `invalid_data` naming the field. Code that computes a quantity (sums of levels,
//! adjustments) checks the result with [`in_domain`] / [`add_in_domain`].

use crate::error::{Error, Result};
use rust_decimal::Decimal;
use serde_json::Value;
use std::str::FromStr;

/// Significant digits, decimal places and integer digits a quantity may have.
pub(crate) const MAX_DIGITS: usize = 28;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rule {
    /// > 0: reservation quantities.
    Positive,
    /// >= 0: stock levels, confirmInventory's quantity.
    NonNegative,
    /// any finite value: adjustments.
    Any,
}

/// Whether a computed value lies inside the quantity domain (see the module doc).
pub(crate) fn in_domain(d: &Decimal) -> bool {
    let n = d.normalize();
    let mantissa = n.mantissa().unsigned_abs();
    // < 10^28 significant digits and < 10^28 in magnitude (scale is at most 28 by type).
    const LIMIT: u128 = 10_000_000_000_000_000_000_000_000_000;
    mantissa < LIMIT && n.abs().trunc().mantissa().unsigned_abs() < LIMIT
}

/// The exact sum `a + b` when it lies inside the domain, else None. Exact for
/// inputs inside the domain: `Decimal::checked_add` rounds a sum that needs
/// more than 28 digits (HUGE - 0.25 comes back as HUGE - 0.2), so the sum is
/// formed on aligned i128 mantissas instead. An aligned mantissa that
/// overflows i128 means the sum has more than 28 significant digits anyway.
pub(crate) fn add_in_domain(a: Decimal, b: Decimal) -> Option<Decimal> {
    let (a, b) = (a.normalize(), b.normalize());
    let scale = a.scale().max(b.scale());
    let align = |d: Decimal| {
        10i128
            .checked_pow(scale - d.scale())
            .and_then(|p| d.mantissa().checked_mul(p))
    };
    let sum = align(a)?.checked_add(align(b)?)?;
    let sum = Decimal::try_from_i128_with_scale(sum, scale).ok()?;
    in_domain(&sum).then_some(sum)
}

/// SQL predicate deciding [`in_domain`] for a `numeric` expression, exactly
/// (Postgres computes level arithmetic without rounding): at most 28
/// significant digits (which also bounds the magnitude below 10^28) and at
/// most 28 decimal places.
pub(crate) fn sql_in_domain(expr: &str) -> String {
    format!(
        "(length(ltrim(replace(abs(trim_scale({expr}))::text, '.', ''), '0')) <= {MAX_DIGITS} \
         AND scale(trim_scale({expr})) <= {MAX_DIGITS})"
    )
}

/// SQL predicate: a level holding these quantities reads back as valid
/// quantities: stocked, reserved and available (stocked - reserved) are each
/// inside the domain. Every write that moves a level's quantities guards on it.
pub(crate) fn sql_level_fits(stocked: &str, reserved: &str) -> String {
    format!(
        "({} AND {} AND {})",
        sql_in_domain(stocked),
        sql_in_domain(reserved),
        sql_in_domain(&format!("({stocked}) - ({reserved})"))
    )
}

/// Parses JSON-number text exactly, or says why it is outside the domain.
fn parse_str(s: &str) -> std::result::Result<Decimal, String> {
    let n = Lexed::of(s.trim().as_bytes()).ok_or_else(|| "must be a number".to_string())?;
    n.exact()
}

/// JSON number syntax, split: `-` sign, integer digits, fraction digits, exponent.
struct Lexed<'a> {
    neg: bool,
    int: &'a [u8],
    frac: &'a [u8],
    exp: i64,
}

/// The run of ASCII digits at the start of `b`.
fn digit_run(b: &[u8]) -> &[u8] {
    &b[..b.iter().take_while(|c| c.is_ascii_digit()).count()]
}

impl<'a> Lexed<'a> {
    /// None when `b` is not a number in JSON's syntax (no `+`, `.5`, `01`, blanks…).
    fn of(b: &'a [u8]) -> Option<Self> {
        let neg = b.first() == Some(&b'-');
        let mut rest = if neg { &b[1..] } else { b };
        let int = digit_run(rest);
        if int.is_empty() || (int.len() > 1 && int[0] == b'0') {
            return None;
        }
        rest = &rest[int.len()..];
        let mut frac: &[u8] = &[];
        if let Some(after) = rest.strip_prefix(b".") {
            frac = digit_run(after);
            if frac.is_empty() {
                return None;
            }
            rest = &after[frac.len()..];
        }
        let mut exp = 0;
        if let [b'e' | b'E', after @ ..] = rest {
            let (exp_neg, after) = match after {
                [b'-', r @ ..] => (true, r),
                [b'+', r @ ..] => (false, r),
                r => (false, r),
            };
            let run = digit_run(after);
            if run.is_empty() {
                return None;
            }
            // Saturate: a huge exponent is out of range either way.
            exp = run
                .iter()
                .fold(0i64, |e, c| (e * 10 + i64::from(c - b'0')).min(1_000_000));
            if exp_neg {
                exp = -exp;
            }
            rest = &after[run.len()..];
        }
        rest.is_empty().then_some(Lexed {
            neg,
            int,
            frac,
            exp,
        })
    }

    /// The value, exact, or why it is outside the domain.
    fn exact(&self) -> std::result::Result<Decimal, String> {
        let not_number = || "must be a number".to_string();
        // value = digits × 10^(exp - frac.len()), digits without leading/trailing zeros.
        let all: Vec<u8> = self.int.iter().chain(self.frac.iter()).copied().collect();
        let Some(first) = all.iter().position(|&c| c != b'0') else {
            return Ok(Decimal::ZERO);
        };
        let last = all.iter().rposition(|&c| c != b'0').unwrap_or(first);
        let digits = &all[first..=last];
        let mut exp10 = self.exp - self.frac.len() as i64 + (all.len() - 1 - last) as i64;
        if digits.len() > MAX_DIGITS {
            return Err(format!("must have at most {MAX_DIGITS} significant digits"));
        }
        if exp10 < -(MAX_DIGITS as i64) {
            return Err(format!("must have at most {MAX_DIGITS} decimal places"));
        }
        if digits.len() as i64 + exp10 > MAX_DIGITS as i64 {
            return Err(format!("must be less than 10^{MAX_DIGITS} in magnitude"));
        }
        let mut text = String::from_utf8_lossy(digits).into_owned();
        while exp10 > 0 {
            text.push('0');
            exp10 -= 1;
        }
        let mantissa = i128::from_str(&text).map_err(|_| not_number())?;
        let signed = if self.neg { -mantissa } else { mantissa };
        Decimal::try_from_i128_with_scale(signed, (-exp10) as u32).map_err(|_| not_number())
    }
}

/// Parses `value` as an exact decimal, naming `field` in every rejection.
pub(crate) fn parse_quantity(value: &Value, field: &str, rule: Rule) -> Result<Decimal> {
    let bad = |why: &str| Error::invalid(format!("{field} {why}"));
    let d = match value {
        Value::Number(n) => {
            // Shortest round-trip text of the f64 keeps 0.1 as 0.1, not its binary expansion.
            let text = n.to_string();
            parse_str(&text).map_err(|why| {
                if why == "must be a number" {
                    bad("must be a finite number")
                } else {
                    bad(&why)
                }
            })?
        }
        Value::String(s) => parse_str(s).map_err(|why| {
            if why == "must be a number" {
                let shown: String = s.chars().take(40).collect();
                Error::invalid(format!("{field} must be a number, received \"{shown}\""))
            } else {
                bad(&why)
            }
        })?,
        Value::Object(map) => match map.get("value") {
            Some(inner @ (Value::Number(_) | Value::String(_))) => {
                return parse_quantity(inner, field, rule)
            }
            _ => return Err(bad("must be a number")),
        },
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

    #[test]
    fn domain_is_exact_or_rejected() {
        let ok = |v: Value| {
            parse_quantity(&v, "quantity", Rule::Any)
                .unwrap()
                .to_string()
        };
        let err = |v: Value| {
            parse_quantity(&v, "quantity", Rule::Any)
                .unwrap_err()
                .message
        };
        // 28 significant digits are kept exactly; 29 are refused, never rounded.
        assert_eq!(
            ok(json!("1234567890123456789012345678")),
            "1234567890123456789012345678"
        );
        assert_eq!(
            ok(json!("0.1234567890123456789012345678")),
            "0.1234567890123456789012345678"
        );
        assert_eq!(ok(json!("1e-28")), "0.0000000000000000000000000001");
        assert_eq!(ok(json!("-12.50e1")), "-125");
        assert_eq!(ok(json!("0.000")), "0");
        assert!(
            err(json!("12345678901234567890123456789")).contains("at most 28 significant digits")
        );
        assert!(err(json!("1e-29")).contains("at most 28 decimal places"));
        assert!(err(json!("1e28")).contains("less than 10^28"));
        assert!(err(json!("79228162514264337593543950336")).starts_with("quantity "));
        assert!(err(json!(1e30)).contains("less than 10^28"));
        for bad in [
            "1_000", "+5", ".5", "5.", "0x10", "1e", "--1", "01", "1 000", "NaN", "Infinity",
        ] {
            assert!(err(json!(bad)).contains("must be a number"), "{bad}");
        }
        assert!(in_domain(
            &Decimal::from_str("9999999999999999999999999999").unwrap()
        ));
        assert!(!in_domain(&Decimal::MAX));
    }

    #[test]
    fn sums_are_exact_or_refused() {
        let d = |s: &str| Decimal::from_str(s).unwrap();
        let top = d("9999999999999999999999999999");
        // Decimal's own arithmetic rounds here; the domain check must not be fooled by it.
        assert_ne!(
            (top - d("0.25")).to_string(),
            "9999999999999999999999999998.75"
        );
        assert_eq!(add_in_domain(top, d("-0.25")), None);
        assert_eq!(add_in_domain(top, d("1")), None);
        assert_eq!(
            add_in_domain(d("1000000000000000000000000000"), d("0.00001")),
            None
        );
        assert_eq!(
            add_in_domain(top, d("-1")),
            Some(d("9999999999999999999999999998"))
        );
        assert_eq!(add_in_domain(d("0.75"), d("0.25")), Some(d("1")));
        assert_eq!(
            add_in_domain(
                d("0.1234567890123456789012345678"),
                d("-0.1234567890123456789012345678")
            ),
            Some(Decimal::ZERO)
        );
        assert_eq!(add_in_domain(d("-5"), d("2.5")), Some(d("-2.5")));
        assert_eq!(
            add_in_domain(d("0.0000000000000000000000000001"), top),
            None
        );
    }
}
