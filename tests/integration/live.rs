//! A live node: config reload (explicit, on file change, over the status API) swaps one view
//! at once, refuses bad configs whole, never drops a query; health snapshots are read by
//! region name; a failed server stops its node.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hickory_proto::rr::RecordType;
use meridian::health::{HealthSnapshot, RegionHealth};
use meridian::reload::{LoadError, Outcome, Source};

use crate::support::*;

/// A copy of the test config in a temporary folder, so a test can edit it.
pub(crate) struct ConfigDir {
    pub(crate) dir: tempfile::TempDir,
}

impl ConfigDir {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let from = repo("tests/data/config");
        std::fs::create_dir(dir.path().join("regions")).unwrap();
        for entry in std::fs::read_dir(from.join("regions")).unwrap() {
            let path = entry.unwrap().path();
            std::fs::copy(
                &path,
                dir.path().join("regions").join(path.file_name().unwrap()),
            )
            .unwrap();
        }
        let main = std::fs::read_to_string(from.join("meridian.toml")).unwrap();
        let config = Self { dir };
        config.write_main(&main.replace("[geo]\n", "[geo]\nreload_check_seconds = 1\n"));
        config
    }

    pub(crate) fn main(&self) -> PathBuf {
        self.dir.path().join("meridian.toml")
    }

    pub(crate) fn source(&self) -> Source {
        Source {
            config: self.main(),
            geo_override: Some(geo_db(CITY)),
        }
    }

    /// Writes the main file beside and renames it over, as editors and tools do.
    pub(crate) fn write_main(&self, text: &str) {
        write_renamed(&self.main(), text);
    }

    pub(crate) fn main_text(&self) -> String {
        std::fs::read_to_string(self.main()).unwrap()
    }

    /// The main file with `answer.ttl` set to `ttl`.
    pub(crate) fn set_answer_ttl(&self, ttl: u32) {
        let text = self.main_text();
        let start = text.find("[answer]\nttl = ").unwrap() + "[answer]\nttl = ".len();
        let end = start + text[start..].find('\n').unwrap();
        self.write_main(&format!("{}{ttl}{}", &text[..start], &text[end..]));
    }
}

fn write_renamed(path: &Path, text: &str) {
    let temporary = path.with_extension("tmp");
    std::fs::write(&temporary, text).unwrap();
    std::fs::rename(&temporary, path).unwrap();
}

const LONDON: &str = "81.2.69.142";

async fn london_ttl(server: &Server) -> u32 {
    let reply = server
        .udp(&query_ecs("www.gtm.test", RecordType::A, LONDON, 32))
        .await;
    assert_eq!(region_of(&reply), "eu-west");
    reply.answers[0].ttl
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_applies_a_new_ttl_and_refuses_a_broken_config_whole() {
    let config = ConfigDir::new();
    let server = Server::start_from(config.source()).await;
    assert_eq!(london_ttl(&server).await, 30);
    let first = server.view().generation;

    let map = server.view().steering.clone();
    config.set_answer_ttl(77);
    let outcome = server.reloader.reload().unwrap();
    assert!(matches!(outcome, Outcome::Applied { generation, .. } if generation > first));
    assert_eq!(london_ttl(&server).await, 77);
    // Neither the database nor the steering changed: the merged map is kept, not rebuilt.
    assert!(Arc::ptr_eq(&map, &server.view().steering));
    let good_hash = server.view().config.content_hash.clone();

    // Nothing changed: nothing is published.
    let generation = server.view().generation;
    assert_eq!(
        server.reloader.reload().unwrap(),
        Outcome::Unchanged { generation }
    );

    // A broken file is refused whole, with file, key and value; answers go on unchanged.
    let good = config.main_text();
    config.write_main(&good.replace("max_addresses = 2", "max_addresses = 0"));
    let error = server.reloader.reload().unwrap_err().to_string();
    assert!(
        error.contains("meridian.toml") && error.contains("answer.max_addresses = 0"),
        "{error}"
    );
    config.write_main(&good.replace("[answer]\nttl = 77", "[answer]\nttl = 5\nttl = 6"));
    assert!(server.reloader.reload().is_err());
    assert_eq!(server.view().generation, generation);
    assert_eq!(server.view().config.content_hash, good_hash);
    assert_eq!(london_ttl(&server).await, 77);
    assert_eq!(server.reloader.stats.failed.load(Ordering::Relaxed), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_of_the_steering_rules_rebuilds_the_map_and_moves_the_clients() {
    let config = ConfigDir::new();
    let server = Server::start_from(config.source()).await;
    let map = server.view().steering.clone();
    let london = || query_ecs("www.gtm.test", RecordType::A, LONDON, 32);
    assert_eq!(region_of(&server.udp(&london()).await), "eu-west");
    let text = config.main_text();
    config.write_main(&format!(
        "{text}\n[steering.country]\nGB = [\"ap-southeast\"]\n"
    ));
    assert!(matches!(
        server.reloader.reload().unwrap(),
        Outcome::Applied { .. }
    ));
    assert!(!Arc::ptr_eq(&map, &server.view().steering));
    assert_eq!(region_of(&server.udp(&london()).await), "ap-southeast");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watcher_reloads_a_changed_file_and_keeps_the_old_view_for_a_bad_one() {
    let config = ConfigDir::new();
    let server = Server::start_from(config.source()).await;
    assert_eq!(london_ttl(&server).await, 30);

    config.set_answer_ttl(42);
    let deadline = Instant::now() + Duration::from_secs(10);
    while london_ttl(&server).await != 42 {
        assert!(Instant::now() < deadline, "the change was never picked up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.reloader.stats.applied.load(Ordering::Relaxed), 1);

    // A broken region file: the watcher must look (the failure is counted) and refuse it.
    let region = config.dir.path().join("regions/eu-west.toml");
    let text = std::fs::read_to_string(&region).unwrap();
    write_renamed(
        &region,
        &text.replace("latitude = 53.35", "latitude = 153.35"),
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while server.reloader.stats.failed.load(Ordering::Relaxed) == 0 {
        assert!(
            Instant::now() < deadline,
            "the watcher never looked at the bad file"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let last = server
        .reloader
        .stats
        .last_error
        .lock()
        .unwrap()
        .clone()
        .unwrap();
    assert!(
        last.contains("eu-west.toml") && last.contains("153.35"),
        "{last}"
    );
    assert_eq!(london_ttl(&server).await, 42);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_reloads_under_a_query_loop_drop_no_query() {
    let config = ConfigDir::new();
    let server = Arc::new(Server::start_from(config.source()).await);
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let load = {
        let (server, stop, answered) = (server.clone(), stop.clone(), answered.clone());
        tokio::spawn(async move {
            let query = query_ecs("www.gtm.test", RecordType::A, LONDON, 32);
            let packet = query.to_vec().unwrap();
            let mut sent = 0usize;
            while !stop.load(Ordering::Relaxed) && sent < 200_000 {
                sent += 1;
                // Every query must be answered, and by eu-west, whichever view answers it.
                let reply = server.udp_raw(&packet, EXCHANGE_TIMEOUT).await;
                let reply =
                    hickory_proto::op::Message::from_vec(&reply.expect("a query was dropped"))
                        .unwrap();
                assert_eq!(region_of(&reply), "eu-west");
                answered.fetch_add(1, Ordering::Relaxed);
            }
            sent
        })
    };
    let mut generations = vec![server.view().generation];
    for round in 0..20 {
        config.set_answer_ttl(100 + round);
        let outcome = server.reloader.reload().unwrap();
        let Outcome::Applied { generation, .. } = outcome else {
            panic!("reload {round} did not apply: {outcome:?}");
        };
        generations.push(generation);
        // Let some queries through on every view.
        let before = answered.load(Ordering::Relaxed);
        let deadline = Instant::now() + Duration::from_secs(5);
        while answered.load(Ordering::Relaxed) < before + 5 {
            assert!(
                Instant::now() < deadline,
                "queries stalled after reload {round}"
            );
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let sent = load.await.unwrap();
    assert_eq!(answered.load(Ordering::Relaxed), sent);
    assert!(sent >= 100, "only {sent} queries");
    assert!(generations.windows(2).all(|pair| pair[0] < pair[1]));
    assert_eq!(london_ttl(&server).await, 119);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_moved_listen_address_needs_a_restart_and_is_not_half_applied() {
    let config = ConfigDir::new();
    let source = config.source();
    let view = source.load_view().unwrap();
    let shared = view.shared();
    let reloader = meridian::reload::Reloader::new(
        source,
        shared.clone(),
        Some("us-east".to_string()),
        meridian::reload::ListenFromConfig {
            dns: true,
            http: true,
            status: true,
        },
    );
    let before = shared.load().generation;
    config.set_answer_ttl(55);
    let region = config.dir.path().join("regions/us-east.toml");
    let text = std::fs::read_to_string(&region).unwrap();
    write_renamed(
        &region,
        &text.replace("dns = [\"127.0.0.1:0\"]", "dns = [\"127.0.0.9:53\"]"),
    );
    let error = reloader.reload().unwrap_err();
    assert!(
        matches!(error, LoadError::NeedsRestart { ref key, .. } if key == "listen.dns"),
        "{error}"
    );
    assert!(error.to_string().contains("restart"));
    // Neither the TTL nor anything else of that config was applied.
    assert_eq!(shared.load().generation, before);
    assert_eq!(shared.load().config.answer.ttl, 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_health_snapshot_for_another_region_list_moves_no_traffic() {
    let server = Server::start(CITY).await;
    let clients = [
        (LONDON, "eu-west"),
        ("216.160.83.56", "us-west"),
        ("214.0.0.1", "ap-southeast"),
        ("2.125.160.216", "eu-west"),
    ];
    let expected: Vec<&str> = clients.iter().map(|(_, region)| *region).collect();
    assert_eq!(regions_now(&server, &clients).await, expected);

    // Built for another deployment: its names match none of ours, and everything is down.
    let down = |reason: &str| RegionHealth {
        up: false,
        reason: reason.to_string(),
        transition: false,
    };
    let foreign = ["eu-central", "us-east-2", "ap-northeast", "sa-east"]
        .iter()
        .fold(HealthSnapshot::empty(), |snapshot, name| {
            snapshot.with(name, down("foreign"))
        });
    meridian::view::View::publish_health(server.reloader.view(), Arc::new(foreign));
    assert_eq!(regions_now(&server, &clients).await, expected);

    // The control: a snapshot naming eu-west as down does move the London client.
    let ours = HealthSnapshot::empty().with("eu-west", down("test"));
    meridian::view::View::publish_health(server.reloader.view(), Arc::new(ours));
    let moved = regions_now(&server, &clients).await;
    assert_ne!(moved[0], "eu-west");
    assert_eq!(moved[1], "us-west");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_server_stops_its_node_with_the_reason() {
    let server = Server::start(CITY).await;
    server.node().supervise("a test server".to_string(), async {
        Err(std::io::Error::other("it broke"))
    });
    let reason = tokio::time::timeout(Duration::from_secs(5), server.node().stopped())
        .await
        .expect("the node did not stop");
    let reason = reason.expect("no failure reason");
    assert!(
        reason.contains("a test server") && reason.contains("it broke"),
        "{reason}"
    );
    // And it really stopped serving: DNS no longer answers.
    let packet = query("gtm.test", RecordType::SOA).to_vec().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while server
        .udp_raw(&packet, Duration::from_millis(300))
        .await
        .is_some()
    {
        assert!(
            Instant::now() < deadline,
            "DNS still answers after the node stopped"
        );
    }
}

/// The region each client's answer comes from, asked over UDP with ECS.
async fn regions_now(server: &Server, clients: &[(&str, &str)]) -> Vec<&'static str> {
    let mut found = Vec::new();
    for (client, _) in clients {
        let reply = server
            .udp(&query_ecs("www.gtm.test", RecordType::A, client, 32))
            .await;
        found.push(region_of(&reply));
    }
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn subdivision_rules_need_a_database_with_subdivisions() {
    let config = ConfigDir::new();
    let source = Source {
        config: config.main(),
        geo_override: Some(geo_db(COUNTRY)),
    };
    let server = Server::start_from(source).await;
    let generation = server.view().generation;
    let text = config.main_text();
    config.write_main(&format!(
        "{text}\n[steering.subdivision]\n\"US-CA\" = [\"us-west\"]\n"
    ));
    let error = server.reloader.reload().unwrap_err().to_string();
    assert!(
        error.contains("steering.subdivision") && error.contains("US-CA"),
        "{error}"
    );
    assert_eq!(server.view().generation, generation);
    // The same rule is accepted with a City database.
    let city = Source {
        config: config.main(),
        geo_override: Some(geo_db(CITY)),
    };
    assert!(city.load_view().is_ok());
}
