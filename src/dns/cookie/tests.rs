//! RFC 9018 Appendix A's examples, byte for byte, and the edges of RFC 7873's lengths and
//! RFC 9018's lifetime.

use super::*;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|at| u8::from_str_radix(&text[at..at + 2], 16).unwrap())
        .collect()
}

fn secret(text: &str) -> Secret {
    Secret::from_hex(text).unwrap()
}

fn client(text: &str) -> [u8; 8] {
    hex(text).try_into().unwrap()
}

const A_SECRET: &str = "e5e973e5a6b2a43f48e7dc849e37bfcf";
const A1_IP: &str = "198.51.100.100";

#[test]
fn appendix_a1_a_new_server_cookie() {
    let made = secret(A_SECRET).server_cookie(
        &client("2464c4abcf10c957"),
        A1_IP.parse().unwrap(),
        1559731985,
    );
    assert_eq!(made.to_vec(), hex("010000005cf79f111f8130c3eee29480"));
}

#[test]
fn appendix_a2_forty_minutes_later_the_cookie_holds_and_is_renewed() {
    let held = hex("2464c4abcf10c957010000005cf79f111f8130c3eee29480");
    let judged = judge(
        &held,
        &secret(A_SECRET).into(),
        A1_IP.parse().unwrap(),
        1559734385,
    )
    .unwrap();
    assert!(judged.proven);
    assert_eq!(
        judged.reply.to_vec(),
        hex("2464c4abcf10c957010000005cf7a871d4a564a1442aca77")
    );
}

#[test]
fn appendix_a3_reserved_bytes_are_hashed_and_an_old_cookie_is_replaced() {
    let held = hex("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5");
    let ip: IpAddr = "203.0.113.203".parse().unwrap();
    let stamped = 0x5cf7_8f71;
    // Fresh, it proves the address and comes back as it was, reserved bytes and all.
    let fresh = judge(&held, &secret(A_SECRET).into(), ip, stamped + 10).unwrap();
    assert!(fresh.proven);
    assert_eq!(fresh.reply.to_vec(), held);
    // At the example's time it is 1 h 52 min old: no proof, and a new cookie.
    let late = judge(&held, &secret(A_SECRET).into(), ip, 1559734700).unwrap();
    assert!(!late.proven);
    assert_eq!(
        late.reply.to_vec(),
        hex("fc93fc62807ddb86010000005cf7a9acf73a7810aca2381e")
    );
    // From another address it is not ours at all.
    let elsewhere = judge(
        &held,
        &secret(A_SECRET).into(),
        "203.0.113.204".parse().unwrap(),
        stamped + 10,
    )
    .unwrap();
    assert!(!elsewhere.proven);
}

#[test]
fn appendix_a4_ipv6_and_a_secret_that_rolled_over() {
    let ip: IpAddr = "2001:db8:220:1:59de:d0f4:8769:82b8".parse().unwrap();
    let new = secret("445536bcd2513298075a5d379663c962");
    let made = new.server_cookie(&client("22681ab97d52c298"), ip, 1559741961);
    assert_eq!(made.to_vec(), hex("010000005cf7c609a6bb79d16625507a"));
    let held = hex("22681ab97d52c298010000005cf7c57926556bd0934c72f8");
    let old = secret("dd3bdf9344b678b185a6f5cb60fca715");
    assert!(
        judge(&held, &old.into(), ip, 0x5cf7_c579 + 100)
            .unwrap()
            .proven
    );
    assert!(
        !judge(&held, &new.into(), ip, 0x5cf7_c579 + 100)
            .unwrap()
            .proven
    );
    // A node rolling over (new secret first, old still accepted) takes the held cookie as
    // proof and answers with the example's new cookie, though the held one is fresh.
    let rolling =
        Secrets::from_hex_list("445536bcd2513298075a5d379663c962,dd3bdf9344b678b185a6f5cb60fca715")
            .unwrap();
    let judged = judge(&held, &rolling, ip, 1559741961).unwrap();
    assert!(judged.proven);
    assert_eq!(
        judged.reply.to_vec(),
        hex("22681ab97d52c298010000005cf7c609a6bb79d16625507a")
    );
    // The other way round (old first) the held cookie is the current secret's: kept.
    let before = Secrets::from_hex_list(
        "dd3bdf9344b678b185a6f5cb60fca715, 445536bcd2513298075a5d379663c962",
    )
    .unwrap();
    let judged = judge(&held, &before, ip, 0x5cf7_c579 + 100).unwrap();
    assert!(judged.proven);
    assert_eq!(judged.reply.to_vec(), held);
}

#[test]
fn option_lengths_are_those_of_rfc_7873_section_5_2_2() {
    let ip: IpAddr = A1_IP.parse().unwrap();
    for len in [0, 1, 7, 9, 15, 41, 64] {
        assert_eq!(
            judge(&vec![7; len], &secret(A_SECRET).into(), ip, 1),
            Err(Malformed),
            "{len}"
        );
    }
    for len in [8, 16, 24, 40] {
        let judged = judge(&vec![7; len], &secret(A_SECRET).into(), ip, 1).unwrap();
        assert!(!judged.proven, "{len} bytes of sevens prove nothing");
        assert_eq!(judged.reply[..8], [7; 8]);
    }
}

#[test]
fn a_cookie_lives_an_hour_and_may_come_from_five_minutes_ahead() {
    let ip: IpAddr = A1_IP.parse().unwrap();
    let key = secret(A_SECRET);
    let the_client = client("2464c4abcf10c957");
    let held = |stamped: u32| {
        [
            &the_client[..],
            &key.server_cookie(&the_client, ip, stamped),
        ]
        .concat()
    };
    let now = 1_000_000;
    for (stamped, proven, echoed) in [
        (now, true, true),
        (now - 1799, true, true),
        (now - 1800, true, false),
        (now - 3600, true, false),
        (now - 3601, false, false),
        (now + 300, true, true),
        (now + 301, false, false),
    ] {
        let judged = judge(&held(stamped), &key.into(), ip, now).unwrap();
        assert_eq!(judged.proven, proven, "stamped {stamped}");
        assert_eq!(
            judged.reply.to_vec() == held(stamped),
            echoed,
            "stamped {stamped}"
        );
    }
    // Across the wrap of the 32-bit clock an hour is still an hour.
    let wrapped = judge(&held(u32::MAX - 100), &key.into(), ip, 200).unwrap();
    assert!(wrapped.proven);
}

#[test]
fn secrets_are_32_hex_digits() {
    assert!(Secret::from_hex(A_SECRET).is_some());
    assert!(Secret::from_hex(&A_SECRET.to_uppercase()).is_some());
    for bad in [
        "",
        "e5e9",
        &A_SECRET[..31],
        &format!("{A_SECRET}00"),
        "g5e973e5a6b2a43f48e7dc849e37bfcf",
    ] {
        assert!(Secret::from_hex(bad).is_none(), "{bad}");
    }
    assert_eq!(format!("{:?}", secret(A_SECRET)), "Secret(..)");
}

#[test]
fn a_node_holds_one_to_four_secrets_separated_by_commas() {
    let one = Secrets::from_hex_list(A_SECRET).unwrap();
    assert_eq!(one, Secrets::from(secret(A_SECRET)));
    assert_eq!(one.len(), 1);
    let four = [A_SECRET; 4].join(" , ");
    assert_eq!(Secrets::from_hex_list(&four).map(|s| s.len()), Some(4));
    for bad in [
        String::new(),
        ",".to_string(),
        format!("{A_SECRET},"),
        format!(",{A_SECRET}"),
        format!("{A_SECRET},,{A_SECRET}"),
        format!("{A_SECRET};{A_SECRET}"),
        format!("{A_SECRET},e5e9"),
        [A_SECRET; 5].join(","),
    ] {
        assert!(Secrets::from_hex_list(&bad).is_none(), "{bad}");
    }
    assert!(!format!("{one:?}").contains(A_SECRET));
}
