//! Every shipped file parses; every kind of mistake is refused with file, key and value.

use std::fs;
use std::path::{Path, PathBuf};

use super::{Config, ConfigError};

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

/// Copies a config (main file + regions) into a temp dir so a test can break one file.
fn copy_config(main: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let source_dir = main.parent().unwrap();
    fs::copy(main, dir.path().join("meridian.toml")).unwrap();
    fs::create_dir(dir.path().join("regions")).unwrap();
    for entry in fs::read_dir(source_dir.join("regions")).unwrap() {
        let path = entry.unwrap().path();
        fs::copy(
            &path,
            dir.path().join("regions").join(path.file_name().unwrap()),
        )
        .unwrap();
    }
    dir
}

/// Rewrites a file; panics when the change leaves it as it was, so a test never checks
/// an edit that silently did not happen (a `replace` whose pattern drifted).
fn edit(path: &Path, change: impl FnOnce(String) -> String) {
    let text = fs::read_to_string(path).unwrap();
    let changed = change(text.clone());
    assert_ne!(
        changed,
        text,
        "the edit of {} changed nothing",
        path.display()
    );
    fs::write(path, changed).unwrap();
}

/// Loads as `Config::load` does, but with `MERIDIAN_ADMIN_TOKEN` unset whatever the
/// environment of the test run says.
fn load(main: &Path) -> Result<Config, ConfigError> {
    Config::load_with_env_token(main, None)
}

fn load_err(main: &Path) -> ConfigError {
    match load(main) {
        Ok(_) => panic!("{} was accepted", main.display()),
        Err(error) => error,
    }
}

#[test]
fn shipped_configs_parse() {
    for main in [
        repo("meridian.toml"),
        repo("tests/data/config/meridian.toml"),
    ] {
        let config = load(&main).unwrap();
        assert!(config.regions.len() >= 3);
        for (index, region) in config.regions.iter().enumerate() {
            assert_eq!(region.id.index(), index);
        }
    }
    let demo = load(&repo("meridian.toml")).unwrap();
    let names: Vec<&str> = demo.regions.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["ap-southeast", "eu-west", "us-east"]);
    assert_eq!(demo.zone.apex.to_string(), "gtm.test.");
    assert_eq!(demo.services[0].name.to_string(), "www.gtm.test.");
    assert_eq!(demo.answer.ttl, 30);
    assert_eq!(demo.regions_dir, repo("regions"));
    let us = demo.region_by_name("us-east").expect("us-east");
    assert_eq!(
        (us.location.latitude, us.location.longitude),
        (39.04, -77.49)
    );
    assert_eq!(
        us.ipv4,
        ["127.0.1.1".parse::<std::net::Ipv4Addr>().unwrap()]
    );
}

/// The TOML table headers of a file, plus "" for its root table.
fn tables(text: &str) -> Vec<String> {
    let mut tables = vec![String::new()];
    tables.extend(
        text.lines()
            .map(str::trim)
            .filter(|line| line.starts_with('[') && !line.starts_with("[\""))
            .map(str::to_string),
    );
    tables.dedup();
    tables
}

#[test]
fn a_stray_key_in_any_table_of_any_shipped_file_is_refused() {
    let mut files = vec![PathBuf::from("meridian.toml")];
    for entry in fs::read_dir(repo("regions")).unwrap() {
        let name = entry.unwrap().file_name();
        files.push(Path::new("regions").join(name));
    }
    let mut checked = 0;
    for file in &files {
        let text = fs::read_to_string(repo("").join(file)).unwrap();
        for table in tables(&text) {
            // [steering.*] tables are maps keyed by code or network: there a stray key is
            // an invalid code, refused by validation rather than by serde.
            let map_table = table.starts_with("[steering.");
            let line = if map_table {
                "stray_key = [\"us-east\"]"
            } else {
                "stray_key = 1"
            };
            let dir = copy_config(&repo("meridian.toml"));
            let target = dir.path().join(file);
            edit(&target, |text| {
                if table.is_empty() {
                    format!("{line}\n{text}")
                } else {
                    // After the first header line only (not a mention in a comment): enough
                    // to prove the table is strict.
                    let header = format!("\n{table}\n");
                    text.replacen(&header, &format!("{header}{line}\n"), 1)
                }
            });
            let error = load_err(&dir.path().join("meridian.toml")).to_string();
            let expected = if map_table {
                format!("{}.", table.trim_matches(['[', ']']))
            } else {
                "unknown field `stray_key`".to_string()
            };
            assert!(
                error.contains(&expected) && error.contains("stray_key"),
                "{} {table}: {error}",
                file.display()
            );
            assert!(error.contains(&file.display().to_string()), "{error}");
            checked += 1;
        }
        // Inline tables (`location = { ... }`) have no header line: add a key inside one.
        if file.starts_with("regions") {
            let dir = copy_config(&repo("meridian.toml"));
            let target = dir.path().join(file);
            edit(&target, |text| {
                text.replace("longitude =", "stray_key = 1, longitude =")
            });
            let error = load_err(&dir.path().join("meridian.toml")).to_string();
            assert!(error.contains("unknown field `stray_key`"), "{error}");
            assert!(error.contains(&file.display().to_string()), "{error}");
            checked += 1;
        }
    }
    assert!(checked > 15, "only {checked} tables checked");
}

fn refused(file: &str, change: impl FnOnce(String) -> String, expect: &[&str]) {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join(file), change);
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    assert!(error.contains(file), "{error} should name {file}");
    for part in expect {
        assert!(error.contains(part), "{error} should mention {part}");
    }
}

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
fn steering_rules_are_typed() {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), |t| {
        t.replace(
            "# \"198.51.100.0/24\" = [\"eu-west\"]",
            "\"198.51.100.0/24\" = [\"eu-west\"]\n\"198.51.0.0/16\" = [\"us-east\"]\n\"::ffff:203.0.113.0/120\" = [\"us-east\"]",
        )
    });
    let config = load(&dir.path().join("meridian.toml")).unwrap();
    let prefixes: Vec<u8> = config
        .steering
        .cidr
        .iter()
        .map(|r| r.network.prefix_len())
        .collect();
    assert_eq!(
        prefixes,
        [24, 24, 16],
        "longest prefix first, mapped networks as IPv4"
    );
    assert!(
        config
            .steering
            .cidr
            .iter()
            .any(|r| r.network.to_string() == "203.0.113.0/24")
    );
    assert_eq!(config.steering.country["IN"].len(), 2);
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

const SECRET: &str = "s3cret-admin-token-for-tests";

#[test]
fn a_status_endpoint_beyond_loopback_needs_an_admin_token() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&dir.path().join("regions/eu-west.toml"), |t| {
        t.replace(
            "status = \"127.0.2.1:8053\"",
            "status = \"192.0.2.10:8053\"",
        )
    });
    let error = load_err(&main).to_string();
    for part in [
        "regions/eu-west.toml",
        "listen.status",
        "192.0.2.10:8053",
        "MERIDIAN_ADMIN_TOKEN",
        "[admin] token",
    ] {
        assert!(error.contains(part), "{error} should mention {part}");
    }

    let from_env = Config::load_with_env_token(&main, Some(SECRET.to_string())).unwrap();
    let token = from_env.admin_token.as_ref().expect("no token");
    assert!(token.matches(SECRET));
    assert!(
        !format!("{from_env:?}").contains(SECRET),
        "Debug shows the token"
    );

    edit(&main, |t| format!("{t}\n[admin]\ntoken = \"{SECRET}\"\n"));
    let from_file = load(&main).unwrap();
    assert!(
        from_file
            .admin_token
            .is_some_and(|token| token.matches(SECRET))
    );
}

#[test]
fn loopback_status_endpoints_need_no_token() {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("regions/eu-west.toml"), |t| {
        t.replace("status = \"127.0.2.1:8053\"", "status = \"[::1]:8053\"")
    });
    let config = load(&dir.path().join("meridian.toml")).unwrap();
    assert!(config.admin_token.is_none());
    let wildcard = copy_config(&repo("meridian.toml"));
    edit(&wildcard.path().join("regions/eu-west.toml"), |t| {
        t.replace("status = \"127.0.2.1:8053\"", "status = \"0.0.0.0:8053\"")
    });
    let error = load_err(&wildcard.path().join("meridian.toml")).to_string();
    assert!(
        error.contains("0.0.0.0:8053"),
        "a wildcard is not loopback: {error}"
    );
}

#[test]
fn a_short_admin_token_is_refused_without_printing_it() {
    let dir = copy_config(&repo("meridian.toml"));
    edit(&dir.path().join("meridian.toml"), |t| {
        format!("{t}\n[admin]\ntoken = \"hunter2xx\"\n")
    });
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    assert!(
        error.contains("meridian.toml")
            && error.contains("admin.token")
            && error.contains("<redacted, 9 characters>")
            && !error.contains("hunter2xx"),
        "{error}"
    );
}

#[test]
fn place_codes_must_be_assigned() {
    let steering = |table: &str, line: &str| {
        let (table, line) = (table.to_string(), line.to_string());
        move |t: String| {
            t.replace(
                &format!("[steering.{table}]\n"),
                &format!("[steering.{table}]\n{line}\n"),
            )
        }
    };
    refused(
        "meridian.toml",
        steering("country", "UK = [\"eu-west\"]"),
        &[
            "steering.country.UK",
            "UK",
            "ISO 3166-1",
            "did you mean GB?",
        ],
    );
    refused(
        "meridian.toml",
        steering("country", "ZZ = [\"eu-west\"]"),
        &["steering.country.ZZ", "ISO 3166-1"],
    );
    refused(
        "meridian.toml",
        steering("country", "gb = [\"eu-west\"]"),
        &["steering.country.gb", "did you mean GB?"],
    );
    refused(
        "meridian.toml",
        steering("subdivision", "\"UK-ENG\" = [\"eu-west\"]"),
        &[
            "steering.subdivision.UK-ENG",
            "UK is not",
            "did you mean GB-ENG?",
        ],
    );
    refused(
        "meridian.toml",
        steering("subdivision", "\"ZZ-CA\" = [\"us-east\"]"),
        &["steering.subdivision.ZZ-CA", "ZZ is not an assigned"],
    );
    refused(
        "meridian.toml",
        steering("subdivision", "\"US-CALI\" = [\"us-east\"]"),
        &["steering.subdivision.US-CALI", "ISO 3166-2"],
    );
    refused(
        "meridian.toml",
        steering("continent", "EA = [\"eu-west\"]"),
        &["steering.continent.EA", "AF, AN, AS, EU, NA, OC, SA"],
    );
    refused(
        "meridian.toml",
        steering("continent", "eu = [\"eu-west\"]"),
        &["steering.continent.eu", "did you mean EU?"],
    );

    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(
        &main,
        steering(
            "subdivision",
            "\"US-HI\" = [\"ap-southeast\"]\n\"GB-SCT\" = [\"eu-west\"]",
        ),
    );
    edit(
        &main,
        // XK (Kosovo) is user-assigned, but it is what geo databases report.
        steering(
            "country",
            "GB = [\"eu-west\"]\nAX = [\"eu-west\"]\nXK = [\"eu-west\"]",
        ),
    );
    edit(&main, steering("continent", "OC = [\"ap-southeast\"]"));
    let config = load(&main).unwrap();
    assert_eq!(config.steering.subdivision.len(), 2);
    assert_eq!(config.steering.country.len(), 4);
    assert_eq!(config.steering.continent.len(), 2);
}

#[test]
fn listen_addresses_are_not_shared() {
    // Across regions: the later region (by name) is refused, naming the earlier one.
    refused(
        "regions/us-east.toml",
        |t| t.replace("status = \"127.0.1.1:8053\"", "status = \"127.0.2.1:8053\""),
        &[
            "listen.status",
            "127.0.2.1:8053",
            "region us-east",
            "region eu-west",
            "regions/eu-west.toml",
        ],
    );
    // Across keys: one region's DNS address is another's HTTP address.
    refused(
        "regions/us-east.toml",
        |t| t.replace("dns = [\"127.0.1.1:1053\"]", "dns = [\"127.0.2.1:8080\"]"),
        &[
            "listen.dns",
            "127.0.2.1:8080",
            "listen.http of region eu-west",
        ],
    );
    // Within one region.
    refused(
        "regions/eu-west.toml",
        |t| t.replace("http = \"127.0.2.1:8080\"", "http = \"127.0.2.1:8053\""),
        &[
            "listen.status",
            "127.0.2.1:8053",
            "this region's listen.http",
        ],
    );
    // A wildcard may repeat across regions: their nodes run on different hosts.
    let dir = copy_config(&repo("meridian.toml"));
    for region in ["us-east", "eu-west"] {
        let file = dir.path().join(format!("regions/{region}.toml"));
        let octet = if region == "us-east" { 1 } else { 2 };
        edit(&file, |t| {
            t.replace(
                &format!("http = \"127.0.{octet}.1:8080\""),
                "http = \"0.0.0.0:8080\"",
            )
        });
    }
    let config = load(&dir.path().join("meridian.toml")).unwrap();
    let wildcards = config
        .regions
        .iter()
        .filter(|region| region.listen.http.is_some_and(|a| a.ip().is_unspecified()))
        .count();
    assert_eq!(wildcards, 2);
    // Port 0 means "any free port": the test topology binds every region that way.
    let config = load(&repo("tests/data/config/meridian.toml")).unwrap();
    let ports: Vec<u16> = config
        .regions
        .iter()
        .filter_map(|region| region.listen.status)
        .map(|addr| addr.port())
        .collect();
    assert_eq!(ports, [0; 5]);
}

#[test]
fn glue_that_matches_no_region_is_a_warning() {
    let shipped = load(&repo("meridian.toml")).unwrap();
    assert_eq!(shipped.warnings, Vec::<String>::new());

    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| {
        t.replace("addresses = [\"127.0.1.1\"]", "addresses = [\"192.0.2.1\"]")
    });
    let config = load(&main).unwrap();
    assert_eq!(
        config.warnings,
        [format!(
            "{}: zone.ns ns1.gtm.test: glue 192.0.2.1 matches no region's listen.dns; is this name server a Meridian node?",
            main.display()
        )]
    );
}

#[test]
fn a_token_in_the_file_overridden_by_the_environment_is_a_warning() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| format!("{t}\n[admin]\ntoken = \"{SECRET}\"\n"));
    let config =
        Config::load_with_env_token(&main, Some("another-token-0123456789".to_string())).unwrap();
    assert_eq!(config.warnings.len(), 1, "{:?}", config.warnings);
    assert!(
        config.warnings[0].contains("admin.token")
            && config.warnings[0].contains("MERIDIAN_ADMIN_TOKEN")
    );
    assert!(!config.warnings[0].contains(SECRET));
    let config = Config::load_with_env_token(&main, Some(String::new())).unwrap();
    assert!(
        config.warnings.is_empty(),
        "an empty variable overrides nothing"
    );
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
fn subdivision_rules_need_a_database_with_subdivisions() {
    use crate::geo::GeoDb;

    let shipped = load(&repo("meridian.toml")).unwrap();
    assert!(shipped.steering.subdivision.is_empty());
    shipped
        .check_geo("DBIP-City-Lite", false)
        .expect("no subdivision rules, nothing to refuse");

    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| {
        t.replace(
            "# \"US-HI\" = [\"ap-southeast\", \"us-east\"]",
            "\"US-HI\" = [\"ap-southeast\", \"us-east\"]",
        )
    });
    let config = load(&main).unwrap();
    let error = config
        .check_geo("GeoLite2-Country", false)
        .expect_err("accepted")
        .to_string();
    for part in [
        "meridian.toml",
        "steering.subdivision.US-HI",
        "GeoLite2-Country",
        "GeoLite2-City",
        "GeoIP2-City",
        "DB-IP City Lite",
    ] {
        assert!(error.contains(part), "{error} should mention {part}");
    }

    // With the real files: the city test database has subdivisions, the country one not.
    let city = GeoDb::open(&repo("tests/data/geo/GeoIP2-City-Test.mmdb")).unwrap();
    config
        .check_geo(city.database_type(), city.has_subdivisions())
        .unwrap();
    let country = GeoDb::open(&repo("tests/data/geo/GeoLite2-Country-Test.mmdb")).unwrap();
    let error = config
        .check_geo(country.database_type(), country.has_subdivisions())
        .expect_err("accepted")
        .to_string();
    assert!(error.contains(country.database_type()), "{error}");
}
