//! A fixed-rate HTTP/1.1 load generator for `bench/http.sh`: wrk2's open-loop model on one thread.
//!
//! `http_load rate` keeps N keep-alive connections and sends requests at a fixed total rate.
//! Connection `c` sends its `k`-th request at the intended time `start + (c + k * N) / rate`,
//! so the sends of all connections are spread evenly, and each latency is measured from the
//! intended time, not from when the request actually left. A connection still waiting for a
//! slow response sends its next request late, and that lateness counts as latency: a stall
//! shows up in the percentiles instead of silently lowering the rate ("coordinated
//! omission", which wrk2 corrects the same way). It prints one line of `key=value` pairs:
//!
//! ```text
//! rate=28000 connections=64 duration_s=10 requests=280000 achieved_rps=28000.0 p50_ms=0.210 ...
//! ```
//!
//! `http_load idle` opens N connections (spread over `--source` addresses), sends one request
//! on each, reads the response, then holds them all idle for `--hold` seconds, so that the
//! server's memory per idle connection can be measured meanwhile. It prints `idle_open=N` once
//! every connection is up and idle, and `idle_still_open=N` at the end.
//!
//! It uses one thread (a `current_thread` runtime), like `wrk -t1`, raw TCP, a hand-written
//! request and a minimal response parser: the status line and headers through `httparse`, the
//! body by `Content-Length` only (chunked responses count as errors).

use std::io::{self, Write};
use std::net::{IpAddr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

#[derive(Debug, Parser)]
#[command(about = "Fixed-rate HTTP/1.1 load generator for bench/http.sh")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Send requests at a fixed total rate; print the latency percentiles.
    Rate(RateArgs),
    /// Open connections, one request each, then hold them idle.
    Idle(IdleArgs),
}

#[derive(Debug, clap::Args)]
struct RateArgs {
    /// `http://host:port/path`
    url: String,
    /// Requests per second, all connections together.
    #[arg(long)]
    rate: u64,
    /// Keep-alive connections; each has at most one request in flight.
    #[arg(long, default_value_t = 64)]
    connections: u64,
    /// Seconds measured, after the warm-up.
    #[arg(long, default_value_t = 10)]
    duration: u64,
    /// Seconds at the same rate before the measurement starts; their latencies are dropped.
    #[arg(long, default_value_t = 1)]
    warmup: u64,
    /// Seconds after the end that requests in flight get before they count as timeouts.
    #[arg(long, default_value_t = 2)]
    grace: u64,
}

#[derive(Debug, clap::Args)]
struct IdleArgs {
    /// `http://host:port/path`
    url: String,
    /// Connections to open and hold.
    #[arg(long, default_value_t = 2000)]
    connections: usize,
    /// Local addresses to connect from, in turn (a server may cap connections per source).
    /// None: the system picks.
    #[arg(long = "source")]
    sources: Vec<IpAddr>,
    /// Seconds to hold the connections idle once all are open.
    #[arg(long, default_value_t = 5)]
    hold: u64,
    /// Connections being opened at once.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
}

/// Where to send requests, and the request itself.
#[derive(Debug)]
struct Target {
    address: SocketAddr,
    request: Vec<u8>,
}

impl Target {
    async fn from_url(url: &str) -> anyhow::Result<Self> {
        let uri: hyper::Uri = url.parse().with_context(|| format!("URL {url:?}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("URL {url:?}: only http:// is supported");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("URL {url:?}: no host"))?;
        let port = authority.port_u16().unwrap_or(80);
        let address = tokio::net::lookup_host((authority.host(), port))
            .await
            .with_context(|| format!("URL {url:?}: resolving {}", authority.host()))?
            .next()
            .with_context(|| format!("URL {url:?}: {} has no address", authority.host()))?;
        let path = uri.path_and_query().map_or("/", |path| path.as_str());
        let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\n\r\n").into_bytes();
        Ok(Self { address, request })
    }

    async fn connect(&self, source: Option<IpAddr>) -> io::Result<TcpStream> {
        let socket = if self.address.is_ipv4() {
            TcpSocket::new_v4()?
        } else {
            TcpSocket::new_v6()?
        };
        if let Some(source) = source {
            socket.bind(SocketAddr::new(source, 0))?;
        }
        let stream = socket.connect(self.address).await?;
        stream.set_nodelay(true)?;
        Ok(stream)
    }
}

/// What one response looked like.
#[derive(Debug, Clone, Copy)]
struct Response {
    status: u16,
    /// The server asked to close the connection after this response.
    close: bool,
}

/// One keep-alive connection with its read buffer.
#[derive(Debug)]
struct Connection {
    stream: TcpStream,
    buffer: Vec<u8>,
}

impl Connection {
    fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buffer: Vec::with_capacity(16 * 1024),
        }
    }

    /// Sends `request` and reads one whole response.
    async fn exchange(&mut self, request: &[u8]) -> io::Result<Response> {
        self.stream.write_all(request).await?;
        loop {
            if let Some((response, length)) = parse_response(&self.buffer)?
                && self.buffer.len() >= length
            {
                self.buffer.drain(..length);
                return Ok(response);
            }
            self.buffer.reserve(8 * 1024);
            if self.stream.read_buf(&mut self.buffer).await? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "connection closed before a whole response",
                ));
            }
        }
    }
}

fn invalid(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}

/// The response at the start of `buffer` and its whole length (head and body), once its head
/// is complete; `None` while the head is still incomplete.
fn parse_response(buffer: &[u8]) -> io::Result<Option<(Response, usize)>> {
    let mut headers = [httparse::EMPTY_HEADER; 48];
    let mut parsed = httparse::Response::new(&mut headers);
    let head_length = match parsed.parse(buffer) {
        Ok(httparse::Status::Complete(length)) => length,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(error) => return Err(invalid(format!("bad response head: {error}"))),
    };
    let status = parsed.code.unwrap_or(0);
    let mut body_length = None;
    let mut close = false;
    for header in parsed.headers.iter() {
        if header.name.eq_ignore_ascii_case("content-length") {
            let value = std::str::from_utf8(header.value)
                .ok()
                .and_then(|value| value.trim().parse::<usize>().ok())
                .ok_or_else(|| invalid("bad Content-Length"))?;
            body_length = Some(value);
        } else if header.name.eq_ignore_ascii_case("transfer-encoding") {
            return Err(invalid("chunked responses are not supported"));
        } else if header.name.eq_ignore_ascii_case("connection") {
            close |= header
                .value
                .split(|&byte| byte == b',')
                .any(|token| token.trim_ascii().eq_ignore_ascii_case(b"close"));
        }
    }
    let body_length = match (status, body_length) {
        (100..=199 | 204 | 304, _) => 0,
        (_, Some(length)) => length,
        (_, None) => return Err(invalid("response without Content-Length")),
    };
    Ok(Some((
        Response { status, close },
        head_length + body_length,
    )))
}

/// Prints one result line on stdout, flushed at once: the script reads it while this runs.
fn report(line: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()
}

// ------------------------------------------------------------------------------- rate --

/// Tokio's timer rounds a deadline up to the next millisecond tick, and the poll that waits for
/// it rounds its timeout up to a whole millisecond again: a sleep ends up to about 2 ms after
/// its deadline, never before. So a connection sleeps until this much before its intended
/// send time and sends as soon as it wakes. A request then leaves up to 2 ms early rather
/// than late, and an early request is timed from when it actually left (see [`drive`]).
const TIMER_SLACK: Duration = Duration::from_millis(2);

/// One connection's share of the schedule.
#[derive(Debug, Clone, Copy)]
struct Schedule {
    start: Instant,
    /// Requests sent at or after this are measured.
    measure_from: Instant,
    /// No request is sent at or after this.
    end: Instant,
    /// In-flight requests still unanswered now are timeouts.
    deadline: Instant,
    rate: u64,
    connections: u64,
}

impl Schedule {
    /// The intended send time of request `k` of connection `connection`.
    fn intended(&self, connection: u64, k: u64) -> Instant {
        let slot = u128::from(connection) + u128::from(k) * u128::from(self.connections);
        let nanos = slot * 1_000_000_000 / u128::from(self.rate);
        self.start + Duration::from_nanos(u64::try_from(nanos).unwrap_or(u64::MAX))
    }
}

/// What one connection saw during the measured part of the run.
#[derive(Debug, Default)]
struct Tally {
    /// Nanoseconds from intended (or actual, if earlier) send to the whole response.
    latencies: Vec<u64>,
    non_2xx: u64,
    errors: u64,
    /// Unanswered at the deadline.
    timeouts: u64,
    /// Intended before the end but never sent, because the connection was still busy.
    missed: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, error: &io::Error) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(error.to_string());
        }
    }

    fn merge(&mut self, other: Self) {
        self.latencies.extend(other.latencies);
        self.non_2xx += other.non_2xx;
        self.errors += other.errors;
        self.timeouts += other.timeouts;
        self.missed += other.missed;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// Runs connection `index` on `schedule` until its end; reconnects after an error.
async fn drive(
    index: u64,
    target: Arc<Target>,
    mut connection: Option<Connection>,
    schedule: Schedule,
) -> Tally {
    let mut tally = Tally::default();
    let deadline = tokio::time::sleep_until(schedule.deadline);
    tokio::pin!(deadline);
    let mut k = 0;
    loop {
        let intended = schedule.intended(index, k);
        if intended >= schedule.end {
            break;
        }
        k += 1;
        if intended > Instant::now() + TIMER_SLACK {
            tokio::time::sleep_until(intended - TIMER_SLACK).await;
        }
        let measured = intended >= schedule.measure_from;
        let sent = Instant::now();
        let live = match connection.as_mut() {
            Some(live) => live,
            None => match target.connect(None).await {
                Ok(stream) => connection.insert(Connection::new(stream)),
                Err(error) => {
                    if measured {
                        tally.error(&error);
                    }
                    continue;
                }
            },
        };
        let outcome = tokio::select! {
            outcome = live.exchange(&target.request) => Some(outcome),
            () = &mut deadline => None,
        };
        match outcome {
            Some(Ok(response)) => {
                if measured {
                    let origin = intended.min(sent);
                    let nanos = Instant::now().duration_since(origin).as_nanos();
                    tally
                        .latencies
                        .push(u64::try_from(nanos).unwrap_or(u64::MAX));
                    if !(200..300).contains(&response.status) {
                        tally.non_2xx += 1;
                    }
                }
                if response.close {
                    connection = None;
                }
            }
            Some(Err(error)) => {
                if measured {
                    tally.error(&error);
                }
                connection = None;
            }
            None => {
                if measured {
                    tally.timeouts += 1;
                }
                break;
            }
        }
    }
    // What is left of this connection's schedule was never sent.
    loop {
        let intended = schedule.intended(index, k);
        if intended >= schedule.end {
            break;
        }
        if intended >= schedule.measure_from {
            tally.missed += 1;
        }
        k += 1;
    }
    tally
}

/// The latency at quantile `q` of sorted `latencies`, in milliseconds (nearest rank).
fn quantile_ms(latencies: &[u64], q: f64) -> f64 {
    let Some(last) = latencies.len().checked_sub(1) else {
        return 0.0;
    };
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss,
        reason = "a rank in a vector that fits in memory"
    )]
    let rank = ((q * latencies.len() as f64).ceil() as usize).saturating_sub(1);
    nanos_to_ms(latencies[rank.min(last)])
}

#[allow(clippy::cast_precision_loss, reason = "milliseconds for display")]
fn nanos_to_ms(nanos: u64) -> f64 {
    nanos as f64 / 1e6
}

async fn run_rate(args: RateArgs) -> anyhow::Result<()> {
    if args.rate == 0 || args.connections == 0 || args.duration == 0 {
        bail!("--rate, --connections and --duration must be above 0");
    }
    let target = Arc::new(Target::from_url(&args.url).await?);
    // Every connection is open before the clock starts: connecting is not measured.
    let mut connections = Vec::new();
    for _ in 0..args.connections {
        let stream = target
            .connect(None)
            .await
            .with_context(|| format!("connecting to {}", target.address))?;
        connections.push(Connection::new(stream));
    }
    let start = Instant::now() + Duration::from_millis(10);
    let measure_from = start + Duration::from_secs(args.warmup);
    let end = measure_from + Duration::from_secs(args.duration);
    let schedule = Schedule {
        start,
        measure_from,
        end,
        deadline: end + Duration::from_secs(args.grace),
        rate: args.rate,
        connections: args.connections,
    };
    let mut tasks = Vec::new();
    for (index, connection) in (0..).zip(connections) {
        tasks.push(tokio::spawn(drive(
            index,
            target.clone(),
            Some(connection),
            schedule,
        )));
    }
    let mut total = Tally::default();
    for task in tasks {
        total.merge(task.await.context("a connection task failed")?);
    }
    total.latencies.sort_unstable();
    let latencies = &total.latencies;
    #[allow(clippy::cast_precision_loss, reason = "a request count for display")]
    let achieved = latencies.len() as f64 / Duration::from_secs(args.duration).as_secs_f64();
    report(&format!(
        "rate={} connections={} duration_s={} requests={} achieved_rps={achieved:.1} \
         p50_ms={:.3} p90_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3} \
         non2xx={} errors={} timeouts={} missed={}",
        args.rate,
        args.connections,
        args.duration,
        latencies.len(),
        quantile_ms(latencies, 0.50),
        quantile_ms(latencies, 0.90),
        quantile_ms(latencies, 0.99),
        quantile_ms(latencies, 0.999),
        latencies.last().copied().map_or(0.0, nanos_to_ms),
        total.non_2xx,
        total.errors,
        total.timeouts,
        total.missed,
    ))?;
    if let Some(error) = total.first_error {
        eprintln!("http_load: first error: {error}");
    }
    Ok(())
}

// ------------------------------------------------------------------------------- idle --

/// Opens one connection from `source` and completes one exchange on it.
async fn open_idle(target: &Target, source: Option<IpAddr>) -> io::Result<Connection> {
    let mut connection = Connection::new(target.connect(source).await?);
    let response = connection.exchange(&target.request).await?;
    if !(200..300).contains(&response.status) || response.close {
        return Err(invalid(format!(
            "status {}{}",
            response.status,
            if response.close {
                ", connection: close"
            } else {
                ""
            }
        )));
    }
    // Idle connections should not pin a load generator's buffer each.
    connection.buffer = Vec::new();
    Ok(connection)
}

async fn run_idle(args: IdleArgs) -> anyhow::Result<()> {
    if args.connections == 0 || args.parallel == 0 {
        bail!("--connections and --parallel must be above 0");
    }
    let target = Arc::new(Target::from_url(&args.url).await?);
    let permits = Arc::new(Semaphore::new(args.parallel));
    let mut tasks = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let source = match args.sources.len() {
            0 => None,
            count => Some(args.sources[index % count]),
        };
        let (target, permits) = (target.clone(), permits.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = permits.acquire_owned().await;
            open_idle(&target, source).await
        }));
    }
    let mut open = Vec::with_capacity(args.connections);
    let mut failed = 0_usize;
    let mut first_error = None;
    for task in tasks {
        match task.await.context("a connection task failed")? {
            Ok(connection) => open.push(connection),
            Err(error) => {
                failed += 1;
                first_error.get_or_insert(error);
            }
        }
    }
    report(&format!("idle_open={} failed={failed}", open.len()))?;
    if let Some(error) = first_error {
        eprintln!("http_load: first error: {error}");
    }
    tokio::time::sleep(Duration::from_secs(args.hold)).await;
    // Still open: nothing to read yet, and no end of stream.
    let mut probe = [0_u8; 1];
    let still_open = open
        .iter()
        .filter(|connection| {
            matches!(connection.stream.try_read(&mut probe),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock)
        })
        .count();
    report(&format!("idle_still_open={still_open}"))?;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("http_load: cannot start the runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Rate(args) => run_rate(args).await,
            Command::Idle(args) => run_idle(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("http_load: {error:#}");
            ExitCode::FAILURE
        }
    }
}
