//! The demo data set: a reproducible city in the Tianshui area.
//!
//! A few thousand market entities (enterprises `91`, individual businesses `92`, farmers'
//! co-operatives `93`) registered in the districts and counties of Tianshui (6205xx), three
//! local e-commerce platforms with the online shops they host, and the years 2019-2026 of
//! penalties, list entries and removals, credit repairs and spot checks, every history checked
//! by the rules (`ledger_rules::validate`) as it is made. The same seed gives the same data,
//! byte for byte; `--scale` multiplies the entities for benchmarks (about four events each).
//!
//! The measure catalogue is recorded first, in its own stream, so that the demo's rules are in
//! the ledger like any other fact.

pub mod city;
mod history;
pub mod rng;

use std::io::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args, Subcommand};
use futures_util::StreamExt as _;
use ledger_core::event::ProposedEvent;
use ledger_core::events::DomainEvent;
use ledger_core::{CreditCode, StreamName};
use ledger_rules::Catalogue;
use ledger_store::{AppendRequest, ExpectedVersion, Store};
use tracing::info;

pub use history::{
    entity, generate as generate_entity, last_day, Entity, EntityHistory, DEMO_RECORDER,
};

use crate::config::{open_store, KeyMode, StoreArgs};
use crate::ndjson::EventLine;
use crate::progress::Progress;
use crate::{output, Outcome};

/// The default number of entities.
pub const DEFAULT_ENTITIES: u64 = 3_000;

/// The default seed (the prefecture's division prefix).
pub const DEFAULT_SEED: u64 = 6205;

/// Appends the demo keeps in flight, so the store's writer can group-commit them.
pub const LOAD_APPENDS_IN_FLIGHT: usize = 64;

/// `demo` commands.
#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Write the demo data set as NDJSON (the `import` format).
    #[command(after_help = "Examples:\n  \
        credit-ledger demo generate --out demo.ndjson\n  \
        credit-ledger demo generate --entities 500 --seed 42 --out - | head\n  \
        credit-ledger demo generate --scale 300 --out bench.ndjson   # about 4 million events")]
    Generate(GenerateArgs),
    /// Load the demo data set straight into a ledger.
    #[command(after_help = "Examples:\n  \
        credit-ledger demo load\n  \
        credit-ledger demo load --scale 100 --data-dir /tmp/bench-ledger")]
    Load(LoadArgs),
}

/// How big the demo is and which one.
#[derive(Debug, Clone, Args)]
pub struct DemoSize {
    /// Market entities to make (the first three are the e-commerce platforms).
    #[arg(long, default_value_t = DEFAULT_ENTITIES)]
    pub entities: u64,
    /// The seed; the same seed gives the same data.
    #[arg(long, default_value_t = DEFAULT_SEED)]
    pub seed: u64,
    /// Multiplies the entities, for benchmarks (each has about four events).
    #[arg(long, default_value_t = 1)]
    pub scale: u64,
}

impl Default for DemoSize {
    fn default() -> Self {
        Self { entities: DEFAULT_ENTITIES, seed: DEFAULT_SEED, scale: 1 }
    }
}

impl DemoSize {
    /// The number of entities to make.
    pub fn count(&self) -> u64 {
        self.entities.saturating_mul(self.scale.max(1))
    }
}

/// `demo generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// Which demo.
    #[command(flatten)]
    pub size: DemoSize,
    /// Where to write the NDJSON (`-` for standard output).
    #[arg(long, short, default_value = "-")]
    pub out: PathBuf,
}

/// `demo load`.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// Which demo.
    #[command(flatten)]
    pub size: DemoSize,
}

/// Runs a `demo` command.
pub async fn run(command: DemoCommand) -> anyhow::Result<Outcome> {
    match command {
        DemoCommand::Generate(args) => {
            generate(&args)?;
            Ok(Outcome::Success)
        }
        DemoCommand::Load(args) => {
            let resolved = args.store.resolve()?;
            let store = open_store(&resolved, KeyMode::CreateIfMissing, None).await?;
            let summary = load(&store, &args.size).await;
            store.close().await;
            let summary = summary?;
            output::line(&format!(
                "loaded {} entities with {} events into {}",
                summary.entities, summary.events, resolved.data_description
            ));
            Ok(Outcome::Success)
        }
    }
}

/// The catalogue stream's append: one `measure_defined` event per measure version.
pub fn catalogue_events(catalogue: &Catalogue) -> anyhow::Result<(StreamName, Vec<ProposedEvent>)> {
    let events =
        ledger_rules::measure_events(catalogue).context("building the catalogue events")?;
    Ok((ledger_rules::catalogue_stream(), events))
}

/// Writes the demo as NDJSON.
pub fn generate(args: &GenerateArgs) -> anyhow::Result<()> {
    let catalogue = Catalogue::builtin();
    let sink: Box<dyn std::io::Write> = if crate::is_std_stream(&args.out) {
        Box::new(std::io::stdout().lock())
    } else {
        let file = std::fs::File::create(&args.out)
            .with_context(|| format!("creating {}", args.out.display()))?;
        Box::new(file)
    };
    let mut out = std::io::BufWriter::new(sink);
    let (stream, events) = catalogue_events(&catalogue)?;
    for event in &events {
        writeln!(out, "{}", EventLine::of_proposal(stream.as_str(), event, Vec::new()).to_json())?;
    }

    let count = args.size.count();
    let mut progress = Progress::new("generating the demo", "entities", count);
    let mut written = events.len() as u64;
    for index in 0..count {
        let history = generate_entity(args.size.seed, index, &catalogue);
        for (event, personal) in history.events.iter().zip(&history.personal) {
            let line = EventLine::of_proposal(history.stream.as_str(), event, personal.clone());
            writeln!(out, "{}", line.to_json())?;
        }
        written += history.events.len() as u64;
        progress.set(index + 1);
    }
    out.flush().context("writing the demo")?;
    progress.finish();
    info!(entities = count, events = written, "demo written");
    Ok(())
}

/// What a load put into the ledger.
#[derive(Debug, Clone, Default)]
pub struct LoadSummary {
    /// Entities appended.
    pub entities: u64,
    /// Events appended (with the catalogue's).
    pub events: u64,
    /// Proposals the rules refused while generating (dropped).
    pub refused: u64,
    /// Entities that were put on the serious list at some time: candidates for the tour.
    pub serious_listed: Vec<CreditCode>,
}

/// Loads the demo into `store`, keeping [`LOAD_APPENDS_IN_FLIGHT`] appends in flight.
pub async fn load(store: &Store, size: &DemoSize) -> anyhow::Result<LoadSummary> {
    let catalogue = Catalogue::builtin();
    let (stream, events) = catalogue_events(&catalogue)?;
    let mut summary = LoadSummary { events: events.len() as u64, ..LoadSummary::default() };
    store
        .append(AppendRequest::new(stream, ExpectedVersion::Any, events, DEMO_RECORDER))
        .await
        .context("recording the measure catalogue")?;

    let count = size.count();
    let seed = size.seed;
    let mut progress = Progress::new("loading the demo", "entities", count);
    let catalogue = &catalogue;
    let mut appends = futures_util::stream::iter(0..count)
        .map(|index| {
            let history = generate_entity(seed, index, catalogue);
            async move {
                let serious = history.events.iter().any(|e| e.event_type == "serious_list_entered");
                let events = history.events.len() as u64;
                let refused = history.refused as u64;
                let code = history.entity.code;
                let mut request = AppendRequest::new(
                    history.stream,
                    ExpectedVersion::NoStream,
                    history.events,
                    DEMO_RECORDER,
                );
                request.personal_data =
                    history.personal.iter().flatten().map(|p| p.to_record()).collect();
                store
                    .append(request)
                    .await
                    .with_context(|| format!("appending the history of {code}"))?;
                anyhow::Ok((code, events, refused, serious))
            }
        })
        .buffer_unordered(LOAD_APPENDS_IN_FLIGHT);
    while let Some(result) = appends.next().await {
        let (code, events, refused, serious) = result?;
        summary.entities += 1;
        summary.events += events;
        summary.refused += refused;
        if serious {
            summary.serious_listed.push(code);
        }
        progress.set(summary.entities);
    }
    progress.finish();
    summary.serious_listed.sort();
    info!(
        entities = summary.entities,
        events = summary.events,
        refused_proposals = summary.refused,
        "demo loaded"
    );
    Ok(summary)
}

/// Parses every payload of a history as its type, for tests of the generator.
pub fn parse_all(history: &EntityHistory) -> Result<Vec<DomainEvent>, String> {
    history
        .events
        .iter()
        .map(|e| {
            DomainEvent::parse(&e.event_type, e.schema_version, &e.payload_value())
                .map_err(|err| err.to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_entities_and_codes_are_valid_and_unique() {
        let catalogue = Catalogue::builtin();
        let mut codes = std::collections::HashSet::new();
        for index in 0..300 {
            let a = generate_entity(9, index, &catalogue);
            let b = generate_entity(9, index, &catalogue);
            assert_eq!(a.events, b.events);
            assert!(CreditCode::parse(a.entity.code.as_str()).is_ok());
            assert!(codes.insert(a.entity.code), "code {} twice", a.entity.code);
            assert_eq!(a.events[0].event_type, "entity_registered");
            parse_all(&a).unwrap();
        }
    }

    #[test]
    fn the_demo_has_every_kind_of_record() {
        let catalogue = Catalogue::builtin();
        let mut types = std::collections::BTreeMap::new();
        for index in 0..2_000 {
            for event in generate_entity(DEFAULT_SEED, index, &catalogue).events {
                *types.entry(event.event_type).or_insert(0u32) += 1;
            }
        }
        for wanted in [
            "entity_registered",
            "penalty_decided",
            "abnormal_list_entered",
            "abnormal_list_removed",
            "serious_list_entered",
            "serious_list_removed",
            "credit_repaired",
            "spot_check_recorded",
            "online_shop_opened",
            "website_registered",
        ] {
            assert!(types.contains_key(wanted), "no {wanted} in {types:?}");
        }
    }
}
