//! Canonical JSON: the one byte form of a payload that the event hash commits to.
//!
//! The form follows RFC 8785 (JCS) for the JSON this ledger accepts:
//!
//! 1. objects have their members sorted by key, compared as UTF-8 bytes (all payload keys are
//!    ASCII, where this equals the UTF-16 order of RFC 8785);
//! 2. no whitespace outside strings;
//! 3. strings are escaped minimally: `"` and `\` with a backslash, U+0008, U+0009, U+000A,
//!    U+000C and U+000D as `\b \t \n \f \r`, the other control characters below U+0020 as
//!    `\u00xx` with lowercase hex, everything else as raw UTF-8;
//! 4. numbers are integers within ±(2^53 - 1) written in decimal without leading zeros or a
//!    plus sign. Fractions and exponents are refused: amounts are integers of fen, so no
//!    payload needs a float, and refusing them removes the hardest part of JCS.
//!
//! Duplicate keys cannot survive parsing into [`serde_json::Value`]; callers that accept raw
//! text parse it first, so a document with duplicates is judged by its last value, as
//! `serde_json` does, and its canonical form is what gets hashed and stored.

use serde_json::Value;

/// The largest integer a payload may hold, 2^53 - 1: beyond it, JSON readers in other
/// languages lose precision.
pub const SAFE_INTEGER_MAX: i64 = (1 << 53) - 1;

/// How deep objects and arrays may nest in a payload.
pub const NESTING_DEPTH_MAX: usize = 32;

/// Why a JSON value has no canonical form here.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CanonicalError {
    /// A number with a fraction or exponent, or outside the safe integer range.
    #[error("number {number} at {path} is not accepted; payloads hold integers within ±(2^53-1)")]
    Number {
        /// JSON pointer to the number.
        path: String,
        /// The number as written.
        number: String,
    },
    /// Objects or arrays nested deeper than [`NESTING_DEPTH_MAX`].
    #[error("nesting deeper than {NESTING_DEPTH_MAX} levels at {path}")]
    TooDeep {
        /// JSON pointer to where the limit was passed.
        path: String,
    },
    /// The bytes are not JSON at all.
    #[error("payload is not valid JSON: {0}")]
    Syntax(String),
    /// The bytes are JSON but not in canonical form.
    #[error("payload is valid JSON but not in canonical form")]
    NotCanonical,
}

/// Writes the canonical form of `value`.
pub fn to_canonical_vec(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = Vec::with_capacity(256);
    let mut path = String::new();
    write_value(value, &mut out, &mut path, 0)?;
    Ok(out)
}

/// Serialises any value through [`serde_json::Value`] into canonical form.
pub fn to_canonical_vec_of<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    to_canonical_vec(&value)
}

/// Parses JSON text and returns its canonical form.
pub fn canonicalize(text: &[u8]) -> Result<Vec<u8>, CanonicalError> {
    let value: Value =
        serde_json::from_slice(text).map_err(|e| CanonicalError::Syntax(e.to_string()))?;
    to_canonical_vec(&value)
}

/// Checks that `bytes` already are canonical JSON, as stored payloads must be.
pub fn check_canonical(bytes: &[u8]) -> Result<(), CanonicalError> {
    if canonicalize(bytes)? == bytes {
        Ok(())
    } else {
        Err(CanonicalError::NotCanonical)
    }
}

fn write_value(
    value: &Value,
    out: &mut Vec<u8>,
    path: &mut String,
    depth: usize,
) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => {
            let int = n.as_i64().filter(|v| v.unsigned_abs() <= SAFE_INTEGER_MAX as u64);
            let Some(int) = int else {
                return Err(CanonicalError::Number { path: pointer(path), number: n.to_string() });
            };
            out.extend_from_slice(int.to_string().as_bytes());
        }
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            if depth >= NESTING_DEPTH_MAX {
                return Err(CanonicalError::TooDeep { path: pointer(path) });
            }
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                let len = path.len();
                path.push('/');
                path.push_str(&i.to_string());
                write_value(item, out, path, depth + 1)?;
                path.truncate(len);
            }
            out.push(b']');
        }
        Value::Object(map) => {
            if depth >= NESTING_DEPTH_MAX {
                return Err(CanonicalError::TooDeep { path: pointer(path) });
            }
            // Sort explicitly rather than trusting the map's iteration order, which a crate
            // feature elsewhere in the build (`preserve_order`) could change.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_unstable_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                let len = path.len();
                path.push('/');
                path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                write_value(item, out, path, depth + 1)?;
                path.truncate(len);
            }
            out.push(b'}');
        }
    }
    Ok(())
}

fn pointer(path: &str) -> String {
    if path.is_empty() {
        "/".to_owned()
    } else {
        path.to_owned()
    }
}

fn write_string(s: &str, out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x09 => out.extend_from_slice(b"\\t"),
            0x0a => out.extend_from_slice(b"\\n"),
            0x0c => out.extend_from_slice(b"\\f"),
            0x0d => out.extend_from_slice(b"\\r"),
            0x00..=0x1f => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 15)]);
            }
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn canon(text: &str) -> String {
        String::from_utf8(canonicalize(text.as_bytes()).unwrap()).unwrap()
    }

    #[test]
    fn sorts_keys_and_drops_whitespace() {
        assert_eq!(
            canon(r#" { "b" : 1, "a" : [ true, null, { "z":"x", "y": -2 } ] } "#),
            r#"{"a":[true,null,{"y":-2,"z":"x"}],"b":1}"#
        );
    }

    #[test]
    fn escapes_minimally() {
        assert_eq!(canon(r#""a\u0001\n\"\\/é€😀\u007f""#), "\"a\\u0001\\n\\\"\\\\/é€😀\u{7f}\"");
    }

    #[test]
    fn refuses_floats_and_unsafe_integers() {
        for bad in ["1.5", "1e3", "9007199254740992", "-9007199254740992", "1.0"] {
            let err = canonicalize(format!(r#"{{"a":[{bad}]}}"#).as_bytes()).unwrap_err();
            assert!(matches!(err, CanonicalError::Number { ref path, .. } if path == "/a/0"));
        }
        assert_eq!(canon("9007199254740991"), "9007199254740991");
    }

    #[test]
    fn limits_depth_and_rejects_non_canonical_bytes() {
        let deep = "[".repeat(40) + &"]".repeat(40);
        assert!(matches!(canonicalize(deep.as_bytes()), Err(CanonicalError::TooDeep { .. })));
        assert_eq!(check_canonical(br#"{"a":1}"#), Ok(()));
        assert_eq!(check_canonical(br#"{"a": 1}"#), Err(CanonicalError::NotCanonical));
        assert!(matches!(check_canonical(b"{"), Err(CanonicalError::Syntax(_))));
    }
}
