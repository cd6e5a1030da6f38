//! Bounds on what one call may send, checked before any SQL runs, so oversized or
//! malformed input is a clean `invalid_data` naming the field instead of a Postgres,
//! serde or allocator failure that reaches the caller raw.

use crate::error::{Error, Result};
use serde_json::Value;

/// Elements in any one array of a call's arguments (creates, updates, ids, `$in` lists).
pub(crate) const MAX_ARRAY_LEN: usize = 10_000;
/// Bytes of a text column with a btree index: Postgres refuses index rows over ~2700
/// bytes, and (inventory_item_id, location_id) share one.
pub(crate) const MAX_INDEXED_TEXT: usize = 1_024;
/// Bytes of any other text column.
pub(crate) const MAX_TEXT: usize = 65_536;
/// Bytes of a `metadata` object, serialized.
pub(crate) const MAX_METADATA: usize = 262_144;
/// Nesting of `$and` / `$or` in a filter.
pub(crate) const MAX_FILTER_DEPTH: usize = 16;
/// Conditions (fields, operators, `$and`/`$or` branches) in one filter; Postgres binds
/// at most 65 535 parameters and large ORs only cost the server.
pub(crate) const MAX_FILTER_CONDITIONS: usize = 1_000;

/// Text columns with a btree index in the migration (see migrate.rs).
const INDEXED: &[&str] = &[
    "id",
    "sku",
    "inventory_item_id",
    "location_id",
    "line_item_id",
    "external_id",
];

/// Rejects NUL characters anywhere (Postgres text and jsonb cannot hold U+0000) and
/// arrays longer than [`MAX_ARRAY_LEN`], naming the nearest object key.
pub(crate) fn check_args(args: &[Value]) -> Result<()> {
    for a in args {
        walk(a, "arguments")?;
    }
    Ok(())
}

fn walk(v: &Value, field: &str) -> Result<()> {
    match v {
        Value::String(s) if s.contains('\0') => Err(Error::invalid(format!(
            "{field} must not contain NUL (\\u0000) characters"
        ))),
        Value::Array(a) => {
            if a.len() > MAX_ARRAY_LEN {
                return Err(Error::invalid(format!(
                    "{field} has {} elements; at most {MAX_ARRAY_LEN} are accepted in one call",
                    a.len()
                )));
            }
            a.iter().try_for_each(|x| walk(x, field))
        }
        Value::Object(o) => o.iter().try_for_each(|(k, x)| {
            if k.contains('\0') {
                return Err(Error::invalid(format!(
                    "a key in {field} must not contain NUL (\\u0000) characters"
                )));
            }
            walk(x, k)
        }),
        _ => Ok(()),
    }
}

/// Whether a NUL character is in `v`: in a string or an object key, at any depth.
pub(crate) fn has_nul(v: &Value) -> bool {
    match v {
        Value::String(s) => s.contains('\0'),
        Value::Array(a) => a.iter().any(has_nul),
        Value::Object(o) => o.iter().any(|(k, x)| k.contains('\0') || has_nul(x)),
        _ => false,
    }
}

/// Size limit of a written text column.
pub(crate) fn check_text(field: &str, s: &str) -> Result<()> {
    let max = if INDEXED.contains(&field) {
        MAX_INDEXED_TEXT
    } else {
        MAX_TEXT
    };
    if s.len() > max {
        return Err(Error::invalid(format!(
            "{field} is {} bytes long; at most {max} bytes are accepted",
            s.len()
        )));
    }
    Ok(())
}

/// Size limit of a written metadata object (its JSON text).
pub(crate) fn check_metadata(field: &str, json: &str) -> Result<()> {
    if json.len() > MAX_METADATA {
        return Err(Error::invalid(format!(
            "{field} is {} bytes as JSON; at most {MAX_METADATA} bytes are accepted",
            json.len()
        )));
    }
    Ok(())
}

/// The range of a Postgres `integer` column.
pub(crate) fn check_int(field: &str, n: i64) -> Result<i64> {
    if i32::try_from(n).is_err() {
        return Err(Error::invalid(format!(
            "{field} must be an integer between {} and {}",
            i32::MIN,
            i32::MAX
        )));
    }
    Ok(n)
}

/// Whether `s` is a timestamp Postgres' `timestamptz` input accepts, in the ISO 8601
/// forms JSON carries (`2024-05-01`, `2024-05-01T10:00:00.123Z`, `… 10:00+02:00`).
pub(crate) fn is_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    if !is_date(b) {
        return false;
    }
    match b.get(10) {
        None => true,
        Some(b'T' | b't' | b' ') => match time_end(b, 11) {
            Some(i) => is_zone(&b[i..]),
            None => false,
        },
        Some(_) => false,
    }
}

/// The digits of `b[r]` as a number; None when any is not a digit or `r` runs past the end.
fn digits(b: &[u8], r: std::ops::Range<usize>) -> Option<u32> {
    let part = b.get(r)?;
    if part.iter().all(u8::is_ascii_digit) {
        std::str::from_utf8(part).ok()?.parse().ok()
    } else {
        None
    }
}

/// `YYYY-MM-DD` at the start of `b`, a day that exists (leap years included).
fn is_date(b: &[u8]) -> bool {
    let (Some(y), Some(m), Some(d)) = (digits(b, 0..4), digits(b, 5..7), digits(b, 8..10)) else {
        return false;
    };
    if b.get(4) != Some(&b'-') || b.get(7) != Some(&b'-') || !(1..=12).contains(&m) {
        return false;
    }
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    d != 0 && d <= days[m as usize - 1] && y != 0
}

/// `HH:MM[:SS[.fraction]]` from `b[i]`: the index after it, or None.
fn time_end(b: &[u8], i: usize) -> Option<usize> {
    let (h, mi) = (digits(b, i..i + 2)?, digits(b, i + 3..i + 5)?);
    if b.get(i + 2) != Some(&b':') || h > 23 || mi > 59 {
        return None;
    }
    let mut i = i + 5;
    if b.get(i) != Some(&b':') {
        return Some(i);
    }
    match digits(b, i + 1..i + 3) {
        Some(sec) if sec <= 59 => i += 3,
        _ => return None,
    }
    if b.get(i) != Some(&b'.') {
        return Some(i);
    }
    let start = i + 1;
    let end = start + b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
    // Postgres keeps microseconds; a fraction past nanoseconds is noise, and a
    // long one makes the server refuse the whole value.
    (end != start && end - start <= 9).then_some(end)
}

/// What may end a timestamp: nothing, `Z`, or an offset `±HH`, `±HHMM`, `±HH:MM`.
fn is_zone(rest: &[u8]) -> bool {
    match rest {
        [] | [b'Z'] | [b'z'] => true,
        [b'+' | b'-', rest @ ..] => {
            // Postgres takes offsets up to 15:59 either way ("time zone displacement
            // out of range" beyond).
            let two = |p: &[u8], max: u32| {
                p.len() == 2
                    && p.iter().all(u8::is_ascii_digit)
                    && u32::from(p[0] - b'0') * 10 + u32::from(p[1] - b'0') <= max
            };
            let (hours, minutes) = match rest.len() {
                2 => (rest, &b"00"[..]),
                4 => (&rest[..2], &rest[2..]),
                5 if rest[2] == b':' => (&rest[..2], &rest[3..]),
                _ => return false,
            };
            two(hours, 15) && two(minutes, 59)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_and_long_arrays_are_named() {
        let e = check_args(&[json!({"sku": "a\u{0}b"})]).unwrap_err();
        assert!(
            e.message.starts_with("sku must not contain NUL"),
            "{}",
            e.message
        );
        let e = check_args(&[json!({"metadata": {"k": ["x\u{0}"]}})]).unwrap_err();
        assert!(
            e.message.starts_with("k must not contain NUL"),
            "{}",
            e.message
        );
        assert!(check_args(&[json!({"metadata": {"a\u{0}": 1}})]).is_err());
        let big: Vec<Value> = (0..=MAX_ARRAY_LEN).map(|i| json!(i.to_string())).collect();
        let e = check_args(&[json!({ "id": big })]).unwrap_err();
        assert!(
            e.message.starts_with("id has 10001 elements"),
            "{}",
            e.message
        );
        assert!(check_args(&[json!({"sku": "ok", "ids": ["a", "b"]})]).is_ok());
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2024-05-01",
            "2024-02-29T10:00:00Z",
            "2024-05-01T10:00:00.123Z",
            "2024-05-01 10:00",
            "2024-05-01T10:00:00+02:00",
            "2024-05-01T10:00:00-0530",
            "2024-05-01T10:00:00+15:59",
            "2024-05-01T10:00:00-15",
            "2024-05-01T10:00:00.123456789Z",
        ] {
            assert!(is_timestamp(ok), "{ok}");
        }
        for bad in [
            "garbage",
            "2023-02-29",
            "2024-13-01",
            "2024-05-01T25:00",
            "2024-05-01T10:00:00.Z",
            "2024-05-01X",
            "",
            "2024-5-1",
            "2024-05-01T10:00:00+25:00",
            "2024-05-01T10:00:00+16:00",
            "2024-05-01T10:00:00-1560",
            "2024-05-01T10:00:00+99",
            "2024-05-01T10:00:00.1234567890Z",
        ] {
            assert!(!is_timestamp(bad), "{bad}");
        }
    }

    #[test]
    fn ints_and_text() {
        assert!(check_int("weight", 10_000_000_000).is_err());
        assert_eq!(check_int("weight", -5).unwrap(), -5);
        assert!(check_text("sku", &"x".repeat(MAX_INDEXED_TEXT + 1)).is_err());
        assert!(check_text("description", &"x".repeat(MAX_INDEXED_TEXT + 1)).is_ok());
    }
}
