//! TCP: pipelining, the connection cap, and the handler inside hickory-server's own Server.

use std::net::SocketAddr;
use std::time::Duration;

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use meridian::dns;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
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
        let mut len = [0u8; 2];
        tokio::time::timeout(EXCHANGE_TIMEOUT, stream.read_exact(&mut len))
            .await
            .unwrap_or_else(|_| panic!("timeout"))
            .unwrap_or_else(|e| panic!("{e}"));
        let mut reply = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream
            .read_exact(&mut reply)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let reply = Message::from_vec(&reply).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(reply.metadata.id, query.metadata.id);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_past_the_cap_are_closed_and_slots_come_back() {
    let server = Server::start(CITY).await;
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    listener
        .set_nonblocking(true)
        .unwrap_or_else(|e| panic!("{e}"));
    let addr: SocketAddr = listener.local_addr().unwrap_or_else(|e| panic!("{e}"));
    let shutdown = CancellationToken::new();
    let serving = tokio::spawn(dns::serve_tcp_limited(
        listener,
        server.handler.clone(),
        shutdown.clone(),
        3,
    ));

    let soa = query("gtm.test", RecordType::SOA);
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut stream = TcpStream::connect(addr)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            tcp_exchange(&mut stream, &soa).await.is_ok(),
            "within the cap"
        );
        held.push(stream);
    }
    // The fourth is accepted by the kernel and closed by the server: no reply.
    let mut fourth = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let refused = tokio::time::timeout(EXCHANGE_TIMEOUT, tcp_exchange(&mut fourth, &soa)).await;
    assert!(matches!(refused, Ok(Err(_))), "over the cap: {refused:?}");
    // Closing one frees a slot.
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fifth = TcpStream::connect(addr)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        tcp_exchange(&mut fifth, &soa).await.is_ok(),
        "a freed slot serves again"
    );

    shutdown.cancel();
    let stopped = tokio::time::timeout(Duration::from_secs(3), serving).await;
    assert!(matches!(stopped, Ok(Ok(Ok(())))), "{stopped:?}");
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
