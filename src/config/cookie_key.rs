//! The sticky-cookie key: where it comes from and how long it must be.
//!
//! The key signs the cookies that pin a client to a backend. It comes from
//! `MERIDIAN_COOKIE_KEY` when that is set and non-empty, else from `[admin] cookie_key` in
//! `meridian.toml`; its bytes are the UTF-8 bytes of the string. Every node of a deployment
//! needs the same key, or a cookie set by one node is refused by the next. It never appears
//! in `Debug` output or in error messages: only its length does.

use std::path::Path;

use super::ConfigError;
use super::secret::redacted;
use crate::region::proxy::CookieKey;

/// The environment variable that sets (and overrides) the cookie key.
pub const COOKIE_KEY_ENV: &str = "MERIDIAN_COOKIE_KEY";

/// Shorter keys are refused: the key is all that stops a client from forging a cookie that
/// names another backend, and 32 random characters carry well over 128 bits.
pub const MIN_COOKIE_KEY_CHARS: usize = 32;

/// The effective key: the environment wins when set and non-empty, then the file.
pub(super) fn resolve(
    main_file: &Path,
    from_file: Option<String>,
    from_env: Option<String>,
) -> Result<Option<CookieKey>, ConfigError> {
    let from_env = from_env.filter(|value| !value.is_empty());
    let too_short = format!("a cookie key needs at least {MIN_COOKIE_KEY_CHARS} characters");
    if let Some(key) = from_env {
        if key.chars().count() < MIN_COOKIE_KEY_CHARS {
            return Err(ConfigError::Environment {
                variable: COOKIE_KEY_ENV.to_string(),
                value: redacted(&key),
                reason: too_short,
            });
        }
        return Ok(Some(CookieKey(key.into_bytes())));
    }
    match from_file {
        Some(key) if key.chars().count() < MIN_COOKIE_KEY_CHARS => Err(ConfigError::Invalid {
            file: main_file.to_path_buf(),
            key: "admin.cookie_key".to_string(),
            value: redacted(&key),
            reason: format!(
                "{too_short}; prefer setting it in the {COOKIE_KEY_ENV} environment variable"
            ),
        }),
        Some(key) => Ok(Some(CookieKey(key.into_bytes()))),
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::resolve;
    use crate::region::proxy::CookieKey;

    const FROM_ENV: &str = "from-the-environment-0123456789abcdef";
    const FROM_FILE: &str = "from-the-file-0123456789abcdefghijkl";

    fn key(secret: &str) -> CookieKey {
        CookieKey(secret.as_bytes().to_vec())
    }

    #[test]
    fn the_environment_wins_over_the_file_unless_empty() {
        let file = Path::new("meridian.toml");
        let chosen = |env: Option<&str>| {
            resolve(file, Some(FROM_FILE.to_string()), env.map(str::to_string)).unwrap()
        };
        assert_eq!(chosen(Some(FROM_ENV)), Some(key(FROM_ENV)));
        assert_eq!(chosen(Some("")), Some(key(FROM_FILE)));
        assert_eq!(chosen(None), Some(key(FROM_FILE)));
        assert_eq!(resolve(file, None, Some(String::new())).unwrap(), None);
        assert_eq!(resolve(file, None, None).unwrap(), None);
    }

    #[test]
    fn short_keys_are_refused_without_showing_them() {
        let file = Path::new("meridian.toml");
        let short = "0123456789abcdef0123456789abcde"; // 31 characters
        let from_file = resolve(file, Some(short.to_string()), None)
            .expect_err("accepted")
            .to_string();
        assert!(
            from_file.contains("meridian.toml")
                && from_file.contains("admin.cookie_key")
                && from_file.contains("<redacted, 31 characters>")
                && from_file.contains("MERIDIAN_COOKIE_KEY")
                && !from_file.contains(short),
            "{from_file}"
        );
        let from_env = resolve(file, None, Some(short.to_string()))
            .expect_err("accepted")
            .to_string();
        assert!(
            from_env.contains("MERIDIAN_COOKIE_KEY")
                && from_env.contains("<redacted, 31 characters>")
                && !from_env.contains(short),
            "{from_env}"
        );
        // Characters, not bytes: 32 two-byte characters are enough, 31 are not.
        assert_eq!(
            resolve(file, Some("é".repeat(32)), None).unwrap(),
            Some(key(&"é".repeat(32)))
        );
        assert!(resolve(file, Some("é".repeat(31)), None).is_err());
    }
}
