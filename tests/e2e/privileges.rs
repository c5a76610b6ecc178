//! Least privilege end to end, as issue 12 lists it: fanin deployed by its
//! StackSets (the trail bucket, its notifications, the queue, the function
//! and the read role's one extra action), the privileges world's IAM users,
//! groups, roles and policies in two application accounts, their calls
//! written as the organization trail writes them and aggregated by the
//! hosted `fanin-privileges`, the scheduled evaluation through the read
//! roles, and the collector storing the records. Asserted on what a user
//! checks: the usage in the archive and the index, and one OCSF Compliance
//! Finding per principal, in S3 and the index, whose used, unused and
//! used-but-not-granted actions are the ones the world's calls and policies
//! give (wildcards, a `Deny`, an assumed-role session, a denied attempt, an
//! event name that differs from its action, a call made through a service),
//! the role trusted from outside the organization ranked first.

use std::collections::BTreeSet;

use fanin_devstack::privileges_scene;
use fanin_devstack::scenario::{self, LocalStack};
use serde_json::Value;

const APPS: [&str; 2] = ["111111111111", "222222222222"];
const REGIONS: [&str; 1] = ["us-east-1"];

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item.as_str().map(str::to_owned))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_principal_is_judged_by_its_calls_and_stored_once() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &APPS, &REGIONS)
        .await
        .unwrap();
    let scene = privileges_scene::play(&stack, &deployed).await.unwrap();
    let central = &deployed.central;

    // Ingest: one usage object per trail object, documents indexed, nothing
    // set aside.
    assert!(scene.objects >= 3, "{scene:?}");
    assert_eq!(scene.usage_objects, scene.objects, "{scene:?}");
    assert!(scene.usage_indexed > 0, "{scene:?}");
    assert!(
        scenario::quarantined(&stack, central)
            .await
            .unwrap()
            .is_empty(),
        "nothing is set aside"
    );
    assert_eq!(
        scene.evaluation["accounts"].as_u64(),
        Some(2),
        "{}",
        scene.evaluation
    );

    // The collector stores each record as one Compliance Finding.
    scenario::collect(&stack, &deployed).await.unwrap();
    let indexed: Vec<Value> = scenario::indexed_in(&stack, central, "compliance")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, document)| document)
        .filter(|document| document["unmapped"]["privileges"].is_object())
        .collect();
    let archived: Vec<Value> = scenario::archived_records(&stack, central)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, record)| record)
        .filter(|record| record["unmapped"]["privileges"].is_object())
        .collect();
    assert_eq!(indexed.len(), scene.records, "{}", scene.evaluation);
    assert_eq!(archived.len(), scene.records, "{}", scene.evaluation);
    let principals: BTreeSet<String> = indexed
        .iter()
        .map(|d| {
            d["unmapped"]["privileges"]["principal_arn"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(principals.len(), indexed.len(), "one finding per principal");

    for expected in &scene.expected {
        let found: Vec<&Value> = indexed
            .iter()
            .filter(|d| d["unmapped"]["privileges"]["principal_arn"] == expected.principal_arn)
            .collect();
        assert_eq!(found.len(), 1, "{}", expected.principal_arn);
        let document = found[0];
        let details = &document["unmapped"]["privileges"];
        assert_eq!(document["class_uid"], 2003);
        assert_eq!(
            strings(&details["used_actions"]),
            set(&expected.used),
            "{}: used\n{details}",
            expected.principal_arn
        );
        // The finding lists the first 100 unused actions, sorted, and counts
        // them all: an expected one sorted past a full list is not listed.
        let unused = strings(&details["unused_actions"]);
        let listed_all = unused.len() < 100;
        let last = unused.iter().next_back().cloned().unwrap_or_default();
        assert_eq!(
            details["unused_count"].as_u64().unwrap() as usize == unused.len(),
            listed_all,
            "{}",
            expected.principal_arn
        );
        for action in &expected.unused_includes {
            assert!(
                unused.contains(*action) || (!listed_all && **action > *last),
                "{}: {action} unused",
                expected.principal_arn
            );
        }
        for action in &expected.not_granted {
            assert!(
                !unused.contains(*action) && !strings(&details["used_actions"]).contains(*action),
                "{}: {action} is not granted",
                expected.principal_arn
            );
        }
        let not_granted: BTreeSet<String> = details["used_not_granted"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["action"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(
            not_granted,
            set(&expected.used_not_granted),
            "{}: used but not granted",
            expected.principal_arn
        );
        assert_eq!(
            strings(&details["external_trust"]),
            expected
                .external_trust
                .iter()
                .cloned()
                .collect::<BTreeSet<_>>(),
            "{}",
            expected.principal_arn
        );
        assert_eq!(
            document["compliance"]["status"], "Fail",
            "{}: unused permissions",
            expected.principal_arn
        );
        assert_eq!(details["judged"], true);
    }

    // The role trusted from outside the organization ranks first.
    let outsider = scene
        .expected
        .iter()
        .find(|e| !e.external_trust.is_empty())
        .unwrap();
    let top = indexed
        .iter()
        .max_by_key(|d| d["unmapped"]["privileges"]["risk_score"].as_i64())
        .unwrap();
    assert_eq!(
        top["unmapped"]["privileges"]["principal_arn"], outsider.principal_arn,
        "the externally trusted role ranks first"
    );

    // Both accounts were judged: the second's `ci` user, which made no call,
    // has everything unused.
    let ci = format!("arn:aws:iam::{}:user/ci", scene.second_account);
    let ci = indexed
        .iter()
        .find(|d| d["unmapped"]["privileges"]["principal_arn"] == ci)
        .expect("the second account's user is judged");
    assert_eq!(
        strings(&ci["unmapped"]["privileges"]["unused_actions"]),
        set(&["lambda:GetFunction", "lambda:UpdateFunctionCode"])
    );
    assert!(strings(&ci["unmapped"]["privileges"]["used_actions"]).is_empty());
}
