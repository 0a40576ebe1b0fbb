//! `meridian explain`: why a client gets the answer it gets.
//!
//! The answer shown is produced by the server's own handler from a real query packet, and the
//! decision by the same [`Decider`](crate::decision::Decider) call the handler makes.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use anyhow::Context;
use hickory_proto::op::{Message, Query};
use hickory_proto::rr::{Name, RecordType};

use crate::cli::ExplainArgs;
use crate::dns::DnsHandler;
use crate::geo::ClientAddress;
use crate::node::Snapshots;
use crate::region::Family;

pub fn run(config_path: &Path, args: &ExplainArgs) -> anyhow::Result<()> {
    let snapshots = Snapshots::load(config_path, args.geo_db.as_deref())?;
    let report = explain(&snapshots, args.client, &args.name, &args.record_type)?;
    std::io::stdout().lock().write_all(report.as_bytes())?;
    Ok(())
}

/// The report for a query of `name`/`record_type` from `client`, as the packet source.
pub fn explain(
    snapshots: &Snapshots,
    client: IpAddr,
    name: &str,
    record_type: &str,
) -> anyhow::Result<String> {
    let mut qname =
        Name::from_ascii(name).with_context(|| format!("{name:?} is not a domain name"))?;
    qname.set_fqdn(true);
    let qtype: RecordType = record_type
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| anyhow::anyhow!("{record_type:?} is not a record type"))?;
    let handler = DnsHandler::new(
        snapshots.config.clone(),
        snapshots.geo.clone(),
        snapshots.health.clone(),
    );

    let mut query = Message::query();
    query.add_query(Query::query(qname.clone(), qtype));
    let packet = query.to_vec().context("cannot encode the query")?;
    let mut wire = Vec::new();
    let source = SocketAddr::new(client, 53);
    anyhow::ensure!(
        handler.respond_datagram(&packet, source, &mut wire),
        "the server gave no reply"
    );
    let reply = Message::from_vec(&wire).context("cannot decode the reply")?;

    let decider = handler.decider();
    let config = decider.config();
    let geo = decider.geo();
    let health = decider.health();
    let family = if qtype == RecordType::AAAA {
        Family::V6
    } else {
        Family::V4
    };
    let decision = decider.decide(ClientAddress::select(None, client), family);
    let placement = &decision.placement;
    let place = &placement.place;

    let mut out = String::new();
    let w = &mut out;
    writeln!(w, "query      {qname} {qtype}")?;
    writeln!(
        w,
        "client     {} (packet source; a resolver's ECS subnet is handled the same way)",
        decision.client.addr
    )?;
    match decision.network {
        Some((network, prefix)) => writeln!(
            w,
            "network    {network}/{prefix} in {} ({})",
            geo.database_type(),
            geo.path().display()
        )?,
        None => writeln!(
            w,
            "network    none ({} cannot hold this address)",
            geo.database_type()
        )?,
    }
    let codes: Vec<&str> = [
        &place.continent,
        &place.country,
        &place.subdivision,
        &place.city,
    ]
    .into_iter()
    .filter_map(|field| field.as_deref())
    .collect();
    let codes = if codes.is_empty() {
        "unknown".to_string()
    } else {
        codes.join(" / ")
    };
    match &place.location {
        Some(located) => writeln!(
            w,
            "place      {codes}; location {} ({:?})",
            located.location, located.precision
        )?,
        None if place.anycast => writeln!(w, "place      {codes}; anycast network, not located")?,
        None => writeln!(w, "place      {codes}; no location")?,
    }
    writeln!(w, "rule       {}", placement.order.rule)?;
    writeln!(w, "candidates")?;
    for (rank, candidate) in placement.order.candidates.iter().enumerate() {
        let region = config.region(candidate.region);
        let distance = candidate
            .distance_km
            .map_or("-".to_string(), |km| format!("{km:.0} km"));
        let state = health
            .get(candidate.region)
            .map_or("unknown".to_string(), |h| {
                format!("{} ({})", if h.up { "up" } else { "DOWN" }, h.reason)
            });
        writeln!(
            w,
            "  {}. {:<14} {:>9}  {state}",
            rank + 1,
            region.name,
            distance
        )?;
    }
    match decision.choice {
        Some(choice) if choice.fail_open => writeln!(
            w,
            "chosen     {} (FAIL OPEN: every candidate is down)",
            config.region(choice.region).name
        )?,
        Some(choice) => writeln!(w, "chosen     {}", config.region(choice.region).name)?,
        None => writeln!(w, "chosen     none (no regions)")?,
    }
    let flags = if reply.metadata.authoritative {
        " aa"
    } else {
        ""
    };
    let code = format!("{:?}", reply.metadata.response_code).to_ascii_uppercase();
    writeln!(w, "answer     {code}{flags}")?;
    for record in reply
        .answers
        .iter()
        .chain(&reply.authorities)
        .chain(&reply.additionals)
    {
        writeln!(w, "  {record}")?;
    }
    if let Some(ttl) = reply.answers.first().map(|r| r.ttl) {
        writeln!(w, "ttl        {ttl}")?;
    }
    writeln!(
        w,
        "ecs scope  /{} (what a resolver sending this client's full address may cache the answer for)",
        decision.scope_prefix
    )?;
    Ok(out)
}
