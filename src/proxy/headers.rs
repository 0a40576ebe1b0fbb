//! Header hygiene: hop-by-hop headers stripped both ways, and the forwarding headers
//! (`X-Forwarded-For`, `X-Forwarded-Proto`, `Forwarded`, `Via`) added, trusting what a
//! client sent only when the client is a listed proxy.

use std::net::IpAddr;

use hyper::header::{self, HeaderMap, HeaderName, HeaderValue};
use ipnet::IpNet;

/// Hop-by-hop headers of RFC 9110 section 7.6.1 plus the non-standard ones proxies also
/// drop (`Keep-Alive`, `Proxy-Connection`).
const HOP_BY_HOP: [HeaderName; 8] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::PROXY_AUTHENTICATE,
    header::PROXY_AUTHORIZATION,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
static X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");

/// Removes hop-by-hop headers and every header `Connection` names. `Upgrade` goes too,
/// unless `keep_upgrade` (a tunnel being set up, which needs `Connection: upgrade` and
/// `Upgrade` to reach the other side).
pub(crate) fn strip_hop_by_hop(headers: &mut HeaderMap, keep_upgrade: bool) {
    // Most messages carry none of these: one pass over the names (standard names compare
    // as integers) spares a hash lookup per hop-by-hop name on every request and response.
    let present = headers
        .keys()
        .any(|name| *name == header::UPGRADE || HOP_BY_HOP.contains(name));
    if present {
        if headers.contains_key(header::CONNECTION) {
            let named: Vec<HeaderName> = headers
                .get_all(header::CONNECTION)
                .iter()
                .filter_map(|value| value.to_str().ok())
                .flat_map(|value| value.split(','))
                .filter_map(|token| HeaderName::from_bytes(token.trim().as_bytes()).ok())
                .collect();
            for name in named {
                if !(keep_upgrade && name == header::UPGRADE) {
                    headers.remove(name);
                }
            }
        }
        for name in &HOP_BY_HOP {
            headers.remove(name);
        }
        if !keep_upgrade {
            headers.remove(header::UPGRADE);
        }
    }
    if keep_upgrade {
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
    }
}

/// The address the request came from: the peer, or, when the peer is a trusted proxy, the
/// right-most `X-Forwarded-For` entry that is not itself trusted.
pub(crate) fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> IpAddr {
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let mut client = peer;
    for value in headers.get_all(&X_FORWARDED_FOR).iter().rev() {
        let Ok(value) = value.to_str() else {
            return client;
        };
        for entry in value.rsplit(',') {
            match entry.trim().parse::<IpAddr>() {
                Ok(address) => {
                    client = address;
                    if !is_trusted(address, trusted) {
                        return client;
                    }
                }
                Err(_) => return client,
            }
        }
    }
    client
}

fn is_trusted(address: IpAddr, trusted: &[IpNet]) -> bool {
    let address = canonical(address);
    trusted.iter().any(|net| net.contains(&address))
}

/// IPv4-mapped IPv6 addresses as plain IPv4, so one rule covers both.
fn canonical(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// A client connection's own forwarding values, made once per connection rather than per
/// request.
#[derive(Debug)]
pub(crate) struct Peer {
    /// The address the connection comes from, as accepted.
    pub(crate) ip: IpAddr,
    /// The same, IPv4-mapped IPv6 as IPv4.
    canonical: IpAddr,
    /// `X-Forwarded-For` naming only this peer.
    xff: HeaderValue,
    /// The `Forwarded` element for this peer.
    forwarded: HeaderValue,
}

impl Peer {
    pub(crate) fn new(ip: IpAddr) -> Self {
        let canonical = canonical(ip);
        let text = canonical.to_string();
        let node = match canonical {
            IpAddr::V4(_) => text.clone(),
            IpAddr::V6(_) => format!("\"[{text}]\""),
        };
        let value = |text: String| {
            HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static("unknown"))
        };
        Self {
            ip,
            canonical,
            xff: value(text),
            forwarded: value(format!("for={node};proto=http")),
        }
    }
}

/// Adds the forwarding headers for a request from `peer`. From a trusted proxy, the
/// existing `X-Forwarded-For` and `Forwarded` chains are extended; from anyone else they
/// are replaced, so a client cannot forge its origin.
pub(crate) fn add_forwarding(headers: &mut HeaderMap, peer: &Peer, trusted: &[IpNet]) {
    let keep = is_trusted(peer.canonical, trusted);
    let extend =
        |headers: &HeaderMap, name: &HeaderName, own: &HeaderValue| match joined(headers, name)
            .filter(|_| keep)
        {
            Some(chain) => {
                HeaderValue::try_from(format!("{chain}, {}", own.to_str().unwrap_or("unknown")))
                    .unwrap_or_else(|_| own.clone())
            }
            None => own.clone(),
        };
    let xff = extend(headers, &X_FORWARDED_FOR, &peer.xff);
    let forwarded = extend(headers, &header::FORWARDED, &peer.forwarded);
    let via = match joined(headers, &header::VIA) {
        Some(chain) => HeaderValue::try_from(format!("{chain}, {VIA}"))
            .unwrap_or_else(|_| HeaderValue::from_static(VIA)),
        None => HeaderValue::from_static(VIA),
    };
    headers.insert(X_FORWARDED_FOR.clone(), xff);
    headers.insert(header::FORWARDED, forwarded);
    headers.insert(header::VIA, via);
    if !keep || !headers.contains_key(&X_FORWARDED_PROTO) {
        headers.insert(X_FORWARDED_PROTO.clone(), HeaderValue::from_static("http"));
    }
}

/// What this proxy adds to `Via`.
const VIA: &str = "1.1 meridian";

/// All values of `name` joined by ", " (a list header may arrive split over lines).
fn joined(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let mut values = headers.get_all(name).iter().filter_map(|v| v.to_str().ok());
    let first = values.next()?;
    Some(values.fold(first.to_string(), |acc, v| acc + ", " + v))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    #[test]
    fn hop_by_hop_and_connection_named_headers_are_stripped() {
        let mut headers = map(&[
            ("connection", "keep-alive, x-secret"),
            ("keep-alive", "timeout=5"),
            ("x-secret", "1"),
            ("te", "trailers"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("x-kept", "yes"),
        ]);
        strip_hop_by_hop(&mut headers, false);
        let left: Vec<&str> = headers.keys().map(HeaderName::as_str).collect();
        assert_eq!(left, vec!["x-kept"]);
    }

    #[test]
    fn an_upgrade_keeps_upgrade_and_says_connection_upgrade() {
        let mut headers = map(&[("connection", "Upgrade"), ("upgrade", "websocket")]);
        strip_hop_by_hop(&mut headers, true);
        assert_eq!(headers["upgrade"], "websocket");
        assert_eq!(headers["connection"], "upgrade");
    }

    #[test]
    fn an_untrusted_client_cannot_forge_its_origin() {
        let mut headers = map(&[
            ("x-forwarded-for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("x-forwarded-proto", "https"),
        ]);
        let peer: IpAddr = "192.0.2.7".parse().unwrap();
        assert_eq!(client_ip(peer, &headers, &[]), peer);
        add_forwarding(&mut headers, &Peer::new(peer), &[]);
        assert_eq!(headers["x-forwarded-for"], "192.0.2.7");
        assert_eq!(headers["forwarded"], "for=192.0.2.7;proto=http");
        assert_eq!(headers["x-forwarded-proto"], "http");
        assert_eq!(headers["via"], "1.1 meridian");
    }

    #[test]
    fn a_trusted_proxy_chain_is_extended_and_the_client_is_the_first_untrusted_hop() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let mut headers = map(&[
            ("x-forwarded-for", "198.51.100.1, 203.0.113.9"),
            ("x-forwarded-for", "10.1.1.1"),
            ("via", "1.1 edge"),
        ]);
        let peer: IpAddr = "10.0.0.2".parse().unwrap();
        assert_eq!(
            client_ip(peer, &headers, &trusted),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        add_forwarding(&mut headers, &Peer::new(peer), &trusted);
        assert_eq!(
            headers["x-forwarded-for"],
            "198.51.100.1, 203.0.113.9, 10.1.1.1, 10.0.0.2"
        );
        assert_eq!(headers["via"], "1.1 edge, 1.1 meridian");
    }

    #[test]
    fn ipv6_peers_are_bracketed_in_forwarded_and_mapped_v4_is_v4() {
        let mut headers = HeaderMap::new();
        add_forwarding(
            &mut headers,
            &Peer::new("2001:db8::1".parse().unwrap()),
            &[],
        );
        assert_eq!(headers["forwarded"], "for=\"[2001:db8::1]\";proto=http");
        let mut headers = HeaderMap::new();
        add_forwarding(
            &mut headers,
            &Peer::new("::ffff:192.0.2.1".parse().unwrap()),
            &[],
        );
        assert_eq!(headers["x-forwarded-for"], "192.0.2.1");
    }
}
