//! Three in-process nodes, one per region of the shipped config, probing each other over
//! loopback with short probe intervals: the cross-region health tests' world.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::RecordType;
use meridian::dashboard::NodeIdentity;
use meridian::node::{ListenPlan, NodeOptions, RegionNode, RegionSockets};
use meridian::region::PeerAddresses;
use meridian::reload::{ListenFromConfig, Reloader, Source};
use tokio::net::UdpSocket;
use tokio_util::sync::CancellationToken;

use crate::support::*;

pub(crate) const REGIONS: [&str; 3] = ["ap-southeast", "eu-west", "us-east"];
pub(crate) const TOKEN: &str = "cluster-test-token-0123456789";

/// Clients and the region each is steered to while everything is up.
pub(crate) const LONDON: &str = "81.2.69.0";
pub(crate) const SYDNEY: &str = "1.128.0.0";

/// The shipped config with fast probes: interval 100 ms, fall 3, rise 3, hold-down 1 s.
pub(crate) const FAST_HEALTH: &str = "[health]
interval_ms = 100
jitter = 0.2
fast_interval_ms = 50
timeout_ms = 300
fall = 3
rise = 3
hold_down_ms = 1000
fresh_every = 5
state_dir = \"state\"
";

pub(crate) struct Member {
    plan: ListenPlan,
    pub(crate) dns: SocketAddr,
    pub(crate) status: SocketAddr,
    pub(crate) node: Option<RegionNode>,
}

pub(crate) struct Cluster {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) members: BTreeMap<String, Member>,
    peers: PeerAddresses,
}

impl Cluster {
    /// Starts the three nodes on the shipped config with [`FAST_HEALTH`], `change` applied to
    /// the main file's text.
    pub(crate) async fn start(change: impl FnOnce(String) -> String) -> Self {
        let dir = tempfile::tempdir().unwrap();
        copy_shipped_config(dir.path());
        let main = dir.path().join("meridian.toml");
        let text = std::fs::read_to_string(&main).unwrap();
        let start = text.find("[health]\n").unwrap();
        let end = text.find("[steering]\n").unwrap();
        let text = format!(
            "{}{FAST_HEALTH}\n{}\n[admin]\ntoken = \"{TOKEN}\"\n",
            &text[..start],
            &text[end..]
        );
        std::fs::write(&main, change(text)).unwrap();

        let mut members = BTreeMap::new();
        let mut peers = PeerAddresses::default();
        let mut bound = Vec::new();
        for region in REGIONS {
            let plan = ListenPlan {
                dns: vec!["127.0.0.1:0".parse().unwrap()],
                http: None,
                status: Some("127.0.0.1:0".parse().unwrap()),
                udp_sockets: 1,
                http_workers: 1,
            };
            let sockets = RegionSockets::bind(region, &plan).unwrap();
            let (dns, status) = (sockets.dns_addrs()[0], sockets.status_addr().unwrap());
            peers.status.insert(region.to_string(), status);
            // Restarts bind the same ports again.
            let plan = ListenPlan {
                dns: vec![dns],
                status: Some(status),
                ..plan
            };
            bound.push((region, sockets));
            members.insert(
                region.to_string(),
                Member {
                    plan,
                    dns,
                    status,
                    node: None,
                },
            );
        }
        let mut cluster = Self {
            dir,
            members,
            peers,
        };
        for (region, sockets) in bound {
            let node = cluster.start_node(region, sockets);
            cluster.members.get_mut(region).unwrap().node = Some(node);
        }
        cluster
    }

    fn start_node(&self, region: &str, sockets: RegionSockets) -> RegionNode {
        let source = Source {
            config: self.dir.path().join("meridian.toml"),
            geo_override: None,
        };
        let view = source.load_view().unwrap_or_else(|e| panic!("{e:#}"));
        let reloader = Arc::new(Reloader::new(
            source,
            view.shared(),
            Some(region.to_string()),
            ListenFromConfig::default(),
        ));
        let identity = NodeIdentity {
            region: region.to_string(),
            node: format!("test-{region}"),
            version: "test",
            started: Instant::now(),
        };
        RegionNode::start(
            identity,
            reloader,
            sockets,
            CancellationToken::new(),
            NodeOptions {
                peers: self.peers.clone(),
                ..NodeOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"))
    }

    pub(crate) fn node(&self, region: &str) -> &RegionNode {
        self.members[region].node.as_ref().unwrap()
    }

    /// Stops a region's node entirely (its DNS and status listeners close).
    pub(crate) async fn kill(&mut self, region: &str) {
        let node = self.members.get_mut(region).unwrap().node.take().unwrap();
        assert!(node.stop(Duration::from_secs(5)).await);
    }

    /// Starts a killed region's node again on the same ports.
    pub(crate) fn restart(&mut self, region: &str) {
        let sockets = RegionSockets::bind(region, &self.members[region].plan).unwrap();
        let node = self.start_node(region, sockets);
        self.members.get_mut(region).unwrap().node = Some(node);
    }

    /// Makes `from`'s probes of `to` fail, as a dropped link would (or heals it).
    pub(crate) fn cut(&self, from: &str, to: &str, cut: bool) {
        self.node(from).monitor().cut(to, cut);
    }

    /// The region that node `at` answers `client`'s A query with, another address, "NODATA",
    /// or the response code's name ("Server Failure").
    pub(crate) async fn answer(&self, at: &str, client: &str) -> String {
        let query = query_ecs("www.gtm.test", RecordType::A, client, 24);
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket
            .send_to(&query.to_vec().unwrap(), self.members[at].dns)
            .await
            .unwrap();
        let mut buf = vec![0u8; 4096];
        let (len, _) = tokio::time::timeout(Duration::from_secs(2), socket.recv_from(&mut buf))
            .await
            .unwrap_or_else(|_| panic!("{at} did not answer"))
            .unwrap();
        let reply = hickory_proto::op::Message::from_vec(&buf[..len]).unwrap();
        if reply.metadata.response_code != ResponseCode::NoError {
            return reply.metadata.response_code.to_string();
        }
        match addresses(&reply).first().map(String::as_str) {
            Some("127.0.1.1") => "us-east".to_string(),
            Some("127.0.2.1") => "eu-west".to_string(),
            Some("127.0.3.1") => "ap-southeast".to_string(),
            Some(other) => other.to_string(),
            None => "NODATA".to_string(),
        }
    }

    /// Polls every 20 ms until every node in `at` answers `client` with `region` (or, with
    /// `!equal`, with anything else); the time it took, or a panic after `limit`.
    pub(crate) async fn wait_answer(
        &self,
        at: &[&str],
        client: &str,
        region: &str,
        equal: bool,
        limit: Duration,
    ) -> Duration {
        let start = Instant::now();
        loop {
            let mut all = true;
            for node in at {
                all &= (self.answer(node, client).await == region) == equal;
            }
            if all {
                return start.elapsed();
            }
            assert!(
                start.elapsed() < limit,
                "after {limit:?}, {at:?} do not answer {client} {}{region}",
                if equal { "" } else { "other than " }
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until every node answers every test client as when all is well.
    pub(crate) async fn wait_all_well(&self) {
        for (client, region) in [(LONDON, "eu-west"), (SYDNEY, "ap-southeast")] {
            self.wait_answer(&REGIONS, client, region, true, Duration::from_secs(10))
                .await;
        }
        // And every node has heard from every other one.
        let start = Instant::now();
        while REGIONS
            .iter()
            .any(|region| self.node(region).monitor().core().ballots().len() < 2)
        {
            assert!(start.elapsed() < Duration::from_secs(10), "no gossip");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// POSTs an admin action to `at`'s status listener; the status code.
    pub(crate) async fn admin(&self, at: &str, path: &str) -> u16 {
        let response = reqwest::Client::new()
            .post(format!("http://{}{path}", self.members[at].status))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap();
        response.status().as_u16()
    }

    pub(crate) async fn stop(mut self) {
        for region in REGIONS {
            if let Some(node) = self.members.get_mut(region).unwrap().node.take() {
                node.stop(Duration::from_secs(5)).await;
            }
        }
    }
}

/// Copies `meridian.toml` and `regions/` (not the geo data: the config points at it by a
/// path that is made absolute).
fn copy_shipped_config(to: &Path) {
    let main = std::fs::read_to_string(repo("meridian.toml")).unwrap();
    let geo = repo("geo-data/dbip-city-lite-coarse.mmdb");
    let main = main.replace(
        "database = \"geo-data/dbip-city-lite-coarse.mmdb\"",
        &format!("database = \"{}\"", geo.display()),
    );
    std::fs::write(to.join("meridian.toml"), main).unwrap();
    std::fs::create_dir(to.join("regions")).unwrap();
    for entry in std::fs::read_dir(repo("regions")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, to.join("regions").join(path.file_name().unwrap())).unwrap();
    }
}
