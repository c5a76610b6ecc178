//! Unused exposure end to end, as issue 11 lists it: fanin deployed by its
//! StackSets (the flow-log bucket, its notifications, the queue, the
//! function and its permissions), the exposure world's flow logs (default
//! format with a malformed line, custom version 5, Parquet) notified by S3
//! and aggregated by the hosted `fanin-exposure`, a critical vulnerability
//! finding on one instance, the scheduled evaluation through the read roles
//! and CloudTrail's history, and the collector storing the records. Asserted
//! on what a user checks: the aggregates in the archive and the index, the
//! malformed line set aside with its object and line number, and one OCSF
//! Compliance Finding per internet-open rule, in S3 and the index, whose
//! state is the one the world's traffic gives.

use std::collections::BTreeMap;

use fanin_devstack::exposure_scene;
use fanin_devstack::scenario::{self, LocalStack};
use serde_json::Value;

const APPS: [&str; 1] = ["111111111111"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_internet_open_rule_is_judged_by_its_traffic_and_stored_once() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &APPS, &REGIONS)
        .await
        .unwrap();
    let scene = exposure_scene::play(&stack, &deployed).await.unwrap();
    let world = scene.world.clone().unwrap();
    let central = &deployed.central;

    // Ingest: one aggregate object per flow-log object, documents indexed,
    // the malformed line set aside with its object and line number.
    assert!(scene.objects >= 4, "{scene:?}");
    assert_eq!(scene.aggregate_objects, scene.objects, "{scene:?}");
    assert!(scene.aggregates_indexed > 0);
    assert!(world.malformed_lines >= 1);
    let set_aside: Vec<(String, Value)> = scenario::quarantined(&stack, central)
        .await
        .unwrap()
        .into_iter()
        .filter(|(key, _)| key.starts_with("quarantine/reason=flowlog_malformed/"))
        .collect();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let (_, listing) = &set_aside[0];
    assert!(
        world
            .objects
            .iter()
            .any(|key| listing["key"].as_str() == Some(key)),
        "the listing names a world object: {listing}"
    );
    assert_eq!(
        listing["malformed_lines"].as_u64(),
        Some(world.malformed_lines as u64)
    );
    assert!(
        listing["lines"][0]["line"].as_u64().unwrap() > 1,
        "{listing}"
    );

    // The evaluation judged exactly the world's rules.
    let mut expected_states: BTreeMap<String, usize> = BTreeMap::new();
    for rule in &world.expected {
        *expected_states.entry(rule.state.to_owned()).or_default() += 1;
    }
    assert_eq!(scene.by_state, expected_states, "{}", scene.evaluation);
    assert_eq!(scene.records, world.expected.len(), "{}", scene.evaluation);

    // The collector stores each record as one Compliance Finding.
    scenario::collect(&stack, &deployed).await.unwrap();
    let indexed: Vec<Value> = scenario::indexed_in(&stack, central, "compliance")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, document)| document)
        .filter(|document| document["unmapped"]["exposure"].is_object())
        .collect();
    let archived: Vec<Value> = scenario::archived_records(&stack, central)
        .await
        .unwrap()
        .into_iter()
        .filter(|(key, _)| key.contains("classUid=2003/"))
        .map(|(_, record)| record)
        .filter(|record| record["unmapped"]["exposure"].is_object())
        .collect();
    assert_eq!(indexed.len(), world.expected.len());
    assert_eq!(archived.len(), world.expected.len());
    let by_rule = |documents: &[Value]| -> BTreeMap<String, Value> {
        documents
            .iter()
            .map(|d| {
                (
                    d["unmapped"]["exposure"]["rule_id"]
                        .as_str()
                        .unwrap()
                        .to_owned(),
                    d.clone(),
                )
            })
            .collect()
    };
    let (indexed, archived) = (by_rule(&indexed), by_rule(&archived));
    for rule in &world.expected {
        let at = format!(
            "{}/{} {} {} {}-{} {} ({})",
            rule.region,
            rule.group_name,
            rule.rule_id,
            rule.protocol,
            rule.from_port,
            rule.to_port,
            rule.cidr,
            rule.why
        );
        for (store, documents) in [("index", &indexed), ("archive", &archived)] {
            let document = documents
                .get(&rule.rule_id)
                .unwrap_or_else(|| panic!("{at}: no finding in the {store}"));
            let exposure = &document["unmapped"]["exposure"];
            assert_eq!(exposure["state"], rule.state, "{at} in the {store}");
            assert_eq!(exposure["group_id"], rule.group_id.as_str(), "{at}");
            assert_eq!(document["class_uid"], 2003, "{at}");
            assert_eq!(document["cloud"]["account"]["uid"], rule.account.as_str());
            assert_eq!(document["cloud"]["region"], rule.region.as_str());
            let compliance_status = document["compliance"]["status_id"].as_u64();
            match rule.state {
                "used" => assert_eq!(compliance_status, Some(1), "{at}: pass"),
                "unused" | "used_internally" => {
                    assert_eq!(compliance_status, Some(3), "{at}: fail")
                }
                other => panic!("{at}: the world expects {other}"),
            }
        }
    }

    // The unused open ports of the instance with a critical vulnerability
    // rank first: Critical, linked to the vulnerability finding, and above
    // every other finding's risk score.
    let risk = |d: &Value| d["unmapped"]["exposure"]["risk_score"].as_u64().unwrap();
    let on_vulnerable: Vec<&Value> = indexed
        .values()
        .filter(|d| {
            d["unmapped"]["exposure"]["state"] != "used"
                && d["resources"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|r| r["uid"] == scene.vulnerable_instance.as_str())
        })
        .collect();
    assert!(!on_vulnerable.is_empty(), "an unused rule on the instance");
    let lowest_first_rank = on_vulnerable.iter().map(|d| risk(d)).min().unwrap();
    for document in &on_vulnerable {
        assert_eq!(document["severity_id"], 5, "{document}");
        assert!(
            !document["finding_info"]["related_events"]
                .as_array()
                .unwrap()
                .is_empty(),
            "linked to the vulnerability finding: {document}"
        );
    }
    for document in indexed.values() {
        if !on_vulnerable.contains(&document) {
            assert!(risk(document) < lowest_first_rank, "{document}");
        }
    }

    // Nothing else set aside, nothing dead-lettered.
    let other_quarantine: Vec<String> = scenario::quarantined(&stack, central)
        .await
        .unwrap()
        .into_iter()
        .map(|(key, _)| key)
        .filter(|key| !key.starts_with("quarantine/reason=flowlog_malformed/"))
        .collect();
    assert!(other_quarantine.is_empty(), "{other_quarantine:?}");
    assert_eq!(scenario::dlq_depth(&stack, central).await.unwrap(), 0);
}
