//! Steering tables: typed values, assigned place codes, and what the database must hold.

use super::*;

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
