//! The unified social credit code (统一社会信用代码) of GB 32100-2015.
//!
//! A code is 18 characters from a 31-symbol alphabet (`I`, `O`, `S`, `V` and `Z` never occur):
//!
//! 1. position 1: the registration authority (`9` is market supervision);
//! 2. position 2: the entity type within that authority (`91` enterprise, `92` individual
//!    business, `93` farmers' co-operative, ...);
//! 3. positions 3-8: the administrative division, six digits;
//! 4. positions 9-17: the organisation code of GB 11714, whose ninth character is its own
//!    check character (weights 3,7,9,10,5,8,4,2, modulus 11);
//! 5. position 18: the overall check character (weights 3^(i-1) mod 31, modulus 31).
//!
//! [`CreditCode::parse`] accepts only codes that pass every rule. Some early pilot codes that
//! really exist fail a check; [`CreditCode::parse_with_override`] accepts those when the caller
//! names a [`CheckOverride`], and the resulting code remembers that it was overridden so that
//! the override can be recorded with the event that introduced it.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The 31 symbols a credit code may contain, in the order of their numeric values.
pub const ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The length of every credit code, in characters.
pub const CODE_LEN: usize = 18;

const ORG_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Why a text is not a valid credit code. Positions are 1-based, as in the standard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodeError {
    /// The text does not have exactly 18 characters.
    #[error("a credit code has exactly 18 characters, got {0}")]
    Length(usize),
    /// A character outside the alphabet `0-9 A-H J-N P-R T U W-Y`.
    #[error(
        "character {found:?} at position {position} is not allowed; \
         accepted are 0-9 and the capital letters except I, O, S, V, Z"
    )]
    Character {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// One of positions 3-8 (the administrative division) is not a digit.
    #[error("position {position} belongs to the division code and must be a digit, got {found:?}")]
    Division {
        /// 1-based position of the offending character.
        position: usize,
        /// The character found there.
        found: char,
    },
    /// The organisation-code check character (position 17) is wrong.
    #[error(
        "organisation-code check failed (GB 11714): position 17 is {found:?}, \
         expected {expected:?}"
    )]
    OrganisationCheck {
        /// The character found at position 17.
        found: char,
        /// The character the check computes.
        expected: char,
    },
    /// The overall check character (position 18) is wrong.
    #[error("overall check failed (GB 32100): position 18 is {found:?}, expected {expected:?}")]
    OverallCheck {
        /// The character found at position 18.
        found: char,
        /// The character the check computes.
        expected: char,
    },
}

/// How a code's check characters were accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckStatus {
    /// Both check characters are correct.
    Verified,
    /// A check character is wrong, and the code was accepted by an explicit override.
    Overridden,
}

/// An explicit decision to accept a real code whose check characters are wrong.
///
/// The override travels in the payload of the event that introduces the code, so the ledger
/// records who accepted it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckOverride {
    /// Why the code is accepted although a check fails (for example the pilot programme).
    pub reason: String,
    /// The document that proves the code is real (a registration certificate number).
    pub evidence: String,
}

/// A unified social credit code whose structure is valid.
///
/// The check characters are valid too unless [`CreditCode::check_status`] says
/// [`CheckStatus::Overridden`].
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CreditCode {
    bytes: [u8; CODE_LEN],
    overridden: bool,
}

impl CreditCode {
    /// Parses a code, enforcing the length, the alphabet, the digit-only division and both
    /// check characters.
    pub fn parse(text: &str) -> Result<Self, CodeError> {
        let bytes = parse_structure(text)?;
        verify_checks(&bytes)?;
        Ok(Self { bytes, overridden: false })
    }

    /// Parses a code whose check characters may be wrong, because the caller has an explicit
    /// [`CheckOverride`]. The structure (length, alphabet, division digits) is still enforced.
    pub fn parse_with_override(text: &str, _override: &CheckOverride) -> Result<Self, CodeError> {
        let bytes = parse_structure(text)?;
        let overridden = verify_checks(&bytes).is_err();
        Ok(Self { bytes, overridden })
    }

    /// Parses the structure only and reports the check status instead of failing on it.
    ///
    /// This is for reading codes that the ledger already accepted (with or without an
    /// override); new input goes through [`CreditCode::parse`].
    pub fn parse_recorded(text: &str) -> Result<Self, CodeError> {
        let bytes = parse_structure(text)?;
        Ok(Self { bytes, overridden: verify_checks(&bytes).is_err() })
    }

    /// Completes a 16-character prefix (authority, type, division and the first 8 characters of
    /// the organisation code) with both check characters. Used by generators of test and demo
    /// data; fails like [`CreditCode::parse`] on a bad prefix.
    pub fn complete(prefix: &str) -> Result<Self, CodeError> {
        if prefix.len() != CODE_LEN - 2 {
            return Err(CodeError::Length(prefix.chars().count() + 2));
        }
        let mut text = prefix.to_owned();
        text.push_str("00");
        let mut bytes = parse_structure(&text)?;
        bytes[16] = org_check(&bytes[8..16]);
        bytes[17] = overall_check(&bytes[..17]);
        Ok(Self { bytes, overridden: false })
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Only ASCII alphabet bytes are ever stored.
        std::str::from_utf8(&self.bytes).unwrap_or_default()
    }

    /// Whether the check characters were verified or overridden.
    pub fn check_status(&self) -> CheckStatus {
        if self.overridden {
            CheckStatus::Overridden
        } else {
            CheckStatus::Verified
        }
    }

    /// The registration authority, position 1 (`9` for market supervision).
    pub fn registration_authority(&self) -> char {
        char::from(self.bytes[0])
    }

    /// The entity type, positions 1-2 (for example `91` enterprise).
    pub fn entity_type(&self) -> EntityType {
        EntityType([self.bytes[0], self.bytes[1]])
    }

    /// The administrative division, positions 3-8 (for example `620502`).
    pub fn division(&self) -> &str {
        &self.as_str()[2..8]
    }

    /// The organisation code, positions 9-17.
    pub fn organisation_code(&self) -> &str {
        &self.as_str()[8..17]
    }
}

/// Positions 1-2 of a code: who registered the entity and what kind of entity it is.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct EntityType([u8; 2]);

impl EntityType {
    /// The two characters, for example `"91"`.
    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).unwrap_or_default()
    }

    /// A short English description of the common types; `None` for codes this crate does not
    /// name.
    pub fn description(&self) -> Option<&'static str> {
        Some(match &self.0 {
            b"11" => "state organ",
            b"12" => "public institution",
            b"13" => "mass organisation",
            b"19" => "other organ-registered body",
            b"51" => "social association",
            b"52" => "private non-enterprise unit",
            b"53" => "foundation",
            b"59" => "other civil-affairs-registered body",
            b"91" => "enterprise",
            b"92" => "individual business",
            b"93" => "farmers' co-operative",
            _ => return None,
        })
    }
}

impl fmt::Debug for EntityType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EntityType({})", self.code())
    }
}

fn value_of(byte: u8) -> Option<u32> {
    ALPHABET.iter().position(|&b| b == byte).map(|v| v as u32)
}

fn parse_structure(text: &str) -> Result<[u8; CODE_LEN], CodeError> {
    let count = text.chars().count();
    if count != CODE_LEN {
        return Err(CodeError::Length(count));
    }
    let mut bytes = [0u8; CODE_LEN];
    for (i, ch) in text.chars().enumerate() {
        let position = i + 1;
        let byte = u8::try_from(ch).ok().filter(|b| value_of(*b).is_some());
        let Some(byte) = byte else {
            return Err(CodeError::Character { position, found: ch });
        };
        if (3..=8).contains(&position) && !byte.is_ascii_digit() {
            return Err(CodeError::Division { position, found: ch });
        }
        bytes[i] = byte;
    }
    Ok(bytes)
}

/// GB 11714: weights 3,7,9,10,5,8,4,2; digits count as themselves and letters A-Z as 10-35.
fn org_check(body: &[u8]) -> u8 {
    let sum: u32 = body
        .iter()
        .zip(ORG_WEIGHTS)
        .map(|(&b, w)| {
            let v = if b.is_ascii_digit() { u32::from(b - b'0') } else { u32::from(b - b'A') + 10 };
            v * w
        })
        .sum();
    match 11 - sum % 11 {
        10 => b'X',
        11 => b'0',
        v => b'0' + v as u8,
    }
}

/// GB 32100: weights 3^(i-1) mod 31 over positions 1-17, values by alphabet index.
fn overall_check(first17: &[u8]) -> u8 {
    let mut weight = 1u32;
    let mut sum = 0u32;
    for &b in first17 {
        sum += value_of(b).unwrap_or(0) * weight;
        weight = weight * 3 % 31;
    }
    ALPHABET[((31 - sum % 31) % 31) as usize]
}

fn verify_checks(bytes: &[u8; CODE_LEN]) -> Result<(), CodeError> {
    let expected = org_check(&bytes[8..16]);
    if bytes[16] != expected {
        return Err(CodeError::OrganisationCheck {
            found: char::from(bytes[16]),
            expected: char::from(expected),
        });
    }
    let expected = overall_check(&bytes[..17]);
    if bytes[17] != expected {
        return Err(CodeError::OverallCheck {
            found: char::from(bytes[17]),
            expected: char::from(expected),
        });
    }
    Ok(())
}

impl fmt::Display for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CreditCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CreditCode({}", self.as_str())?;
        if self.overridden {
            f.write_str(", overridden")?;
        }
        f.write_str(")")
    }
}

impl FromStr for CreditCode {
    type Err = CodeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for CreditCode {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// Deserialising checks the structure only: a payload may name a code that was accepted by an
/// override, and whether that override exists is a question for domain validation.
impl<'de> Deserialize<'de> for CreditCode {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse_recorded(&text).map_err(serde::de::Error::custom)
    }
}

impl schemars::JsonSchema for CreditCode {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "CreditCode".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "Unified social credit code (GB 32100-2015): 18 characters.",
            "type": "string",
            "pattern": "^[0-9A-HJ-NP-RTUW-Y]{2}[0-9]{6}[0-9A-HJ-NP-RTUW-Y]{10}$"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REAL: &str = "91350100M000100Y43";

    #[test]
    fn accepts_a_real_code_and_exposes_its_parts() {
        let code = CreditCode::parse(REAL).unwrap();
        assert_eq!(code.as_str(), REAL);
        assert_eq!(code.registration_authority(), '9');
        assert_eq!(code.entity_type().code(), "91");
        assert_eq!(code.entity_type().description(), Some("enterprise"));
        assert_eq!(code.division(), "350100");
        assert_eq!(code.organisation_code(), "M000100Y4");
        assert_eq!(code.check_status(), CheckStatus::Verified);
    }

    #[test]
    fn names_the_rule_that_failed() {
        assert_eq!(CreditCode::parse("9135"), Err(CodeError::Length(4)));
        assert_eq!(
            CreditCode::parse("91350100M000100I43"),
            Err(CodeError::Character { position: 16, found: 'I' })
        );
        assert_eq!(
            CreditCode::parse("9135A100M000100Y43"),
            Err(CodeError::Division { position: 5, found: 'A' })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y53"),
            Err(CodeError::OrganisationCheck { found: '5', expected: '4' })
        );
        assert_eq!(
            CreditCode::parse("91350100M000100Y44"),
            Err(CodeError::OverallCheck { found: '4', expected: '3' })
        );
        assert_eq!(
            CreditCode::parse("91350100m000100Y43"),
            Err(CodeError::Character { position: 9, found: 'm' })
        );
        assert!(matches!(
            CreditCode::parse("９1350100M000100Y43"),
            Err(CodeError::Character { .. })
        ));
    }

    #[test]
    fn an_override_accepts_a_failing_check_but_not_a_bad_structure() {
        let why = CheckOverride { reason: "pilot code".into(), evidence: "cert 1".into() };
        let code = CreditCode::parse_with_override("91350100M000100Y44", &why).unwrap();
        assert_eq!(code.check_status(), CheckStatus::Overridden);
        let good = CreditCode::parse_with_override(REAL, &why).unwrap();
        assert_eq!(good.check_status(), CheckStatus::Verified);
        assert!(CreditCode::parse_with_override("91350100M000100I44", &why).is_err());
    }

    #[test]
    fn complete_computes_both_checks() {
        assert_eq!(CreditCode::complete("91350100M000100Y").unwrap().as_str(), REAL);
        for prefix in ["916205020000000A", "92620502MA7B8C9D", "936205217890ABCD"] {
            let code = CreditCode::complete(prefix).unwrap();
            assert_eq!(CreditCode::parse(code.as_str()).unwrap(), code);
        }
    }

    #[test]
    fn every_single_character_change_is_caught() {
        // The mod-31 check catches every substitution of a single character.
        let code = CreditCode::complete("91620502MA7B8C9D").unwrap();
        for i in 0..CODE_LEN {
            for &b in ALPHABET {
                let mut bytes = code.bytes;
                if bytes[i] == b || ((2..8).contains(&i) && !b.is_ascii_digit()) {
                    continue;
                }
                bytes[i] = b;
                let text = std::str::from_utf8(&bytes).unwrap();
                assert!(CreditCode::parse(text).is_err(), "{text} should fail");
            }
        }
    }

    #[test]
    fn serde_round_trip_keeps_the_text() {
        let code = CreditCode::parse(REAL).unwrap();
        let json = serde_json::to_string(&code).unwrap();
        assert_eq!(json, format!("\"{REAL}\""));
        assert_eq!(serde_json::from_str::<CreditCode>(&json).unwrap(), code);
        assert!(serde_json::from_str::<CreditCode>("\"91350100\"").is_err());
    }
}
