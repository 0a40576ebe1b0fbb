//! The key that signs sticky cookies: environment over file, and short keys refused unseen.

use super::*;
use crate::config::EnvSecrets;
use crate::region::proxy::CookieKey;

const FILE_KEY: &str = "cookie-key-from-the-file-0123456789";
pub(super) const ENV_KEY: &str = "cookie-key-from-the-environment-0123456789";

pub(super) fn load_with_cookie_key(
    main: &Path,
    cookie_key: Option<&str>,
) -> Result<Config, ConfigError> {
    Config::load_with_env(
        main,
        EnvSecrets {
            cookie_key: cookie_key.map(str::to_string),
            ..EnvSecrets::default()
        },
    )
}

#[test]
fn the_cookie_key_from_the_environment_wins_over_the_file() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    assert_eq!(load_with_cookie_key(&main, None).unwrap().cookie_key, None);
    let from_env = load_with_cookie_key(&main, Some(ENV_KEY)).unwrap();
    assert_eq!(
        from_env.cookie_key,
        Some(CookieKey(ENV_KEY.as_bytes().to_vec()))
    );

    edit(&main, |t| {
        format!("{t}\n[admin]\ncookie_key = \"{FILE_KEY}\"\n")
    });
    let from_file = load(&main).unwrap();
    assert_eq!(
        from_file.cookie_key,
        Some(CookieKey(FILE_KEY.as_bytes().to_vec()))
    );
    let both = load_with_cookie_key(&main, Some(ENV_KEY)).unwrap();
    assert_eq!(
        both.cookie_key,
        Some(CookieKey(ENV_KEY.as_bytes().to_vec()))
    );
    let shown = format!("{both:?}");
    assert!(
        !shown.contains(ENV_KEY) && !shown.contains(FILE_KEY),
        "Debug shows the key: {shown}"
    );
    // The key in the file is dead text and a secret on disk: say so, without showing it.
    let overridden: Vec<&String> = both
        .warnings
        .iter()
        .filter(|warning| warning.contains("admin.cookie_key"))
        .collect();
    assert_eq!(overridden.len(), 1, "{:?}", both.warnings);
    assert!(
        overridden[0].contains("MERIDIAN_COOKIE_KEY")
            && overridden[0].contains("meridian.toml")
            && !overridden[0].contains(FILE_KEY),
        "{}",
        overridden[0]
    );
    // An empty variable overrides nothing.
    let empty = load_with_cookie_key(&main, Some("")).unwrap();
    assert_eq!(
        empty.cookie_key,
        Some(CookieKey(FILE_KEY.as_bytes().to_vec()))
    );
    assert!(
        !empty
            .warnings
            .iter()
            .any(|warning| warning.contains("admin.cookie_key")),
        "{:?}",
        empty.warnings
    );
}

#[test]
fn a_short_cookie_key_is_refused_without_printing_it() {
    let short = "too-short-cookie-key-0123456789"; // 31 characters
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    let from_env = load_with_cookie_key(&main, Some(short))
        .expect_err("accepted")
        .to_string();
    assert!(
        from_env.contains("MERIDIAN_COOKIE_KEY")
            && from_env.contains("<redacted, 31 characters>")
            && from_env.contains("at least 32 characters")
            && !from_env.contains(short),
        "{from_env}"
    );
    edit(&main, |t| {
        format!("{t}\n[admin]\ncookie_key = \"{short}\"\n")
    });
    let from_file = load_err(&main).to_string();
    assert!(
        from_file.contains("meridian.toml")
            && from_file.contains("admin.cookie_key")
            && from_file.contains("<redacted, 31 characters>")
            && !from_file.contains(short),
        "{from_file}"
    );
    // A good key in the environment replaces the short one in the file.
    assert!(load_with_cookie_key(&main, Some(ENV_KEY)).is_ok());
}
