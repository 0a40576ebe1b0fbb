//! Command-line options, parsed by hand to keep the tool's dependencies to libc.

use std::net::SocketAddr;

use crate::query::Encoding;

pub(crate) const USAGE: &str = "\
usage: dnsload -d QUERY_FILE [options]

  -d FILE        queries, one per line: NAME TYPE [SUBNET], e.g. `www.gtm.test A 81.2.69.0/24`
                 (sent in order, cycling; a subnet becomes an EDNS Client Subnet option)
  -s ADDR        server address [127.0.0.1]
  -p PORT        server port [53]
  -m udp|tcp     transport [udp]
  -l SECONDS     how long to send [10] (then up to 0.5 s for the answers in flight)
  -q N           queries in flight at most, over all threads [200]
  -T N           threads, each with its own UDP socket or TCP connections [1]
  -c N           TCP connections per thread, the window split over them [1]
  --rate QPS     send at this total rate (open loop, latency counted from when each query
                 was due) instead of as fast as the window allows
  -t MS          a query unanswered this long is lost [1000]
  --edns SIZE    EDNS UDP payload size [1232]
  --no-edns      no OPT record (then no subnets either)
  --verify N     send the first N queries one at a time and print each answer, then exit

Prints one line: dnsload mode=... sent=N answered=N lost=N qps=X rcodes=NOERROR:N,...
p50_us=N p90_us=N p99_us=N p999_us=N max_us=N";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Udp,
    Tcp,
}

impl Mode {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Udp => "udp",
            Mode::Tcp => "tcp",
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Args {
    pub(crate) query_file: String,
    pub(crate) server: SocketAddr,
    pub(crate) mode: Mode,
    pub(crate) seconds_ns: u64,
    pub(crate) window: usize,
    pub(crate) threads: usize,
    pub(crate) connections: usize,
    pub(crate) rate: Option<f64>,
    pub(crate) timeout_ns: u64,
    pub(crate) encoding: Encoding,
    pub(crate) verify: Option<usize>,
}

pub(crate) fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
    let mut query_file = None;
    let mut address = "127.0.0.1".to_string();
    let mut port = 53u16;
    let mut mode = Mode::Udp;
    let mut seconds = 10.0f64;
    let mut window = 200usize;
    let mut threads = 1usize;
    let mut connections = 1usize;
    let mut rate = None;
    let mut timeout_ms = 1000u64;
    let mut edns_size = Some(1232u16);
    let mut verify = None;
    while let Some(flag) = argv.next() {
        let mut value = || argv.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "-d" => query_file = Some(value()?),
            "-s" => address = value()?,
            "-p" => port = number(&flag, &value()?)?,
            "-m" => {
                mode = match value()?.as_str() {
                    "udp" => Mode::Udp,
                    "tcp" => Mode::Tcp,
                    other => return Err(format!("-m: udp or tcp, not {other:?}")),
                }
            }
            "-l" => seconds = number(&flag, &value()?)?,
            "-q" => window = number(&flag, &value()?)?,
            "-T" => threads = number(&flag, &value()?)?,
            "-c" => connections = number(&flag, &value()?)?,
            "--rate" => rate = Some(number::<f64>(&flag, &value()?)?),
            "-t" => timeout_ms = number(&flag, &value()?)?,
            "--edns" => edns_size = Some(number(&flag, &value()?)?),
            "--no-edns" => edns_size = None,
            "--verify" => verify = Some(number(&flag, &value()?)?),
            "-h" | "--help" => return Err("help".into()),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let query_file = query_file.ok_or("-d QUERY_FILE is required")?;
    let ip = address
        .parse()
        .map_err(|_| format!("-s: not an IP address: {address:?}"))?;
    if !(seconds > 0.0 && seconds <= 3600.0) {
        return Err("-l: between 0 and 3600 seconds".into());
    }
    // 60,000 leaves room in the 16-bit ID space for IDs that wait to be reused.
    if !(1..=60_000).contains(&window)
        || !(1..=64).contains(&threads)
        || !(1..=1000).contains(&connections)
    {
        return Err("-q 1..60000, -T 1..64, -c 1..1000".into());
    }
    if rate.is_some_and(|r| !(r >= 1.0 && r.is_finite())) || timeout_ms == 0 {
        return Err("--rate at least 1, -t at least 1".into());
    }
    Ok(Args {
        query_file,
        server: SocketAddr::new(ip, port),
        mode,
        seconds_ns: (seconds * 1e9) as u64,
        window,
        threads,
        connections,
        rate,
        timeout_ns: timeout_ms * 1_000_000,
        encoding: Encoding { edns_size },
        verify,
    })
}

fn number<T: std::str::FromStr>(flag: &str, text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{flag}: not a number: {text:?}"))
}
