//! The access log's writer: one thread that takes lines off the queue and writes them,
//! buffered, to the file or standard output the published view names, flushing whenever
//! the queue is empty.
//!
//! It follows the config and the file:
//! - a reload that changes `access_log` or `access_log_path` switches format or target;
//! - every reload (SIGHUP, `meridian reload`, the file watcher; applied or not) reopens the
//!   file, as logrotate's `postrotate systemctl reload meridian` expects;
//! - every second it checks that the path still names the file it writes to, and reopens it
//!   when the file was moved away or replaced, so a rename-based rotation works even without
//!   a reload. `copytruncate` works as it is: the file is opened for appending, so writes go
//!   to the new end.
//!
//! A file that cannot be opened or written is logged once (and again when it works), and
//! the lines meanwhile are dropped and counted; it is retried every second. The writer never
//! stops the node. It ends when every sender is gone (the proxy stopped), or a few seconds
//! after the node's shutdown began, whichever is first.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Stdout, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::PathBuf;
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use metrics::Counter;
use tokio_util::sync::CancellationToken;

use super::format::{Record, write_line};
use crate::region::proxy::{AccessLog, AccessLogTarget};
use crate::view::SharedView;

/// How long the writer waits for a line before it looks at the config and the file again.
const TICK: Duration = Duration::from_millis(200);

/// How often it checks that the path still names the file it writes to, and retries a
/// file it could not open.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// After the node's shutdown began, how long the writer waits for the proxy's last lines
/// (requests in flight finish within the accept loop's drain grace, 2 s) before it stops
/// anyway: within the node's shutdown grace (5 s).
const STOP_WAIT: Duration = Duration::from_secs(4);

/// Most lines written between two flushes, so a busy queue is still flushed regularly.
const BATCH_LINES: usize = 1024;

/// The thread that writes a region's access log; started by the node.
#[derive(Debug)]
pub struct AccessLogWriter {
    region: String,
    view: SharedView,
    lines: Receiver<Box<Record>>,
    dropped: Counter,
}

/// Where lines go now.
enum Sink {
    /// Off, or the file could not be opened (then retried at the next check).
    Closed,
    Stdout(BufWriter<Stdout>),
    File {
        writer: BufWriter<File>,
        path: PathBuf,
        /// Device and inode of the open file, to tell when the path names another one.
        identity: (u64, u64),
    },
}

/// The writer's state between lines.
struct Output {
    settings: AccessLog,
    sink: Sink,
    /// The last open or write failed: logged once until it works again.
    failing: bool,
    line: Vec<u8>,
}

impl AccessLogWriter {
    pub(super) fn new(
        region: &str,
        view: SharedView,
        lines: Receiver<Box<Record>>,
        dropped: Counter,
    ) -> Self {
        Self {
            region: region.to_string(),
            view,
            lines,
            dropped,
        }
    }

    /// The access log settings of the published view.
    fn settings(&self) -> AccessLog {
        self.view
            .load()
            .config
            .region_by_name(&self.region)
            .map(|region| region.proxy.access_log.clone())
            .unwrap_or_default()
    }

    /// Writes lines until the proxy is gone or a while after `shutdown`. `reloads` counts the
    /// node's reloads (every outcome): when it changes, the file is reopened. Never fails:
    /// what cannot be written is counted and logged.
    pub fn run(self, reloads: impl Fn() -> u64, shutdown: CancellationToken) -> io::Result<()> {
        let mut output = Output {
            settings: AccessLog::default(),
            sink: Sink::Closed,
            failing: false,
            line: Vec::with_capacity(512),
        };
        output.switch(&self.region, self.settings());
        let mut seen_reloads = reloads();
        let mut last_check = Instant::now();
        let mut stopping_since: Option<Instant> = None;
        loop {
            let first = match self.lines.recv_timeout(TICK) {
                Ok(record) => Some(record),
                Err(RecvTimeoutError::Timeout) => None,
                Err(RecvTimeoutError::Disconnected) => {
                    output.flush(&self.region);
                    return Ok(());
                }
            };
            // Before writing: a line that comes after a reload (or a rotation) goes to the
            // file as it is after it.
            let settings = self.settings();
            let reloaded = reloads();
            if settings != output.settings {
                output.switch(&self.region, settings);
            } else if reloaded != seen_reloads {
                output.reopen(&self.region, "the config was reloaded");
            } else if last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                if let Some(why) = output.needs_reopen() {
                    output.reopen(&self.region, why);
                }
            }
            seen_reloads = reloaded;
            if let Some(record) = first {
                output.write(&record, &self.dropped);
                for record in self.lines.try_iter().take(BATCH_LINES) {
                    output.write(&record, &self.dropped);
                }
                output.flush(&self.region);
            }
            if shutdown.is_cancelled() {
                let since = *stopping_since.get_or_insert_with(Instant::now);
                if since.elapsed() >= STOP_WAIT {
                    output.flush(&self.region);
                    return Ok(());
                }
            }
        }
    }
}

impl Output {
    /// Follows new settings: closes what was open, opens what they name.
    fn switch(&mut self, region: &str, settings: AccessLog) {
        self.close(region);
        self.settings = settings;
        self.failing = false;
        if self.settings.is_on() {
            self.open(region);
            if !matches!(self.sink, Sink::Closed) {
                tracing::info!(
                    region,
                    format = ?self.settings.format,
                    to = %target_name(&self.settings.target),
                    "access log on"
                );
            }
        } else {
            tracing::debug!(region, "access log off");
        }
    }

    /// Closes and opens the same target again (a rotated file is replaced by a new one).
    fn reopen(&mut self, region: &str, why: &str) {
        if !self.settings.is_on() {
            return;
        }
        self.close(region);
        self.open(region);
        if let (Sink::File { path, .. }, false) = (&self.sink, self.failing) {
            tracing::debug!(region, file = %path.display(), why, "access log reopened");
        }
    }

    fn open(&mut self, region: &str) {
        self.sink = match &self.settings.target {
            AccessLogTarget::Stdout => {
                Sink::Stdout(BufWriter::with_capacity(64 * 1024, io::stdout()))
            }
            AccessLogTarget::File(path) => match open_file(path) {
                Ok((file, identity)) => Sink::File {
                    writer: BufWriter::with_capacity(64 * 1024, file),
                    path: path.clone(),
                    identity,
                },
                Err(error) => {
                    self.fail(region, &error);
                    Sink::Closed
                }
            },
        };
        if !matches!(self.sink, Sink::Closed) && self.failing {
            self.failing = false;
            tracing::info!(region, to = %target_name(&self.settings.target), "access log writing again");
        }
    }

    fn close(&mut self, region: &str) {
        self.flush(region);
        self.sink = Sink::Closed;
    }

    /// Why the file should be opened again: it could not be opened before, or its path now
    /// names another file (or none: it was moved away).
    fn needs_reopen(&self) -> Option<&'static str> {
        match &self.sink {
            Sink::Closed if self.settings.is_on() => Some("retrying"),
            Sink::File { path, identity, .. } => match std::fs::metadata(path) {
                Ok(metadata) if (metadata.dev(), metadata.ino()) == *identity => None,
                Ok(_) => Some("the file was replaced"),
                Err(_) => Some("the file was moved away"),
            },
            _ => None,
        }
    }

    fn write(&mut self, record: &Record, dropped: &Counter) {
        self.line.clear();
        write_line(&mut self.line, self.settings.format, record);
        let written = match &mut self.sink {
            Sink::Closed => Err(None),
            Sink::Stdout(writer) => writer.write_all(&self.line).map_err(Some),
            Sink::File { writer, .. } => writer.write_all(&self.line).map_err(Some),
        };
        if let Err(error) = written {
            dropped.increment(1);
            if let Some(error) = error {
                // The buffer's state is unknown after a failed write: start over at the next
                // check with a fresh one.
                self.sink = Sink::Closed;
                let region = record.region.clone();
                self.fail(&region, &error);
            }
        }
    }

    fn flush(&mut self, region: &str) {
        let flushed = match &mut self.sink {
            Sink::Closed => Ok(()),
            Sink::Stdout(writer) => writer.flush(),
            Sink::File { writer, .. } => writer.flush(),
        };
        if let Err(error) = flushed {
            self.sink = Sink::Closed;
            self.fail(region, &error);
        }
    }

    /// Logs a failure once per run of failures.
    fn fail(&mut self, region: &str, error: &io::Error) {
        if !self.failing {
            self.failing = true;
            tracing::error!(
                region,
                to = %target_name(&self.settings.target),
                %error,
                "access log cannot be written; its lines are dropped (meridian_proxy_access_log_dropped_total) until it can"
            );
        }
    }
}

/// Opens `path` for appending (created, readable by its owner and group only: it holds
/// client addresses), with its device and inode.
fn open_file(path: &PathBuf) -> io::Result<(File, (u64, u64))> {
    let file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)?;
    let metadata = file.metadata()?;
    Ok((file, (metadata.dev(), metadata.ino())))
}

fn target_name(target: &AccessLogTarget) -> String {
    match target {
        AccessLogTarget::Stdout => "standard output".to_string(),
        AccessLogTarget::File(path) => path.display().to_string(),
    }
}
