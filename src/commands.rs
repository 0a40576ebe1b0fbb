//! The one-shot commands: `check-config`, `explain`, `reload`, `region`, `backend`.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::Context;

use crate::cli::{BackendArgs, ExplainArgs, RegionArgs, ReloadArgs};
use crate::config::DNS_COOKIE_SECRET_ENV;
use crate::dns::{CookieSecret, CookieSecrets};
use crate::reload::Source;

/// `meridian check-config`: validates everything a node would load, serves nothing.
pub fn check_config(path: &Path, geo_override: Option<&Path>) -> anyhow::Result<()> {
    let source = Source {
        config: path.to_path_buf(),
        geo_override: geo_override.map(Path::to_path_buf),
    };
    let view = source.load_view()?;
    let config = &view.config;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{}: OK", path.display())?;
    writeln!(out, "  config hash {}", config.content_hash)?;
    writeln!(
        out,
        "  zone {} ({} name servers, {} static records)",
        config.zone.apex,
        config.zone.name_servers.len(),
        config.zone.records.len()
    )?;
    let services: Vec<String> = config.services.iter().map(|s| s.name.to_string()).collect();
    writeln!(out, "  steered names: {}", services.join(", "))?;
    let regions: Vec<&str> = config.regions.iter().map(|r| r.name.as_str()).collect();
    writeln!(out, "  regions: {}", regions.join(", "))?;
    writeln!(
        out,
        "  geo database: {} ({}{})",
        view.geo.path().display(),
        view.geo.database_type(),
        if view.geo.has_subdivisions() {
            ", with subdivisions"
        } else {
            ", no subdivisions"
        }
    )?;
    let (nodes, leaves) = view.steering.size();
    writeln!(
        out,
        "  steering map: {nodes} nodes, {leaves} distinct orders and continents"
    )?;
    writeln!(
        out,
        "  DNS cookies: {}",
        dns_cookies(config.zone.cookies.as_ref())
    )?;
    writeln!(
        out,
        "  admin token: {}",
        if config.admin_token.is_some() {
            "set"
        } else {
            "not set (admin actions off)"
        }
    )?;
    for warning in &config.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    Ok(())
}

/// What check-config says of the DNS cookie secrets (never the secrets themselves).
fn dns_cookies(secrets: Option<&CookieSecrets>) -> String {
    match secrets {
        None => "off".to_string(),
        Some(secrets) if *secrets == CookieSecret::of_this_process().into() => format!(
            "on, each process draws its own secret (not shared between nodes, not kept across restarts; set {DNS_COOKIE_SECRET_ENV})"
        ),
        Some(secrets) if secrets.len() == 1 => "on, with the configured secret".to_string(),
        Some(secrets) => format!(
            "on, {} configured secrets (the first makes cookies; the rest are accepted)",
            secrets.len()
        ),
    }
}

/// `meridian explain`: the decision report for one query, from the config on disk.
pub fn explain(config_path: &Path, args: &ExplainArgs) -> anyhow::Result<()> {
    let source = Source {
        config: config_path.to_path_buf(),
        geo_override: args.geo_db.clone(),
    };
    let mut view = source.load_view()?;
    let live = match &args.node {
        Some(node) => {
            let live = fetch_health(node)?;
            view = view.with_health(std::sync::Arc::new(live.snapshot()));
            Some(live)
        }
        None => None,
    };
    let report = crate::explain::explain(&view, args.client, &args.name, &args.record_type)?;
    let mut out = std::io::stdout().lock();
    write!(out, "{report}")?;
    if let Some(live) = live {
        write!(out, "{live}")?;
    }
    Ok(())
}

/// A node's `GET /api/v1/regions`, read.
fn fetch_health(node: &str) -> anyhow::Result<crate::explain::LiveHealth> {
    let url = format!("{}/api/v1/regions", node.trim_end_matches('/'));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start a runtime")?;
    let body = runtime.block_on(async {
        let client = reqwest::Client::builder()
            .no_proxy()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(10))
            .build()?;
        let response = client.get(&url).send().await?.error_for_status()?;
        response.bytes().await
    });
    let body = body.with_context(|| format!("GET {url}"))?;
    crate::explain::LiveHealth::from_json(&body)
        .map_err(|error| anyhow::anyhow!("GET {url}: {error}"))
}

/// `meridian reload --node URL`: asks a running node to reload, and says what it did.
pub async fn reload(args: &ReloadArgs) -> anyhow::Result<()> {
    admin_post(args, "/-/reload").await
}

/// `meridian region drain|undrain|force-up NAME --node URL`: the operator's action, through
/// one node; the others hear of it in the gossip.
pub async fn region(args: &RegionArgs) -> anyhow::Result<()> {
    admin_post(
        &args.admin,
        &format!("/api/v1/regions/{}/{}", args.name, args.action.path()),
    )
    .await
}

/// `meridian backend drain|undrain ID --region R --node URL`: one backend of the region's
/// proxy, through a node of that region (it keeps the change in its state dir).
pub async fn backend(args: &BackendArgs) -> anyhow::Result<()> {
    admin_post(
        &args.admin,
        &format!(
            "/api/v1/regions/{}/backends/{}/{}",
            args.region,
            args.id,
            args.action.path()
        ),
    )
    .await
}

/// POSTs an admin action to a node and prints its answer; a refusal is an error with the
/// node's own message.
async fn admin_post(args: &ReloadArgs, path: &str) -> anyhow::Result<()> {
    let url = format!("{}{path}", args.node.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(2))
        .timeout(Duration::from_secs(30))
        .build()
        .context("cannot build an HTTP client")?;
    let mut request = client.post(&url);
    if let Some(token) = &args.token {
        request = request.bearer_auth(token);
    }
    let response = request
        .send()
        .await
        .with_context(|| format!("POST {url}"))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    if status.is_success() {
        writeln!(std::io::stdout().lock(), "{body}")?;
        Ok(())
    } else {
        anyhow::bail!("POST {url}: {status}: {body}")
    }
}
