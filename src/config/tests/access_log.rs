//! `[proxy] access_log` and `access_log_path`: defaults, formats, where the file goes, and
//! refusals that name the key.

use super::proxy::{proxy_refused, proxy_toml};
use super::*;
use crate::region::proxy::{AccessLog, AccessLogFormat, AccessLogTarget};

/// us-east's access log with `keys` in its `[proxy]`, in a copy of the demo config whose
/// folder also holds `logs/`; the copy's folder comes back too.
fn access_log(keys: &str) -> (AccessLog, tempfile::TempDir) {
    let dir = copy_config(&repo("meridian.toml"));
    fs::create_dir(dir.path().join("logs")).unwrap();
    edit(&dir.path().join("regions/us-east.toml"), |text| {
        let start = text.find("\n# The region's HTTP proxy").unwrap();
        format!("{}\n{}", &text[..start], proxy_toml(keys, ""))
    });
    let config = load(&dir.path().join("meridian.toml")).unwrap_or_else(|e| panic!("{e}"));
    let log = config
        .region_by_name("us-east")
        .unwrap()
        .proxy
        .access_log
        .clone();
    (log, dir)
}

#[test]
fn the_access_log_is_off_and_on_stdout_by_default() {
    let (log, _dir) = access_log("");
    assert_eq!(log, AccessLog::default());
    assert_eq!(
        (log.is_on(), log.format, log.target),
        (false, AccessLogFormat::Off, AccessLogTarget::Stdout)
    );
    // The shipped annotated region writes it out at its default.
    let shipped = load(&repo("meridian.toml")).unwrap();
    assert_eq!(
        shipped.region_by_name("eu-west").unwrap().proxy.access_log,
        AccessLog::default()
    );
}

#[test]
fn each_format_and_target_is_read() {
    for (word, format) in [
        ("common", AccessLogFormat::Common),
        ("combined", AccessLogFormat::Combined),
        ("json", AccessLogFormat::Json),
    ] {
        let (log, _dir) = access_log(&format!("access_log = \"{word}\""));
        assert_eq!((log.format, log.target), (format, AccessLogTarget::Stdout));
    }
    let (log, _dir) = access_log("access_log = \"json\"\naccess_log_path = \"-\"");
    assert_eq!(log.target, AccessLogTarget::Stdout);
    // Relative to meridian.toml, not to the region file.
    let (log, dir) = access_log("access_log = \"json\"\naccess_log_path = \"logs/access.log\"");
    assert_eq!(
        log.target,
        AccessLogTarget::File(dir.path().join("logs/access.log"))
    );
    let absolute = dir.path().join("logs/other.log");
    let (log, _dir) = access_log(&format!(
        "access_log = \"common\"\naccess_log_path = \"{}\"",
        absolute.display()
    ));
    assert_eq!(log.target, AccessLogTarget::File(absolute));
    // While off, the path is kept and its folder not looked at: one key turns it on.
    let (log, _dir) = access_log("access_log = \"off\"\naccess_log_path = \"nowhere/access.log\"");
    assert!(!log.is_on());
}

#[test]
fn bad_access_log_settings_are_refused_naming_the_key() {
    let refused = |keys: &str, expect: &[&str]| proxy_refused(&proxy_toml(keys, ""), expect);
    refused(
        "access_log = \"verbose\"",
        &[
            "proxy.access_log = verbose",
            "off, common, combined or json",
        ],
    );
    refused("access_log = true", &["access_log", "invalid type"]);
    refused(
        "access_log = \"json\"\naccess_log_path = \"\"",
        &["proxy.access_log_path", "must name a file"],
    );
    refused(
        "access_log = \"json\"\naccess_log_path = \"no-such-folder/access.log\"",
        &[
            "proxy.access_log_path = no-such-folder/access.log",
            "no-such-folder does not exist",
        ],
    );
    refused(
        "access_log = \"common\"\naccess_log_path = \"regions\"",
        &["proxy.access_log_path = regions", "is a folder"],
    );
    refused("access_logs = \"json\"", &["unknown field `access_logs`"]);
}
