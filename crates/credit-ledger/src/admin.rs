//! Operator commands: checkpoints, the verifier key, principals and tokens.
//!
//! Principals and tokens are identity events in the ledger (see `ledger_server::auth`); these
//! commands record them through the server crate's own [`Identities`], exactly as the admin
//! endpoints do, so the rules (one registration per id, a token only for a known principal,
//! no double revocation) are the same. A running server picks the changes up within its refresh
//! interval. On the embedded database, run them while the server is stopped, or use the admin
//! endpoints: two processes must not both write one SQLite file.

use anyhow::Context as _;
use clap::{Args, Subcommand};
use ledger_core::events::{DomainEvent, PrincipalRegistered, TokenIssued, TokenRevoked};
use ledger_server::auth::{generate_token, token_hash, validate_principal_id, Identities, Role};
use ledger_server::ApiError;
use ledger_store::{Clock as _, Store, SystemClock};
use uuid::Uuid;

use crate::config::{load_key, open_store, KeyMode, StoreArgs};
use crate::{output, Outcome};

/// Who the identity events of these commands are recorded by.
pub const OPERATOR: &str = "operator-cli";

/// `key` commands.
#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the verifier key (`<name>+<key id>+<base64 key>`) that auditors check
    /// checkpoints with.
    #[command(after_help = "Examples:\n  credit-ledger key show\n  \
        credit-ledger key show --key-file /etc/credit-ledger/signing.key > verifier.txt")]
    Show(crate::StoreOnly),
}

/// `principal` commands.
#[derive(Debug, Subcommand)]
pub enum PrincipalCommand {
    /// Register a principal.
    #[command(after_help = "Examples:\n  \
        credit-ledger principal add tax-bureau --name 天水市税务局 --role partner \
          --department 税务部门\n  \
        credit-ledger principal add case-system --name 案件系统 --role recorder\n  \
        credit-ledger principal add inspector --name 纪检审计 --role auditor --token")]
    Add(AddPrincipal),
    /// List principals and their tokens (never the tokens themselves).
    #[command(after_help = "Examples:\n  credit-ledger principal list")]
    List(crate::StoreOnly),
    /// Revoke every token of a principal.
    #[command(after_help = "Examples:\n  \
            credit-ledger principal revoke tax-bureau --reason \"department merged\"")]
    Revoke(RevokePrincipal),
}

/// `token` commands.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Issue a bearer token; it is printed once and never stored.
    #[command(after_help = "Examples:\n  \
            credit-ledger token issue tax-bureau --label \"tax system, production\"")]
    Issue(IssueToken),
    /// Revoke a token by its id.
    #[command(after_help = "Examples:\n  \
            credit-ledger token revoke tax-bureau 0190f5c2-8a7e-7c41-9d1e-2b3c4d5e6f70 \
            --reason leaked")]
    Revoke(RevokeToken),
}

/// `principal add`.
#[derive(Debug, Args)]
pub struct AddPrincipal {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The principal's id: 1-64 of A-Z a-z 0-9 . _ : -
    pub principal_id: String,
    /// A human-readable name.
    #[arg(long)]
    pub name: String,
    /// A role to grant; repeat for several.
    #[arg(long = "role", value_enum, required = true)]
    pub roles: Vec<RoleArg>,
    /// For a partner: its department as the measure catalogue names it (e.g. 财政部门).
    #[arg(long)]
    pub department: Option<String>,
    /// For a partner: sees the measures of every department.
    #[arg(long)]
    pub all_departments: bool,
    /// Issue a token right away and print it.
    #[arg(long)]
    pub token: bool,
}

/// A role on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    /// Appends events.
    Recorder,
    /// Queries restrictions.
    Partner,
    /// Reads proofs and checkpoints.
    Auditor,
    /// Manages principals and tokens.
    Admin,
}

impl From<RoleArg> for Role {
    fn from(role: RoleArg) -> Self {
        match role {
            RoleArg::Recorder => Role::Recorder,
            RoleArg::Partner => Role::Partner,
            RoleArg::Auditor => Role::Auditor,
            RoleArg::Admin => Role::Admin,
        }
    }
}

/// `principal revoke`.
#[derive(Debug, Args)]
pub struct RevokePrincipal {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The principal.
    pub principal_id: String,
    /// Why, recorded with each revocation.
    #[arg(long)]
    pub reason: String,
}

/// `token issue`.
#[derive(Debug, Args)]
pub struct IssueToken {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The principal that will hold the token.
    pub principal_id: String,
    /// What the token is for.
    #[arg(long)]
    pub label: Option<String>,
}

/// `token revoke`.
#[derive(Debug, Args)]
pub struct RevokeToken {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The principal that holds the token.
    pub principal_id: String,
    /// The token's id.
    pub token_id: Uuid,
    /// Why, recorded with the revocation.
    #[arg(long)]
    pub reason: String,
}

/// `checkpoint`: signs one now and prints the note.
pub async fn checkpoint(args: StoreArgs) -> anyhow::Result<Outcome> {
    let resolved = args.resolve()?;
    let store = open_store(&resolved, KeyMode::MustExist, None).await?;
    let signed = store.checkpoint_now().await.context("signing a checkpoint");
    store.close().await;
    output::raw(&signed?.note);
    Ok(Outcome::Success)
}

/// `key` commands.
pub async fn key(command: KeyCommand) -> anyhow::Result<Outcome> {
    let KeyCommand::Show(args) = command;
    let resolved = args.store.resolve()?;
    let signer = load_key(&resolved, KeyMode::MustExist)?;
    output::line(&signer.verifier().to_string());
    Ok(Outcome::Success)
}

fn api(e: ApiError) -> anyhow::Error {
    anyhow::anyhow!("{}", e.to_problem().detail)
}

/// Registers a principal through the identity table (the admin endpoint's rules).
pub async fn register(
    store: &Store,
    identities: &Identities,
    event: PrincipalRegistered,
) -> anyhow::Result<()> {
    validate_principal_id(&event.principal_id).map_err(api)?;
    let partner = event.roles.contains(&ledger_core::events::PrincipalRole::Partner);
    match (&event.department, event.all_departments, partner) {
        (Some(_), false, true) | (None, true, true) | (None, false, false) => {}
        _ => anyhow::bail!(
            "a partner needs exactly one of --department or --all-departments; other roles take \
             neither"
        ),
    }
    identities
        .record(store, OPERATOR, SystemClock.now(), |table| {
            if table.principal(&event.principal_id).is_some() {
                return Err(ApiError::Conflict(format!(
                    "principal {:?} is already registered",
                    event.principal_id
                )));
            }
            Ok(vec![DomainEvent::PrincipalRegisteredV1(event.clone())])
        })
        .await
        .map_err(api)?;
    Ok(())
}

/// Issues a token; returns its id and text.
pub async fn issue(
    store: &Store,
    identities: &Identities,
    principal_id: &str,
    label: Option<String>,
) -> anyhow::Result<(Uuid, String)> {
    let token = generate_token();
    let event = TokenIssued {
        principal_id: principal_id.to_owned(),
        token_id: Uuid::now_v7(),
        token_hash: token_hash(&token),
        label,
    };
    identities
        .record(store, OPERATOR, SystemClock.now(), |table| {
            if table.principal(principal_id).is_none() {
                return Err(ApiError::NotFound(format!(
                    "principal {principal_id:?} is not registered"
                )));
            }
            Ok(vec![DomainEvent::TokenIssuedV1(event.clone())])
        })
        .await
        .map_err(api)?;
    Ok((event.token_id, token))
}

/// Revokes tokens of a principal (all live ones when `token_id` is `None`); returns how many.
pub async fn revoke(
    store: &Store,
    identities: &Identities,
    principal_id: &str,
    token_id: Option<Uuid>,
    reason: &str,
) -> anyhow::Result<usize> {
    let mut revoked = 0;
    identities
        .record(store, OPERATOR, SystemClock.now(), |table| {
            if table.principal(principal_id).is_none() {
                return Err(ApiError::NotFound(format!(
                    "principal {principal_id:?} is not registered"
                )));
            }
            let live: Vec<Uuid> = table
                .tokens_of(principal_id)
                .into_iter()
                .filter(|t| t.revoked_position.is_none())
                .map(|t| t.token_id)
                .filter(|id| token_id.is_none_or(|wanted| wanted == *id))
                .collect();
            if live.is_empty() {
                return Err(ApiError::NotFound(match token_id {
                    Some(id) => format!("principal {principal_id:?} holds no live token {id}"),
                    None => format!("principal {principal_id:?} holds no live token"),
                }));
            }
            revoked = live.len();
            Ok(live
                .into_iter()
                .map(|token_id| {
                    DomainEvent::TokenRevokedV1(TokenRevoked {
                        principal_id: principal_id.to_owned(),
                        token_id,
                        reason: reason.to_owned(),
                    })
                })
                .collect())
        })
        .await
        .map_err(api)?;
    Ok(revoked)
}

async fn open_identities(args: &StoreArgs) -> anyhow::Result<(Store, Identities)> {
    let resolved = args.resolve()?;
    let store = open_store(&resolved, KeyMode::CreateIfMissing, None).await?;
    let identities = Identities::load(&store, None).await.context("reading the principals")?;
    Ok((store, identities))
}

/// `principal` commands.
pub async fn principal(command: PrincipalCommand) -> anyhow::Result<Outcome> {
    match command {
        PrincipalCommand::Add(args) => {
            let (store, identities) = open_identities(&args.store).await?;
            let mut roles: Vec<_> = args.roles.iter().map(|r| Role::from(*r).into()).collect();
            roles.sort();
            roles.dedup();
            let event = PrincipalRegistered {
                principal_id: args.principal_id.clone(),
                name: args.name,
                roles,
                department: args.department,
                all_departments: args.all_departments,
            };
            let result = async {
                register(&store, &identities, event).await?;
                output::line(&format!("registered principal {}", args.principal_id));
                if args.token {
                    let (id, token) = issue(&store, &identities, &args.principal_id, None).await?;
                    output::line(&format!("token id: {id}\ntoken: {token}"));
                }
                anyhow::Ok(())
            }
            .await;
            store.close().await;
            result?;
        }
        PrincipalCommand::List(args) => {
            let (store, identities) = open_identities(&args.store).await?;
            let listing: Vec<serde_json::Value> = identities.read(|t| {
                t.principals()
                    .map(|p| serde_json::json!({ "principal": **p, "tokens": t.tokens_of(&p.id) }))
                    .collect()
            });
            store.close().await;
            output::json(&serde_json::json!({ "principals": listing }));
        }
        PrincipalCommand::Revoke(args) => {
            let (store, identities) = open_identities(&args.store).await?;
            let result = revoke(&store, &identities, &args.principal_id, None, &args.reason).await;
            store.close().await;
            output::line(&format!("revoked {} token(s) of {}", result?, args.principal_id));
        }
    }
    Ok(Outcome::Success)
}

/// `token` commands.
pub async fn token(command: TokenCommand) -> anyhow::Result<Outcome> {
    match command {
        TokenCommand::Issue(args) => {
            let (store, identities) = open_identities(&args.store).await?;
            let result = issue(&store, &identities, &args.principal_id, args.label).await;
            store.close().await;
            let (id, token) = result?;
            output::line(&format!("token id: {id}\ntoken: {token}"));
        }
        TokenCommand::Revoke(args) => {
            let (store, identities) = open_identities(&args.store).await?;
            let result =
                revoke(&store, &identities, &args.principal_id, Some(args.token_id), &args.reason)
                    .await;
            store.close().await;
            result?;
            output::line(&format!("revoked token {}", args.token_id));
        }
    }
    Ok(Outcome::Success)
}
