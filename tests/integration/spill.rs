//! Capacity spill over real sockets: the clients of a region that is down are spread over
//! the next healthy regions, each subnet always to the same one, and a spread answer's ECS
//! scope covers no more than the block its subnet was hashed on.

use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use meridian::config::Spill;
use meridian::explain::{Client, explain};
use meridian::health::{HealthSnapshot, RegionHealth};

use crate::all_down::down;
use crate::support::*;

/// Asks for `www` over UDP twice (the second reply from the cache), checks both say the
/// same, and that the handler's cached and full replies are the same bytes; the reply.
async fn www(server: &Server, qtype: RecordType, subnet: &str, prefix: u8) -> Message {
    let query = query_ecs("www.gtm.test", qtype, subnet, prefix);
    let [first, second] = server.udp_twice(&query).await;
    assert_eq!(
        (&first.answers, ecs_echo(&first)),
        (&second.answers, ecs_echo(&second)),
        "{subnet}/{prefix}: asked again"
    );
    let [full, filled, replayed] = server.full_filled_replayed(&query);
    assert_eq!((&full, &full), (&filled, &replayed), "{subnet}/{prefix}");
    first
}

fn scope(reply: &Message) -> u8 {
    ecs_echo(reply)
        .unwrap_or_else(|| panic!("no ECS echo in {reply}"))
        .scope_prefix()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_answer_is_scoped_to_the_hashed_block() {
    let server = Server::start(CITY).await;
    // Clients whose first region is ap-southeast: 202.196.224.0/20 (a /20 in the database),
    // 2001:218::/32 (IPv6, a /32). Both spill to ap-southeast-2 and us-west.
    let pool = ["ap-southeast-2", "us-west"];
    // (subnet, source prefix, question, scope before, scope while ap-southeast is down).
    let table = [
        // The database network is wider than /24: the spread answer holds for the /24.
        ("202.196.224.0", 24, RecordType::A, 20, 24),
        ("202.196.224.5", 32, RecordType::A, 20, 24),
        // A source prefix shorter than /24 is hashed whole: the scope stays within it.
        ("202.196.224.0", 22, RecordType::A, 20, 22),
        // IPv6: the /48 inside the database's /32.
        ("2001:218:1::", 56, RecordType::AAAA, 32, 48),
        ("2001:218:1::", 56, RecordType::A, 32, 48),
        ("2001:218::", 40, RecordType::AAAA, 32, 40),
    ];
    for (subnet, prefix, qtype, before, _) in table {
        let reply = www(&server, qtype, subnet, prefix).await;
        assert_eq!(region_of(&reply), "ap-southeast", "{subnet}/{prefix}");
        assert_eq!(scope(&reply), before, "{subnet}/{prefix}: before");
    }
    server.publish_health(HealthSnapshot::empty().with("ap-southeast", down()));
    for (subnet, prefix, qtype, _, spread) in table {
        let what = format!("{subnet}/{prefix} {qtype}");
        let reply = www(&server, qtype, subnet, prefix).await;
        assert!(pool.contains(&region_of(&reply)), "{what}: {reply}");
        assert_eq!(reply.answers[0].ttl, 30, "{what}");
        assert_eq!(scope(&reply), spread, "{what}");
        // explain tells the same story.
        let net = format!("{subnet}/{prefix}").parse().unwrap();
        let report = explain(
            &server.view(),
            Client::Subnet(net),
            "www.gtm.test",
            &qtype.to_string(),
        )
        .unwrap();
        assert_eq!(report.chosen.as_deref(), Some(region_of(&reply)), "{what}");
        assert_eq!(report.ecs_scope, Some(spread), "{what}");
        let steering = report.steering.as_ref().unwrap();
        let spread_report = steering.spread.as_ref().unwrap();
        assert_eq!(steering.route, "spread", "{what}");
        // In the client's order (us-west is nearer than ap-southeast-2 to 2001:218::/32).
        let mut regions: Vec<&str> = spread_report
            .regions
            .iter()
            .map(|share| share.region.as_str())
            .collect();
        regions.sort_unstable();
        assert_eq!(regions, pool, "{what}");
        assert!(spread_report.point < spread_report.total, "{what}");
        assert!(report.to_string().contains("spread     "), "{what}");
    }
    // A client whose database network is narrower than /24 keeps its scope: London (/31).
    server.publish_health(HealthSnapshot::empty().with("eu-west", down()));
    let london = www(&server, RecordType::A, "81.2.69.142", 32).await;
    assert!(["us-east", "us-west"].contains(&region_of(&london)));
    assert_eq!(scope(&london), 31);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subnet_keeps_its_region_and_the_spread_reaches_both() {
    let server = Server::start(CITY).await;
    server.publish_health(HealthSnapshot::empty().with("ap-southeast", down()));
    let mut seen = Vec::new();
    // The sixteen /24s of 202.196.224.0/20: one database network, one order, spread apart.
    for third in 224..240 {
        let subnet = format!("202.196.{third}.0");
        let region = region_of(&www(&server, RecordType::A, &subnet, 24).await);
        // Any address of the /24, as its own /32, goes the same way.
        let host = format!("202.196.{third}.77");
        assert_eq!(
            region_of(&www(&server, RecordType::A, &host, 32).await),
            region,
            "{host}"
        );
        seen.push(region);
    }
    assert!(
        seen.contains(&"ap-southeast-2") && seen.contains(&"us-west"),
        "{seen:?}"
    );
    assert!(
        seen.iter()
            .all(|region| ["ap-southeast-2", "us-west"].contains(region))
    );

    // A region of the pool going down takes no spill: the next healthy one takes its place.
    server.publish_health(
        HealthSnapshot::empty()
            .with("ap-southeast", down())
            .with("us-west", down()),
    );
    for third in 224..240 {
        let subnet = format!("202.196.{third}.0");
        let region = region_of(&www(&server, RecordType::A, &subnet, 24).await);
        assert!(
            ["ap-southeast-2", "eu-west"].contains(&region),
            "{subnet}: {region}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearest_spill_sends_everyone_to_the_next_region_with_the_usual_scope() {
    let server = Server::start_with(&geo_db(CITY), |config| {
        config.answer.spill = Spill::Nearest;
    })
    .await;
    server.publish_health(HealthSnapshot::empty().with("ap-southeast", down()));
    for third in 224..240 {
        let subnet = format!("202.196.{third}.0");
        let reply = www(&server, RecordType::A, &subnet, 24).await;
        assert_eq!(region_of(&reply), "ap-southeast-2", "{subnet}");
        // No hash involved: the database network's /20.
        assert_eq!(scope(&reply), 20, "{subnet}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spread_to_a_region_in_transition_gets_the_transition_ttl() {
    let server = Server::start(CITY).await;
    let moving = RegionHealth {
        up: true,
        reason: "test: just came back".to_string(),
        transition: true,
    };
    server.publish_health(
        HealthSnapshot::empty()
            .with("ap-southeast", down())
            .with("us-west", moving),
    );
    for third in 224..240 {
        let subnet = format!("202.196.{third}.0");
        let reply = www(&server, RecordType::A, &subnet, 24).await;
        let expected = if region_of(&reply) == "us-west" {
            5
        } else {
            30
        };
        assert_eq!(reply.answers[0].ttl, expected, "{subnet}: {reply}");
    }
}
