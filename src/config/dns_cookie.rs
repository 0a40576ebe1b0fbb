//! The DNS cookie secret: where it comes from and what it must look like.
//!
//! It comes from `MERIDIAN_DNS_COOKIE_SECRET` when that is set and non-empty, else from
//! `[zone] cookie_secret` in `meridian.toml`, else this process draws its own. It is 32
//! hexadecimal digits (the 128-bit SipHash key of RFC 9018); for a rollover, up to four
//! separated by commas, the first making new cookies and the rest only accepted. Whoever
//! holds one can make server cookies that exempt any address from rate limiting, so it
//! never appears in `Debug` output or in error messages: only its length does.

use std::path::Path;

use super::ConfigError;
use super::secret::redacted;
use crate::dns::{CookieSecret, CookieSecrets};

/// The environment variable that sets (and overrides) the DNS cookie secret.
pub const DNS_COOKIE_SECRET_ENV: &str = "MERIDIAN_DNS_COOKIE_SECRET";

const WHAT: &str = "must be 32 hexadecimal digits (a 128-bit key), e.g. from `openssl rand -hex 16`, \
     or for a rollover up to 4 of them separated by commas, the first making new cookies";

/// The effective secrets: `None` when cookies are off; else the environment's when set and
/// non-empty, then the file's, then this process's own. A malformed one is refused even
/// with cookies off: it is a mistake either way.
pub(super) fn resolve(
    main_file: &Path,
    enabled: bool,
    from_file: Option<String>,
    from_env: Option<String>,
) -> Result<Option<CookieSecrets>, ConfigError> {
    let from_env = from_env.filter(|value| !value.is_empty());
    let secret = if let Some(text) = from_env {
        Some(
            CookieSecrets::from_hex_list(&text).ok_or_else(|| ConfigError::Environment {
                variable: DNS_COOKIE_SECRET_ENV.to_string(),
                value: redacted(&text),
                reason: WHAT.to_string(),
            })?,
        )
    } else if let Some(text) = from_file {
        Some(
            CookieSecrets::from_hex_list(&text).ok_or_else(|| ConfigError::Invalid {
                file: main_file.to_path_buf(),
                key: "zone.cookie_secret".to_string(),
                value: redacted(&text),
                reason: format!(
                    "{WHAT}; prefer setting it in the {DNS_COOKIE_SECRET_ENV} environment variable"
                ),
            })?,
        )
    } else {
        None
    };
    Ok(enabled.then(|| secret.unwrap_or_else(|| CookieSecret::of_this_process().into())))
}
