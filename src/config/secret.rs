//! Secrets that may come from the environment: reading them, and showing them redacted.
//!
//! A secret never appears in `Debug` output or in an error message: only its length does.

use std::fmt;

use super::{ADMIN_TOKEN_ENV, COOKIE_KEY_ENV, ConfigError, DNS_COOKIE_SECRET_ENV};

/// How a refused secret is shown: its length and nothing else.
pub(super) fn redacted(secret: &str) -> String {
    format!("<redacted, {} characters>", secret.chars().count())
}

/// Reads `variable`; unset means "not set" (an empty value is the caller's to judge).
pub(super) fn secret_from_env(variable: &str) -> Result<Option<String>, ConfigError> {
    match std::env::var(variable) {
        Ok(value) => Ok(Some(value)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(value)) => Err(ConfigError::Environment {
            variable: variable.to_string(),
            value: format!("<redacted, {} bytes>", value.len()),
            reason: "not valid UTF-8".to_string(),
        }),
    }
}

/// The secrets the environment may set, as read by [`Config::load`](super::Config::load) or
/// given by tests and tools, which must not depend on the process environment.
///
/// An unset and an empty variable both mean "not set": the file's value applies.
#[derive(Clone, Default)]
pub struct EnvSecrets {
    /// The value of `MERIDIAN_ADMIN_TOKEN`.
    pub admin_token: Option<String>,
    /// The value of `MERIDIAN_COOKIE_KEY`.
    pub cookie_key: Option<String>,
    /// The value of `MERIDIAN_DNS_COOKIE_SECRET`.
    pub dns_cookie_secret: Option<String>,
}

impl EnvSecrets {
    /// Reads every variable from the process environment.
    pub fn from_process_env() -> Result<Self, ConfigError> {
        Ok(Self {
            admin_token: secret_from_env(ADMIN_TOKEN_ENV)?,
            cookie_key: secret_from_env(COOKIE_KEY_ENV)?,
            dns_cookie_secret: secret_from_env(DNS_COOKIE_SECRET_ENV)?,
        })
    }
}

impl fmt::Debug for EnvSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |value: &Option<String>| value.as_deref().map(redacted);
        f.debug_struct("EnvSecrets")
            .field("admin_token", &shown(&self.admin_token))
            .field("cookie_key", &shown(&self.cookie_key))
            .field("dns_cookie_secret", &shown(&self.dns_cookie_secret))
            .finish()
    }
}
