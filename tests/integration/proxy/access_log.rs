//! The access log of a real node: a request through its proxy listener appears in the file,
//! the file follows a rename-and-reload rotation and a `copytruncate`, a reload switches the
//! format, and turning it off stops it. Lines name the backend that served (after a retry),
//! the region spilled to, or none.

use std::path::Path;
use std::time::{Duration, Instant};

use meridian::region::proxy::{AccessLog, AccessLogFormat, AccessLogTarget};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::backends::Backend;
use super::node::{ProxyNode, client, write_proxy};
use super::regions::{bind, served_by, start};
use crate::live::ConfigDir;

/// The file's lines once it has at least `count`; panics after a few seconds.
async fn wait_lines(file: &Path, count: usize) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(file).unwrap_or_default();
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() >= count {
            return lines;
        }
        assert!(
            Instant::now() < deadline,
            "{}: {} lines, waited for {count}: {text:?}",
            file.display(),
            lines.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// GET `path` through the node's proxy with a user agent and a request id; the body.
async fn get(node: &ProxyNode, path: &str) -> String {
    let response = client()
        .get(format!("http://{}{path}", node.http))
        .header("user-agent", "access-log-test/1.0 \"quoted\"")
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    response.text().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_through_the_proxy_is_logged_and_the_file_follows_rotation() {
    let backends = vec![Backend::start("l0").await];
    let config = ConfigDir::new();
    std::fs::create_dir(config.dir.path().join("logs")).unwrap();
    let json = "access_log = \"json\"\naccess_log_path = \"logs/access.log\"";
    write_proxy(&config, &backends, &[1], json);
    let node = ProxyNode::start(&config, config.dir.path().join("node-state"));
    let file = config.dir.path().join("logs/access.log");

    let started = std::time::SystemTime::now();
    let body = get(&node, "/some/path?q=1&r=%22").await;
    let lines = wait_lines(&file, 1).await;
    assert_eq!(lines.len(), 1, "{lines:?}");
    let line: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(line["method"], "GET");
    assert_eq!(line["path"], "/some/path?q=1&r=%22");
    assert_eq!(line["host"], node.http.to_string());
    assert_eq!(line["protocol"], "HTTP/1.1");
    assert_eq!(line["status"], 200);
    assert_eq!(line["bytes_sent"], body.len() as u64);
    assert_eq!(line["backend"], "l0");
    assert_eq!(line["retries"], 0);
    assert_eq!(line["region"], "us-east");
    assert_eq!(line["client"], "127.0.0.1");
    assert_eq!(line["peer"], "127.0.0.1");
    assert_eq!(line["user_agent"], "access-log-test/1.0 \"quoted\"");
    assert_eq!(line["request_id"], "req-42");
    assert!(line["referer"].is_null());
    let duration = line["duration_ms"].as_f64().unwrap();
    assert!((0.0..10_000.0).contains(&duration), "{duration}");
    // The time is when the request came, in UTC with milliseconds.
    let time = line["time"].as_str().unwrap();
    assert!(
        time.len() == 24 && time.ends_with('Z') && &time[10..11] == "T",
        "{time}"
    );
    let year: u64 = time[..4].parse().unwrap();
    let now_year = 1970
        + started
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            / 31_556_952;
    assert!(year.abs_diff(now_year) <= 1, "{time}");

    // The counter of dropped lines is registered (and nothing was dropped).
    let metrics = client()
        .get(format!("http://{}/metrics", node.status))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("meridian_proxy_access_log_dropped_total{region=\"us-east\"} 0"),
        "{metrics}"
    );

    // Rotation by rename, then a reload (logrotate's `postrotate`): a new file.
    let rotated = config.dir.path().join("logs/access.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    node.reloader.reload().unwrap();
    get(&node, "/after-rename").await;
    let lines = wait_lines(&file, 1).await;
    assert!(lines[0].contains("/after-rename"), "{lines:?}");
    assert_eq!(
        std::fs::read_to_string(&rotated).unwrap().lines().count(),
        1
    );

    // `copytruncate`: the file is cut to nothing in place; the next line starts it again
    // (appending, so no hole of zeros where the old lines were).
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .unwrap()
        .set_len(0)
        .unwrap();
    get(&node, "/after-truncate").await;
    let lines = wait_lines(&file, 1).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.starts_with('{') && !text.contains('\0'), "{text:?}");
    assert!(lines[0].contains("/after-truncate"), "{lines:?}");

    // A reload switches the format ...
    let combined = "access_log = \"combined\"\naccess_log_path = \"logs/access.log\"";
    write_proxy(&config, &backends, &[1], combined);
    node.reloader.reload().unwrap();
    get(&node, "/combined").await;
    let lines = wait_lines(&file, 2).await;
    assert!(
        lines[1].starts_with("127.0.0.1 - - [")
            && lines[1].contains("] \"GET /combined HTTP/1.1\" 200 ")
            && lines[1].ends_with(" \"-\" \"access-log-test/1.0 \\x22quoted\\x22\""),
        "{lines:?}"
    );

    // ... and turns it off.
    write_proxy(&config, &backends, &[1], "access_log = \"off\"");
    node.reloader.reload().unwrap();
    get(&node, "/not-logged").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(!text.contains("/not-logged"));
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_moved_away_without_a_reload_is_reopened() {
    let backends = vec![Backend::start("m0").await];
    let config = ConfigDir::new();
    std::fs::create_dir(config.dir.path().join("logs")).unwrap();
    let common = "access_log = \"common\"\naccess_log_path = \"logs/access.log\"";
    write_proxy(&config, &backends, &[1], common);
    let node = ProxyNode::start(&config, config.dir.path().join("node-state"));
    let file = config.dir.path().join("logs/access.log");
    get(&node, "/first").await;
    wait_lines(&file, 1).await;
    std::fs::rename(&file, config.dir.path().join("logs/old.log")).unwrap();
    // The writer notices within a second or so; requests keep coming meanwhile.
    let deadline = Instant::now() + Duration::from_secs(5);
    while !file.exists() {
        assert!(Instant::now() < deadline, "never reopened");
        get(&node, "/meanwhile").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    get(&node, "/second").await;
    // Lines of requests made while the file was away may come first: wait for this one.
    let deadline = Instant::now() + Duration::from_secs(5);
    let lines = loop {
        let lines = wait_lines(&file, 1).await;
        if lines
            .iter()
            .any(|line| line.contains("\"GET /second HTTP/1.1\" 200"))
        {
            break lines;
        }
        assert!(Instant::now() < deadline, "/second never logged: {lines:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(
        lines.iter().all(|line| line.starts_with("127.0.0.1 - - [")),
        "{lines:?}"
    );
    node.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_spilled_and_refused_requests_say_who_answered() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("east.log");
    let (listeners, peers) = bind(&["us-east", "us-west"]).await;
    let [east, west] = <[TcpListener; 2]>::try_from(listeners).ok().unwrap();
    let log = AccessLog {
        format: AccessLogFormat::Json,
        target: AccessLogTarget::File(file.clone()),
    };
    let east = start("us-east", east, &peers, "e", 2, |s| s.access_log = log).await;
    let _west = start("us-west", west, &peers, "w", 2, |_| {}).await;
    // The writer, as the node runs it.
    let writer = east.proxy.proxy.take_access_log_writer().unwrap();
    assert!(east.proxy.proxy.take_access_log_writer().is_none());
    let stop = CancellationToken::new();
    let writing = tokio::task::spawn_blocking({
        let stop = stop.clone();
        move || writer.run(|| 0, stop)
    });

    // e0 dies before its health says so: a request that picks it is refused there and
    // answered by e1 on a retry. Which backend a request picks first is the balancer's
    // business, so ask until one picked e0 (the next pick after an e1 does, a few at most).
    east.backends[0].stop();
    let mut logged = 0;
    let retried = loop {
        assert!(
            logged < 8,
            "no request picked e0 before its health said it was down"
        );
        assert_eq!(served_by(&east, 1).await, ["e"]);
        logged += 1;
        let line: Value =
            serde_json::from_str(&wait_lines(&file, logged).await[logged - 1]).unwrap();
        assert_eq!(line["backend"], "e1", "{line}");
        if line["retries"] != 0 {
            break line;
        }
    };
    assert_eq!(retried["retries"], 1, "{retried}");

    // Nothing left here: the request spills to us-west.
    east.stop_backends().await;
    assert_eq!(served_by(&east, 1).await, ["w"]);
    let line: Value = serde_json::from_str(&wait_lines(&file, logged + 1).await[logged]).unwrap();
    assert_eq!(line["backend"], "spillover:us-west");
    assert_eq!(
        (&line["status"], &line["retries"]),
        (&200.into(), &0.into())
    );

    // The proxy's own refusal names no backend.
    let mut stream = tokio::net::TcpStream::connect(east.proxy.addr)
        .await
        .unwrap();
    stream
        .write_all(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 405");
    let line: Value =
        serde_json::from_str(&wait_lines(&file, logged + 2).await[logged + 1]).unwrap();
    assert!(line["backend"].is_null(), "{line}");
    assert_eq!(
        (&line["method"], &line["status"]),
        (&"CONNECT".into(), &405.into())
    );
    assert_eq!(line["path"], "example.com:443");

    stop.cancel();
    drop(stream);
    drop(east);
    writing.await.unwrap().unwrap();
}
