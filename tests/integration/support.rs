//! Starting a server and talking DNS to it.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, Query, ResponseCode};
use hickory_proto::rr::rdata::opt::{ClientSubnet, EdnsCode, EdnsOption};
use hickory_proto::rr::{Name, RData, RecordType};
use meridian::config::Config;
use meridian::dashboard::NodeIdentity;
use meridian::dns::{DnsHandler, cookie_now};
use meridian::geo::GeoDb;
use meridian::health::HealthSnapshot;
use meridian::node::{ListenPlan, NodeOptions, Probing, RegionNode, RegionSockets};
use meridian::reload::{ListenFromConfig, Reloader, Source};
use meridian::view::View;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio_util::sync::CancellationToken;

pub(crate) const CITY: &str = "GeoIP2-City-Test.mmdb";
pub(crate) const COUNTRY: &str = "GeoLite2-Country-Test.mmdb";

/// The admin token of test nodes.
pub(crate) const ADMIN_TOKEN: &str = "test-admin-token-0123456789";

/// How long any single exchange may take before the test fails.
pub(crate) const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(3);

pub(crate) fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

pub(crate) fn geo_db(file: &str) -> PathBuf {
    repo("tests/data/geo").join(file)
}

pub(crate) fn test_config() -> Config {
    // Not from the environment: a developer's MERIDIAN_ADMIN_TOKEN must not change tests.
    Config::load_with_env_token(&repo("tests/data/config/meridian.toml"), None)
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A node on 127.0.0.1:0 (DNS and status listener), stopped when dropped.
pub(crate) struct Server {
    pub(crate) addr: SocketAddr,
    pub(crate) status: SocketAddr,
    pub(crate) handler: DnsHandler,
    pub(crate) reloader: Arc<Reloader>,
    shutdown: CancellationToken,
    node: Option<RegionNode>,
}

impl Drop for Server {
    fn drop(&mut self) {
        // The UDP loops run on blocking threads: they must be told to stop, or the test
        // runtime would wait for them forever.
        self.shutdown.cancel();
    }
}

impl Server {
    pub(crate) async fn start(db: &str) -> Self {
        Self::start_with(&geo_db(db), |_| {}).await
    }

    /// A node over the test config changed in memory by `change`. A reload reads the files
    /// again (with `db` as the database), so tests of reload use [`Self::start_from`].
    pub(crate) async fn start_with(db: &Path, change: impl FnOnce(&mut Config)) -> Self {
        let mut config = test_config();
        config.geo.database = db.to_path_buf();
        change(&mut config);
        let geo = GeoDb::open(&config.geo.database).unwrap_or_else(|e| panic!("{e}"));
        let view = View::new(
            Arc::new(config),
            Arc::new(geo),
            Arc::new(HealthSnapshot::empty()),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let source = Source {
            config: repo("tests/data/config/meridian.toml"),
            geo_override: Some(db.to_path_buf()),
        };
        Self::launch(source, view)
    }

    /// A node whose config is read from `source`, as `meridian run` does.
    pub(crate) async fn start_from(source: Source) -> Self {
        let view = source.load_view().unwrap_or_else(|e| panic!("{e}"));
        Self::launch(source, view)
    }

    fn launch(source: Source, view: View) -> Self {
        let localhost: SocketAddr = "127.0.0.1:0".parse().unwrap_or_else(|e| panic!("{e}"));
        let plan = ListenPlan {
            dns: vec![localhost],
            http: None,
            status: Some(localhost),
            udp_sockets: 2,
            http_workers: 1,
        };
        let sockets = RegionSockets::bind("us-east", &plan).unwrap_or_else(|e| panic!("{e}"));
        let addr = sockets.dns_addrs()[0];
        let status = sockets.status_addr().unwrap_or_else(|| panic!("no status"));
        let reloader = Arc::new(Reloader::new(
            source,
            view.shared(),
            Some("us-east".to_string()),
            ListenFromConfig::default(),
        ));
        let identity = NodeIdentity {
            region: "us-east".to_string(),
            node: "test".to_string(),
            version: "test",
            started: Instant::now(),
        };
        let shutdown = CancellationToken::new();
        let node = RegionNode::start(
            identity,
            reloader.clone(),
            sockets,
            shutdown.clone(),
            NodeOptions {
                fallback_token: Some(meridian::config::AdminToken::generated(
                    ADMIN_TOKEN.to_string(),
                )),
                // These tests publish verdicts themselves; the other regions' nodes do not run.
                probing: Probing::Off,
                ..NodeOptions::default()
            },
        )
        .unwrap_or_else(|e| panic!("{e:#}"));
        Self {
            addr,
            status,
            // A stopped cookie clock: the paths compared byte for byte stamp new server
            // cookies with the same second.
            handler: DnsHandler::new(reloader.view().clone()).with_cookie_clock(cookie_now()),
            reloader,
            shutdown,
            node: Some(node),
        }
    }

    /// The view the node answers from now.
    pub(crate) fn view(&self) -> Arc<View> {
        self.reloader.view().load_full()
    }

    pub(crate) fn node(&self) -> &RegionNode {
        self.node
            .as_ref()
            .unwrap_or_else(|| panic!("the node was stopped"))
    }

    /// Stops every task; true when they all finished within `grace`.
    pub(crate) async fn stop(mut self, grace: Duration) -> bool {
        match self.node.take() {
            Some(node) => node.stop(grace).await,
            None => true,
        }
    }

    /// Sends raw bytes over UDP; `None` when no reply comes within a short wait.
    pub(crate) async fn udp_raw(&self, packet: &[u8], wait: Duration) -> Option<Vec<u8>> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        socket
            .send_to(packet, self.addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut buf = vec![0u8; 65535];
        match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
            Ok(Ok((len, _))) => Some(buf[..len].to_vec()),
            _ => None,
        }
    }

    /// One query answered three ways in this thread, as raw replies: by the full path, by
    /// the first cached call (which fills the reply cache) and by the second (a replay).
    pub(crate) fn full_filled_replayed(&self, query: &Message) -> [Vec<u8>; 3] {
        let source: SocketAddr = "127.0.0.1:5000".parse().unwrap_or_else(|e| panic!("{e}"));
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let (mut full, mut filled, mut replayed) = (Vec::new(), Vec::new(), Vec::new());
        assert!(
            self.handler
                .respond_datagram(&packet, source, &mut filled)
                .is_some()
        );
        assert!(
            self.handler
                .respond_datagram(&packet, source, &mut replayed)
                .is_some()
        );
        assert!(
            self.handler
                .respond_datagram_uncached(&packet, source, &mut full)
                .is_some()
        );
        [full, filled, replayed]
    }

    pub(crate) async fn udp(&self, query: &Message) -> Message {
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let reply = self
            .udp_raw(&packet, EXCHANGE_TIMEOUT)
            .await
            .unwrap_or_else(|| panic!("no UDP reply to {query}"));
        let reply = Message::from_vec(&reply).unwrap_or_else(|e| panic!("undecodable reply: {e}"));
        assert_eq!(reply.metadata.id, query.metadata.id);
        assert_eq!(reply.metadata.message_type, MessageType::Response);
        reply
    }

    /// Asks the same question twice from one socket (so the same server socket, and the
    /// same reply cache, answers both), with two IDs; returns both replies.
    pub(crate) async fn udp_twice(&self, query: &Message) -> [Message; 2] {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let mut replies = Vec::with_capacity(2);
        for id in [0x5151, 0x5252] {
            let mut query = query.clone();
            query.metadata.id = id;
            let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
            socket
                .send_to(&packet, self.addr)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let mut buf = vec![0u8; 65535];
            let (len, _) = tokio::time::timeout(EXCHANGE_TIMEOUT, socket.recv_from(&mut buf))
                .await
                .unwrap_or_else(|_| panic!("no UDP reply to {query}"))
                .unwrap_or_else(|e| panic!("{e}"));
            let reply = Message::from_vec(&buf[..len]).unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(reply.metadata.id, id);
            replies.push(reply);
        }
        let [first, second]: [Message; 2] =
            replies.try_into().unwrap_or_else(|_| panic!("two replies"));
        [first, second]
    }

    /// Publishes health verdicts into the node's view, as the health monitor does.
    pub(crate) fn publish_health(&self, snapshot: HealthSnapshot) {
        View::publish_health(self.reloader.view(), Arc::new(snapshot));
    }

    pub(crate) async fn tcp(&self, query: &Message) -> Message {
        let exchange = async {
            let mut stream = TcpStream::connect(self.addr).await?;
            tcp_exchange(&mut stream, query).await
        };
        tokio::time::timeout(EXCHANGE_TIMEOUT, exchange)
            .await
            .unwrap_or_else(|_| panic!("TCP timeout"))
            .unwrap_or_else(|e| panic!("TCP: {e}"))
    }
}

/// One length-prefixed query and its reply on an open TCP connection.
pub(crate) async fn tcp_exchange(
    stream: &mut TcpStream,
    query: &Message,
) -> std::io::Result<Message> {
    let packet = query.to_vec().map_err(std::io::Error::other)?;
    let len = u16::try_from(packet.len()).map_err(std::io::Error::other)?;
    stream.write_all(&len.to_be_bytes()).await?;
    stream.write_all(&packet).await?;
    read_tcp_reply(stream).await
}

/// Reads one length-prefixed reply, within [`EXCHANGE_TIMEOUT`].
pub(crate) async fn read_tcp_reply(stream: &mut TcpStream) -> std::io::Result<Message> {
    let read = async {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await?;
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut reply).await?;
        Message::from_vec(&reply).map_err(std::io::Error::other)
    };
    tokio::time::timeout(EXCHANGE_TIMEOUT, read)
        .await
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::TimedOut, "no TCP reply"))?
}

pub(crate) fn name(text: &str) -> Name {
    Name::from_ascii(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub(crate) fn ip(text: &str) -> IpAddr {
    text.parse()
        .unwrap_or_else(|_| panic!("bad address {text}"))
}

/// A query with EDNS (payload 1232), as modern resolvers send.
pub(crate) fn query(qname: &str, qtype: RecordType) -> Message {
    let mut message = query_plain(qname, qtype);
    let mut edns = Edns::new();
    edns.set_max_payload(1232);
    message.set_edns(edns);
    message
}

/// A query without EDNS.
pub(crate) fn query_plain(qname: &str, qtype: RecordType) -> Message {
    let mut message = Message::query();
    message.add_query(Query::query(name(qname), qtype));
    message
}

/// A query carrying ECS for `subnet`/`prefix` (address already masked).
pub(crate) fn query_ecs(qname: &str, qtype: RecordType, subnet: &str, prefix: u8) -> Message {
    let mut message = query(qname, qtype);
    if let Some(edns) = message.edns.as_mut() {
        edns.options_mut()
            .insert(EdnsOption::Subnet(ClientSubnet::new(ip(subnet), prefix, 0)));
    }
    message
}

pub(crate) fn ecs_echo(reply: &Message) -> Option<ClientSubnet> {
    match reply.edns.as_ref()?.option(EdnsCode::Subnet)? {
        EdnsOption::Subnet(subnet) => Some(*subnet),
        _ => None,
    }
}

/// The addresses in the answer section, as text.
pub(crate) fn addresses(reply: &Message) -> Vec<String> {
    reply
        .answers
        .iter()
        .filter_map(|record| match &record.data {
            RData::A(a) => Some(a.0.to_string()),
            RData::AAAA(aaaa) => Some(aaaa.0.to_string()),
            _ => None,
        })
        .collect()
}

/// The region whose first address leads the answer (test regions use 198.18.N.x / 2001:db8:N::).
pub(crate) fn region_of(reply: &Message) -> &'static str {
    assert_eq!(
        reply.metadata.response_code,
        ResponseCode::NoError,
        "{reply}"
    );
    let first = addresses(reply)
        .into_iter()
        .next()
        .unwrap_or_else(|| panic!("no address in {reply}"));
    match first.as_str() {
        a if a.starts_with("198.18.1.") || a.starts_with("2001:db8:1:") => "us-east",
        a if a.starts_with("198.18.2.") || a.starts_with("2001:db8:2:") => "us-west",
        a if a.starts_with("198.18.3.") || a.starts_with("2001:db8:3:") => "eu-west",
        a if a.starts_with("198.18.4.") || a.starts_with("2001:db8:4:") => "ap-southeast",
        a if a.starts_with("198.18.5.") || a.starts_with("2001:db8:5:") => "ap-southeast-2",
        other => panic!("address {other} belongs to no test region"),
    }
}

/// The counters of `/metrics`: (dropped, slipped).
pub(crate) async fn rate_limited_metrics(server: &Server) -> (u64, u64) {
    let text = reqwest::get(format!("http://{}/metrics", server.status))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .text()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let value = |action: &str| {
        let series = format!("meridian_dns_rate_limited_total{{action=\"{action}\"}} ");
        text.lines()
            .find_map(|line| line.strip_prefix(series.as_str()))
            .unwrap_or_else(|| panic!("no {series} in {text}"))
            .parse::<u64>()
            .unwrap_or_else(|e| panic!("{e}"))
    };
    (value("dropped"), value("slipped"))
}
