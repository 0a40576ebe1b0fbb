//! Every shipped file parses, and a stray key is refused in every table of every one.

use super::*;

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
