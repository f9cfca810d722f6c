//! Principals, bearer tokens, authorisation and per-principal rate limits.
//!
//! Principals and their tokens live in the ledger itself, as events of one stream,
//! [`IDENTITY_STREAM`], so that who could see what is auditable like any other record. The
//! server keeps an in-memory table folded from that stream:
//!
//! 1. at start it reads the whole stream (one stream, read in pages: the store has no read by
//!    stream kind, which is why identities share one stream rather than one per principal);
//! 2. every admin change is appended with the stream's exact expected version, under a lock,
//!    after catching up with the stream; so two processes on one database cannot both
//!    register the same principal, and the table is updated from the committed events, never
//!    from the request;
//! 3. a background task catches up every [`crate::config::PRINCIPAL_REFRESH_INTERVAL`] with
//!    changes another process made; changes made through this process apply at once.
//!
//! A token is 32 random bytes in base64url, shown once when issued; the ledger and the table
//! keep only its BLAKE3 hash. Authentication hashes the presented token and looks the hash up,
//! so a revoked token (removed from the table when its revocation commits) fails at once.

use std::collections::{BTreeMap, HashMap};
use std::marker::PhantomData;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Instant;

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ledger_core::events::{DomainEvent, PrincipalRole};
use ledger_core::{Hash32, RecordedEvent, StreamName};
use ledger_store::{AppendOutcome, AppendRequest, ExpectedVersion, Store, StoreError};
use rand_core::RngCore as _;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};
use uuid::Uuid;

use crate::problem::ApiError;
use crate::state::AppState;

/// The stream that holds every principal and token event.
pub const IDENTITY_STREAM: &str = "identity/principals";

/// The id under which the bootstrap admin token authenticates; it is never recorded.
pub const BOOTSTRAP_PRINCIPAL_ID: &str = "bootstrap-admin";

/// The longest principal id, in bytes.
pub const PRINCIPAL_ID_BYTES_MAX: usize = 64;

/// The longest principal name, department, token label or revocation reason, in characters.
pub const LABEL_CHARS_MAX: usize = 200;

/// Identity events read per page while catching up.
const IDENTITY_PAGE_EVENTS: usize = 1_000;

/// A role as the HTTP interface names it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Appends events and imports history.
    Recorder,
    /// Queries restrictions for its department.
    Partner,
    /// Reads the log, proofs and checkpoints.
    Auditor,
    /// Manages principals and tokens.
    Admin,
}

impl Role {
    /// The role's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Recorder => "recorder",
            Self::Partner => "partner",
            Self::Auditor => "auditor",
            Self::Admin => "admin",
        }
    }
}

fn role_list(roles: &[Role]) -> String {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(", ")
}

impl From<PrincipalRole> for Role {
    fn from(role: PrincipalRole) -> Self {
        match role {
            PrincipalRole::Recorder => Self::Recorder,
            PrincipalRole::Partner => Self::Partner,
            PrincipalRole::Auditor => Self::Auditor,
            PrincipalRole::Admin => Self::Admin,
        }
    }
}

impl From<Role> for PrincipalRole {
    fn from(role: Role) -> Self {
        match role {
            Role::Recorder => Self::Recorder,
            Role::Partner => Self::Partner,
            Role::Auditor => Self::Auditor,
            Role::Admin => Self::Admin,
        }
    }
}

/// A registered caller.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Principal {
    /// Stable id.
    pub id: String,
    /// Human-readable name.
    pub name: String,
    /// Granted roles.
    pub roles: Vec<Role>,
    /// For a partner, its department.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    /// For a partner, whether it sees every department's measures.
    pub all_departments: bool,
}

impl Principal {
    /// Whether the principal holds `role`.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// A token as the table knows it: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct TokenInfo {
    /// The token's id.
    pub token_id: Uuid,
    /// Its holder.
    pub principal_id: String,
    /// What it is for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// The log position of its `token_issued` event.
    pub issued_position: u64,
    /// The log position of its `token_revoked` event, once revoked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoked_position: Option<u64>,
}

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Who.
    pub principal: Arc<Principal>,
    /// With which token (nil for the bootstrap token).
    pub token_id: Uuid,
}

/// The folded identity stream.
#[derive(Debug, Default)]
pub struct IdentityTable {
    version: u64,
    principals: BTreeMap<String, Arc<Principal>>,
    tokens: HashMap<Uuid, TokenInfo>,
    by_hash: HashMap<Hash32, Uuid>,
}

impl IdentityTable {
    /// The identity stream's version this table reflects.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// A principal by id.
    pub fn principal(&self, id: &str) -> Option<&Arc<Principal>> {
        self.principals.get(id)
    }

    /// Every principal, by id.
    pub fn principals(&self) -> impl Iterator<Item = &Arc<Principal>> {
        self.principals.values()
    }

    /// A token by id.
    pub fn token(&self, token_id: Uuid) -> Option<&TokenInfo> {
        self.tokens.get(&token_id)
    }

    /// The tokens of a principal, oldest first.
    pub fn tokens_of(&self, principal_id: &str) -> Vec<TokenInfo> {
        let mut tokens: Vec<TokenInfo> =
            self.tokens.values().filter(|t| t.principal_id == principal_id).cloned().collect();
        tokens.sort_by_key(|t| t.issued_position);
        tokens
    }

    /// Applies one committed identity event. Events arrive in stream order; one that makes no
    /// sense (a token for an unknown principal) is skipped with a warning, since refusing to
    /// start would lock every caller out.
    fn apply(&mut self, event: &RecordedEvent) {
        self.version = event.stream_version;
        let parsed =
            DomainEvent::parse(&event.event_type, event.schema_version, &event.payload_value());
        match parsed {
            Ok(DomainEvent::PrincipalRegisteredV1(p)) => {
                let principal = Principal {
                    id: p.principal_id.clone(),
                    name: p.name,
                    roles: p.roles.into_iter().map(Role::from).collect(),
                    department: p.department,
                    all_departments: p.all_departments,
                };
                self.principals.insert(p.principal_id, Arc::new(principal));
            }
            Ok(DomainEvent::TokenIssuedV1(t)) if self.principals.contains_key(&t.principal_id) => {
                self.by_hash.insert(t.token_hash, t.token_id);
                self.tokens.insert(
                    t.token_id,
                    TokenInfo {
                        token_id: t.token_id,
                        principal_id: t.principal_id,
                        label: t.label,
                        issued_position: event.position,
                        revoked_position: None,
                    },
                );
            }
            Ok(DomainEvent::TokenRevokedV1(r)) => {
                if let Some(token) = self.tokens.get_mut(&r.token_id) {
                    token.revoked_position = Some(event.position);
                }
                self.by_hash.retain(|_, id| *id != r.token_id);
            }
            other => warn!(
                position = event.position,
                event_type = %event.event_type,
                parsed = other.is_ok(),
                "identity event skipped"
            ),
        }
    }
}

/// The principal table and the lock that serialises changes to it.
#[derive(Debug)]
pub struct Identities {
    table: RwLock<IdentityTable>,
    bootstrap: Option<(Hash32, Arc<Principal>)>,
    write: tokio::sync::Mutex<()>,
    stream: StreamName,
}

impl Identities {
    /// Builds the table from the identity stream.
    pub async fn load(store: &Store, bootstrap_token: Option<&str>) -> Result<Self, StoreError> {
        let bootstrap = bootstrap_token.map(|token| {
            let principal = Principal {
                id: BOOTSTRAP_PRINCIPAL_ID.to_owned(),
                name: "bootstrap admin (from the server configuration)".to_owned(),
                roles: vec![Role::Admin],
                department: None,
                all_departments: false,
            };
            (token_hash(token), Arc::new(principal))
        });
        let identities = Self {
            table: RwLock::new(IdentityTable::default()),
            bootstrap,
            write: tokio::sync::Mutex::new(()),
            stream: identity_stream(),
        };
        identities.catch_up(store).await?;
        let (principals, version) = identities.read(|t| (t.principals.len(), t.version));
        info!(principals, version, "identities loaded");
        Ok(identities)
    }

    /// Reads the table.
    pub fn read<R>(&self, f: impl FnOnce(&IdentityTable) -> R) -> R {
        // A panic while holding the lock cannot leave the table half-updated (updates are
        // single inserts), so a poisoned lock is still safe to read.
        let table = self.table.read().unwrap_or_else(|e| e.into_inner());
        f(&table)
    }

    /// Applies identity events committed since the table's version.
    pub async fn catch_up(&self, store: &Store) -> Result<(), StoreError> {
        loop {
            let from = self.read(|t| t.version) + 1;
            let events = store.read_stream(&self.stream, from, IDENTITY_PAGE_EVENTS).await?;
            let mut table = self.table.write().unwrap_or_else(|e| e.into_inner());
            for event in &events {
                // Another task may have applied this page meanwhile.
                if event.stream_version == table.version + 1 {
                    table.apply(event);
                }
            }
            if events.len() < IDENTITY_PAGE_EVENTS {
                return Ok(());
            }
        }
    }

    /// The caller a presented token belongs to, if it is valid now.
    pub fn authenticate(&self, token: &str) -> Option<Caller> {
        let hash = token_hash(token);
        if let Some((bootstrap, principal)) = &self.bootstrap {
            if *bootstrap == hash {
                return Some(Caller { principal: principal.clone(), token_id: Uuid::nil() });
            }
        }
        self.read(|t| {
            let token_id = *t.by_hash.get(&hash)?;
            let info = t.tokens.get(&token_id)?;
            let principal = t.principals.get(&info.principal_id)?.clone();
            Some(Caller { principal, token_id })
        })
    }

    /// Records identity events: under the write lock, catches up, lets `decide` turn the
    /// current table into the events to append (or a refusal), appends them at the exact
    /// version the decision saw, and applies them. They take effect `now`.
    pub async fn record(
        &self,
        store: &Store,
        recorded_by: &str,
        now: chrono::DateTime<chrono::Utc>,
        decide: impl FnOnce(&IdentityTable) -> Result<Vec<DomainEvent>, ApiError>,
    ) -> Result<AppendOutcome, ApiError> {
        let _guard = self.write.lock().await;
        self.catch_up(store).await?;
        let (events, version) = self.read(|t| decide(t).map(|events| (events, t.version)))?;
        let proposals = events
            .iter()
            .map(|event| {
                ledger_core::event::ProposedEvent::new(
                    Uuid::now_v7(),
                    event.event_type(),
                    event.schema_version(),
                    now,
                    &event.to_payload(),
                )
                .map_err(|e| ApiError::Internal(format!("identity event: {e}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let expected = if version == 0 {
            ExpectedVersion::NoStream
        } else {
            ExpectedVersion::Exactly(version)
        };
        let request = AppendRequest::new(self.stream.clone(), expected, proposals, recorded_by);
        let outcome = store.append(request).await?;
        self.catch_up(store).await?;
        Ok(outcome)
    }
}

/// The identity stream's name.
pub fn identity_stream() -> StreamName {
    // The constant satisfies the naming rule; a test checks it.
    StreamName::new(IDENTITY_STREAM).unwrap_or_else(|_| unreachable!("valid stream name"))
}

/// A fresh token: 32 random bytes from the operating system, base64url without padding.
pub fn generate_token() -> String {
    let mut bytes = [0u8; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The hash under which a token is recorded and looked up.
pub fn token_hash(token: &str) -> Hash32 {
    blake3::hash(token.as_bytes()).into()
}

/// Checks a principal id: 1-[`PRINCIPAL_ID_BYTES_MAX`] characters of `A-Z a-z 0-9 . _ : -`.
pub fn validate_principal_id(id: &str) -> Result<(), ApiError> {
    let valid = !id.is_empty()
        && id.len() <= PRINCIPAL_ID_BYTES_MAX
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_:".contains(&b))
        && id != BOOTSTRAP_PRINCIPAL_ID;
    if valid {
        Ok(())
    } else {
        Err(ApiError::InvalidBody(format!(
            "principal id {:?} is not accepted; use 1-{PRINCIPAL_ID_BYTES_MAX} characters of \
             A-Z a-z 0-9 . _ : - (and not {BOOTSTRAP_PRINCIPAL_ID:?})",
            id.chars().take(80).collect::<String>()
        )))
    }
}

/// Which roles may call an endpoint; implemented by marker types so that a handler's
/// signature states its policy.
pub trait Policy: Send + Sync + 'static {
    /// The roles allowed (any one suffices).
    const ROLES: &'static [Role];
}

/// Recorders only.
#[derive(Debug)]
pub struct Recorders;
impl Policy for Recorders {
    const ROLES: &'static [Role] = &[Role::Recorder];
}

/// Partners only.
#[derive(Debug)]
pub struct Partners;
impl Policy for Partners {
    const ROLES: &'static [Role] = &[Role::Partner];
}

/// Auditors only.
#[derive(Debug)]
pub struct Auditors;
impl Policy for Auditors {
    const ROLES: &'static [Role] = &[Role::Auditor];
}

/// Admins only.
#[derive(Debug)]
pub struct Admins;
impl Policy for Admins {
    const ROLES: &'static [Role] = &[Role::Admin];
}

/// An authenticated caller allowed by policy `P`. As the first extractor of a handler it
/// runs before the body is read, so a refused request does no work and leaves no trace.
#[derive(Debug)]
pub struct Authorized<P>(pub Caller, pub PhantomData<P>);

impl<P: Policy> FromRequestParts<AppState> for Authorized<P> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let caller = authenticate(parts, state)?;
        state.rate_limiter().check(&caller.principal.id)?;
        if !P::ROLES.iter().any(|role| caller.principal.has(*role)) {
            return Err(ApiError::Forbidden(format!(
                "principal {:?} has the roles [{}]; this endpoint requires one of [{}]",
                caller.principal.id,
                role_list(&caller.principal.roles),
                role_list(P::ROLES)
            )));
        }
        Ok(Self(caller, PhantomData))
    }
}

fn authenticate(parts: &Parts, state: &AppState) -> Result<Caller, ApiError> {
    let header = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::Unauthenticated(
            "this endpoint needs an `Authorization: Bearer <token>` header".to_owned(),
        )
    })?;
    let token = header
        .to_str()
        .ok()
        .and_then(|h| h.strip_prefix("Bearer ").or_else(|| h.strip_prefix("bearer ")))
        .map(str::trim)
        .ok_or_else(|| {
            ApiError::Unauthenticated(
                "the Authorization header must be `Bearer <token>`".to_owned(),
            )
        })?;
    state.identities().authenticate(token).ok_or_else(|| {
        ApiError::Unauthenticated("the bearer token is unknown or revoked".to_owned())
    })
}

/// A token bucket per principal: `rate` tokens a second, at most `burst` saved up.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// A limiter of `rate` requests a second with bursts of `burst`.
    pub fn new(rate: u32, burst: u32) -> Self {
        Self {
            rate: f64::from(rate.max(1)),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one token for `principal`, or says how long to wait for one.
    pub fn check(&self, principal: &str) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let (tokens, last) = match buckets.get_mut(principal) {
            Some(bucket) => bucket,
            None => buckets.entry(principal.to_owned()).or_insert((self.burst, now)),
        };
        let refilled = now.duration_since(*last).as_secs_f64() * self.rate;
        *tokens = (*tokens + refilled).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - *tokens) / self.rate;
            Err(ApiError::RateLimited { retry_after_secs: wait.ceil().max(1.0) as u64 })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_stream_name_is_valid() {
        assert_eq!(identity_stream().as_str(), IDENTITY_STREAM);
    }

    #[test]
    fn tokens_are_random_base64url_and_hashed() {
        let (a, b) = (generate_token(), generate_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
        assert_eq!(token_hash(&a), Hash32::from(blake3::hash(a.as_bytes())));
    }

    #[test]
    fn principal_ids() {
        assert!(validate_principal_id("tax-bureau.tianshui:1").is_ok());
        for bad in ["", "a b", "x/y", BOOTSTRAP_PRINCIPAL_ID, &"x".repeat(65)] {
            assert!(validate_principal_id(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn rate_limiter_refills() {
        let limiter = RateLimiter::new(1_000, 2);
        assert!(limiter.check("a").is_ok());
        assert!(limiter.check("a").is_ok());
        assert!(matches!(limiter.check("a"), Err(ApiError::RateLimited { retry_after_secs: 1 })));
        assert!(limiter.check("b").is_ok(), "buckets are per principal");
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(limiter.check("a").is_ok());
    }
}
