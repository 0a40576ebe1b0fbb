#![allow(clippy::unwrap_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Version};
use serde_json::Value;

use super::*;

fn at(seconds: u64, millis: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(seconds * 1000 + millis)
}

/// A plain request's record (the sender's tests use it too).
pub(crate) fn record() -> Record {
    Record {
        time: at(1_700_000_000, 123),
        client: "192.0.2.7".parse().unwrap(),
        peer: "10.0.0.1".parse().unwrap(),
        method: Method::GET,
        host: Some(HeaderValue::from_static("www.gtm.test")),
        target: Bytes::from_static(b"/a/b?c=d"),
        version: Version::HTTP_11,
        status: 200,
        bytes_sent: 2326,
        duration: Duration::from_micros(1_234_567),
        served_by: ServedBy::Backend("us-east-1".to_string()),
        retries: 1,
        region: "us-east".into(),
        user_agent: Some(HeaderValue::from_static("curl/8.0")),
        referer: None,
        request_id: Some(HeaderValue::from_static("abc-123")),
    }
}

fn line(format: AccessLogFormat, record: &Record) -> String {
    let mut out = Vec::new();
    write_line(&mut out, format, record);
    String::from_utf8(out).unwrap()
}

fn json(record: &Record) -> Value {
    let text = line(AccessLogFormat::Json, record);
    assert!(
        text.ends_with('\n') && text.matches('\n').count() == 1,
        "{text:?}"
    );
    serde_json::from_str(&text).unwrap()
}

#[test]
fn times_are_utc_in_both_spellings() {
    for (time, rfc, clf) in [
        (
            at(0, 0),
            "1970-01-01T00:00:00.000Z",
            "01/Jan/1970:00:00:00 +0000",
        ),
        (
            at(951_782_400, 5),
            "2000-02-29T00:00:00.005Z",
            "29/Feb/2000:00:00:00 +0000",
        ),
        (
            at(1_700_000_000, 123),
            "2023-11-14T22:13:20.123Z",
            "14/Nov/2023:22:13:20 +0000",
        ),
        (
            at(1_709_208_000, 999),
            "2024-02-29T12:00:00.999Z",
            "29/Feb/2024:12:00:00 +0000",
        ),
        (
            at(4_102_444_799, 0),
            "2099-12-31T23:59:59.000Z",
            "31/Dec/2099:23:59:59 +0000",
        ),
        // A clock before 1970 is written as 1970, never a panic.
        (
            UNIX_EPOCH - Duration::from_secs(5),
            "1970-01-01T00:00:00.000Z",
            "01/Jan/1970:00:00:00 +0000",
        ),
    ] {
        assert_eq!(rfc3339(time), rfc);
        assert_eq!(clf_time(time), clf);
    }
}

#[test]
fn every_day_of_four_centuries_follows_the_one_before() {
    let leap = |year: i64| year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let length = |year: i64, month: u32| match month {
        2 if leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    let mut previous = (1969, 12, 31);
    for days in 0..146_097 {
        let (year, month, day) = previous;
        let expected = if day < length(year, month) {
            (year, month, day + 1)
        } else if month < 12 {
            (year, month + 1, 1)
        } else {
            (year + 1, 1, 1)
        };
        assert_eq!(civil_from_days(days), expected, "day {days}");
        previous = expected;
    }
    assert_eq!(previous, (2369, 12, 31));
}

#[test]
fn a_common_and_a_combined_line() {
    let record = record();
    assert_eq!(
        line(AccessLogFormat::Common, &record),
        "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /a/b?c=d HTTP/1.1\" 200 2326\n"
    );
    assert_eq!(
        line(AccessLogFormat::Combined, &record),
        "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /a/b?c=d HTTP/1.1\" 200 2326 \"-\" \"curl/8.0\"\n"
    );
    assert_eq!(line(AccessLogFormat::Off, &record), "");
}

#[test]
fn a_json_line_has_every_field() {
    let value = json(&record());
    let expected = serde_json::json!({
        "time": "2023-11-14T22:13:20.123Z",
        "client": "192.0.2.7",
        "peer": "10.0.0.1",
        "method": "GET",
        "host": "www.gtm.test",
        "path": "/a/b?c=d",
        "protocol": "HTTP/1.1",
        "status": 200,
        "bytes_sent": 2326,
        "duration_ms": 1234.567,
        "backend": "us-east-1",
        "retries": 1,
        "region": "us-east",
        "user_agent": "curl/8.0",
        "referer": null,
        "request_id": "abc-123",
    });
    assert_eq!(value, expected);
    // The fields come in a fixed order, for people reading the file.
    let text = line(AccessLogFormat::Json, &record());
    let order = [
        "time",
        "client",
        "peer",
        "method",
        "host",
        "path",
        "protocol",
        "status",
        "bytes_sent",
        "duration_ms",
        "backend",
        "retries",
        "region",
        "user_agent",
        "referer",
        "request_id",
    ];
    let positions: Vec<usize> = order
        .iter()
        .map(|key| text.find(&format!("\"{key}\":")).unwrap())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "{text}");
}

#[test]
fn who_served_is_a_backend_a_spill_or_null() {
    let mut spilled = record();
    spilled.served_by = ServedBy::Spill("eu-west".to_string());
    spilled.version = Version::HTTP_2;
    let value = json(&spilled);
    assert_eq!(value["backend"], "spillover:eu-west");
    assert_eq!(value["protocol"], "HTTP/2.0");
    let mut refused = record();
    refused.served_by = ServedBy::Proxy;
    refused.host = None;
    refused.user_agent = None;
    refused.request_id = None;
    refused.status = 429;
    let value = json(&refused);
    assert!(value["backend"].is_null() && value["host"].is_null());
    assert!(value["user_agent"].is_null() && value["request_id"].is_null());
    assert_eq!(
        line(AccessLogFormat::Combined, &refused),
        "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] \"GET /a/b?c=d HTTP/1.1\" 429 2326 \"-\" \"-\"\n"
    );
}

/// What a client controls: quotes, backslashes, line breaks, controls, UTF-8 and bytes that
/// are not UTF-8, in the path and in headers.
fn hostile() -> Record {
    let mut record = record();
    record.target =
        Bytes::from_static(b"/caf\xe9/\"x\"\\y\r\nFAKE 1.2.3.4 - - [\x1b[31m?q=caf\xc3\xa9");
    record.user_agent = Some(HeaderValue::from_bytes(b"evil\" \"agent\\\t\xff\xfe").unwrap());
    record.referer = Some(HeaderValue::from_static("\"\" -"));
    record.host = Some(HeaderValue::from_bytes(b"h\xc3\xa9\"").unwrap());
    record.request_id = Some(HeaderValue::from_static("id\"with\\quotes"));
    record.method = Method::from_bytes(b"PURGE").unwrap();
    record
}

#[test]
fn text_lines_escape_what_the_client_sent() {
    let text = line(AccessLogFormat::Combined, &hostile());
    assert_eq!(
        text,
        concat!(
            "192.0.2.7 - - [14/Nov/2023:22:13:20 +0000] ",
            "\"PURGE /caf\\xE9/\\x22x\\x22\\x5Cy\\x0D\\x0AFAKE 1.2.3.4 - - [\\x1B[31m?q=caf\\xC3\\xA9 HTTP/1.1\" ",
            "200 2326 ",
            "\"\\x22\\x22 -\" ",
            "\"evil\\x22 \\x22agent\\x5C\\x09\\xFF\\xFE\"\n"
        )
    );
    // One line of printable ASCII, with exactly the six quotes of its three fields.
    let body = text.strip_suffix('\n').unwrap();
    assert!(body.bytes().all(|b| (0x20..0x7f).contains(&b)), "{body}");
    assert_eq!(body.matches('"').count(), 6, "{body}");
}

#[test]
fn json_lines_escape_what_the_client_sent_and_keep_utf8() {
    let record = hostile();
    let text = line(AccessLogFormat::Json, &record);
    let body = text.strip_suffix('\n').unwrap();
    assert!(!body.contains('\n') && !body.contains('\r') && !body.contains('\u{1b}'));
    let value: Value = serde_json::from_str(body).unwrap();
    // Valid UTF-8 is kept as text; each byte that is not UTF-8 becomes the text \xHH.
    assert_eq!(
        value["path"],
        "/caf\\xE9/\"x\"\\y\r\nFAKE 1.2.3.4 - - [\u{1b}[31m?q=caf\u{e9}"
    );
    assert_eq!(value["user_agent"], "evil\" \"agent\\\t\\xFF\\xFE");
    assert_eq!(value["host"], "h\u{e9}\"");
    assert_eq!(value["request_id"], "id\"with\\quotes");
    assert_eq!(value["referer"], "\"\" -");
    assert_eq!(value["method"], "PURGE");
}

#[test]
fn json_text_marks_only_the_invalid_bytes() {
    assert!(matches!(
        json_text(b"plain"),
        std::borrow::Cow::Borrowed("plain")
    ));
    assert_eq!(json_text(b"a\xffb\xc3\xa9\xc3"), "a\\xFFb\u{e9}\\xC3");
    let mut out = String::new();
    escape_text(&mut out, b"ok ~ \x7f\x00\\");
    assert_eq!(out, "ok ~ \\x7F\\x00\\x5C");
}
