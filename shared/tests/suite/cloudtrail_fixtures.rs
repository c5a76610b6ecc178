//! The CloudTrail User Guide's record examples (tests/fixtures/cloudtrail/),
//! read and aggregated: who each record is attributed to, and the usage
//! documents a user would find in the index.

use fanin::privileges::principal::PrincipalKind;
use fanin::privileges::trail::{Actor, read_slice};
use fanin::privileges::usage::{Aggregator, Mapping, UsageStats};

fn fixture() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../tests/fixtures/cloudtrail/user-guide-records.json"
    ))
    .unwrap()
}

fn catalogue(action: &str) -> bool {
    [
        "ec2:StartInstances",
        "iam:CreateUser",
        "s3:ListBucket",
        "sqs:SendMessage",
    ]
    .contains(&action)
}

#[test]
fn every_published_identity_is_attributed_as_the_contract_says() {
    let bytes = fixture();
    let mut actors = Vec::new();
    read_slice(&bytes, |_, record| {
        let call = record.unwrap().call().unwrap();
        actors.push(match call.actor {
            Actor::Principal(p) => format!("{:?} {}", p.kind, p.arn),
            other => format!("{other:?}"),
        });
    })
    .unwrap();
    assert_eq!(
        actors,
        [
            "User arn:aws:iam::123456789012:user/Alice",
            "Role arn:aws:iam::123456789012:role/RoleToBeAssumed",
            "Service",
            "FederatedUser arn:aws:sts::123456789012:federated-user/Bob",
            "NotAnApiCall",
            "User arn:aws:iam::123456789012:user/Alice",
        ]
    );
}

#[test]
fn the_published_records_aggregate_into_their_usage_documents() {
    let bytes = fixture();
    let mut aggregator = Aggregator::new(&catalogue);
    read_slice(&bytes, |index, record| aggregator.add(index, record)).unwrap();
    assert_eq!(
        aggregator.stats(),
        &UsageStats {
            records: 6,
            calls: 4,
            denied: 1,
            skipped_service: 1,
            skipped_not_action: 1,
            ..UsageStats::default()
        }
    );
    let documents =
        aggregator.documents(&"0".repeat(32), "123456789012", "us-east-2", "2014-03-06");
    let summary: Vec<(&str, PrincipalKind, &str, Mapping, u64, u64)> = documents
        .iter()
        .map(|d| {
            (
                d.principal_arn.as_str(),
                d.principal_kind,
                d.action.as_str(),
                d.mapping,
                d.count,
                d.denied,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            (
                "arn:aws:iam::123456789012:role/RoleToBeAssumed",
                PrincipalKind::Role,
                "s3:ListBucket",
                Mapping::Mapped,
                1,
                0
            ),
            (
                "arn:aws:iam::123456789012:user/Alice",
                PrincipalKind::User,
                "ec2:StartInstances",
                Mapping::Derived,
                1,
                0
            ),
            (
                "arn:aws:iam::123456789012:user/Alice",
                PrincipalKind::User,
                "iam:CreateUser",
                Mapping::Derived,
                1,
                1
            ),
            (
                "arn:aws:sts::123456789012:federated-user/Bob",
                PrincipalKind::FederatedUser,
                "sqs:SendMessage",
                Mapping::Mapped,
                1,
                0
            ),
        ]
    );
    let start = &documents[1];
    assert_eq!(start.first_seen, 1_394_140_974); // 2014-03-06T21:22:54Z
    assert_eq!(start.event_names, ["StartInstances"]);
}
