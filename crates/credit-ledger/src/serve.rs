//! `serve`: the HTTP service.
//!
//! Start-up, in order:
//!
//! 1. resolve the configuration and open the store (creating the data directory and the signing
//!    key on first start), logging where the data and the key are;
//! 2. with `--demo` and an empty ledger, load the demo city; with `--demo` always register the
//!    demo principals if missing and issue them fresh tokens, since tokens are shown only once;
//! 3. bind the listener, then print where it listens (and the demo's tokens and requests);
//! 4. serve until SIGINT or SIGTERM; the server then stops taking connections and finishes the
//!    requests in flight, and only after that is the store closed, which lets the writer
//!    commit every queued append before the process exits.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::NaiveDate;
use clap::Args;
use ledger_core::events::{PrincipalRegistered, PrincipalRole};
use ledger_core::CreditCode;
use ledger_server::auth::Identities;
use ledger_server::{AppState, ServerConfig};
use ledger_store::{Clock as _, Store, SystemClock};
use tracing::{info, warn};

use crate::config::{open_store, KeyMode, StoreArgs};
use crate::demo::{self, DemoSize};
use crate::{admin, output, Outcome};
use ledger_projections::Projector;

/// The address the service listens on by default: loopback only, so a first start exposes
/// nothing.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// The demo partner's department: the finance departments bar listed entities from public
/// procurement.
pub const DEMO_DEPARTMENT: &str = "财政部门";

/// Candidates checked when looking for a restricted entity to show in the tour.
const TOUR_CANDIDATES_MAX: usize = 300;

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\n  \
    credit-ledger serve --demo                        demo city on ./credit-ledger-data\n  \
    credit-ledger serve --listen 0.0.0.0:8080 --data-dir /var/lib/credit-ledger\n  \
    credit-ledger serve --database-url postgres://ledger@db/ledger \
    --key-file /etc/credit-ledger/signing.key\n  \
    CREDIT_LEDGER_LISTEN=127.0.0.1:9000 credit-ledger serve --config /etc/credit-ledger.toml\n\n\
    Stop with Ctrl-C or SIGTERM: requests in flight finish and every acknowledged append is \
    committed before the process exits.";

/// `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The address to listen on [default: 127.0.0.1:8080]; port 0 picks a free port.
    #[arg(long, env = "CREDIT_LEDGER_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// A token that authenticates as admin without being recorded, to register the first
    /// principals; remove it once a recorded admin exists.
    #[arg(long, env = "CREDIT_LEDGER_BOOTSTRAP_ADMIN_TOKEN", hide_env_values = true)]
    pub bootstrap_admin_token: Option<String>,
    /// Load the demo city when the ledger is empty, and print demo tokens and requests.
    #[arg(long)]
    pub demo: bool,
    /// The demo's size and seed (with --demo).
    #[command(flatten)]
    pub demo_size: DemoSize,
}

/// Runs the service until a shutdown signal.
pub async fn run(args: ServeArgs) -> anyhow::Result<Outcome> {
    let resolved = args.store.resolve()?;
    info!(data = %resolved.data_description, key_file = %resolved.key_file.display(), "starting");
    let store = open_store(&resolved, KeyMode::CreateIfMissing, None).await?;
    info!(verifier_key = %store.verifier(), origin = store.origin(), "log signing key ready");

    let result = serve(&args, &resolved, &store).await;
    // After the last request: the writer commits what is queued, then the pools close.
    store.close().await;
    info!("ledger closed");
    result.map(|()| Outcome::Success)
}

async fn serve(
    args: &ServeArgs,
    resolved: &crate::config::Resolved,
    store: &Store,
) -> anyhow::Result<()> {
    let mut tour = None;
    if args.demo {
        tour = Some(prepare_demo(store, &args.demo_size).await?);
    }

    // The rules in use are recorded in the ledger before anything is answered with them.
    let recorded = ledger_projections::ensure_catalogue(store, "credit-ledger")
        .await
        .context("recording the measure catalogue")?;
    if recorded > 0 {
        info!(measures = recorded, "recorded the built-in measure catalogue");
    }
    let projector = Projector::new(store.clone()).await.context("loading the catalogue")?;
    let caught_up = projector.catch_up().await.context("bringing the projections up to date")?;
    info!(events = caught_up, "projections up to date");
    let (stop_projector, projector_stopped) = tokio::sync::oneshot::channel::<()>();
    let tailer = {
        let projector = projector.clone();
        tokio::spawn(async move {
            projector
                .run(async {
                    let _ = projector_stopped.await;
                })
                .await;
        })
    };

    let source = Arc::new(ledger_server::ProjectionStatusSource::new(projector.clone()));
    let config = ServerConfig {
        bootstrap_admin_token: args
            .bootstrap_admin_token
            .clone()
            .or_else(|| resolved.file.bootstrap_admin_token.clone()),
        ..ServerConfig::default()
    };
    let state = AppState::new(store.clone(), config, source)
        .await
        .context("loading the service state")?
        .with_projector(projector.clone());

    let listen = args
        .listen
        .clone()
        .or_else(|| resolved.file.listen.clone())
        .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let address = listener.local_addr()?;
    info!(%address, data = %resolved.data_description, "listening");
    output::line(&format!("credit-ledger listening on http://{address}"));
    if let Some(tour) = tour {
        let example = find_restricted(&projector, &tour.candidates).await;
        print_tour(address, &tour, example.as_ref());
    }

    let served = ledger_server::serve(listener, state, shutdown_signal()).await;
    // Stop tailing before the store closes under it.
    let _ = stop_projector.send(());
    let _ = tailer.await;
    served.context("serving")?;
    Ok(())
}

/// What the demo's tour needs: tokens and a few entities that were on the serious list.
#[derive(Debug)]
struct Tour {
    partner_token: String,
    auditor_token: String,
    admin_token: String,
    recorder_token: String,
    candidates: Vec<CreditCode>,
}

/// Step 2 of the module docs.
async fn prepare_demo(store: &Store, size: &DemoSize) -> anyhow::Result<Tour> {
    let mut candidates = Vec::new();
    if store.size().await? == 0 {
        info!(entities = size.count(), seed = size.seed, "empty ledger: loading the demo city");
        candidates = demo::load(store, size).await?.serious_listed;
    } else {
        info!("the ledger is not empty; the demo data is not loaded again");
    }
    let identities = Identities::load(store, None).await.context("reading the principals")?;
    let principals = [
        ("demo-finance", "天水市财政局（演示）", PrincipalRole::Partner, Some(DEMO_DEPARTMENT)),
        ("demo-auditor", "天水市纪委监委审计组（演示）", PrincipalRole::Auditor, None),
        ("demo-admin", "演示管理员", PrincipalRole::Admin, None),
        ("demo-recorder", "案件系统（演示）", PrincipalRole::Recorder, None),
    ];
    let mut tokens = Vec::new();
    for (id, name, role, department) in principals {
        if identities.read(|t| t.principal(id).is_none()) {
            let event = PrincipalRegistered {
                principal_id: id.to_owned(),
                name: name.to_owned(),
                roles: vec![role],
                department: department.map(str::to_owned),
                all_departments: false,
            };
            admin::register(store, &identities, event).await?;
        }
        let (_, token) =
            admin::issue(store, &identities, id, Some("serve --demo".to_owned())).await?;
        tokens.push(token);
    }
    if candidates.is_empty() {
        candidates = serious_listed_in_log(store).await?;
    }
    let [partner_token, auditor_token, admin_token, recorder_token] =
        <[String; 4]>::try_from(tokens).map_err(|_| anyhow::anyhow!("four demo tokens"))?;
    Ok(Tour { partner_token, auditor_token, admin_token, recorder_token, candidates })
}

/// Entities with a serious-list entry, from the log (when the demo was loaded earlier).
async fn serious_listed_in_log(store: &Store) -> anyhow::Result<Vec<CreditCode>> {
    let mut codes = Vec::new();
    let size = store.size().await?;
    let mut from = 0;
    while from < size && codes.len() < TOUR_CANDIDATES_MAX {
        let page = store.read_log(from, ledger_store::READ_PAGE_EVENTS_MAX).await?;
        let Some(last) = page.last() else { break };
        from = last.position + 1;
        for event in page.iter().filter(|e| e.event_type == "serious_list_entered") {
            if let Ok(code) = CreditCode::parse_recorded(event.stream.id()) {
                codes.push(code);
            }
        }
    }
    Ok(codes)
}

/// An entity the demo partner sees restricted today, else one restricted on an earlier date.
async fn find_restricted(
    projector: &Projector,
    candidates: &[CreditCode],
) -> Option<(CreditCode, Option<NaiveDate>)> {
    let restricted = |code: CreditCode, date: NaiveDate| async move {
        projector
            .status(&code, date, None)
            .await
            .is_ok_and(|status| status.restrictions.iter().any(|r| r.department == DEMO_DEPARTMENT))
    };
    let today = ledger_rules::china_date(SystemClock.now());
    for code in candidates.iter().take(TOUR_CANDIDATES_MAX) {
        if restricted(*code, today).await {
            return Some((*code, None));
        }
    }
    let earlier = demo::last_day().checked_sub_months(chrono::Months::new(18))?;
    for code in candidates.iter().take(TOUR_CANDIDATES_MAX) {
        if restricted(*code, earlier).await {
            return Some((*code, Some(earlier)));
        }
    }
    warn!("no demo entity is restricted for the demo partner; the tour shows an unrestricted one");
    candidates.first().map(|c| (*c, None))
}

fn print_tour(address: SocketAddr, tour: &Tour, example: Option<&(CreditCode, Option<NaiveDate>)>) {
    let base = format!("http://{address}");
    let (code, as_of) = match example {
        Some((code, Some(date))) => (code.to_string(), format!("?as_of={date}")),
        Some((code, None)) => (code.to_string(), String::new()),
        None => ("<credit code>".to_owned(), String::new()),
    };
    output::line(&format!(
        "\nDemo tokens (shown once; a restart with --demo issues new ones):\n\
         partner token ({DEMO_DEPARTMENT}): {}\n\
         auditor token: {}\n\
         admin token: {}\n\
         recorder token: {}\n\
         example entity: {code}\n\n\
         Try:\n\
         curl -s -H 'Authorization: Bearer {}' '{base}/v1/entities/{code}/restrictions{as_of}'\n\
         curl -s -H 'Authorization: Bearer {}' '{base}/v1/streams/entity/{code}'\n\
         curl -s -H 'Authorization: Bearer {}' '{base}/v1/log/checkpoint'\n\
         curl -s -H 'Authorization: Bearer {}' '{base}/v1/log/bundle/0' > bundle.json\n\
         curl -s -H 'Authorization: Bearer {}' '{base}/v1/log/verifier-key' > verifier.txt\n\
         credit-ledger verify --bundle bundle.json --verifier-key \"$(cat verifier.txt)\"\n\
         credit-ledger verify --server {base} --token {}\n",
        tour.partner_token,
        tour.auditor_token,
        tour.admin_token,
        tour.recorder_token,
        tour.partner_token,
        tour.auditor_token,
        tour.auditor_token,
        tour.auditor_token,
        tour.auditor_token,
        tour.auditor_token,
    ));
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => info!("SIGINT received"),
        () = terminate => info!("SIGTERM received"),
    }
}
