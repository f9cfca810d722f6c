//! Progress of long jobs: a bar on a terminal, plain log lines otherwise.
//!
//! A bar redrawn in a log file or a CI transcript is noise, so when stderr is not a terminal
//! the same progress is logged at `info` at most every [`LOG_INTERVAL`], with the count, the
//! total and the rate.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use tracing::info;

/// How often progress is logged when there is no terminal.
pub const LOG_INTERVAL: Duration = Duration::from_secs(5);

/// One job's progress.
#[derive(Debug)]
pub struct Progress {
    job: &'static str,
    unit: &'static str,
    total: u64,
    done: u64,
    started: Instant,
    bar: Option<ProgressBar>,
    last_log: Instant,
}

impl Progress {
    /// Starts showing progress of `job` over `total` items of `unit` (0: unknown total).
    pub fn new(job: &'static str, unit: &'static str, total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(
                (total > 0).then_some(total),
                ProgressDrawTarget::stderr(),
            );
            let template = if total > 0 {
                "{msg} [{bar:40}] {pos}/{len} {per_sec} eta {eta}"
            } else {
                "{msg} {pos} {per_sec}"
            };
            if let Ok(style) = ProgressStyle::with_template(template) {
                bar.set_style(style.progress_chars("=> "));
            }
            bar.set_message(job);
            bar
        });
        let now = Instant::now();
        Self { job, unit, total, done: 0, started: now, bar, last_log: now }
    }

    /// Sets the total once it is known.
    pub fn set_total(&mut self, total: u64) {
        self.total = total;
        if let Some(bar) = &self.bar {
            bar.set_length(total);
        }
    }

    /// Sets how many items are done.
    pub fn set(&mut self, done: u64) {
        self.done = done;
        match &self.bar {
            Some(bar) => bar.set_position(done),
            None if self.last_log.elapsed() >= LOG_INTERVAL => {
                self.last_log = Instant::now();
                self.log("in progress");
            }
            None => {}
        }
    }

    /// Adds to the items done.
    pub fn inc(&mut self, more: u64) {
        self.set(self.done + more);
    }

    /// Ends the display and logs the totals.
    pub fn finish(self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
        self.log("done");
    }

    fn log(&self, state: &str) {
        let seconds = self.started.elapsed().as_secs_f64();
        let rate = if seconds > 0.0 { self.done as f64 / seconds } else { 0.0 };
        info!(
            job = self.job,
            done = self.done,
            total = self.total,
            unit = self.unit,
            per_second = rate.round() as u64,
            seconds = (seconds * 10.0).round() / 10.0,
            "{} {state}",
            self.job
        );
    }
}
