//! Listen addresses, the admin token they may need, and warnings about the topology.

use super::*;

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
fn a_token_in_the_file_overridden_by_the_environment_is_a_warning() {
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| format!("{t}\n[admin]\ntoken = \"{SECRET}\"\n"));
    let config =
        Config::load_with_env_token(&main, Some("another-token-0123456789".to_string())).unwrap();
    let about_token = |config: &Config| {
        config
            .warnings
            .iter()
            .filter(|warning| warning.contains("admin.token"))
            .cloned()
            .collect::<Vec<String>>()
    };
    let overridden = about_token(&config);
    assert_eq!(overridden.len(), 1, "{:?}", config.warnings);
    assert!(overridden[0].contains("MERIDIAN_ADMIN_TOKEN"));
    assert!(
        !config
            .warnings
            .iter()
            .any(|warning| warning.contains(SECRET))
    );
    let config = Config::load_with_env_token(&main, Some(String::new())).unwrap();
    assert!(
        about_token(&config).is_empty(),
        "an empty variable overrides nothing"
    );
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
    let dir = copy_config(&repo("meridian.toml"));
    let main = dir.path().join("meridian.toml");
    edit(&main, |t| {
        t.replace("addresses = [\"127.0.1.1\"]", "addresses = [\"192.0.2.1\"]")
    });
    let config = load(&main).unwrap();
    // Glue warnings come first; ap-southeast's sticky cookies without a key follow.
    assert_eq!(
        config.warnings[..1],
        [format!(
            "{}: zone.ns ns1.gtm.test: glue 192.0.2.1 matches no region's listen.dns; is this name server a Meridian node?",
            main.display()
        )]
    );
}

#[test]
fn the_proxy_address_peers_use_defaults_to_listen_http_and_must_name_a_host() {
    let config = load(&repo("meridian.toml")).unwrap();
    let eu_west = config.region_by_name("eu-west").unwrap();
    assert_eq!(eu_west.proxy_address, eu_west.listen.http);

    let dir = copy_config(&repo("meridian.toml"));
    let region = dir.path().join("regions/eu-west.toml");
    edit(&region, |t| {
        t.replace(
            "# proxy_address = \"203.0.113.7:80\"",
            "proxy_address = \"203.0.113.7:80\"",
        )
    });
    let config = load(&dir.path().join("meridian.toml")).unwrap();
    assert_eq!(
        config.region_by_name("eu-west").unwrap().proxy_address,
        Some("203.0.113.7:80".parse().unwrap())
    );

    edit(&region, |t| {
        t.replace(
            "proxy_address = \"203.0.113.7:80\"",
            "proxy_address = \"0.0.0.0:80\"",
        )
    });
    let error = load_err(&dir.path().join("meridian.toml")).to_string();
    for part in [
        "regions/eu-west.toml",
        "proxy_address",
        "0.0.0.0:80",
        "wildcard",
    ] {
        assert!(error.contains(part), "{error} should mention {part}");
    }
}
