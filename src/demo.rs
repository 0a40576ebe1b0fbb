//! `meridian demo`: every region of the config as one local system on loopback.

use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;

use crate::cli::DemoArgs;
use crate::node::{Node, RegionSockets, SHUTDOWN_GRACE, Snapshots, wait_for_signal};

/// Example clients for the printed instructions: (who, ECS subnet).
const EXAMPLE_CLIENTS: [(&str, &str); 3] = [
    ("a client in London", "81.2.69.0/24"),
    ("a client in the United States", "216.160.83.0/24"),
    ("a client in Australia", "1.128.0.0/16"),
];

pub async fn run(config_path: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let snapshots = Snapshots::load(config_path, args.geo_db.as_deref())?;
    let config = snapshots.config.clone();
    // Bind every region before serving any, so a busy port fails the demo cleanly.
    let mut all = Vec::with_capacity(config.regions.len());
    for region in &config.regions {
        let dns: Vec<SocketAddr> = region
            .listen
            .dns
            .iter()
            .map(|addr| SocketAddr::new(addr.ip(), args.dns_port))
            .collect();
        let http = region
            .listen
            .http
            .map(|addr| SocketAddr::new(addr.ip(), args.http_port));
        all.push((region, RegionSockets::bind(region, &dns, http, 2).await?));
    }
    let node = Node::new();
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Meridian demo: zone {} with {} regions on loopback",
        config.zone.apex,
        config.regions.len()
    )?;
    writeln!(
        out,
        "  geo database: {}",
        snapshots.geo.load().path().display()
    )?;
    // The examples query the first region of the default order (us-east in the shipped
    // config); every region's server gives the same answers.
    let preferred = config.steering.default_order.first().copied();
    let first_dns = all
        .iter()
        .find(|(region, _)| Some(region.id) == preferred)
        .or(all.first())
        .and_then(|(_, sockets)| sockets.dns_addrs().first().copied());
    for (region, sockets) in all {
        let dns: Vec<String> = sockets
            .dns_addrs()
            .iter()
            .map(ToString::to_string)
            .collect();
        let http = sockets.http.as_ref().and_then(|l| l.local_addr().ok());
        writeln!(
            out,
            "  {:<14} DNS {:<18} HTTP {}  (status port {} reserved)",
            region.name,
            dns.join(", "),
            http.map_or("-".to_string(), |a| format!("http://{a}/")),
            args.status_port,
        )?;
        node.serve_region(sockets, &snapshots);
    }
    node.watch_geo(&snapshots);

    let steered = config
        .services
        .first()
        .map_or(config.zone.apex.to_string(), |s| s.name.to_string());
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
                "  curl http://{}:{}/    # region={}",
                http.ip(),
                args.http_port,
                region.name
            )?;
        }
    }
    writeln!(
        out,
        "  cargo run --release -- explain --client 81.2.69.142 {steered}"
    )?;
    writeln!(out, "Ctrl-C stops.")?;
    out.flush()?;
    drop(out);

    wait_for_signal().await;
    tracing::info!("shutting down");
    if !node.shutdown(SHUTDOWN_GRACE).await {
        tracing::warn!("some tasks did not stop within {SHUTDOWN_GRACE:?}");
    }
    Ok(())
}
