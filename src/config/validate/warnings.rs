//! Advice that does not refuse a config: likely mistakes that are sometimes deliberate.

use std::collections::HashSet;
use std::net::IpAddr;
use std::path::Path;

use crate::config::{COOKIE_KEY_ENV, Zone};
use crate::region::Region;
use crate::region::proxy::Policy;

/// Glue that points at no region's DNS address: fine for a secondary run elsewhere, but
/// usually a name server that was renumbered or a typo.
pub(super) fn glue_outside_regions(
    main_file: &Path,
    zone: &Zone,
    regions: &[Region],
) -> Vec<String> {
    let dns_ips: HashSet<IpAddr> = regions
        .iter()
        .flat_map(|region| region.listen.dns.iter())
        .map(|addr| addr.ip().to_canonical())
        .collect();
    let mut warnings = Vec::new();
    for name_server in &zone.name_servers {
        for glue in &name_server.addresses {
            if !dns_ips.contains(&glue.to_canonical()) {
                let name = name_server.name.to_string();
                warnings.push(format!(
                    "{}: zone.ns {}: glue {glue} matches no region's listen.dns; is this name server a Meridian node?",
                    main_file.display(),
                    name.trim_end_matches('.'),
                ));
            }
        }
    }
    warnings
}

/// A secret in the file that the environment overrides is dead text, and a secret on disk.
pub(super) fn secret_overridden(
    main_file: &Path,
    key: &str,
    in_file: bool,
    variable: &str,
    from_env: Option<&str>,
) -> Option<String> {
    (in_file && from_env.is_some_and(|value| !value.is_empty())).then(|| {
        format!(
            "{}: {key} = <redacted>: overridden by {variable}; remove the secret from the file",
            main_file.display()
        )
    })
}

/// Sticky regions without a configured cookie key: each process signs with a key of its own,
/// which works on one node until it restarts, and silently repicks everywhere else.
pub(super) fn sticky_without_cookie_key(regions_dir: &Path, regions: &[Region]) -> Vec<String> {
    regions
        .iter()
        .filter_map(|region| {
            let sticky = region.proxy.sticky.as_ref()?;
            Some(format!(
                "{}: proxy.sticky.cookie = {}: sticky cookies are signed with a per-process key: they do not survive a restart and are not shared between nodes; set {COOKIE_KEY_ENV}",
                regions_dir.join(format!("{}.toml", region.name)).display(),
                sticky.cookie,
            ))
        })
        .collect()
}

/// Weights under plain round robin: the policy ignores them, so they are dead text that
/// reads like a promise.
pub(super) fn weights_ignored(regions_dir: &Path, regions: &[Region]) -> Vec<String> {
    regions
        .iter()
        .filter(|region| region.proxy.policy == Policy::RoundRobin)
        .filter_map(|region| {
            let (index, backend) = region
                .proxy
                .backends
                .iter()
                .enumerate()
                .find(|(_, backend)| backend.weight != 1)?;
            Some(format!(
                "{}: proxy.backend[{index}].weight = {}: policy round-robin ignores weights; use weighted-round-robin or least-request",
                regions_dir.join(format!("{}.toml", region.name)).display(),
                backend.weight,
            ))
        })
        .collect()
}
