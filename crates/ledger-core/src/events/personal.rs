//! Personal data kept out of the ledger: commitments instead of names and ID numbers.
//!
//! A natural person's name and identity-document number (a legal representative, an operator)
//! must be erasable when the law requires it, yet every payload is hashed into the chain and
//! can never change. So payloads carry only a [`PersonRef`]: a commitment to the data, the id
//! under which an off-ledger store keeps the data and its salt, and the person's role. The
//! commitment is computed by [`PersonalData::commit`]:
//!
//! 1. start a BLAKE3 hash with the 16-byte domain tag [`PERSONAL_DATA_TAG`]
//!    (`credit-ledger:pd`), so that no commitment can be mistaken for an event hash or a
//!    Merkle node, which use other tags;
//! 2. add the 32-byte salt. The salt is random, drawn afresh for every commitment and stored
//!    only beside the data, off the ledger. Without it, guessing a name and ID number from
//!    the commitment means searching 2^256 salts; with a reused or predictable salt the small
//!    space of ID numbers could be searched instead;
//! 3. add each field in a fixed order (name, document kind as its snake_case name, document
//!    number), each as a 4-byte big-endian byte length followed by its UTF-8 bytes, so that
//!    moving bytes from one field to the next always changes the input;
//! 4. the 32-byte digest is the commitment.
//!
//! The fields are hashed exactly as given: callers normalise them first (for example the
//! final `X` of a resident ID number in upper case), or the same person yields two
//! commitments.
//!
//! Whoever holds the data and the salt can show that a commitment names that person, by
//! computing it again ([`PersonRef::opens_to`]). Lawful erasure deletes the data and the salt
//! from the off-ledger store and records a `personal_data_erased` event; the commitments left
//! in the chain then name no one, and every hash still verifies.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::LegalBasis;
use crate::Hash32;

/// The domain tag that starts every commitment input: 16 ASCII bytes, no terminator.
pub const PERSONAL_DATA_TAG: &[u8; 16] = b"credit-ledger:pd";

/// The role in which a natural person appears in a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PersonRole {
    /// Legal representative of a company or co-operative (法定代表人).
    LegalRepresentative,
    /// Operator of an individual business (经营者).
    Operator,
    /// Managing partner of a partnership (执行事务合伙人).
    ManagingPartner,
    /// Person in charge of a branch or sole proprietorship (负责人 or 投资人).
    PersonInCharge,
}

/// A natural person named in a payload, by commitment only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonRef {
    /// BLAKE3 commitment to the person's data and a secret salt (see the module docs); it
    /// reveals nothing about the person once the salt is erased.
    pub commitment: Hash32,
    /// The id under which the off-ledger store keeps the data and the salt; erasure events
    /// name it.
    pub commitment_id: Uuid,
    /// The role the person has in this record.
    pub role: PersonRole,
}

impl PersonRef {
    /// Whether `data` with `salt` is what this reference commits to.
    pub fn opens_to(&self, data: &PersonalData, salt: &[u8; 32]) -> bool {
        data.commit(salt) == self.commitment
    }
}

/// The kind of identity document a person's number comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IdDocumentKind {
    /// Resident identity card of the PRC (居民身份证).
    ResidentIdentityCard,
    /// Residence permit for residents of Hong Kong, Macao or Taiwan (港澳台居民居住证).
    ResidencePermit,
    /// Mainland travel permit for Hong Kong and Macao residents (港澳居民来往内地通行证).
    HongKongMacaoTravelPermit,
    /// Mainland travel permit for Taiwan residents (台湾居民来往大陆通行证).
    TaiwanTravelPermit,
    /// Foreigner's permanent residence identity card (外国人永久居留身份证).
    ForeignPermanentResidenceCard,
    /// Passport.
    Passport,
    /// Any other document.
    Other,
}

impl IdDocumentKind {
    /// The snake_case name, as serialised and as hashed into a commitment.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ResidentIdentityCard => "resident_identity_card",
            Self::ResidencePermit => "residence_permit",
            Self::HongKongMacaoTravelPermit => "hong_kong_macao_travel_permit",
            Self::TaiwanTravelPermit => "taiwan_travel_permit",
            Self::ForeignPermanentResidenceCard => "foreign_permanent_residence_card",
            Self::Passport => "passport",
            Self::Other => "other",
        }
    }
}

/// A natural person's identifying data. It lives in the off-ledger store, never in a payload;
/// its `Debug` form hides the values so that it cannot leak into logs.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonalData {
    /// The person's name as on the document.
    pub name: String,
    /// The kind of identity document.
    pub id_kind: IdDocumentKind,
    /// The document number.
    pub id_number: String,
}

impl PersonalData {
    /// The commitment to this data under `salt`, as described in the module docs.
    pub fn commit(&self, salt: &[u8; 32]) -> Hash32 {
        let mut h = blake3::Hasher::new();
        h.update(PERSONAL_DATA_TAG);
        h.update(salt);

        for field in [self.name.as_str(), self.id_kind.as_str(), self.id_number.as_str()] {
            h.update(&(field.len() as u32).to_be_bytes());
            h.update(field.as_bytes());
        }
        h.finalize().into()
    }

    /// A reference to this person for a payload.
    pub fn person_ref(&self, salt: &[u8; 32], commitment_id: Uuid, role: PersonRole) -> PersonRef {
        PersonRef { commitment: self.commit(salt), commitment_id, role }
    }
}

impl fmt::Debug for PersonalData {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PersonalData")
            .field("name", &"<redacted>")
            .field("id_kind", &self.id_kind)
            .field("id_number", &"<redacted>")
            .finish()
    }
}

/// Who asked for personal data to be erased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureRequester {
    /// The person the data is about.
    DataSubject,
    /// The market entity that registered the person.
    Entity,
    /// A court.
    Court,
    /// A supervisory authority for personal information (网信部门 or another).
    SupervisoryAuthority,
    /// The bureau itself, for example when the retention period ended.
    Bureau,
}

/// The ground for erasure under the Personal Information Protection Law, article 47.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureGround {
    /// The purpose of processing is achieved, cannot be achieved or no longer needs the data.
    PurposeAchieved,
    /// The retention period has ended or the service stopped.
    RetentionPeriodEnded,
    /// The person withdrew consent.
    ConsentWithdrawn,
    /// The data was processed in breach of law or agreement.
    UnlawfulProcessing,
    /// Another case that a law or administrative regulation provides.
    Other,
}

/// Personal data behind some commitments was lawfully erased from the off-ledger store.
///
/// The commitments stay in the chain; after this event they can no longer be opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonalDataErased {
    /// The commitment ids whose data and salts were erased.
    pub commitment_ids: Vec<Uuid>,
    /// Who asked for the erasure.
    pub requested_by: ErasureRequester,
    /// The ground for the erasure.
    pub ground: ErasureGround,
    /// The provisions the erasure rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// The reference of the request or order (for example an application or judgment number).
    pub request_reference: String,
    /// The date the data was erased.
    pub erasure_date: NaiveDate,
}

#[cfg(test)]
mod tests {
    use super::*;

    const SALT: [u8; 32] = [7; 32];

    fn person() -> PersonalData {
        PersonalData {
            name: "张三".into(),
            id_kind: IdDocumentKind::ResidentIdentityCard,
            id_number: "62050219800101123X".into(),
        }
    }

    #[test]
    fn same_data_and_salt_give_the_same_commitment() {
        assert_eq!(person().commit(&SALT), person().commit(&SALT));
        let r = person().person_ref(&SALT, Uuid::nil(), PersonRole::LegalRepresentative);
        assert!(r.opens_to(&person(), &SALT));
    }

    #[test]
    fn salt_and_every_field_change_the_commitment() {
        let base = person().commit(&SALT);
        let mut salt = SALT;
        salt[31] ^= 1;
        assert_ne!(person().commit(&salt), base, "salt");

        let changed_name = PersonalData { name: "张三丰".into(), ..person() };
        let changed_kind = PersonalData { id_kind: IdDocumentKind::Passport, ..person() };
        let changed_number = PersonalData { id_number: "62050219800101123x".into(), ..person() };
        for (field, changed) in
            [("name", changed_name), ("id_kind", changed_kind), ("id_number", changed_number)]
        {
            assert_ne!(changed.commit(&SALT), base, "changing {field} kept the commitment");
        }
    }

    #[test]
    fn field_boundaries_are_unambiguous() {
        let a = PersonalData { name: "ab".into(), ..person() };
        let b = PersonalData {
            name: "a".into(),
            id_number: format!("b{}", person().id_number),
            ..person()
        };
        assert_ne!(a.commit(&SALT), b.commit(&SALT));
    }

    #[test]
    fn commitment_input_is_as_documented() {
        let mut input = Vec::new();
        input.extend_from_slice(b"credit-ledger:pd");
        input.extend_from_slice(&SALT);
        for field in ["张三", "resident_identity_card", "62050219800101123X"] {
            input.extend_from_slice(&(field.len() as u32).to_be_bytes());
            input.extend_from_slice(field.as_bytes());
        }
        assert_eq!(person().commit(&SALT), Hash32::from(blake3::hash(&input)));
    }

    #[test]
    fn document_kind_names_match_serde() {
        use IdDocumentKind::*;
        let all = [
            ResidentIdentityCard,
            ResidencePermit,
            HongKongMacaoTravelPermit,
            TaiwanTravelPermit,
            ForeignPermanentResidenceCard,
            Passport,
            Other,
        ];
        for kind in all {
            assert_eq!(serde_json::to_value(kind).unwrap(), kind.as_str());
        }
    }

    #[test]
    fn debug_hides_the_values() {
        let text = format!("{:?}", person());
        assert!(!text.contains("张三") && !text.contains("1123X"), "{text}");
    }
}
