//! TCP: pipelining, the connection caps (global and per source), and the handler inside
//! hickory-server's own Server.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use meridian::{dns, net};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio_util::sync::CancellationToken;

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_on_one_connection() {
    let server = Server::start(CITY).await;
    let mut stream = TcpStream::connect(server.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Send three queries back to back, then read three replies, in order.
    let queries = [
        query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32),
        query("gtm.test", RecordType::SOA),
        query("nope.gtm.test", RecordType::A),
    ];
    for query in &queries {
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let len = u16::try_from(packet.len()).unwrap_or(0);
        stream
            .write_all(&len.to_be_bytes())
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream
            .write_all(&packet)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
    }
    for query in &queries {
        let reply = read_tcp_reply(&mut stream)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.metadata.id, query.metadata.id);
    }
}

/// A DNS-over-TCP listener on 127.0.0.1:0 with `limits`, answering with `server`'s handler.
fn serve_limited(
    server: &Server,
    limits: net::Limits,
) -> (
    SocketAddr,
    CancellationToken,
    tokio::task::JoinHandle<std::io::Result<()>>,
) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(dns::serve_tcp_limited(
        listener,
        server.handler.clone(),
        shutdown.clone(),
        limits,
    ));
    (addr, shutdown, serving)
}

/// A TCP connection to `addr` from the loopback address `source`.
async fn connect_from(source: &str, addr: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap_or_else(|e| panic!("{e}"));
    let local: SocketAddr = format!("{source}:0")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    socket.bind(local).unwrap_or_else(|e| panic!("{e}"));
    socket.connect(addr).await.unwrap_or_else(|e| panic!("{e}"))
}

/// True when `stream` gets an answer to `query`; false when the server closed it.
async fn answered(stream: &mut TcpStream, query: &Message) -> bool {
    let exchange = tokio::time::timeout(EXCHANGE_TIMEOUT, tcp_exchange(stream, query)).await;
    match exchange {
        Ok(Ok(reply)) => reply.metadata.id == query.metadata.id,
        Ok(Err(_)) => false,
        Err(_) => panic!("neither an answer nor a close within {EXCHANGE_TIMEOUT:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_and_slots_come_back() {
    let server = Server::start(CITY).await;
    let limits = net::Limits {
        max_connections: 3,
        ..net::Limits::default()
    };
    let (addr, shutdown, serving) = serve_limited(&server, limits);

    let soa = query("gtm.test", RecordType::SOA);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(answered(&mut stream, &soa).await, "within the cap");
        held.push(stream);
    }
    // The fourth is accepted by the kernel and closed by the server: no reply.
    let mut fourth = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(!answered(&mut fourth, &soa).await, "over the cap");
    // Closing one frees a slot, once the server has seen the close.
    drop(held.pop());
    let deadline = Instant::now() + EXCHANGE_TIMEOUT;
    loop {
        let mut again = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        if answered(&mut again, &soa).await {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the freed slot never served again"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(3), serving).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_source_cannot_take_the_slots_of_others() {
    // Without the per-source cap, the first source's ten connections would take all eight
    // slots and the second source would be refused.
    let server = Server::start(CITY).await;
    let limits = net::Limits {
        max_connections: 8,
        max_per_source: 4,
        ..net::Limits::default()
    };
    let (addr, shutdown, serving) = serve_limited(&server, limits);
    let soa = query("gtm.test", RecordType::SOA);

    let mut first: Vec<TcpStream> = Vec::new();
    for _ in 0..10 {
        first.push(connect_from("127.0.0.2", addr).await);
    }
    let mut second = connect_from("127.0.0.3", addr).await;
    assert!(
        answered(&mut second, &soa).await,
        "another source is served"
    );

    // The server accepts in order: the first four got the source's slots, the rest were
    // closed at accept.
    for (index, stream) in first.iter_mut().enumerate() {
        let served = answered(stream, &soa).await;
        assert_eq!(served, index < 4, "connection {index} of the first source");
    }

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(3), serving).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pipelined_queries_split_anywhere_are_all_answered() {
    // Buffered reads must not assume a message arrives in one piece: send three queries as
    // one byte stream cut into 3-byte writes.
    let server = Server::start(CITY).await;
    let mut stream = TcpStream::connect(server.addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let queries = [
        query("gtm.test", RecordType::SOA),
        query("www.gtm.test", RecordType::A),
        query("gtm.test", RecordType::NS),
    ];
    let mut bytes = Vec::new();
    for query in &queries {
        let packet = query.to_vec().unwrap_or_else(|e| panic!("{e}"));
        let len = u16::try_from(packet.len()).unwrap_or(0);
        bytes.extend_from_slice(&len.to_be_bytes());
        bytes.extend_from_slice(&packet);
    }
    for piece in bytes.chunks(3) {
        stream
            .write_all(piece)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        stream.flush().await.unwrap_or_else(|e| panic!("{e}"));
        tokio::task::yield_now().await;
    }
    for query in &queries {
        let reply = read_tcp_reply(&mut stream)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.metadata.id, query.metadata.id);
        assert!(!reply.answers.is_empty(), "{reply}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_handler_serves_inside_hickory_servers_own_loop() {
    // The same handler as a hickory RequestHandler (the seam for DoT/DoH later), over UDP
    // and TCP in hickory's Server: same answers, ECS echo kept, truncation keeps the OPT.
    let server = Server::start(CITY).await;
    let udp = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let udp_addr = udp.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let tcp_addr = tcp.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let mut hickory = hickory_server::Server::new(server.handler.clone());
    hickory.register_socket(udp);
    hickory.register_listener(tcp, Duration::from_secs(5), 16);

    let message = query_ecs("www.gtm.test", RecordType::A, "81.2.69.142", 32);
    let ours = server.udp(&message).await;
    let packet = message.to_vec().unwrap_or_else(|e| panic!("{e}"));
    let client = tokio::net::UdpSocket::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    client
        .send_to(&packet, udp_addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut buf = vec![0u8; 4096];
    let (len, _) = tokio::time::timeout(EXCHANGE_TIMEOUT, client.recv_from(&mut buf))
        .await
        .unwrap_or_else(|_| panic!("no reply from hickory's UDP loop"))
        .unwrap_or_else(|e| panic!("{e}"));
    let theirs = Message::from_vec(&buf[..len]).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(theirs.answers, ours.answers);
    assert_eq!(ecs_echo(&theirs), ecs_echo(&ours));

    let mut stream = TcpStream::connect(tcp_addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let over_tcp = tcp_exchange(&mut stream, &message)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(over_tcp.answers, ours.answers);
    hickory
        .shutdown_gracefully()
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}
