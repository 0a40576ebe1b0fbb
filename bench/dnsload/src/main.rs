//! dnsload: a DNS load generator for bench/dns-real.sh. It sends the queries of a file
//! (`name type [client-subnet]` per line) in order, cycling, over UDP or pipelined TCP,
//! with a fixed window of queries in flight, for a fixed time, optionally paced to a rate,
//! and prints one `key=value` summary line. dnsperf cannot vary the ECS option per query.

mod cli;
mod query;
mod run;
mod stats;
mod sys;
mod tcp;
mod udp;
mod verify;

use std::process::ExitCode;
use std::thread;

use cli::{Args, Mode};
use run::RunConfig;
use stats::Stats;

const RCODE_NAMES: [&str; 16] = [
    "NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN", "YXRRSET",
    "NXRRSET", "NOTAUTH", "NOTZONE", "RCODE11", "RCODE12", "RCODE13", "RCODE14", "RCODE15",
];

fn main() -> ExitCode {
    let args = match cli::parse(std::env::args().skip(1)) {
        Ok(args) => args,
        Err(message) => {
            eprintln!("dnsload: {message}\n\n{}", cli::USAGE);
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("dnsload: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args) -> Result<(), String> {
    let text = std::fs::read_to_string(&args.query_file)
        .map_err(|e| format!("{}: {e}", args.query_file))?;
    let queries =
        query::parse_file(&text, args.encoding).map_err(|e| format!("{}: {e}", args.query_file))?;
    if let Some(count) = args.verify {
        return verify::print_answers(
            args.server,
            &queries[..count.min(queries.len())],
            args.timeout_ns,
        );
    }

    let threads = args.threads.max(1);
    let configs: Vec<RunConfig> = (0..threads)
        .map(|i| RunConfig {
            server: args.server,
            window: (args.window / threads + usize::from(i < args.window % threads)).max(1),
            connections: args.connections,
            rate: args.rate.map(|r| r / threads as f64),
            duration_ns: args.seconds_ns,
            timeout_ns: args.timeout_ns,
            first_query: i * queries.len() / threads,
            id_offset: (i as u16).wrapping_mul(7919),
        })
        .collect();
    let results: Vec<Result<Stats, String>> = thread::scope(|scope| {
        let handles: Vec<_> = configs
            .iter()
            .map(|config| {
                let queries = &queries;
                scope.spawn(move || match args.mode {
                    Mode::Udp => udp::run(config, queries),
                    Mode::Tcp => tcp::run(config, queries),
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| match h.join() {
                Ok(result) => result.map_err(|e| format!("sending to {}: {e}", args.server)),
                Err(_) => Err("a sender thread panicked".to_string()),
            })
            .collect()
    });
    let mut total = Stats::new();
    for result in results {
        total.merge(&result?);
    }
    print_summary(args, queries.len(), &total);
    Ok(())
}

/// One line of `key=value` fields, for scripts (bench/dns-real.sh parses it with awk).
#[allow(clippy::print_stdout)]
fn print_summary(args: &Args, query_count: usize, total: &Stats) {
    let seconds = total.elapsed_ns as f64 / 1e9;
    let qps = if seconds > 0.0 {
        total.answered as f64 / seconds
    } else {
        0.0
    };
    let rcodes: Vec<String> = total
        .rcodes
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(code, n)| format!("{}:{n}", RCODE_NAMES[code]))
        .collect();
    let rate = args.rate.map_or("max".to_string(), |r| format!("{r:.0}"));
    println!(
        "dnsload mode={} server={} threads={} window={} connections={} rate={} queries={} seconds={:.3} \
         sent={} answered={} lost={} unmatched={} truncated={} reconnects={} qps={:.1} rcodes={} \
         p50_us={} p90_us={} p99_us={} p999_us={} max_us={}",
        args.mode.name(),
        args.server,
        args.threads,
        args.window,
        if args.mode == Mode::Tcp {
            args.connections * args.threads
        } else {
            0
        },
        rate,
        query_count,
        seconds,
        total.sent,
        total.answered,
        total.lost,
        total.unmatched,
        total.truncated,
        total.reconnects,
        qps,
        if rcodes.is_empty() {
            "-".to_string()
        } else {
            rcodes.join(",")
        },
        total.latency.quantile(0.50),
        total.latency.quantile(0.90),
        total.latency.quantile(0.99),
        total.latency.quantile(0.999),
        total.latency.quantile(1.0),
    );
}
