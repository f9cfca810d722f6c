//! `import`: append events from NDJSON, one per line (see [`crate::ndjson`]), with a report of
//! every refused line by its number.
//!
//! Each line goes through, in order:
//!
//! 1. parsing: the line's JSON, the stream name, the envelope fields, the payload against its
//!    type and schema version;
//! 2. the domain rules (`ledger_rules::validate`) against the entity's history as the ledger
//!    holds it plus the lines already accepted in this import, unless `--skip-rules`;
//! 3. the store: consecutive lines of one stream are appended together (at most
//!    `APPEND_EVENTS_MAX`), so an import is as fast as its batches; when a batch is refused,
//!    its lines are appended one by one, so the report names each bad line and the good ones
//!    are still recorded. Lines already recorded with the same content count as duplicates,
//!    so an interrupted import can simply be run again.
//!
//! With `--replay`, the lines are an export: each keeps its recorded time and recorder, the
//! store reproduces its position, and so every hash comes out the same as in the source, which
//! the import checks line by line. That needs the ledger to stand exactly at the first line's
//! position (an empty ledger for a whole export), and appends go one stream-run at a time.

use std::io::BufRead as _;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context as _};
use chrono::{DateTime, Utc};
use clap::Args;
use ledger_core::event::{ProposedEvent, Seal};
use ledger_core::events::DomainEvent;
use ledger_core::{Hash32, RecordedEvent, StreamName};
use ledger_rules::Catalogue;
use ledger_store::{
    AppendRequest, Clock, ExpectedVersion, PersonalRecord, Store, StoreError, APPEND_EVENTS_MAX,
    APPEND_PERSONAL_RECORDS_MAX, READ_PAGE_EVENTS_MAX,
};
use serde::Serialize;

use crate::config::{open_store, KeyMode, StoreArgs};
use crate::ndjson::EventLine;
use crate::progress::Progress;
use crate::{output, Outcome};

/// The most per-line errors kept in the report; the counts stay exact.
pub const IMPORT_ERRORS_MAX: usize = 10_000;

/// Event types only the service records; an operator restores them only with `--replay`.
const SERVICE_EVENT_TYPES: &[&str] =
    &["principal_registered", "token_issued", "token_revoked", "access_logged"];

/// `--help` examples.
pub const EXAMPLES: &str = "Examples:\n  \
    credit-ledger import history.ndjson\n  \
    credit-ledger demo generate --out - | credit-ledger import -\n  \
    credit-ledger import --replay export.ndjson --data-dir ./restored     (same hashes)\n  \
    credit-ledger import --json history.ndjson > report.json\n\n\
    A line: {\"stream\":\"entity/<code>\",\"event_id\":\"<uuid>\",\
    \"event_type\":\"penalty_decided\",\"schema_version\":1,\
    \"effective_at\":\"2024-05-01T02:00:00Z\",\"payload\":{...}} with optional \
    \"expected_version\" (the stream's version before the line) and \"personal_data\".\n\
    Exit status: 0 when every line was recorded or already present, 1 when a line was refused.";

/// `import`.
#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Where the ledger is.
    #[command(flatten)]
    pub store: StoreArgs,
    /// The NDJSON file (`-` for standard input).
    pub file: PathBuf,
    /// Restore an export: keep recorded times, recorders and positions, so hashes are equal.
    #[arg(long)]
    pub replay: bool,
    /// The recorder the events are recorded by (not with --replay).
    #[arg(long, default_value = "cli-import")]
    pub recorded_by: String,
    /// Do not check the domain rules (bulk loads of already-validated history).
    #[arg(long)]
    pub skip_rules: bool,
    /// Print the report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
}

/// One refused line.
#[derive(Debug, Clone, Serialize)]
pub struct LineError {
    /// The line number, from 1.
    pub line: usize,
    /// What was wrong.
    pub error: String,
}

/// The outcome of an import.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Non-empty lines read.
    pub lines: usize,
    /// Events newly recorded.
    pub recorded: usize,
    /// Lines already recorded with the same content.
    pub duplicates: usize,
    /// Lines refused.
    pub rejected: usize,
    /// Why, by line, at most [`IMPORT_ERRORS_MAX`].
    pub errors: Vec<LineError>,
}

impl Report {
    fn reject(&mut self, line: usize, error: impl std::fmt::Display) {
        self.rejected += 1;
        if self.errors.len() < IMPORT_ERRORS_MAX {
            self.errors.push(LineError { line, error: error.to_string() });
        }
    }
}

/// The clock of a replay: the recorded time of the line being appended.
#[derive(Debug, Default)]
pub struct ReplayClock(Mutex<DateTime<Utc>>);

impl ReplayClock {
    fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = at;
    }
}

impl Clock for ReplayClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Runs `import`.
pub async fn run(args: ImportArgs) -> anyhow::Result<Outcome> {
    let resolved = args.store.resolve()?;
    let clock = Arc::new(ReplayClock::default());
    let replay_clock: Option<Arc<dyn Clock>> = args.replay.then(|| clock.clone() as Arc<dyn Clock>);
    let store = open_store(&resolved, KeyMode::CreateIfMissing, replay_clock).await?;
    let result = import(&store, &args, args.replay.then_some(clock)).await;
    store.close().await;
    let report = result?;

    if args.json {
        output::json(&report);
    } else {
        for e in &report.errors {
            output::error(&format!("line {}: {}", e.line, e.error));
        }
        if report.errors.len() < report.rejected {
            output::error(&format!("... and {} more", report.rejected - report.errors.len()));
        }
        output::line(&format!(
            "{} lines: {} recorded, {} already recorded, {} refused",
            report.lines, report.recorded, report.duplicates, report.rejected
        ));
    }
    Ok(if report.rejected == 0 { Outcome::Success } else { Outcome::CheckFailed })
}

/// A line accepted so far, waiting for its stream-run to be appended.
#[derive(Debug)]
struct Pending {
    line: usize,
    proposal: ProposedEvent,
    personal: Vec<PersonalRecord>,
    stated: Option<(u64, Hash32)>,
}

/// A run of consecutive lines of one stream.
#[derive(Debug)]
struct Group {
    stream: StreamName,
    expected: ExpectedVersion,
    recorded: Option<(DateTime<Utc>, String)>,
    lines: Vec<Pending>,
}

struct Importer<'a> {
    store: &'a Store,
    args: &'a ImportArgs,
    catalogue: Catalogue,
    clock: Option<Arc<ReplayClock>>,
    report: Report,
    group: Option<Group>,
    /// The current stream's history: stored events plus accepted lines.
    history: Option<(StreamName, Vec<RecordedEvent>)>,
    next_position: u64,
}

async fn import(
    store: &Store,
    args: &ImportArgs,
    clock: Option<Arc<ReplayClock>>,
) -> anyhow::Result<Report> {
    let (reader, total): (Box<dyn std::io::BufRead + Send>, u64) =
        if crate::is_std_stream(&args.file) {
            (Box::new(std::io::BufReader::new(std::io::stdin())), 0)
        } else {
            let file = std::fs::File::open(&args.file)
                .with_context(|| format!("opening {}", args.file.display()))?;
            let total = file.metadata().map(|m| m.len()).unwrap_or(0);
            (Box::new(std::io::BufReader::new(file)), total)
        };
    let mut importer = Importer {
        store,
        args,
        catalogue: Catalogue::builtin(),
        clock,
        report: Report::default(),
        group: None,
        history: None,
        next_position: store.size().await?,
    };
    let mut progress = Progress::new("importing", "bytes", total);
    let mut bytes = 0u64;
    for (index, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("reading line {}", index + 1))?;
        bytes += line.len() as u64 + 1;
        if line.trim().is_empty() {
            continue;
        }
        importer.report.lines += 1;
        importer.line(index + 1, &line).await?;
        progress.set(bytes);
    }
    importer.flush().await?;
    progress.finish();
    Ok(importer.report)
}

impl Importer<'_> {
    /// Steps 1 and 2 of the module docs for one line; refusals go to the report.
    async fn line(&mut self, number: usize, text: &str) -> anyhow::Result<()> {
        let line: EventLine = match serde_json::from_str(text) {
            Ok(line) => line,
            Err(e) => {
                self.report.reject(number, format!("not an event line: {e}"));
                return Ok(());
            }
        };
        let checked = match self.check(&line) {
            Ok(checked) => checked,
            Err(e) => {
                self.report.reject(number, e);
                return Ok(());
            }
        };
        let (stream, proposal, domain) = checked;
        let recorded = if self.args.replay {
            match (&line.recorded_at, &line.recorded_by, line.position, line.hash) {
                (Some(at), Some(by), Some(position), Some(hash)) => {
                    Some((*at, by.clone(), position, hash))
                }
                _ => {
                    self.report.reject(
                        number,
                        "--replay needs exported lines (position, recorded_at, recorded_by, hash)",
                    );
                    return Ok(());
                }
            }
        } else {
            None
        };

        // A new run starts with a new stream, an expected version, another recorded time, or a
        // full batch.
        let personal: Vec<PersonalRecord> =
            line.personal_data.iter().map(|p| p.to_record()).collect();
        let starts_run = match &self.group {
            None => true,
            Some(group) => {
                group.stream != stream
                    || line.expected_version.is_some()
                    || group.lines.len() >= APPEND_EVENTS_MAX
                    || group.lines.iter().map(|p| p.personal.len()).sum::<usize>() + personal.len()
                        > APPEND_PERSONAL_RECORDS_MAX
                    || recorded.as_ref().map(|(at, by, ..)| (*at, by.clone())) != group.recorded
            }
        };
        if starts_run {
            self.flush().await?;
        }

        if let Some((_, _, position, _)) = &recorded {
            let expected_position = self.next_position;
            if *position != expected_position {
                bail!(
                    "line {number}: --replay needs the ledger at position {position}, but it is at \
                     {expected_position}; replay a whole export into an empty ledger"
                );
            }
        } else if !self.args.skip_rules && stream.kind() == "entity" {
            if let Err(e) = self.check_rules(&stream, &proposal, &domain).await {
                self.report.reject(number, e);
                return Ok(());
            }
        }

        let group = self.group.get_or_insert_with(|| Group {
            stream: stream.clone(),
            expected: line.expected_version.map_or(ExpectedVersion::Any, |e| e.0),
            recorded: recorded.as_ref().map(|(at, by, ..)| (*at, by.clone())),
            lines: Vec::new(),
        });
        group.lines.push(Pending {
            line: number,
            proposal,
            personal,
            stated: recorded.map(|(_, _, position, hash)| (position, hash)),
        });
        self.next_position += 1;
        Ok(())
    }

    /// Step 1: the line's own validity.
    fn check(&self, line: &EventLine) -> Result<(StreamName, ProposedEvent, DomainEvent), String> {
        let stream = StreamName::new(line.stream.clone()).map_err(|e| e.to_string())?;
        let proposal = line.proposal().map_err(|e| e.to_string())?;
        let domain = DomainEvent::parse(&line.event_type, line.schema_version, &line.payload)
            .map_err(|e| e.to_string())?;
        if !self.args.replay && SERVICE_EVENT_TYPES.contains(&line.event_type.as_str()) {
            return Err(format!(
                "event type {:?} is recorded only by the service itself; use --replay to restore \
                 an export",
                line.event_type
            ));
        }
        if let DomainEvent::EntityRegisteredV1(registered) = &domain {
            if StreamName::entity(&registered.credit_code) != stream {
                return Err(format!(
                    "credit_code {} differs from the stream {stream}",
                    registered.credit_code
                ));
            }
        }
        Ok((stream, proposal, domain))
    }

    /// Step 2: the domain rules against the stream's history and the accepted lines.
    async fn check_rules(
        &mut self,
        stream: &StreamName,
        proposal: &ProposedEvent,
        domain: &DomainEvent,
    ) -> Result<(), String> {
        if self.history.as_ref().is_none_or(|(s, _)| s != stream) {
            let events = read_stream(self.store, stream).await.map_err(|e| e.to_string())?;
            self.history = Some((stream.clone(), events));
        }
        let Some((_, history)) = self.history.as_mut() else { return Ok(()) };
        if history.iter().any(|e| e.event_id == proposal.event_id) {
            // A retry of a recorded line: the store decides whether it is the same.
            return Ok(());
        }
        let day = ledger_rules::china_date(proposal.effective_at);
        ledger_rules::validate(history, &self.catalogue, domain, day).map_err(|e| e.to_string())?;
        let prev_hash = history.last().map_or(Hash32::ZERO, |e| e.hash);
        let version = history.last().map_or(0, |e| e.stream_version) + 1;
        history.push(RecordedEvent::seal(
            proposal.clone(),
            Seal {
                position: self.next_position,
                stream,
                stream_version: version,
                recorded_at: proposal.effective_at,
                recorded_by: &self.args.recorded_by,
                prev_hash,
            },
        ));
        Ok(())
    }

    /// Step 3: appends the pending run.
    async fn flush(&mut self) -> anyhow::Result<()> {
        let Some(group) = self.group.take() else { return Ok(()) };
        let recorded_by =
            group.recorded.as_ref().map_or(self.args.recorded_by.clone(), |(_, by)| by.clone());
        if let (Some(clock), Some((at, _))) = (&self.clock, &group.recorded) {
            clock.set(*at);
        }
        let mut request = AppendRequest::new(
            group.stream.clone(),
            group.expected,
            group.lines.iter().map(|p| p.proposal.clone()).collect(),
            recorded_by.clone(),
        );
        request.personal_data = group.lines.iter().flat_map(|p| p.personal.clone()).collect();

        match self.store.append(request).await {
            Ok(outcome) => {
                let count = group.lines.len();
                if outcome.duplicate {
                    self.report.duplicates += count;
                } else {
                    self.report.recorded += count;
                }
                for (pending, appended) in group.lines.iter().zip(&outcome.events) {
                    if let Some((position, hash)) = pending.stated {
                        if (position, hash) != (appended.position, appended.hash) {
                            self.report.reject(
                                pending.line,
                                format!(
                                    "recorded at position {} with hash {}, but the export states \
                                     position {position} and hash {hash}",
                                    appended.position, appended.hash
                                ),
                            );
                        }
                    }
                }
                Ok(())
            }
            Err(e) if self.args.replay => Err(anyhow::anyhow!(
                "line {}: {e}; a replay cannot continue once a line fails",
                group.lines.first().map_or(0, |p| p.line)
            )),
            Err(e) => {
                self.history = None;
                self.next_position = self.store.size().await?;
                if group.lines.len() == 1 {
                    self.report.reject(group.lines[0].line, describe(&e));
                    return Ok(());
                }
                self.one_by_one(group, &recorded_by).await
            }
        }
    }

    /// A refused run, line by line, so each refusal is reported on its own line.
    async fn one_by_one(&mut self, group: Group, recorded_by: &str) -> anyhow::Result<()> {
        let mut expected = Some(group.expected);
        for pending in group.lines {
            let mut request = AppendRequest::new(
                group.stream.clone(),
                expected.take().unwrap_or(ExpectedVersion::Any),
                vec![pending.proposal],
                recorded_by,
            );
            request.personal_data = pending.personal;
            match self.store.append(request).await {
                Ok(outcome) if outcome.duplicate => self.report.duplicates += 1,
                Ok(_) => self.report.recorded += 1,
                Err(e) => self.report.reject(pending.line, describe(&e)),
            }
        }
        self.next_position = self.store.size().await?;
        Ok(())
    }
}

fn describe(e: &StoreError) -> String {
    e.to_string()
}

/// Every event of a stream.
async fn read_stream(store: &Store, stream: &StreamName) -> Result<Vec<RecordedEvent>, StoreError> {
    let mut events: Vec<RecordedEvent> = Vec::new();
    loop {
        let page = store.read_stream(stream, events.len() as u64 + 1, READ_PAGE_EVENTS_MAX).await?;
        let full = page.len() == READ_PAGE_EVENTS_MAX;
        events.extend(page);
        if !full {
            return Ok(events);
        }
    }
}
