//! Secrets that may come from the environment: reading them, and showing them redacted.
//!
//! A secret never appears in `Debug` output or in an error message: only its length does.

use super::ConfigError;

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
