//! Bad values, duplicates and missing files are refused, naming file, key and value.

use super::*;
use crate::dns::{CookieSecret, CookieSecrets};

#[test]
fn bad_values_name_file_key_and_value() {
    refused(
        "regions/eu-west.toml",
        |t| t.replace("latitude = 53.35", "latitude = 123"),
        &["location.latitude", "123", "between -90 and 90"],
    );
    refused(
        "regions/eu-west.toml",
        |t| t.replace("name = \"eu-west\"", "name = \"eu-central\""),
        &[
            "name",
            "eu-central",
            "must match the file name (eu-west.toml)",
        ],
    );
    refused(
        "meridian.toml",
        |t| {
            t.replace(
                "SA = [\"us-east\", \"eu-west\"]",
                "SA = [\"us-east\", \"mars-1\"]",
            )
        },
        &["steering.continent.SA", "mars-1", "unknown region"],
    );
    refused(
        "meridian.toml",
        |t| format!("{t}\n[[zone.record]]\nname = \"app\"\ntype = \"TXT\"\nvalue = \"x\"\n"),
        &[
            "zone.record",
            "app.gtm.test",
            "CNAME cannot sit beside other data",
        ],
    );
    refused(
        "meridian.toml",
        |t| format!("{t}\n[[zone.record]]\nname = \"www\"\ntype = \"A\"\nvalue = \"192.0.2.1\"\n"),
        &["service[0].name", "www", "static A record"],
    );
    refused(
        "meridian.toml",
        |t| t.replace("value = \"127.0.1.25\"", "value = \"127.0.1.256\""),
        &[
            "zone.record[2].value",
            "127.0.1.256",
            "invalid IPv4 address",
        ],
    );
    refused(
        "meridian.toml",
        |t| t.replace("type = \"MX\"", "type = \"SRV\""),
        &[
            "zone.record[1].type",
            "SRV",
            "A, AAAA, CNAME, TXT, MX or CAA",
        ],
    );
    refused(
        "meridian.toml",
        |t| t.replace("IN = [", "India = ["),
        &["steering.country.India", "ISO 3166-1"],
    );
    refused(
        "meridian.toml",
        |t| {
            t.replace(
                "# \"198.51.100.0/24\" = [\"eu-west\"]",
                "\"198.51.100.1/24\" = [\"eu-west\"]",
            )
        },
        &["steering.cidr", "198.51.100.1/24", "host bits"],
    );
    refused(
        "meridian.toml",
        |t| t.replace("addresses = [\"127.0.3.1\"]", "addresses = []"),
        &[
            "zone.ns[2].addresses",
            "ns3.gtm.test. is inside the zone: glue addresses are required",
        ],
    );
    refused(
        "meridian.toml",
        |t| t.replace("ttl = 30\n", "ttl = \"30s\"\n"),
        &[
            "ttl = \"30s\"",
            "invalid type: string \"30s\", expected u32",
        ],
    );
    refused(
        "meridian.toml",
        |t| {
            format!(
                "{t}\n[[zone.record]]\nname = \"mail\"\ntype = \"A\"\nvalue = \"127.0.1.26\"\nttl = 60\n"
            )
        },
        &["zone.record[5].ttl", "60", "share one TTL"],
    );
    refused(
        "meridian.toml",
        |t| {
            format!("{t}\n[[zone.record]]\nname = \"mail\"\ntype = \"A\"\nvalue = \"127.0.1.25\"\n")
        },
        &["zone.record[5]", "the same record is listed twice"],
    );
    refused(
        "meridian.toml",
        |t| format!("{t}\n[admin]\ntokn = \"0123456789abcdef\"\n"),
        &["tokn", "unknown field"],
    );
    refused(
        "regions/us-east.toml",
        |t| t.replace("dns = [\"127.0.1.1:1053\"]", "dns = [\"0.0.0.0:53\"]"),
        &["listen.dns", "0.0.0.0:53", "explicitly"],
    );
}

#[test]
fn long_txt_values_are_cut_into_valid_strings() {
    let dir = copy_config(&repo("meridian.toml"));
    let value = format!("{}é{}", "a".repeat(254), "b".repeat(300));
    edit(&dir.path().join("meridian.toml"), |t| {
        format!("{t}\n[[zone.record]]\nname = \"long\"\ntype = \"TXT\"\nvalue = \"{value}\"\n")
    });
    let config = load(&dir.path().join("meridian.toml")).unwrap();
    let record = config.zone.records.last().expect("no record");
    let hickory_proto::rr::RData::TXT(txt) = &record.rdata else {
        panic!("not TXT: {record:?}")
    };
    let strings: Vec<&[u8]> = txt.txt_data.iter().map(|s| &s[..]).collect();
    assert!(strings.iter().all(|s| s.len() <= 255));
    assert_eq!(strings.concat(), value.as_bytes(), "bytes kept exactly");
}

#[test]
fn duplicate_regions_are_refused() {
    // A copied file: the copy is blamed, the original is named, and the rule that fired is
    // the duplicate rule (not "must match the file name", which would fire on the copy too).
    let dir = copy_config(&repo("meridian.toml"));
    let regions = dir.path().join("regions");
    fs::copy(regions.join("eu-west.toml"), regions.join("eu-west-2.toml")).unwrap();
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    assert!(
        error.contains("regions/eu-west-2.toml: name = eu-west: duplicate region name")
            && error.contains("regions/eu-west.toml names the same region"),
        "{error}"
    );
    // Renaming a region to an existing one: the renamed file is blamed, whatever the order.
    refused(
        "regions/eu-west.toml",
        |t| t.replace("name = \"eu-west\"", "name = \"us-east\""),
        &[
            "name = us-east: duplicate region name",
            "regions/us-east.toml names the same region",
        ],
    );
    refused(
        "regions/us-east.toml",
        |t| t.replace("name = \"us-east\"", "name = \"eu-west\""),
        &[
            "name = eu-west: duplicate region name",
            "regions/eu-west.toml names the same region",
        ],
    );
}

#[test]
fn missing_files_are_named() {
    let error = load_err(Path::new("/nonexistent/meridian.toml")).to_string();
    assert!(
        error.contains("/nonexistent/meridian.toml") && error.contains("cannot read"),
        "{error}"
    );
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), |t| {
        t.replace("regions = \"regions\"", "regions = \"nowhere\"")
    });
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    assert!(error.contains("nowhere"), "{error}");
}

#[test]
fn a_missing_main_file_hints_at_config_and_shows_the_os_error_once() {
    let error = load_err(Path::new("/nonexistent/meridian.toml"));
    let chain = format!("{:#}", anyhow::Error::from(error));
    assert!(
        chain.contains("(use --config PATH to point at it)"),
        "{chain}"
    );
    // The OS error, e.g. "No such file or directory (os error 2)", exactly once.
    assert_eq!(chain.matches("(os error 2)").count(), 1, "{chain}");

    // Region files and folders get no --config hint: the path is already right.
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), |t| {
        t.replace("regions = \"regions\"", "regions = \"nowhere\"")
    });
    let chain = format!(
        "{:#}",
        anyhow::Error::from(load_err(&dir.path().join("meridian.toml")))
    );
    assert!(
        chain.contains("nowhere") && !chain.contains("--config"),
        "{chain}"
    );
    assert_eq!(chain.matches("(os error 2)").count(), 1, "{chain}");
}

#[test]
fn the_content_hash_follows_the_bytes_of_every_file() {
    let shipped = load(&repo("meridian.toml")).unwrap();
    let copy = copy_config(&repo("meridian.toml"));
    let main = copy.path().join("meridian.toml");
    let reload = || load(&main).unwrap();
    let unchanged = reload();
    assert_eq!(
        unchanged.content_hash, shipped.content_hash,
        "the same files in another folder hash the same"
    );
    assert_eq!(unchanged.content_hash.len(), 64);
    assert_eq!(unchanged.short_hash(), &unchanged.content_hash[..12]);

    // One byte of a comment in a region file: nothing parses differently, the hash moves.
    edit(&copy.path().join("regions/eu-west.toml"), |t| {
        t.replacen("Where", "where", 1)
    });
    let region_edit = reload();
    assert_ne!(region_edit.content_hash, unchanged.content_hash);
    edit(&copy.path().join("meridian.toml"), |t| format!("{t}\n"));
    let main_edit = reload();
    assert_ne!(main_edit.content_hash, region_edit.content_hash);
    assert_ne!(main_edit.content_hash, unchanged.content_hash);
}

#[test]
fn cname_loops_are_refused_naming_the_names() {
    refused(
        "meridian.toml",
        |t| {
            format!(
                "{t}\n[[zone.record]]\nname = \"loopa\"\ntype = \"CNAME\"\nvalue = \"loopb.gtm.test\"\n\
                 \n[[zone.record]]\nname = \"loopb\"\ntype = \"CNAME\"\nvalue = \"loopc.gtm.test\"\n\
                 \n[[zone.record]]\nname = \"loopc\"\ntype = \"CNAME\"\nvalue = \"loopb.gtm.test\"\n"
            )
        },
        &[
            "zone.record",
            "CNAMEs loop: loopb.gtm.test. -> loopc.gtm.test. -> loopb.gtm.test.",
        ],
    );
}

#[test]
fn node_identity_is_printable_ascii() {
    refused(
        "meridian.toml",
        |t| {
            t.replace(
                "apex = \"gtm.test\"",
                "apex = \"gtm.test\"\nidentity = \"\"",
            )
        },
        &["zone.identity", "printable ASCII"],
    );
}

/// Loads the shipped config with `apex = ...` followed by `extra` in `[zone]`.
fn zone_with(extra: &str) -> Result<Config, ConfigError> {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), |t| {
        t.replace(
            "apex = \"gtm.test\"",
            &format!("apex = \"gtm.test\"\n{extra}"),
        )
    });
    load(&dir.path().join("meridian.toml"))
}

#[test]
fn dns_cookies_are_on_with_the_configured_secret_or_the_process_own() {
    let secret = "e5e973e5a6b2a43f48e7dc849e37bfcf";
    let configured =
        zone_with(&format!("cookie_secret = \"{secret}\"")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        configured.zone.cookies,
        CookieSecret::from_hex(secret).map(Into::into)
    );
    // Without one, every load of this process has the same (a reload keeps the cookies
    // handed out valid), and it is not the configured one.
    let first = zone_with("").unwrap_or_else(|e| panic!("{e}"));
    let second = zone_with("").unwrap_or_else(|e| panic!("{e}"));
    assert!(first.zone.cookies.is_some());
    assert_eq!(first.zone.cookies, second.zone.cookies);
    assert_ne!(first.zone.cookies, configured.zone.cookies);
    let off = zone_with("cookies = false").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(off.zone.cookies, None);
}

#[test]
fn a_rollover_lists_up_to_four_cookie_secrets_the_first_making_cookies() {
    let (new, old) = (
        "445536bcd2513298075a5d379663c962",
        "e5e973e5a6b2a43f48e7dc849e37bfcf",
    );
    let rolling =
        zone_with(&format!("cookie_secret = \"{new}, {old}\"")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        rolling.zone.cookies,
        CookieSecrets::from_hex_list(&format!("{new},{old}"))
    );
    assert_eq!(rolling.zone.cookies.map(|secrets| secrets.len()), Some(2));
    let five = [new; 5].join(",");
    let error = zone_with(&format!("cookie_secret = \"{five}\""))
        .err()
        .unwrap_or_else(|| panic!("five secrets were taken"))
        .to_string();
    assert!(error.contains("zone.cookie_secret"), "{error}");
    assert!(error.contains("up to 4"), "{error}");
    assert!(!error.contains(new), "{error} shows the secret");
}

#[test]
fn a_cookie_secret_is_32_hex_digits_and_never_echoed() {
    for bad in [
        "e5e973e5",
        "e5e973e5a6b2a43f48e7dc849e37bfcfzz",
        "xyz973e5a6b2a43f48e7dc849e37bfcf",
    ] {
        let error = zone_with(&format!("cookie_secret = \"{bad}\""))
            .err()
            .unwrap_or_else(|| panic!("{bad} was taken"))
            .to_string();
        assert!(error.contains("zone.cookie_secret"), "{error}");
        assert!(error.contains("32 hexadecimal digits"), "{error}");
        assert!(error.contains("MERIDIAN_DNS_COOKIE_SECRET"), "{error}");
        assert!(!error.contains(bad), "{error} shows the secret");
    }
}

#[test]
fn the_cookie_secret_from_the_environment_wins_over_the_file() {
    let file_secret = "e5e973e5a6b2a43f48e7dc849e37bfcf";
    let env_secret = "445536bcd2513298075a5d379663c962";
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| {
        t.replace(
            "apex = \"gtm.test\"",
            &format!("apex = \"gtm.test\"\ncookie_secret = \"{file_secret}\""),
        )
    });
    let with_env = |value: &str| {
        Config::load_with_env(
            &main,
            crate::config::EnvSecrets {
                dns_cookie_secret: Some(value.to_string()),
                ..crate::config::EnvSecrets::default()
            },
        )
    };
    let both = with_env(env_secret).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        both.zone.cookies,
        CookieSecret::from_hex(env_secret).map(Into::into)
    );
    let shown = format!("{both:?}");
    assert!(
        !shown.contains(env_secret) && !shown.contains(file_secret),
        "{shown}"
    );
    assert!(
        both.warnings
            .iter()
            .any(|warning| warning.contains("zone.cookie_secret")
                && warning.contains("MERIDIAN_DNS_COOKIE_SECRET")
                && !warning.contains(file_secret)),
        "{:?}",
        both.warnings
    );
    // Empty means unset: the file's applies.
    let empty = with_env("").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        empty.zone.cookies,
        CookieSecret::from_hex(file_secret).map(Into::into)
    );
    let error = with_env("not-hex")
        .err()
        .unwrap_or_else(|| panic!("taken"))
        .to_string();
    assert!(error.contains("MERIDIAN_DNS_COOKIE_SECRET"), "{error}");
    assert!(!error.contains("not-hex"), "{error}");
}
