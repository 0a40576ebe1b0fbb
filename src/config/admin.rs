//! The admin token: where it comes from, how long it must be, and how it is compared.
//!
//! The token guards the status endpoint's dashboard and API. It comes from
//! `MERIDIAN_ADMIN_TOKEN` when that is set and non-empty, else from `[admin] token` in
//! `meridian.toml`. It never appears in `Debug` output or in error messages: only its
//! length does.

use std::fmt;
use std::hint::black_box;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::ConfigError;
use super::secret::redacted;

/// The environment variable that sets (and overrides) the admin token.
pub const ADMIN_TOKEN_ENV: &str = "MERIDIAN_ADMIN_TOKEN";

/// Shorter tokens are refused: they can be guessed over the network.
pub const MIN_ADMIN_TOKEN_CHARS: usize = 16;

/// The secret that admin requests must present. `Debug` prints no part of it.
#[derive(Clone)]
pub struct AdminToken(String);

impl AdminToken {
    /// Whether `presented` equals the token, in time that depends on neither the token nor
    /// how much of it `presented` gets right.
    ///
    /// Both sides are hashed first, so the comparison runs over 32 bytes whatever their
    /// lengths, and every byte is compared before the answer is known.
    pub fn matches(&self, presented: &str) -> bool {
        let expected = Sha256::digest(self.0.as_bytes());
        let presented = Sha256::digest(presented.as_bytes());
        let difference = expected
            .iter()
            .zip(presented.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        black_box(difference) == 0
    }

    /// A token this process made up itself (the demo's), not read from config.
    pub fn generated(secret: String) -> Self {
        Self(secret)
    }

    /// The secret itself, for sending to peers. Never log it.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(<redacted>)")
    }
}

/// The effective token: the environment wins when set and non-empty, then the file.
pub(super) fn resolve(
    main_file: &Path,
    from_file: Option<String>,
    from_env: Option<String>,
) -> Result<Option<AdminToken>, ConfigError> {
    let from_env = from_env.filter(|value| !value.is_empty());
    let too_short = format!("an admin token needs at least {MIN_ADMIN_TOKEN_CHARS} characters");
    if let Some(token) = from_env {
        if token.chars().count() < MIN_ADMIN_TOKEN_CHARS {
            return Err(ConfigError::Environment {
                variable: ADMIN_TOKEN_ENV.to_string(),
                value: redacted(&token),
                reason: too_short,
            });
        }
        return Ok(Some(AdminToken(token)));
    }
    match from_file {
        Some(token) if token.chars().count() < MIN_ADMIN_TOKEN_CHARS => Err(ConfigError::Invalid {
            file: main_file.to_path_buf(),
            key: "admin.token".to_string(),
            value: redacted(&token),
            reason: format!(
                "{too_short}; prefer setting it in the {ADMIN_TOKEN_ENV} environment variable"
            ),
        }),
        Some(token) => Ok(Some(AdminToken(token))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::{AdminToken, resolve};

    const SECRET: &str = "correct-horse-battery";

    fn token(secret: &str) -> AdminToken {
        AdminToken(secret.to_string())
    }

    #[test]
    fn matches_only_the_exact_token() {
        let admin = token(SECRET);
        assert!(admin.matches(SECRET));
        assert!(!admin.matches(""));
        assert!(!admin.matches("correct-horse-batter"));
        assert!(!admin.matches("correct-horse-battery "));
        assert!(!admin.matches("Correct-horse-battery"));
        assert!(!admin.matches("xorrect-horse-battery"));
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let shown = format!("{:?}", Some(token(SECRET)));
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }

    #[test]
    fn the_environment_wins_over_the_file_unless_empty() {
        let file = Path::new("meridian.toml");
        let from_file = Some("from-the-file-0123456".to_string());
        let chosen = |env: Option<&str>| {
            resolve(file, from_file.clone(), env.map(str::to_string))
                .unwrap()
                .expect("no token")
        };
        assert!(chosen(Some(SECRET)).matches(SECRET));
        assert!(chosen(Some("")).matches("from-the-file-0123456"));
        assert!(chosen(None).matches("from-the-file-0123456"));
        let none = resolve(file, None, Some(String::new())).unwrap();
        assert!(none.is_none());
    }

    #[test]
    fn short_tokens_are_refused_without_showing_them() {
        let file = Path::new("meridian.toml");
        let from_file = resolve(file, Some("hunter2xx".to_string()), None)
            .expect_err("accepted")
            .to_string();
        assert!(
            from_file.contains("meridian.toml")
                && from_file.contains("admin.token")
                && from_file.contains("<redacted, 9 characters>")
                && from_file.contains("MERIDIAN_ADMIN_TOKEN")
                && !from_file.contains("hunter2xx"),
            "{from_file}"
        );
        let from_env = resolve(file, None, Some("hunter2xx".to_string()))
            .expect_err("accepted")
            .to_string();
        assert!(
            from_env.contains("MERIDIAN_ADMIN_TOKEN")
                && from_env.contains("<redacted, 9 characters>")
                && !from_env.contains("hunter2xx"),
            "{from_env}"
        );
        // Characters, not bytes: 16 two-byte characters are enough, 15 are not.
        assert!(resolve(file, Some("é".repeat(16)), None).is_ok());
        assert!(resolve(file, Some("é".repeat(15)), None).is_err());
    }
}
