//! Rules 1 to 3: drain, force-up and the self-report, against each other and the votes.

use super::*;
use Vote::{Down, Up};

const UNHEALTHY: &str = "no capacity: 1 of 4 backends healthy";

/// a, b and c all vote the same about a: `down_votes` of them Down.
fn votes_about_a(down_votes: usize) -> Election {
    let mut election = Election::new(&["a", "b", "c"]);
    for (index, prober) in ["a", "b", "c"].into_iter().enumerate() {
        let vote = if index < down_votes { Down } else { Up };
        election = election.vote(prober, &[("a", vote), ("b", Up), ("c", Up)]);
    }
    election
}

#[test]
fn every_operator_state_against_every_self_report_and_vote() {
    let operators = [Operator::None, Operator::Drained, Operator::ForcedUp];
    let reports = [
        SelfReport::Healthy,
        SelfReport::Unhealthy(UNHEALTHY.to_string()),
        SelfReport::Unknown,
    ];
    for operator in operators {
        for report in &reports {
            for down_votes in [0, 1, 2, 3] {
                let election = votes_about_a(down_votes)
                    .operator("a", operator)
                    .report("a", report.clone());
                let got = election.verdict("b", "a");
                let (up, reason) = match (operator, report) {
                    (Operator::Drained, _) => (false, "drained".to_string()),
                    (Operator::ForcedUp, _) => (true, "forced up".to_string()),
                    (Operator::None, SelfReport::Unhealthy(reason)) => {
                        (false, format!("reports itself unhealthy: {reason}"))
                    }
                    (Operator::None, _) => (
                        down_votes < 2,
                        format!("{down_votes} of 3 vantage points vote down"),
                    ),
                };
                let case = format!("{operator:?}, {report:?}, {down_votes} down votes");
                assert_eq!(got.up, up, "{case}");
                assert_eq!(got.reason, reason, "{case}");
                // The votes are shown whatever decided.
                let probers = ["a", "b", "c"];
                assert_eq!(got.down_votes, names(&probers[..down_votes]), "{case}");
                assert_eq!(got.up_votes, names(&probers[down_votes..]), "{case}");
            }
        }
    }
}

#[test]
fn a_drain_takes_a_region_every_prober_sees_up_out() {
    let election = votes_about_a(0)
        .operator("a", Operator::Drained)
        .report("a", SelfReport::Healthy);
    assert_eq!(
        election.verdict("a", "a"),
        verdict(false, "drained", &[], &["a", "b", "c"])
    );
}

#[test]
fn force_up_overrides_down_votes_and_an_unhealthy_self_report() {
    let election = votes_about_a(3)
        .operator("a", Operator::ForcedUp)
        .report("a", SelfReport::Unhealthy(UNHEALTHY.to_string()));
    assert_eq!(
        election.verdict("b", "a"),
        verdict(true, "forced up", &["a", "b", "c"], &[])
    );
}

#[test]
fn an_unhealthy_self_report_takes_a_region_out_that_every_prober_sees_up() {
    let election = votes_about_a(0).report("a", SelfReport::Unhealthy(UNHEALTHY.to_string()));
    assert_eq!(
        election.verdict("b", "a"),
        verdict(
            false,
            "reports itself unhealthy: no capacity: 1 of 4 backends healthy",
            &[],
            &["a", "b", "c"]
        )
    );
}

#[test]
fn a_healthy_self_report_does_not_outvote_the_probers() {
    let election = votes_about_a(2).report("a", SelfReport::Healthy);
    assert!(!election.verdict("c", "a").up);
}

#[test]
fn operator_and_self_report_decide_even_with_no_vantage_point() {
    let previous = Verdicts::empty().with("a", verdict(true, "forced up", &[], &[]));
    let drained = Election::new(&["a", "b"]).operator("a", Operator::Drained);
    let outcome = drained.decide_after("b", &previous);
    assert_eq!(
        outcome.verdicts.get("a"),
        Some(&verdict(false, "drained", &[], &[]))
    );
    let unhealthy = Election::new(&["a", "b"]).report("a", SelfReport::Unhealthy("x".to_string()));
    assert!(!unhealthy.decide("b").verdicts.get("a").unwrap().up);
    let previous = Verdicts::empty().with("a", verdict(false, "drained", &[], &[]));
    let forced = Election::new(&["a", "b"]).operator("a", Operator::ForcedUp);
    let outcome = forced.decide_after("b", &previous);
    assert_eq!(
        outcome.verdicts.get("a"),
        Some(&verdict(true, "forced up", &[], &[]))
    );
}

#[test]
fn a_missing_operator_state_and_self_report_decide_nothing() {
    assert_eq!(Operator::default(), Operator::None);
    let election = votes_about_a(1);
    assert_eq!(
        election.verdict("a", "a"),
        verdict(true, "1 of 3 vantage points vote down", &["a"], &["b", "c"])
    );
}
