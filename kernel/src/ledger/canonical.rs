//! RFC 8785 JSON Canonicalization Scheme (JCS): the bytes every native ledger entry is hashed
//! over.
//!
//! Owns: turning a `serde_json::Value` into its one canonical UTF-8 form. Never does: parse,
//! validate or hash (see [`super::compute_entry_hash`]).
//!
//! Format (RFC 8785 §3.2):
//! * no whitespace; object members sorted by their keys compared as arrays of **UTF-16 code
//!   units** (so `"\u{1F600}"` sorts before `"\u{FB33}"`, unlike UTF-8 byte order);
//! * strings: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`, `\t`, other characters below U+0020 as
//!   `\u00xx` (lowercase hex); everything else, including U+007F and non-ASCII, raw UTF-8;
//! * numbers: the ECMAScript `Number.prototype.toString` form of the IEEE-754 double —
//!   shortest round-trip digits, integer form for integral values below 10^21, exponent form
//!   `1e+21` / `1e-7` outside `[1e-6, 1e21)`, `-0` written `0`;
//! * `true`, `false`, `null` literally.
//!
//! Integers: RFC 8785 (§3.2.2.3, I-JSON) treats every number as an IEEE-754 double. Integers
//! with magnitude up to 2^53 are exact; a larger `u64`/`i64` is converted to the nearest double
//! and written in that form (`9007199254740993` → `9007199254740992`,
//! `18446744073709551615` → `18446744073709552000`). Values that need more precision must be
//! carried as strings. Non-finite numbers cannot occur: `serde_json::Value` cannot hold them.

use serde_json::{Map, Number, Value};

/// The canonical bytes of `v`.
pub fn to_vec(v: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    write_value(v, &mut out);
    out
}

/// Appends the canonical bytes of `v` to `out`.
pub fn write_value(v: &Value, out: &mut Vec<u8>) {
    match v {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(a) => {
            out.push(b'[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(x, out);
            }
            out.push(b']');
        }
        Value::Object(m) => write_object(m, out),
    }
}

/// Writes a JSON object canonically (members sorted by UTF-16 code units).
pub fn write_object(m: &Map<String, Value>, out: &mut Vec<u8>) {
    let mut members: Vec<(&String, &Value)> = m.iter().collect();
    members.sort_by(|a, b| cmp_utf16(a.0, b.0));
    out.push(b'{');
    for (i, (k, v)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        write_string(k, out);
        out.push(b':');
        write_value(v, out);
    }
    out.push(b'}');
}

/// Compares two strings by their UTF-16 code units (RFC 8785 §3.2.3).
pub fn cmp_utf16(a: &str, b: &str) -> std::cmp::Ordering {
    // UTF-8 byte order equals code point order; it differs from UTF-16 order only when a
    // supplementary character (surrogate pair, 0xD800..) meets a BMP character >= U+E000.
    // Plain ASCII keys (the common case) take the fast path.
    if a.is_ascii() && b.is_ascii() {
        return a.as_bytes().cmp(b.as_bytes());
    }
    a.encode_utf16().cmp(b.encode_utf16())
}

/// Appends `s` as an RFC 8785 string literal.
pub fn write_string(s: &str, out: &mut Vec<u8>) {
    out.push(b'"');
    let bytes = s.as_bytes();
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            0x08 => b"\\b",
            0x0c => b"\\f",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0x00..=0x1f => {
                out.extend_from_slice(&bytes[start..i]);
                start = i + 1;
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 0xf) as usize]]);
                continue;
            }
            _ => continue,
        };
        out.extend_from_slice(&bytes[start..i]);
        out.extend_from_slice(esc);
        start = i + 1;
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

fn write_number(n: &Number, out: &mut Vec<u8>) {
    const EXACT: u64 = 1 << 53;
    if let Some(u) = n.as_u64()
        && u <= EXACT
    {
        out.extend_from_slice(u.to_string().as_bytes());
    } else if let Some(i) = n.as_i64()
        && i.unsigned_abs() <= EXACT
    {
        out.extend_from_slice(i.to_string().as_bytes());
    } else if let Some(f) = n.as_f64() {
        write_es_number(f, out);
    }
}

/// Shortest round-trip decimal digits of a finite non-zero `|x|` and the decimal exponent
/// `e` such that `x = 0.d1d2… × 10^e` (ECMAScript's `n`).
///
/// ECMAScript (and Python's `repr`) want, among the shortest digit strings that round-trip,
/// the one closest to the exact binary value, ties to even (RFC 8785 Appendix B,
/// `1424953923781206.2`). Rust's `{:e}` gives the shortest length but may pick the other
/// neighbour on a tie, so the digits are re-derived with the exact, correctly rounded
/// (ties-to-even) `{:.*e}` at that length, kept when they still round-trip.
pub(crate) fn shortest_digits(x: f64) -> (String, i32) {
    let x = x.abs();
    let split = |s: &str| -> (String, i32) {
        let (mant, exp) = s.split_once('e').unwrap_or((s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        (mant.chars().filter(|c| *c != '.').collect(), exp + 1)
    };
    let shortest = format!("{x:e}");
    let (digits, n) = split(&shortest);
    let exact = format!("{:.*e}", digits.len().saturating_sub(1), x);
    if exact != shortest && exact.parse::<f64>().is_ok_and(|y| y == x) {
        let (d2, n2) = split(&exact);
        if d2.len() == digits.len() {
            return (d2, n2);
        }
    }
    (digits, n)
}

/// Appends the ECMAScript `Number::toString` form of a finite `x` (RFC 8785 §3.2.2.3).
pub fn write_es_number(x: f64, out: &mut Vec<u8>) {
    if x == 0.0 || !x.is_finite() {
        // -0 is written 0; non-finite values cannot reach here from a serde_json Value.
        out.push(b'0');
        return;
    }
    if x < 0.0 {
        out.push(b'-');
    }
    let (digits, n) = shortest_digits(x);
    let k = digits.len() as i32;
    let d = digits.as_bytes();
    if k <= n && n <= 21 {
        out.extend_from_slice(d);
        out.extend(std::iter::repeat_n(b'0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        out.extend_from_slice(&d[..n as usize]);
        out.push(b'.');
        out.extend_from_slice(&d[n as usize..]);
    } else if -6 < n && n <= 0 {
        out.extend_from_slice(b"0.");
        out.extend(std::iter::repeat_n(b'0', (-n) as usize));
        out.extend_from_slice(d);
    } else {
        out.push(d[0]);
        if k > 1 {
            out.push(b'.');
            out.extend_from_slice(&d[1..]);
        }
        out.push(b'e');
        let e = n - 1;
        out.push(if e < 0 { b'-' } else { b'+' });
        out.extend_from_slice(e.unsigned_abs().to_string().as_bytes());
    }
}

#[cfg(test)]
mod tests;
