//! `meridian demo`: every region of the config as one local system on loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use tokio_util::sync::CancellationToken;

use crate::cli::DemoArgs;
use crate::config::AdminToken;
use crate::dashboard::NodeIdentity;
use crate::node::{ListenPlan, RegionSockets, log_start};
use crate::region::PeerAddresses;
use crate::reload::Source;

mod backends;
mod regions;

pub use backends::{DemoBackend, DemoBackends};
pub use regions::DemoRegions;

/// Example clients for the printed instructions: (who, ECS subnet).
const EXAMPLE_CLIENTS: [(&str, &str); 3] = [
    ("a client in London", "81.2.69.0/24"),
    ("a client in the United States", "216.160.83.0/24"),
    ("a client in Australia", "1.128.0.0/16"),
];

pub async fn run(config_path: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let source = Source {
        config: config_path.to_path_buf(),
        geo_override: args.geo_db.clone(),
    };
    // Each region is its own node with its own view, as on separate machines, so that one
    // region can be failed and recovered on its own.
    let first = source.load_view()?;
    let config = first.config.clone();
    let mut views = vec![first];
    for _ in 1..config.regions.len() {
        views.push(source.load_view()?);
    }
    // Bind every region before serving any, so a busy port fails the demo cleanly.
    let mut bound = Vec::with_capacity(config.regions.len());
    let mut plans = Vec::with_capacity(config.regions.len());
    for region in &config.regions {
        let on_port = |addr: SocketAddr, port| SocketAddr::new(addr.ip(), port);
        let plan = ListenPlan {
            dns: region
                .listen
                .dns
                .iter()
                .map(|addr| on_port(*addr, args.dns_port))
                .collect(),
            http: region.listen.http.map(|addr| on_port(addr, args.http_port)),
            status: region
                .listen
                .status
                .map(|addr| on_port(addr, args.status_port)),
            udp_sockets: 2,
            http_workers: 2,
        };
        bound.push(RegionSockets::bind(&region.name, &plan)?);
        plans.push(plan);
    }
    // A configured token wins; otherwise the demo makes one up and prints it.
    let configured_token = config.admin_token.is_some();
    let token = demo_token();
    let started = Instant::now();
    let identities: Vec<NodeIdentity> = config
        .regions
        .iter()
        .map(|region| NodeIdentity {
            region: region.name.clone(),
            node: format!("demo-{}", region.name),
            version: env!("CARGO_PKG_VERSION"),
            started,
        })
        .collect();
    // Logged before the instructions, so the two do not interleave on a terminal.
    for ((identity, sockets), view) in identities.iter().zip(&bound).zip(&views) {
        log_start(identity, view, sockets);
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Meridian demo: zone {} with {} regions on loopback",
        config.zone.apex,
        config.regions.len()
    )?;
    writeln!(
        out,
        "  geo database: {}  config hash: {}",
        views[0].geo.path().display(),
        config.short_hash()
    )?;
    // The examples query the first region of the default order (us-east in the shipped
    // config); every region's server gives the same answers.
    let preferred = config.steering.default_order.first().copied();
    let first_dns = config
        .regions
        .iter()
        .zip(&bound)
        .find(|(region, _)| Some(region.id) == preferred)
        .or(config.regions.iter().zip(&bound).next())
        .and_then(|(_, sockets)| sockets.dns_addrs().first().copied());
    let first_status = config
        .regions
        .iter()
        .zip(&bound)
        .find(|(region, _)| Some(region.id) == preferred)
        .and_then(|(_, sockets)| sockets.status_addr())
        .or_else(|| bound.iter().find_map(RegionSockets::status_addr));
    // The demo's own backends, on the addresses the regions' proxies send to.
    let backend_shutdown = CancellationToken::new();
    let backends = DemoBackends::start(&config, backend_shutdown.clone())
        .await
        .context("cannot start the demo backends")?;
    // Ports come from the command line, so peers are reached where they were bound.
    let mut peers = PeerAddresses::default();
    for (region, sockets) in config.regions.iter().zip(&bound) {
        if let Some(status) = sockets.status_addr() {
            peers.status.insert(region.name.clone(), status);
        }
        if let Some(http) = sockets.http_addr() {
            peers.http.insert(region.name.clone(), http);
        }
    }
    let mut to_start = Vec::with_capacity(bound.len());
    for (((region, sockets), plan), identity) in
        config.regions.iter().zip(bound).zip(plans).zip(identities)
    {
        let dns: Vec<String> = sockets
            .dns_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        writeln!(
            out,
            "  {:<14} DNS {:<18} HTTP {:<24} status {}",
            region.name,
            dns.join(", "),
            sockets
                .http_addr()
                .map_or("-".to_string(), |a| format!("http://{a}/")),
            sockets
                .status_addr()
                .map_or("-".to_string(), |a| format!("http://{a}/healthz")),
        )?;
        to_start.push((plan, identity, sockets));
    }
    let (regions, mut failed) = DemoRegions::start(
        source.clone(),
        peers,
        (!configured_token).then(|| AdminToken::generated(token.clone())),
        backends.chaos_routes(),
        to_start,
    )?;

    let steered = config
        .services
        .first()
        .map_or(config.zone.apex.to_string(), |s| s.name.to_string());
    if let Some(status) = first_status {
        writeln!(
            out,
            "\nDashboard: http://{status}/   (every status listener serves it)"
        )?;
        if configured_token {
            writeln!(
                out,
                "  with admin actions: http://{status}/#token=<your token>   (read-only without it)"
            )?;
        } else {
            writeln!(
                out,
                "  with admin actions: http://{status}/#token={token}   (read-only without it)"
            )?;
        }
    }
    if let Some(dns) = first_dns {
        writeln!(out, "\nTry (any region's server gives the same answer):")?;
        for (who, subnet) in EXAMPLE_CLIENTS {
            writeln!(
                out,
                "  dig @{} -p {} {steered} A +subnet={subnet}    # {who}",
                dns.ip(),
                dns.port()
            )?;
        }
        writeln!(
            out,
            "  dig @{} -p {} {steered} A +tcp",
            dns.ip(),
            dns.port()
        )?;
        writeln!(
            out,
            "  dig @{} -p {} {} SOA",
            dns.ip(),
            dns.port(),
            config.zone.apex
        )?;
    }
    for region in &config.regions {
        if let Some(http) = region.listen.http {
            writeln!(
                out,
                "  curl http://{}:{}/    # region={}, through its proxy to one of its backends",
                http.ip(),
                args.http_port,
                region.name
            )?;
        }
    }
    if let (Some(status), Some(backend)) = (first_status, backends.iter().next()) {
        writeln!(
            out,
            "Chaos (demo only): stop and restart any region's backend 0-2 from any status listener:"
        )?;
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/backends/{}/{}/stop",
            backend.region, backend.index
        )?;
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/backends/{}/{}/start",
            backend.region, backend.index
        )?;
    }
    let names: Vec<&str> = config.regions.iter().map(|r| r.name.as_str()).collect();
    if let (Some(status), [first, second, ..]) = (first_status, names.as_slice()) {
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/regions/{second}/fail       # its node stops: DNS moves away in ~1.5 s"
        )?;
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/regions/{second}/recover"
        )?;
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/probes/{first}/{second}/cut  # one cut link: no failover"
        )?;
        writeln!(
            out,
            "  curl -X POST http://{status}/demo/probes/{first}/{second}/heal"
        )?;
        writeln!(
            out,
            "  curl http://{status}/api/v1/regions    # votes and verdicts; /api/v1/events: what changed"
        )?;
        writeln!(
            out,
            "  cargo run --release -- region drain {second} --node http://{status} --token TOKEN"
        )?;
    }
    writeln!(
        out,
        "  cargo run --release -- explain --client 81.2.69.0/24 {steered}"
    )?;
    if let Some(status) = first_status {
        writeln!(
            out,
            "  curl http://{status}/healthz    # the node's status, with its config hash"
        )?;
    }
    writeln!(
        out,
        "Edit {} and it is reloaded within seconds; or `kill -HUP {}`, or:",
        config_path.display(),
        std::process::id()
    )?;
    let shown_token = if configured_token {
        "$MERIDIAN_ADMIN_TOKEN"
    } else {
        token.as_str()
    };
    if let Some(status) = first_status {
        writeln!(
            out,
            "  cargo run --release -- reload --node http://{status} --token {shown_token}"
        )?;
    }
    if configured_token {
        writeln!(out, "Admin token: the configured one")?;
    } else {
        writeln!(out, "Admin token of this demo: {token}")?;
    }
    writeln!(out, "Ctrl-C stops.")?;
    out.flush()?;
    drop(out);
    let served = serve_regions(&regions, &mut failed).await;
    regions.stop_all().await;
    backend_shutdown.cancel();
    backends.wait().await;
    served
}

/// Serves until SIGINT/SIGTERM (Ok) or until a node fails on its own (Err with the reason);
/// SIGHUP reloads every running node's config.
async fn serve_regions(
    regions: &DemoRegions,
    failed: &mut tokio::sync::mpsc::UnboundedReceiver<String>,
) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    let mut terminate = signal(SignalKind::terminate()).context("cannot listen for SIGTERM")?;
    loop {
        tokio::select! {
            _ = hangup.recv() => regions.reload_all("SIGHUP").await,
            _ = tokio::signal::ctrl_c() => break,
            _ = terminate.recv() => break,
            reason = failed.recv() => {
                return Err(anyhow::anyhow!(reason.unwrap_or_else(|| "a node stopped".to_string())));
            }
        }
    }
    tracing::info!("shutting down");
    Ok(())
}

/// A random token for the demo's admin actions: 32 hex characters from the OS.
fn demo_token() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom")
        .and_then(|mut random| std::io::Read::read_exact(&mut random, &mut bytes));
    if read.is_err() {
        // No randomness: still a token nobody can guess from outside this process's output.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos ^ u128::from(std::process::id())).to_le_bytes();
    }
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
