//! DNS cookies (RFC 7873) with server cookies built as RFC 9018 specifies, so every node of
//! an anycast set that shares the secret (and any other RFC 9018 server) accepts the cookies
//! the others hand out.
//!
//! A server cookie proves that the client received an earlier reply at its address: an
//! off-path attacker spoofing that address never sees one. A query carrying a valid server
//! cookie is therefore never rate-limited (`rrl.rs`); everything else is answered as before,
//! with a fresh server cookie when the client sent a cookie option (RFC 7873 section 5.2.3:
//! no BADCOOKIE unless a policy demands cookies, which ours does not).

use std::net::IpAddr;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use siphasher::sip::SipHasher24;
use std::hash::Hasher;

/// The option code of COOKIE.
pub(crate) const OPTION: u16 = 10;

/// What a reply's COOKIE option carries: the client's 8 bytes and our 16.
pub(crate) const REPLY_LEN: usize = 24;

/// Bytes the COOKIE option adds to a reply's OPT record: code, length and the cookie.
pub(crate) const REPLY_OPTION_LEN: usize = 4 + REPLY_LEN;

/// RFC 9018 section 4.3: a server cookie older than an hour is refused, one from more than
/// five minutes ahead too (clock skew between anycast nodes), and past half an hour a
/// client that still holds a valid one is given a new one.
const MAX_AGE: u32 = 3600;
const MAX_AHEAD: u32 = 300;
const RENEW_AGE: u32 = 1800;

/// The only server cookie version there is (RFC 9018 section 4.2).
const VERSION: u8 = 1;

/// Most secrets a node holds at once: the one it makes cookies with and, during a rollover,
/// those it still (or already) accepts.
const MAX_SECRETS: usize = 4;

/// The 128-bit SipHash-2-4 key server cookies are made with.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret([u8; 16]);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Whoever holds it can mint cookies that exempt any address from rate limiting.
        f.write_str("Secret(..)")
    }
}

impl Secret {
    pub fn new(bytes: [u8; 16]) -> Self {
        Self(bytes)
    }

    /// Reads 32 hexadecimal digits.
    pub fn from_hex(text: &str) -> Option<Self> {
        let text = text.as_bytes();
        if text.len() != 32 {
            return None;
        }
        let mut bytes = [0u8; 16];
        for (byte, pair) in bytes.iter_mut().zip(text.chunks_exact(2)) {
            let digit = |c: u8| char::from(c).to_digit(16);
            *byte = u8::try_from(digit(pair[0])? << 4 | digit(pair[1])?).ok()?;
        }
        Some(Self(bytes))
    }

    /// This process's own secret, drawn from the OS the first time it is asked for: the
    /// secret when the configuration names none. It lives as long as the process, so a
    /// reload keeps every cookie handed out valid; a restart makes clients learn a new one
    /// (one reply each, nothing refused).
    pub fn of_this_process() -> Self {
        static SECRET: OnceLock<Secret> = OnceLock::new();
        *SECRET.get_or_init(|| {
            let mut bytes = [0u8; 16];
            // No randomness from the OS would leave every cookie forgeable; such a host
            // cannot run anything safely, so do not pretend to.
            #[allow(clippy::expect_used)]
            getrandom::fill(&mut bytes).expect("the OS random number generator is unavailable");
            Self(bytes)
        })
    }

    /// The 8-byte hash of RFC 9018 section 4.4 over the client cookie, the version,
    /// reserved and timestamp bytes, and the client's address.
    fn hash(&self, client: &[u8; 8], head: &[u8; 8], ip: IpAddr) -> [u8; 8] {
        let mut hasher = SipHasher24::new_with_key(&self.0);
        hasher.write(client);
        hasher.write(head);
        match ip {
            IpAddr::V4(v4) => hasher.write(&v4.octets()),
            IpAddr::V6(v6) => hasher.write(&v6.octets()),
        }
        hasher.finish().to_le_bytes()
    }

    /// A new server cookie for `client` at `ip`, stamped `now`.
    pub(crate) fn server_cookie(&self, client: &[u8; 8], ip: IpAddr, now: u32) -> [u8; 16] {
        let mut head = [VERSION, 0, 0, 0, 0, 0, 0, 0];
        head[4..].copy_from_slice(&now.to_be_bytes());
        let mut cookie = [0u8; 16];
        cookie[..8].copy_from_slice(&head);
        cookie[8..].copy_from_slice(&self.hash(client, &head, ip));
        cookie
    }
}

/// The secrets of one node: the first makes every new server cookie; the others are only
/// accepted, so a secret can be rolled over across an anycast set without refusing the
/// cookies resolvers hold (RFC 7873 section 7.1): every node first accepts the new secret,
/// then makes cookies with it while accepting the old, then drops the old.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Secrets {
    current: Secret,
    accepted: Box<[Secret]>,
}

impl From<Secret> for Secrets {
    fn from(current: Secret) -> Self {
        Self {
            current,
            accepted: Box::default(),
        }
    }
}

impl Secrets {
    /// Reads one to [`MAX_SECRETS`] secrets of 32 hexadecimal digits, separated by commas,
    /// the first the one new cookies are made with.
    pub fn from_hex_list(text: &str) -> Option<Self> {
        let mut secrets = text.split(',').map(|one| Secret::from_hex(one.trim()));
        let current = secrets.next()??;
        let accepted = secrets.collect::<Option<Box<[Secret]>>>()?;
        (accepted.len() < MAX_SECRETS).then_some(Self { current, accepted })
    }

    /// How many secrets are held, the current one included.
    pub(crate) fn len(&self) -> usize {
        1 + self.accepted.len()
    }
}

/// The cookie clock: seconds since the epoch, modulo 2^32 (RFC 9018 uses serial number
/// arithmetic on it, so the wrap in 2106 is harmless).
pub fn now() -> u32 {
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    (seconds & u64::from(u32::MAX)) as u32
}

/// A query's COOKIE option, judged: what the reply carries, and whether the query proved
/// its source address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Judged {
    /// The reply's COOKIE option data: the client cookie, then our server cookie.
    pub(crate) reply: [u8; REPLY_LEN],
    /// The query carried a server cookie we made for this client and address, within its
    /// lifetime.
    pub(crate) proven: bool,
}

/// Appends the COOKIE option carrying `reply` (code, length, data) to an OPT record's data,
/// as every path that writes OPT by hand does.
pub(crate) fn write_option(reply: &[u8; REPLY_LEN], out: &mut Vec<u8>) {
    out.extend_from_slice(&OPTION.to_be_bytes());
    out.extend_from_slice(&(REPLY_LEN as u16).to_be_bytes());
    out.extend_from_slice(reply);
}

/// Whether RFC 7873 section 5.2.2 allows a COOKIE option of `len` bytes: a client cookie
/// of 8, alone or followed by a server cookie of 8 to 32.
pub(crate) fn well_formed(len: usize) -> bool {
    len == 8 || (16..=40).contains(&len)
}

/// A COOKIE option of a length RFC 7873 section 5.2.2 does not allow: FORMERR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// Judges the data of a query's COOKIE option, sent from `ip` at `now`.
///
/// A valid server cookie younger than half an hour, made with the current secret, is handed
/// back as it came (the client keeps what it has, and the reply does not depend on the
/// clock); any other gets a new one. One made with another held secret proves the address
/// as well: a rollover never costs a resolver its exemption from rate limiting.
pub(crate) fn judge(
    option: &[u8],
    secrets: &Secrets,
    ip: IpAddr,
    now: u32,
) -> Result<Judged, Malformed> {
    if !well_formed(option.len()) {
        return Err(Malformed);
    }
    let (client, server) = option.split_at(8);
    let client: [u8; 8] = client.try_into().map_err(|_| Malformed)?;
    let mut reply = [0u8; REPLY_LEN];
    reply[..8].copy_from_slice(&client);
    let current = &secrets.current;
    let age = valid_age(current, &client, server, ip, now);
    let proven = age.is_some()
        || (secrets.accepted.iter())
            .any(|other| valid_age(other, &client, server, ip, now).is_some());
    if let Some(age) = age
        && age < RENEW_AGE
    {
        reply[8..].copy_from_slice(server);
    } else {
        reply[8..].copy_from_slice(&current.server_cookie(&client, ip, now));
    }
    Ok(Judged { reply, proven })
}

/// How old `server` is if it is a valid RFC 9018 server cookie for `client` at `ip`
/// (a cookie from at most five minutes ahead counts as new).
fn valid_age(
    secret: &Secret,
    client: &[u8; 8],
    server: &[u8],
    ip: IpAddr,
    now: u32,
) -> Option<u32> {
    let (head, hash) = server.split_at_checked(8)?;
    let head: &[u8; 8] = head.try_into().ok()?;
    if head[0] != VERSION || hash.len() != 8 {
        return None;
    }
    let stamped = u32::from_be_bytes([head[4], head[5], head[6], head[7]]);
    let age = now.wrapping_sub(stamped);
    let ahead = stamped.wrapping_sub(now);
    let age = if age <= MAX_AGE {
        age
    } else if ahead <= MAX_AHEAD {
        0
    } else {
        return None;
    };
    // Reserved bytes are hashed as they came (RFC 9018 section 4.2).
    (secret.hash(client, head, ip)[..] == *hash).then_some(age)
}

#[cfg(test)]
mod tests;
