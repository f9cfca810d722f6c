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
///
/// Every append checks every payload, so the common case is a single pass over the bytes that
/// allocates nothing ([`Scanner`]). The scanner accepts only text that is canonical; whatever
/// it does not accept is judged by parsing, re-serialising and comparing, which also words
/// the error.
pub fn check_canonical(bytes: &[u8]) -> Result<(), CanonicalError> {
    if Scanner::accepts(bytes) {
        return Ok(());
    }
    if canonicalize(bytes)? == bytes {
        Ok(())
    } else {
        Err(CanonicalError::NotCanonical)
    }
}

/// Whether `bytes` are canonical JSON by the one-pass scan alone: `true` only for canonical
/// text, `false` for everything else and for the rare canonical text whose keys hold escapes.
/// For a verdict on any text, use [`check_canonical`].
pub fn is_plainly_canonical(bytes: &[u8]) -> bool {
    Scanner::accepts(bytes)
}

/// A one-pass recogniser of canonical text: no whitespace, members in strictly ascending key
/// order, minimal escapes, integers in their shortest form within the safe range, nesting
/// within [`NESTING_DEPTH_MAX`]. It is conservative: a few canonical forms it does not try to
/// recognise (keys holding escapes) are left to the reference path, never the other way round.
struct Scanner<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Scanner<'a> {
    fn accepts(bytes: &'a [u8]) -> bool {
        // Outside strings the grammar admits only ASCII, so one check covers every string.
        if std::str::from_utf8(bytes).is_err() {
            return false;
        }
        let mut scanner = Scanner { bytes, at: 0 };
        scanner.value(0) && scanner.at == bytes.len()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn value(&mut self, depth: usize) -> bool {
        match self.peek() {
            Some(b'{') => self.object(depth),
            Some(b'[') => self.array(depth),
            Some(b'"') => self.string().is_some(),
            Some(b't') => self.literal(b"true"),
            Some(b'f') => self.literal(b"false"),
            Some(b'n') => self.literal(b"null"),
            Some(b'-' | b'0'..=b'9') => self.number(),
            _ => false,
        }
    }

    fn literal(&mut self, word: &[u8]) -> bool {
        let found = self.bytes[self.at..].starts_with(word);
        self.at += word.len();
        found
    }

    fn number(&mut self) -> bool {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        while matches!(self.peek(), Some(b'0'..=b'9')) {
            self.at += 1;
        }
        let digits = &self.bytes[start..self.at];
        // 2^53 - 1 has 16 digits. A fraction or exponent stops the digits and then fails the
        // caller's check of what follows a value.
        if digits.is_empty() || digits.len() > 16 {
            return false;
        }
        // Leading zeros and "-0" are not canonical.
        if digits[0] == b'0' && (digits.len() > 1 || negative) {
            return false;
        }
        let value = digits.iter().fold(0u64, |v, d| v * 10 + u64::from(d - b'0'));
        value <= SAFE_INTEGER_MAX.unsigned_abs()
    }

    /// Scans a string at its opening quote and returns the bytes between the quotes.
    fn string(&mut self) -> Option<&'a [u8]> {
        self.at += 1;
        let start = self.at;
        loop {
            match *self.bytes.get(self.at)? {
                b'"' => {
                    let contents = &self.bytes[start..self.at];
                    self.at += 1;
                    return Some(contents);
                }
                b'\\' => {
                    match *self.bytes.get(self.at + 1)? {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.at += 2,
                        b'u' => {
                            // Only control characters without a short escape, as \u00xx in
                            // lowercase hex.
                            let hex = self.bytes.get(self.at + 2..self.at + 6)?;
                            let high = match hex {
                                [b'0', b'0', b'0', _] => 0,
                                [b'0', b'0', b'1', _] => 16,
                                _ => return None,
                            };
                            let low = match hex[3] {
                                digit @ b'0'..=b'9' => digit - b'0',
                                letter @ b'a'..=b'f' => letter - b'a' + 10,
                                _ => return None,
                            };
                            if matches!(high + low, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            self.at += 6;
                        }
                        _ => return None,
                    }
                }
                0x00..=0x1f => return None,
                _ => self.at += 1,
            }
        }
    }

    fn array(&mut self, depth: usize) -> bool {
        if depth >= NESTING_DEPTH_MAX {
            return false;
        }
        self.at += 1;
        if self.peek() == Some(b']') {
            self.at += 1;
            return true;
        }
        loop {
            if !self.value(depth + 1) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return true;
                }
                _ => return false,
            }
        }
    }

    fn object(&mut self, depth: usize) -> bool {
        if depth >= NESTING_DEPTH_MAX {
            return false;
        }
        self.at += 1;
        if self.peek() == Some(b'}') {
            self.at += 1;
            return true;
        }
        let mut previous: Option<&[u8]> = None;
        loop {
            if self.peek() != Some(b'"') {
                return false;
            }
            let Some(key) = self.string() else {
                return false;
            };
            // Keys sort by their decoded bytes; a key with an escape is left to the reference
            // path. Strictly ascending also refuses duplicates, which parsing would merge.
            if key.contains(&b'\\') || previous.is_some_and(|p| p >= key) {
                return false;
            }
            previous = Some(key);
            if self.peek() != Some(b':') {
                return false;
            }
            self.at += 1;
            if !self.value(depth + 1) {
                return false;
            }
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return true;
                }
                _ => return false,
            }
        }
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
                // Writing to a String cannot fail.
                let _ = std::fmt::Write::write_fmt(path, format_args!("{i}"));
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
                if key.contains(['~', '/']) {
                    path.push_str(&key.replace('~', "~0").replace('/', "~1"));
                } else {
                    path.push_str(key);
                }
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

    /// Texts the scanner must accept, refuse, or leave to the reference path.
    #[test]
    fn scanner_accepts_only_canonical_text() {
        let nested = |n: usize| "[".repeat(n) + &"]".repeat(n);
        let canonical = [
            r#"{}"#,
            r#"{"a":[true,false,null,0,-1,9007199254740991,-9007199254740991,""]}"#,
            r#"{"a":"\u0001\u001f\b\t\n\f\r\"\\/é€😀","b":{"c":[[],{}]}}"#,
            "\"\u{7f}\"",
        ];
        for text in canonical {
            assert!(Scanner::accepts(text.as_bytes()), "{text}");
            assert_eq!(canonicalize(text.as_bytes()).unwrap(), text.as_bytes(), "{text}");
        }
        assert!(Scanner::accepts(nested(32).as_bytes()));
        let refused = [
            "-0",
            "01",
            "1.0",
            "1e3",
            "+1",
            "9007199254740992",
            r#""\u0041""#,
            r#""\u000a""#,
            r#""\u001F""#,
            r#""\/""#,
            "\"\u{1}\"",
            r#"{"b":1,"a":2}"#,
            r#"{"a":1,"a":2}"#,
            r#"{"a": 1}"#,
            r#" {}"#,
            r#"{}{}"#,
            r#"[1,]"#,
            r#"{"a":1,}"#,
            r#"tru"#,
            r#"{"a"}"#,
            r#""abc"#,
        ];
        for text in refused {
            assert!(!Scanner::accepts(text.as_bytes()), "{text}");
            assert!(check_canonical(text.as_bytes()).is_err(), "{text}");
        }
        assert!(!Scanner::accepts(nested(33).as_bytes()));
        assert!(!Scanner::accepts(b"\"\xff\""));
        // Canonical, but with an escaped key: the reference path accepts it.
        let escaped_key = br#"{"a\"b":1,"a\\":2}"#;
        assert!(!Scanner::accepts(escaped_key));
        assert_eq!(check_canonical(escaped_key), Ok(()));
    }

    fn json_value() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            (-SAFE_INTEGER_MAX..=SAFE_INTEGER_MAX).prop_map(Value::from),
            "[a-c\"\\\\\u{0}-\u{1f}é😀/~]{0,6}".prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 32, 5, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                proptest::collection::btree_map("[a-d~/]{0,3}", inner, 0..5)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        /// The scanner accepts every canonical form the writer produces (keys without escapes),
        /// and whatever it accepts after a random edit, the reference path accepts too.
        #[test]
        fn scanner_agrees_with_the_reference(
            value in json_value(),
            edits in proptest::collection::vec(
                (proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>(), 0u8..3),
                0..3,
            ),
        ) {
            use proptest::prelude::*;
            let bytes = to_canonical_vec(&value).unwrap();
            prop_assert!(Scanner::accepts(&bytes), "{}", String::from_utf8_lossy(&bytes));
            let mut edited = bytes.clone();
            for (at, byte, kind) in edits {
                let at = at % (edited.len() + 1);
                match kind {
                    0 if at < edited.len() => edited[at] = byte,
                    1 => edited.insert(at, byte),
                    _ if at < edited.len() => {
                        edited.remove(at);
                    }
                    _ => {}
                }
            }
            if Scanner::accepts(&edited) {
                prop_assert_eq!(canonicalize(&edited).ok(), Some(edited.clone()));
            }
        }
    }
}
