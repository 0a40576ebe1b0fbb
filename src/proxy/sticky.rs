//! Sticky-session cookies: `<backend id>.<tag>`, where the tag is an HMAC-SHA256 of the id
//! under the region's cookie key, so a client can keep its backend but not choose one. A
//! cookie that does not verify is ignored (the request is balanced as if it had none).

use std::time::Duration;

use hmac::{Hmac, Mac};
use hyper::header::{self, HeaderMap, HeaderValue};
use sha2::Sha256;

/// Bytes of the tag kept (128 bits: forging one is out of reach).
const TAG_BYTES: usize = 16;

/// The tag of `id` under `key`, as lower-case hex.
fn tag(key: &[u8], id: &str) -> String {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        // HMAC takes keys of any length; this cannot happen.
        return String::new();
    };
    mac.update(id.as_bytes());
    let digest = mac.finalize().into_bytes();
    digest[..TAG_BYTES]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

/// The cookie value naming backend `id`.
pub(crate) fn sign(key: &[u8], id: &str) -> String {
    format!("{id}.{}", tag(key, id))
}

/// The backend id a cookie value names, if its tag verifies.
pub(crate) fn verify<'a>(key: &[u8], value: &'a str) -> Option<&'a str> {
    let (id, presented) = value.rsplit_once('.')?;
    let expected = tag(key, id);
    // Constant time: the comparison does not stop at the first differing byte.
    let same = presented.len() == expected.len()
        && presented
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    same.then_some(id)
}

/// The value of cookie `name` in the request's `Cookie` headers (the first one).
pub(crate) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .find_map(|pair| {
            let (key, value) = pair.trim().split_once('=')?;
            (key.trim() == name).then(|| value.trim().trim_matches('"'))
        })
}

/// The `Set-Cookie` naming backend `id`: HttpOnly, SameSite=Lax, Path=/, and Max-Age when
/// the cookie has a lifetime. (The proxy does not terminate TLS, so never `Secure`.)
pub(crate) fn set_cookie(
    name: &str,
    key: &[u8],
    id: &str,
    lifetime: Option<Duration>,
) -> Option<HeaderValue> {
    let mut cookie = format!("{name}={}; Path=/; HttpOnly; SameSite=Lax", sign(key, id));
    if let Some(lifetime) = lifetime {
        cookie.push_str(&format!("; Max-Age={}", lifetime.as_secs()));
    }
    HeaderValue::try_from(cookie).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn a_signed_cookie_verifies_and_names_its_backend() {
        let value = sign(KEY, "eu-west-1");
        assert_eq!(verify(KEY, &value), Some("eu-west-1"));
    }

    #[test]
    fn tampering_with_the_id_the_tag_or_the_key_fails() {
        let value = sign(KEY, "eu-west-1");
        let (_, tag) = value.rsplit_once('.').unwrap();
        assert_eq!(verify(KEY, &format!("eu-west-2.{tag}")), None);
        let mut forged = value.clone().into_bytes();
        let last = forged.len() - 1;
        forged[last] = if forged[last] == b'0' { b'1' } else { b'0' };
        assert_eq!(verify(KEY, std::str::from_utf8(&forged).unwrap()), None);
        assert_eq!(verify(b"another key entirely, 32 bytes!!", &value), None);
        for junk in ["", ".", "eu-west-1", "eu-west-1.", "a.b.c", "\u{e9}.\u{e9}"] {
            assert_eq!(verify(KEY, junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_named_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, HeaderValue::from_static("a=1; sid=x"));
        headers.append(
            header::COOKIE,
            HeaderValue::from_static("meridian_backend=b.t"),
        );
        assert_eq!(cookie(&headers, "meridian_backend"), Some("b.t"));
        assert_eq!(cookie(&headers, "sid"), Some("x"));
        assert_eq!(cookie(&headers, "none"), None);
    }

    #[test]
    fn set_cookie_has_the_attributes() {
        let value = set_cookie("mb", KEY, "b1", Some(Duration::from_secs(60))).unwrap();
        let value = value.to_str().unwrap();
        assert!(value.starts_with("mb=b1."), "{value}");
        assert!(
            value.ends_with("; Path=/; HttpOnly; SameSite=Lax; Max-Age=60"),
            "{value}"
        );
    }
}
