//! Admin endpoints: principals and tokens, and signing a checkpoint on demand.
//!
//! Every change is recorded as an identity event before it takes effect (see [`crate::auth`]);
//! the answers are read back from the table the committed events produced.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use ledger_core::events::{DomainEvent, PrincipalRegistered, TokenIssued, TokenRevoked};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::auth::{
    generate_token, token_hash, validate_principal_id, Admins, Authorized, Principal, Role,
    TokenInfo, LABEL_CHARS_MAX,
};
use crate::extract::{ApiJson, ApiPath};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// A principal with its tokens (never the tokens themselves).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrincipalView {
    /// The principal.
    pub principal: Principal,
    /// Its tokens, oldest first.
    pub tokens: Vec<TokenInfo>,
}

/// Every principal.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PrincipalList {
    /// The principals, by id.
    pub principals: Vec<PrincipalView>,
}

/// A principal to register.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterPrincipal {
    /// Stable id: 1-64 characters of `A-Z a-z 0-9 . _ : -`.
    pub principal_id: String,
    /// Human-readable name.
    pub name: String,
    /// One or more roles.
    pub roles: Vec<Role>,
    /// For a partner: its department as named in the measure catalogue.
    #[serde(default)]
    pub department: Option<String>,
    /// For a partner: sees every department's measures instead of one.
    #[serde(default)]
    pub all_departments: bool,
}

fn check_label(field: &str, text: &str) -> Result<(), ApiError> {
    let length = text.chars().count();
    if length == 0 || length > LABEL_CHARS_MAX || text.chars().any(char::is_control) {
        return Err(ApiError::InvalidBody(format!(
            "{field} must have 1-{LABEL_CHARS_MAX} characters without control characters"
        )));
    }
    Ok(())
}

fn view(state: &AppState, id: &str) -> Option<PrincipalView> {
    state.identities().read(|t| {
        t.principal(id).map(|p| PrincipalView { principal: (**p).clone(), tokens: t.tokens_of(id) })
    })
}

/// Registers a principal.
#[utoipa::path(
    post,
    path = "/v1/principals",
    tag = "admin",
    request_body = RegisterPrincipal,
    responses(
        (status = 201, body = PrincipalView),
        (status = 409, description = "The id is taken",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid id, roles or department",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn register_principal(
    Authorized(caller, ..): Authorized<Admins>,
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterPrincipal>,
) -> Result<(StatusCode, Json<PrincipalView>), ApiError> {
    validate_principal_id(&body.principal_id)?;
    check_label("name", &body.name)?;
    if body.roles.is_empty() {
        return Err(ApiError::InvalidBody(
            "roles must name at least one of recorder, partner, auditor, admin".to_owned(),
        ));
    }
    let partner = body.roles.contains(&Role::Partner);
    match (&body.department, body.all_departments, partner) {
        (Some(department), false, true) => check_label("department", department)?,
        (None, true, true) | (None, false, false) => {}
        _ => {
            return Err(ApiError::InvalidBody(
                "a partner needs exactly one of `department` or `all_departments: true`; other \
                 roles take neither"
                    .to_owned(),
            ))
        }
    }

    let mut roles: Vec<_> = body.roles.iter().copied().map(Into::into).collect();
    roles.sort();
    roles.dedup();
    let event = PrincipalRegistered {
        principal_id: body.principal_id.clone(),
        name: body.name,
        roles,
        department: body.department,
        all_departments: body.all_departments,
    };
    let now = state.now();
    state
        .identities()
        .record(state.store(), &caller.principal.id, now, |table| {
            if table.principal(&event.principal_id).is_some() {
                return Err(ApiError::Conflict(format!(
                    "principal {:?} is already registered",
                    event.principal_id
                )));
            }
            Ok(vec![DomainEvent::PrincipalRegisteredV1(event.clone())])
        })
        .await?;
    let (principal, by) = (&body.principal_id, &caller.principal.id);
    tracing::info!(%principal, %by, "principal registered");
    let created = view(&state, &body.principal_id)
        .ok_or_else(|| ApiError::Internal("registered principal is missing".to_owned()))?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Lists every principal with its tokens.
#[utoipa::path(
    get,
    path = "/v1/principals",
    tag = "admin",
    responses((status = 200, body = PrincipalList)),
    security(("bearer" = []))
)]
pub async fn list_principals(
    Authorized(..): Authorized<Admins>,
    State(state): State<AppState>,
) -> Json<PrincipalList> {
    let principals = state.identities().read(|t| {
        t.principals()
            .map(|p| PrincipalView { principal: (**p).clone(), tokens: t.tokens_of(&p.id) })
            .collect()
    });
    Json(PrincipalList { principals })
}

/// One principal with its tokens.
#[utoipa::path(
    get,
    path = "/v1/principals/{principal_id}",
    tag = "admin",
    params(("principal_id" = String, Path)),
    responses(
        (status = 200, body = PrincipalView),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn get_principal(
    Authorized(..): Authorized<Admins>,
    State(state): State<AppState>,
    ApiPath(principal_id): ApiPath<String>,
) -> Result<Json<PrincipalView>, ApiError> {
    view(&state, &principal_id)
        .map(Json)
        .ok_or_else(|| ApiError::NotFound(format!("principal {principal_id:?} is not registered")))
}

/// A token to issue.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IssueToken {
    /// What the token is for.
    #[serde(default)]
    pub label: Option<String>,
}

/// A freshly issued token: the only time its text is shown.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssuedToken {
    /// The holder.
    pub principal_id: String,
    /// The token's id, for revocation.
    pub token_id: Uuid,
    /// The bearer token. It is not stored and cannot be shown again.
    pub token: String,
    /// The log position of the `token_issued` event.
    pub position: u64,
}

/// Issues a bearer token to a principal.
#[utoipa::path(
    post,
    path = "/v1/principals/{principal_id}/tokens",
    tag = "admin",
    params(("principal_id" = String, Path)),
    request_body = IssueToken,
    responses(
        (status = 201, body = IssuedToken),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn issue_token(
    Authorized(caller, ..): Authorized<Admins>,
    State(state): State<AppState>,
    ApiPath(principal_id): ApiPath<String>,
    ApiJson(body): ApiJson<IssueToken>,
) -> Result<(StatusCode, Json<IssuedToken>), ApiError> {
    if let Some(label) = &body.label {
        check_label("label", label)?;
    }
    let token = generate_token();
    let event = TokenIssued {
        principal_id: principal_id.clone(),
        token_id: Uuid::now_v7(),
        token_hash: token_hash(&token),
        label: body.label,
    };
    let now = state.now();
    let outcome = state
        .identities()
        .record(state.store(), &caller.principal.id, now, |table| {
            if table.principal(&principal_id).is_none() {
                return Err(ApiError::NotFound(format!(
                    "principal {principal_id:?} is not registered"
                )));
            }
            Ok(vec![DomainEvent::TokenIssuedV1(event.clone())])
        })
        .await?;
    tracing::info!(principal = %principal_id, token_id = %event.token_id, "token issued");
    let position = outcome.events.first().map_or(0, |e| e.position);
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken { principal_id, token_id: event.token_id, token, position }),
    ))
}

/// Why a token is revoked.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RevokeToken {
    /// The reason, recorded with the revocation.
    pub reason: String,
}

/// Revokes a token; it is refused from the moment this answers.
#[utoipa::path(
    post,
    path = "/v1/principals/{principal_id}/tokens/{token_id}/revoke",
    tag = "admin",
    params(("principal_id" = String, Path), ("token_id" = Uuid, Path)),
    request_body = RevokeToken,
    responses(
        (status = 200, body = TokenInfo),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already revoked",
            body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
pub async fn revoke_token(
    Authorized(caller, ..): Authorized<Admins>,
    State(state): State<AppState>,
    ApiPath((principal_id, token_id)): ApiPath<(String, Uuid)>,
    ApiJson(body): ApiJson<RevokeToken>,
) -> Result<Json<TokenInfo>, ApiError> {
    check_label("reason", &body.reason)?;
    let now = state.now();
    state
        .identities()
        .record(state.store(), &caller.principal.id, now, |table| match table.token(token_id) {
            Some(t) if t.principal_id != principal_id => Err(ApiError::NotFound(format!(
                "principal {principal_id:?} holds no token {token_id}"
            ))),
            None => Err(ApiError::NotFound(format!(
                "principal {principal_id:?} holds no token {token_id}"
            ))),
            Some(t) if t.revoked_position.is_some() => {
                Err(ApiError::Conflict(format!("token {token_id} is already revoked")))
            }
            Some(_) => Ok(vec![DomainEvent::TokenRevokedV1(TokenRevoked {
                principal_id: principal_id.clone(),
                token_id,
                reason: body.reason.clone(),
            })]),
        })
        .await?;
    tracing::info!(principal = %principal_id, token_id = %token_id, "token revoked");
    state
        .identities()
        .read(|t| t.token(token_id).cloned())
        .map(Json)
        .ok_or_else(|| ApiError::Internal("revoked token is missing".to_owned()))
}

/// A checkpoint just signed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CheckpointView {
    /// Tree size.
    pub size: u64,
    /// Root hash (64 hex digits).
    #[schema(value_type = String)]
    pub root: ledger_core::Hash32,
    /// The signed note.
    pub note: String,
}

/// Signs and stores a checkpoint of the log now.
#[utoipa::path(
    post,
    path = "/v1/log/checkpoint",
    tag = "admin",
    responses((status = 201, body = CheckpointView)),
    security(("bearer" = []))
)]
pub async fn sign_checkpoint(
    Authorized(..): Authorized<Admins>,
    State(state): State<AppState>,
) -> Result<(StatusCode, Json<CheckpointView>), ApiError> {
    let c = state.store().checkpoint_now().await?;
    Ok((StatusCode::CREATED, Json(CheckpointView { size: c.size, root: c.root, note: c.note })))
}
