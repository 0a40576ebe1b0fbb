//! WebSocket-style upgrades pass through, after the backend's 101.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::backends::Backend;
use super::harness::{Harness, settings};

#[tokio::test]
async fn an_upgraded_connection_echoes_through_the_proxy() {
    let backends = vec![Backend::start("w0").await];
    let harness = Harness::start(settings(&backends)).await;
    assert_upgrade_echoes(harness.addr).await;
}

/// Asks the proxy at `proxy` to upgrade to the test backends' echo protocol, and checks
/// that the tunnel echoes.
pub(crate) async fn assert_upgrade_echoes(proxy: SocketAddr) {
    let mut stream = TcpStream::connect(proxy).await.unwrap();
    stream
        .write_all(b"GET /ws HTTP/1.1\r\nhost: a\r\nconnection: Upgrade\r\nupgrade: echo\r\n\r\n")
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut byte))
            .await
            .expect("no 101")
            .unwrap();
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: echo"), "{head}");
    for message in [&b"hello"[..], b"second message"] {
        stream.write_all(message).await.unwrap();
        let mut echoed = vec![0u8; message.len()];
        tokio::time::timeout(Duration::from_secs(3), stream.read_exact(&mut echoed))
            .await
            .expect("no echo")
            .unwrap();
        assert_eq!(echoed, message);
    }
}
