//! 300+ findings from 3 accounts x 2 regions and both sources, through the
//! real forwarder and collector: each lands once in S3 and once in the
//! index with its network context; redelivery adds nothing; an older update
//! never replaces a newer one.

use std::collections::{BTreeMap, BTreeSet};

use fanin_devstack::scenario::{self, InstanceFacts, LocalStack};
use serde_json::{Value, json};

use crate::{documents_by_uid, mapping};

const ACCOUNTS: [&str; 3] = ["111111111111", "222222222222", "333333333333"];
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
const INSTANCES: usize = 6;
const CLASSIC_PER_INSTANCE: usize = 3;
const INSPECTOR2_PER_INSTANCE: usize = 5;
const UPDATED: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn findings_from_every_account_and_region_land_exactly_once() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &ACCOUNTS, &REGIONS)
        .await
        .unwrap();
    let central = deployed.central.clone();
    let mut instances: BTreeMap<String, InstanceFacts> = BTreeMap::new();
    let mut expected_classic = BTreeSet::new();
    let mut expected_inspector2 = BTreeMap::new();
    for account in ACCOUNTS {
        for region in REGIONS {
            let facts = scenario::create_workloads(&stack, account, region, INSTANCES)
                .await
                .unwrap();
            expected_classic.extend(
                scenario::run_classic(&stack, &deployed, account, region, CLASSIC_PER_INSTANCE)
                    .await
                    .unwrap(),
            );
            let mut events =
                scenario::inspector2_fleet_findings(&facts, INSPECTOR2_PER_INSTANCE, UPDATED);
            events.push(scenario::inspector2_serverless_finding(
                account, region, "ecr", UPDATED,
            ));
            events.push(scenario::inspector2_serverless_finding(
                account, region, "lambda", UPDATED,
            ));
            for event in &events {
                expected_inspector2.insert(
                    event["findingArn"].as_str().unwrap().to_owned(),
                    event.clone(),
                );
            }
            scenario::emit_inspector2(&stack, account, region, &events)
                .await
                .unwrap();
            instances.extend(facts.into_iter().map(|f| (f.instance_id.clone(), f)));
        }
    }
    let expected_total = expected_classic.len() + expected_inspector2.len();
    assert_eq!(
        expected_classic.len(),
        ACCOUNTS.len() * REGIONS.len() * INSTANCES * CLASSIC_PER_INSTANCE
    );
    assert!(expected_total >= 300, "{expected_total}");

    let mut collector = scenario::start_collector(&stack, &deployed).await.unwrap();
    let esm = mapping(&stack, &deployed).await;
    let first = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(first.failures_reported, 0, "{first:?}");

    // Every finding is in S3 exactly once...
    let archived = scenario::archived_records(&stack, &central).await.unwrap();
    let mut archived_count: BTreeMap<String, usize> = BTreeMap::new();
    for (_, record) in &archived {
        *archived_count
            .entry(record["finding_info"]["uid"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(archived.len(), expected_total, "archived records");
    assert!(archived_count.values().all(|&n| n == 1));
    let expected_uids: BTreeSet<String> = expected_classic
        .iter()
        .cloned()
        .chain(expected_inspector2.keys().cloned())
        .collect();
    assert_eq!(
        archived_count.keys().cloned().collect::<BTreeSet<_>>(),
        expected_uids
    );
    // ...under validated Hive-style keys...
    for (key, record) in &archived {
        let prefix = format!(
            "findings/classUid={}/region={}/accountId={}/eventDay=",
            record["class_uid"],
            record["cloud"]["region"].as_str().unwrap(),
            record["cloud"]["account"]["uid"].as_str().unwrap()
        );
        assert!(
            key.starts_with(&prefix) && key.ends_with(".json.gz"),
            "{key}"
        );
    }
    // ...and in the latest-state index exactly once, with its network context.
    let documents = scenario::indexed_documents(&stack, &central).await.unwrap();
    assert_eq!(documents.len(), expected_total, "indexed documents");
    let by_uid = documents_by_uid(&stack, &central).await;
    assert_eq!(by_uid.len(), expected_total);
    for (uid, document) in &by_uid {
        check_document(uid, document, &instances);
    }
    assert_eq!(
        scenario::quarantined(&stack, &central).await.unwrap().len(),
        0
    );
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);

    // Every document validates as OCSF with an independent reader.
    let all: Vec<Value> = documents.iter().map(|(_, d)| d.clone()).collect();
    let report = fanin_tests::validate_ocsf(&all).unwrap();
    assert!(
        report.contains(&format!("{expected_total} valid, 0 invalid")),
        "{report}"
    );

    // Redelivering every message adds no document and no object.
    let keys_before = scenario::bucket_keys(&stack, &central, "").await.unwrap();
    let bodies: Vec<String> = first.delivered.values().cloned().collect();
    assert_eq!(bodies.len(), expected_total, "one message per finding");
    scenario::send_raw(&stack, &central, &bodies).await.unwrap();
    let again = esm
        .drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    assert_eq!(again.messages_delivered, bodies.len());
    assert_eq!(
        scenario::bucket_keys(&stack, &central, "").await.unwrap(),
        keys_before
    );
    assert_eq!(documents_by_uid(&stack, &central).await, by_uid);

    // A newer update replaces the document; an older one arriving later does not.
    let (arn, original) = expected_inspector2
        .iter()
        .find(|(_, e)| {
            e["type"] == "PACKAGE_VULNERABILITY" && e["resources"][0]["type"] == "AWS_EC2_INSTANCE"
        })
        .unwrap();
    let account = original["awsAccountId"].as_str().unwrap();
    let region = original["resources"][0]["region"].as_str().unwrap();
    let mut newer = original.clone();
    newer["updatedAt"] = json!("2026-03-01T00:00:00.000Z");
    newer["status"] = json!("CLOSED");
    let mut older = original.clone();
    older["updatedAt"] = json!("Feb 1, 2026, 12:00:00 PM");
    scenario::emit_inspector2(&stack, account, region, &[newer])
        .await
        .unwrap();
    esm.drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    scenario::emit_inspector2(&stack, account, region, &[older])
        .await
        .unwrap();
    esm.drain(&mut collector, scenario::DRAIN_LIMIT)
        .await
        .unwrap();
    let latest = documents_by_uid(&stack, &central).await;
    assert_eq!(latest.len(), expected_total);
    assert_eq!(
        latest[arn]["finding_info"]["modified_time_dt"],
        "2026-03-01T00:00:00.000Z"
    );
    assert_eq!(
        (
            latest[arn]["status"].as_str(),
            latest[arn]["activity_name"].as_str()
        ),
        (Some("Resolved"), Some("Close"))
    );
}

/// The document carries the account, region and network context of its instance.
fn check_document(uid: &str, document: &Value, instances: &BTreeMap<String, InstanceFacts>) {
    let fanin = &document["unmapped"]["fanin"];
    let status = fanin["enrichment"]["status"].as_str().unwrap();
    let Some(instance_id) = document["device"]["instance_uid"].as_str() else {
        assert_eq!(
            status, "not_applicable",
            "{uid}: a finding without an instance"
        );
        return;
    };
    let facts = &instances[instance_id];
    assert_eq!(status, "enriched", "{uid}");
    assert_eq!(
        document["cloud"]["account"]["uid"],
        facts.account.as_str(),
        "{uid}"
    );
    assert_eq!(document["cloud"]["region"], facts.region.as_str(), "{uid}");
    assert_eq!(
        document["device"]["vpc_uid"],
        facts.vpc_id.as_str(),
        "{uid}"
    );
    assert_eq!(
        document["device"]["subnet_uid"],
        facts.subnet_id.as_str(),
        "{uid}"
    );
    assert_eq!(document["device"]["ip"], facts.private_ip.as_str(), "{uid}");
    let network = &fanin["network"];
    assert_eq!(network["observed_from"], "ec2");
    assert_eq!(
        network["private_ips"][0],
        facts.private_ip.as_str(),
        "{uid}"
    );
    let public: Vec<&str> = network["public_ips"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(
        public,
        facts
            .public_ip
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "{uid}"
    );
    let groups: Vec<&str> = network["security_groups"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|g| g["group_id"].as_str())
        .collect();
    assert_eq!(
        groups,
        facts
            .security_group_ids
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
        "{uid}"
    );
    let open: BTreeSet<(String, i64, i64)> = network["internet_open_ports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["protocol"].as_str().unwrap().to_owned(),
                p["from_port"].as_i64().unwrap(),
                p["to_port"].as_i64().unwrap(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, i64, i64)> = facts
        .internet_open_ports
        .iter()
        .map(|(p, f, t)| (p.clone(), i64::from(*f), i64::from(*t)))
        .collect();
    assert_eq!(open, expected, "{uid}");
    assert_eq!(
        network["internet_exposed"],
        json!(facts.public_ip.is_some()),
        "{uid}"
    );
}
