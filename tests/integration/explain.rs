//! The explain report tells what the server really answers: response code, records, TTL and
//! the ECS scope, for steered names, static records, errors and ANY.

use hickory_proto::rr::RecordType;
use meridian::explain::{Client, explain};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_matches_the_servers_replies() {
    let server = Server::start(CITY).await;
    let subnets = [
        "81.2.69.0/24",
        "216.160.83.0/24",
        "214.0.0.0/16",
        "175.16.199.0/24",
        "2001:218::/32",
        "10.1.2.0/24",
        "1.128.0.0/16",
    ];
    let questions = [
        ("www.gtm.test", "A"),
        ("www.gtm.test", "AAAA"),
        ("www.gtm.test", "ANY"),
        ("www.gtm.test", "MX"),
        ("gtm.test", "MX"),
        ("gtm.test", "SOA"),
        ("nope.gtm.test", "A"),
        ("example.com", "A"),
    ];
    compare(&server, &subnets, &questions, "all up").await;
}

/// The report against the server's replies for `questions` from `subnets`.
async fn compare(server: &Server, subnets: &[&str], questions: &[(&str, &str)], state: &str) {
    for subnet in subnets {
        let net: ipnet::IpNet = subnet.parse().unwrap();
        for (name, rtype) in questions {
            let qtype: RecordType = rtype.parse().unwrap();
            let view = server.view();
            let report = explain(&view, Client::Subnet(net), name, rtype).unwrap();
            let reply = server
                .udp(&query_ecs(
                    name,
                    qtype,
                    &net.addr().to_string(),
                    net.prefix_len(),
                ))
                .await;
            let what = format!("{state}: {name} {rtype} from {subnet}");
            let code = format!("{:?}", reply.metadata.response_code).to_ascii_uppercase();
            assert_eq!(report.response_code, code, "{what}");
            assert_eq!(report.authoritative, reply.metadata.authoritative, "{what}");
            let answers: Vec<String> = reply.answers.iter().map(ToString::to_string).collect();
            assert_eq!(report.answers, answers, "{what}");
            let authority: Vec<String> =
                reply.authorities.iter().map(ToString::to_string).collect();
            assert_eq!(report.authority, authority, "{what}");
            assert_eq!(report.ttl, reply.answers.first().map(|r| r.ttl), "{what}");
            let scope = ecs_echo(&reply).map(|echo| echo.scope_prefix());
            assert_eq!(report.ecs_scope, scope, "{what}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_matches_the_server_while_regions_are_down() {
    use crate::all_down::{down, every_region, fallback, start_with_policy};
    use meridian::config::AllDown;
    use meridian::health::RegionHealth;

    let subnets = ["81.2.69.0/24", "2001:218::/32", "175.16.199.0/24"];
    let questions = [
        ("www.gtm.test", "A"),
        ("www.gtm.test", "AAAA"),
        ("app.gtm.test", "A"),
        ("api.gtm.test", "A"),
    ];
    let moving = |up| RegionHealth {
        up,
        reason: "test: moving".to_string(),
        transition: true,
    };
    for policy in [
        AllDown::FailOpen,
        fallback(&["192.0.2.10"]),
        AllDown::NoData,
        AllDown::ServFail,
    ] {
        let name = policy.name();
        let server = start_with_policy(policy).await;
        let all_down = every_region(&server, &down());
        server.publish_health(all_down.clone());
        compare(&server, &subnets, &questions, &format!("{name}, all down")).await;
        let report = explain(
            &server.view(),
            Client::Subnet("81.2.69.0/24".parse().unwrap()),
            "www.gtm.test",
            "A",
        )
        .unwrap();
        let steering = report.steering.as_ref().unwrap();
        assert_eq!(
            (steering.route, steering.all_down),
            ("all-down", Some(name))
        );
        assert_eq!(report.fail_open, name == "fail-open");
        assert!(
            report
                .to_string()
                .contains(&format!("all_down = \"{name}\""))
        );

        // One region back, in transition: answers from it get the transition TTL.
        server.publish_health(
            all_down
                .with("us-east", moving(true))
                .with("eu-west", moving(false)),
        );
        compare(
            &server,
            &subnets,
            &questions,
            &format!("{name}, one moving"),
        )
        .await;
    }
}

#[test]
fn clients_are_addresses_or_subnets() {
    assert_eq!(
        "81.2.69.142".parse::<Client>().unwrap(),
        Client::Address("81.2.69.142".parse().unwrap())
    );
    assert_eq!(
        "81.2.69.142/24".parse::<Client>().unwrap(),
        Client::Subnet("81.2.69.0/24".parse().unwrap())
    );
    let error = "somewhere".parse::<Client>().unwrap_err().to_string();
    assert!(
        error.contains("somewhere") && error.contains("subnet"),
        "{error}"
    );
}
