//! One access-log line from one [`Record`]: pure, no I/O, no clock (the time is in the
//! record).
//!
//! - `common`: NCSA Common Log Format, `client - - [10/Oct/2000:13:55:36 +0000] "GET /a?b
//!   HTTP/1.1" 200 2326`, in UTC. The byte count is the response body as sent, `0` for none
//!   (as nginx writes it; Apache writes `-`).
//! - `combined`: the same followed by `"referer" "user agent"` (`"-"` when absent), as
//!   Apache's and nginx's `combined`.
//! - `json`: one object per line, fields in a fixed order (see [`JsonLine`]).
//!
//! Escaping: what a client sends is never trusted to be printable. In the text formats,
//! every byte below 0x20, `"`, `\` and every byte from 0x7F up is written `\xHH` (nginx's
//! default `escape`), so a line is one line of printable ASCII and a quoted field cannot be
//! closed early. In JSON, valid UTF-8 is kept, bytes that are not valid UTF-8 are written as
//! the text `\xHH`, and serde_json escapes the rest (quotes, backslashes, controls).

use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use hyper::header::HeaderValue;
use hyper::{Method, Version};
use serde::Serialize;

use crate::region::proxy::AccessLogFormat;

/// Who answered a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ServedBy {
    /// This proxy itself (a refusal, or no backend to pick and nowhere to spill).
    Proxy,
    /// A backend of the region, by id.
    Backend(String),
    /// Another region's proxy, by region name.
    Spill(String),
}

/// One request, as logged.
#[derive(Debug, Clone)]
pub(crate) struct Record {
    /// When the request's head arrived.
    pub(crate) time: SystemTime,
    /// The client: the connection's address, or the forwarding chain's client when the
    /// connection comes from a trusted proxy (or another region's proxy).
    pub(crate) client: IpAddr,
    /// The connection's address.
    pub(crate) peer: IpAddr,
    pub(crate) method: Method,
    /// `Host`, or the HTTP/2 `:authority`.
    pub(crate) host: Option<HeaderValue>,
    /// Path and query, as received.
    pub(crate) target: Bytes,
    pub(crate) version: Version,
    pub(crate) status: u16,
    /// Response body bytes handed to the connection.
    pub(crate) bytes_sent: u64,
    /// From the request's head to the end of its response (or the client leaving).
    pub(crate) duration: Duration,
    pub(crate) served_by: ServedBy,
    /// Attempts on further backends after the first.
    pub(crate) retries: u32,
    pub(crate) region: Arc<str>,
    pub(crate) user_agent: Option<HeaderValue>,
    pub(crate) referer: Option<HeaderValue>,
    /// `X-Request-Id` as the client sent it.
    pub(crate) request_id: Option<HeaderValue>,
}

/// Appends `record`'s line, newline included, to `out`. Nothing for [`AccessLogFormat::Off`].
pub(crate) fn write_line(out: &mut Vec<u8>, format: AccessLogFormat, record: &Record) {
    match format {
        AccessLogFormat::Off => {}
        AccessLogFormat::Common => out.extend_from_slice(common(record, false).as_bytes()),
        AccessLogFormat::Combined => out.extend_from_slice(common(record, true).as_bytes()),
        AccessLogFormat::Json => {
            // Serializing plain strings and numbers cannot fail; a line is all or nothing.
            if let Ok(line) = serde_json::to_vec(&JsonLine::of(record)) {
                out.extend_from_slice(&line);
                out.push(b'\n');
            }
        }
    }
}

/// A `common` or (with `combined`) `combined` line, with its newline.
fn common(record: &Record, combined: bool) -> String {
    let mut line = String::with_capacity(160);
    let _ = write!(line, "{} - - [{}] \"", record.client, clf_time(record.time));
    escape_text(&mut line, record.method.as_str().as_bytes());
    line.push(' ');
    escape_text(&mut line, &record.target);
    let _ = write!(
        line,
        " {}\" {} {}",
        protocol(record.version),
        record.status,
        record.bytes_sent
    );
    if combined {
        for value in [&record.referer, &record.user_agent] {
            line.push_str(" \"");
            match value {
                Some(value) => escape_text(&mut line, value.as_bytes()),
                None => line.push('-'),
            }
            line.push('"');
        }
    }
    line.push('\n');
    line
}

/// Appends `bytes` with every byte outside printable ASCII, `"` and `\` written `\xHH`.
pub(crate) fn escape_text(out: &mut String, bytes: &[u8]) {
    for &byte in bytes {
        if !(0x20..0x7f).contains(&byte) || byte == b'"' || byte == b'\\' {
            let _ = write!(out, "\\x{byte:02X}");
        } else {
            out.push(char::from(byte));
        }
    }
}

/// `bytes` as text for JSON: valid UTF-8 as it is, each invalid byte as the text `\xHH`.
pub(crate) fn json_text(bytes: &[u8]) -> Cow<'_, str> {
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Cow::Borrowed(text);
    }
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        text.push_str(chunk.valid());
        for byte in chunk.invalid() {
            let _ = write!(text, "\\x{byte:02X}");
        }
    }
    Cow::Owned(text)
}

/// The fields of a `json` line, in this order.
#[derive(Serialize)]
pub(crate) struct JsonLine<'a> {
    /// RFC 3339, UTC, milliseconds: `2026-11-05T10:11:12.345Z`.
    time: String,
    client: String,
    peer: String,
    method: &'a str,
    host: Option<Cow<'a, str>>,
    /// Path with query.
    path: Cow<'a, str>,
    protocol: &'static str,
    status: u16,
    bytes_sent: u64,
    duration_ms: f64,
    /// The backend id, `spillover:<region>`, or null when the proxy answered itself.
    backend: Option<Cow<'a, str>>,
    retries: u32,
    region: &'a str,
    user_agent: Option<Cow<'a, str>>,
    referer: Option<Cow<'a, str>>,
    request_id: Option<Cow<'a, str>>,
}

impl<'a> JsonLine<'a> {
    fn of(record: &'a Record) -> Self {
        let header =
            |value: &'a Option<HeaderValue>| value.as_ref().map(|v| json_text(v.as_bytes()));
        Self {
            time: rfc3339(record.time),
            client: record.client.to_string(),
            peer: record.peer.to_string(),
            method: record.method.as_str(),
            host: header(&record.host),
            path: json_text(&record.target),
            protocol: protocol(record.version),
            status: record.status,
            bytes_sent: record.bytes_sent,
            // Microseconds, in milliseconds.
            duration_ms: record.duration.as_micros() as f64 / 1000.0,
            backend: match &record.served_by {
                ServedBy::Proxy => None,
                ServedBy::Backend(id) => Some(Cow::Borrowed(id.as_str())),
                ServedBy::Spill(region) => Some(Cow::Owned(format!("spillover:{region}"))),
            },
            retries: record.retries,
            region: &record.region,
            user_agent: header(&record.user_agent),
            referer: header(&record.referer),
            request_id: header(&record.request_id),
        }
    }
}

fn protocol(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_11 => "HTTP/1.1",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP",
    }
}

/// A moment in UTC: date and time of day.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Civil {
    year: i64,
    month: u32,
    day: u32,
    hour: u64,
    minute: u64,
    second: u64,
    millisecond: u32,
}

/// `time` in UTC. Times before 1970 (a clock set far back) are written as 1970.
fn civil(time: SystemTime) -> Civil {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let seconds = since.as_secs();
    let (days, of_day) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(i64::try_from(days).unwrap_or(i64::MAX / 2));
    Civil {
        year,
        month,
        day,
        hour: of_day / 3600,
        minute: of_day % 3600 / 60,
        second: of_day % 60,
        millisecond: since.subsec_millis(),
    }
}

/// Howard Hinnant's `civil_from_days`: days since 1970-01-01 to (year, month, day) in the
/// proleptic Gregorian calendar.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both are small positive numbers by construction.
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

/// `2026-11-05T10:11:12.345Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    let c = civil(time);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        c.year, c.month, c.day, c.hour, c.minute, c.second, c.millisecond
    )
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// `05/Nov/2026:10:11:12 +0000`.
pub(crate) fn clf_time(time: SystemTime) -> String {
    let c = civil(time);
    let month = MONTHS
        .get(usize::try_from(c.month).unwrap_or(1).saturating_sub(1))
        .unwrap_or(&"Jan");
    format!(
        "{:02}/{month}/{:04}:{:02}:{:02}:{:02} +0000",
        c.day, c.year, c.hour, c.minute, c.second
    )
}

#[cfg(test)]
pub(super) mod tests;
