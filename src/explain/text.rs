//! The explain report as text, for people: one labelled line per step of the decision.

use std::fmt;

use super::{Report, SpreadReport, SteeringReport};

impl fmt::Display for Report {
    fn fmt(&self, w: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(w, "query      {} {}", self.name, self.record_type)?;
        match &self.ecs_sent {
            Some(subnet) if self.client_source == "ecs" => {
                writeln!(w, "client     {} (ECS subnet {subnet})", self.client)?
            }
            Some(subnet) => writeln!(
                w,
                "client     {} (ECS subnet {subnet} is not globally routable: the packet source is used)",
                self.client
            )?,
            None => writeln!(w, "client     {} (packet source, no ECS)", self.client)?,
        }
        match &self.network {
            Some(network) => writeln!(w, "network    {network} in {}", self.database)?,
            None => writeln!(w, "network    none in {}", self.database)?,
        }
        writeln!(w, "place      {}", self.place)?;
        writeln!(w, "rule       {}", self.rule)?;
        writeln!(w, "candidates")?;
        for (rank, candidate) in self.candidates.iter().enumerate() {
            let distance = candidate
                .distance_km
                .map_or("-".to_string(), |km| format!("{km:.0} km"));
            let state = if candidate.up { "up" } else { "DOWN" };
            let notes = [
                (candidate.transition, ", in transition"),
                (!candidate.serves_family, ", no addresses of this family"),
            ]
            .iter()
            .filter(|(applies, _)| *applies)
            .map(|(_, note)| *note)
            .collect::<String>();
            writeln!(
                w,
                "  {}. {:<14} {:>9}  {state} ({}){notes}",
                rank + 1,
                candidate.region,
                distance,
                candidate.reason
            )?;
        }
        match &self.steering {
            Some(steering) => write_route(w, steering)?,
            None => writeln!(
                w,
                "chosen     - (this answer does not depend on the client's location)"
            )?,
        }
        let flags = if self.authoritative { " aa" } else { "" };
        writeln!(w, "answer     {}{flags}", self.response_code)?;
        for line in self.answers.iter().chain(&self.authority) {
            writeln!(w, "  {line}")?;
        }
        if let Some(ttl) = self.ttl {
            writeln!(w, "ttl        {ttl}")?;
        }
        if let Some(steering) = &self.steering
            && steering.ttl < steering.usual_ttl
        {
            let what = if steering.answer == "nodata" {
                "the SOA (how long the absence is cached)"
            } else {
                "the steered records"
            };
            writeln!(
                w,
                "transition {what}: {} s (answer.transition_ttl), not {}, because {}",
                steering.ttl,
                steering.usual_ttl,
                short_ttl_reason(steering)
            )?;
        }
        match self.ecs_scope {
            Some(scope) => match self.steering.as_ref().and_then(|s| s.spread.as_ref()) {
                Some(spread) => writeln!(
                    w,
                    "ecs scope  /{scope} (sent back in the ECS option; at least the /{} the spread hashed on, at most the source prefix)",
                    spread.prefix
                )?,
                None => writeln!(w, "ecs scope  /{scope} (sent back in the ECS option)")?,
            },
            None => writeln!(
                w,
                "ecs scope  - (the query carries no ECS; pass --client as a subnet to see it)"
            )?,
        }
        writeln!(
            w,
            "view       generation {}, config {}",
            self.view_generation,
            crate::config::short_hash(&self.config_hash)
        )
    }
}

/// The `chosen` line of a steered answer: where the answer comes from, and why.
fn write_route(w: &mut fmt::Formatter<'_>, steering: &SteeringReport) -> fmt::Result {
    let region = steering.region.as_deref().unwrap_or("-");
    let skipped = steering.skipped.join(", ");
    match (steering.route, steering.all_down) {
        ("first", _) => writeln!(w, "chosen     {region} (the first candidate, up)"),
        ("next", _) => writeln!(
            w,
            "chosen     {region} (the next healthy candidate: {skipped} down)"
        ),
        ("spread", _) => {
            writeln!(
                w,
                "chosen     {region} (spread by capacity over the next healthy candidates: {skipped} down)"
            )?;
            match &steering.spread {
                Some(spread) => write_spread(w, spread),
                None => Ok(()),
            }
        }
        (_, Some(policy)) => {
            let what = match steering.answer {
                "region" => format!("{region}, the nearest, anyway (FAIL OPEN)"),
                "fallback" => "the service's fallback addresses".to_string(),
                "servfail" => "SERVFAIL".to_string(),
                _ => "no addresses (NODATA)".to_string(),
            };
            writeln!(
                w,
                "chosen     {what}: every candidate is down, all_down = \"{policy}\""
            )
        }
        _ => writeln!(
            w,
            "chosen     none (no region has addresses of this family)"
        ),
    }
}

/// The `spread` line: the subnet hashed, where it fell, and every region's range.
fn write_spread(w: &mut fmt::Formatter<'_>, spread: &SpreadReport) -> fmt::Result {
    let ranges: Vec<String> = spread
        .regions
        .iter()
        .map(|share| {
            format!(
                "{} {}..{} (capacity {})",
                share.region, share.start, share.end, share.capacity
            )
        })
        .collect();
    writeln!(
        w,
        "spread     {} hashes to {} of 0..{}: {}",
        spread.subnet,
        spread.point,
        spread.total,
        ranges.join(", ")
    )
}

/// Why a steered answer's TTL was cut to the transition TTL.
fn short_ttl_reason(steering: &SteeringReport) -> String {
    if steering.all_down.is_some() {
        "every candidate is down".to_string()
    } else {
        let verb = if steering.transition.len() == 1 {
            "is"
        } else {
            "are"
        };
        format!("{} {verb} in transition", steering.transition.join(" and "))
    }
}
