//! The market-entity register and the entity's online presence.
//!
//! These events live in the entity's own stream (`entity/<credit code>`), so apart from
//! [`EntityRegistered`], which introduces the code, they do not repeat it.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::{Authority, LegalBasis, PersonRef};
use crate::{CheckOverride, CreditCode};

/// The legal form of a market entity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum EntityKind {
    /// Limited liability company (有限责任公司).
    LimitedLiabilityCompany,
    /// Company limited by shares (股份有限公司).
    JointStockCompany,
    /// Enterprise owned by the whole people (全民所有制企业).
    StateOwnedEnterprise,
    /// Collectively owned enterprise (集体所有制企业).
    CollectiveEnterprise,
    /// Partnership enterprise (合伙企业).
    Partnership,
    /// Sole proprietorship enterprise (个人独资企业).
    SoleProprietorship,
    /// Branch of an enterprise (分支机构), registered separately.
    Branch,
    /// Individual business (个体工商户).
    IndividualBusiness,
    /// Farmers' specialised co-operative (农民专业合作社).
    FarmersCooperative,
    /// Any other form; the register's own wording goes in the entity name or scope.
    Other,
}

/// A market entity entered the register (设立登记).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityRegistered {
    /// The entity's unified social credit code (统一社会信用代码).
    pub credit_code: CreditCode,
    /// Present exactly when the code fails its check characters and was accepted anyway:
    /// why, and on what evidence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_override: Option<CheckOverride>,
    /// The registered name (名称).
    pub name: String,
    /// The legal form.
    pub entity_kind: EntityKind,
    /// The registered address (住所 or 经营场所).
    pub registered_address: String,
    /// The six-digit administrative division code of the address, for example "620502".
    pub division: String,
    /// The registration authority (登记机关).
    pub registration_authority: Authority,
    /// The date of establishment on the licence (成立日期).
    pub establishment_date: NaiveDate,
    /// The registered business scope (经营范围), as worded on the licence.
    pub business_scope: String,
    /// The registered capital (注册资本) in fen; absent for forms that register none, such as
    /// individual businesses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_capital_fen: Option<i64>,
    /// The legal representative, operator or person in charge, as a commitment only.
    pub legal_representative: PersonRef,
}

/// The registered details that a change registration may alter; absent fields are unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityChanges {
    /// The new registered name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The new legal form (for example after conversion from an individual business).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_kind: Option<EntityKind>,
    /// The new registered address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_address: Option<String>,
    /// The new six-digit administrative division code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// The new registration authority, when the entity moved to another one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registration_authority: Option<Authority>,
    /// The new business scope, in full.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_scope: Option<String>,
    /// The new registered capital in fen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registered_capital_fen: Option<i64>,
    /// The new legal representative, as a commitment only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub legal_representative: Option<PersonRef>,
}

/// Registered details of the entity changed (变更登记).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityDetailsChanged {
    /// The authority that registered the change.
    pub authority: Authority,
    /// The date the change was registered (变更日期).
    pub change_date: NaiveDate,
    /// The new values of the fields that changed; a field that is absent did not change.
    pub changes: EntityChanges,
}

/// The entity's business licence was revoked (吊销营业执照).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LicenceRevoked {
    /// The number of the decision that revoked the licence, usually an administrative penalty
    /// decision, for example "天市监处罚〔2025〕12号".
    pub decision_number: String,
    /// The authority that decided.
    pub authority: Authority,
    /// The provisions the revocation rests on.
    pub legal_basis: Vec<LegalBasis>,
    /// The date of the decision.
    pub decision_date: NaiveDate,
}

/// Why an entity left the register.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeregistrationReason {
    /// Dissolved by resolution of its members or owners (决议解散).
    Dissolution,
    /// The operating term in its articles expired (营业期限届满).
    TermExpired,
    /// Merged into or split among other entities (合并、分立).
    MergerOrSplit,
    /// Declared bankrupt (依法宣告破产).
    Bankruptcy,
    /// Dissolved by a court (人民法院依法予以解散).
    CourtDissolution,
    /// Its licence was revoked, or it was ordered closed or its registration cancelled
    /// (被吊销营业执照、责令关闭或者被撤销).
    LicenceRevokedOrClosed,
    /// Deregistered by the authority on its own motion (强制注销 or 依职权注销).
    CompulsoryDeregistration,
    /// An individual business stopped trading (个体工商户停业注销).
    BusinessCeased,
    /// Any other reason.
    Other,
}

/// The entity was deregistered (注销登记) and no longer exists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EntityDeregistered {
    /// Why it was deregistered.
    pub reason: DeregistrationReason,
    /// The authority that registered the deregistration.
    pub authority: Authority,
    /// The date of deregistration (注销日期).
    pub deregistration_date: NaiveDate,
}

/// The entity registered a website it operates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsiteRegistered {
    /// The website's address, for example "https://www.example.cn".
    pub url: String,
    /// The ICP filing number (ICP备案号), for example "甘ICP备12345678号-1".
    pub icp_filing_number: String,
    /// The date the website was registered with the bureau.
    pub registration_date: NaiveDate,
}

/// A website the entity registered is no longer operated by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WebsiteRemoved {
    /// The website's address, as registered.
    pub url: String,
    /// The ICP filing number, as registered.
    pub icp_filing_number: String,
    /// The date the website was removed.
    pub removal_date: NaiveDate,
}

/// The entity opened a shop on an e-commerce platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineShopOpened {
    /// The credit code of the platform operator, itself a market entity of the ledger.
    pub platform_credit_code: CreditCode,
    /// The shop's name on the platform.
    pub shop_name: String,
    /// The shop's identifier on the platform; with the platform code it names the shop.
    pub shop_id: String,
    /// The shop's address on the web, when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_url: Option<String>,
    /// The date the shop opened.
    pub opening_date: NaiveDate,
}

/// A shop of the entity on an e-commerce platform closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OnlineShopClosed {
    /// The credit code of the platform operator.
    pub platform_credit_code: CreditCode,
    /// The shop's name on the platform when it closed.
    pub shop_name: String,
    /// The shop's identifier on the platform, as recorded when it opened.
    pub shop_id: String,
    /// The shop's address on the web, when it had one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shop_url: Option<String>,
    /// The date the shop closed.
    pub closing_date: NaiveDate,
}
