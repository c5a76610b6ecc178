//! GuardDuty, the third source, through the deployed wiring: findings
//! published on the administrator's (the central account's) default bus in
//! each region reach the central queue through the templates' rules, are
//! stored once as OCSF Detection Findings in `<prefix>-detections` and under
//! `findings/classUid=2004/`, with the member's network context; a delivery
//! by an account that is neither the finding's nor an administrator is set
//! aside.

use std::collections::BTreeSet;

use fanin_devstack::scenario::{self, LocalStack};
use serde_json::{Value, json};

const MEMBER: &str = "111111111111";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guardduty_findings_are_detections_with_their_network_context() {
    let stack = LocalStack::start().await.unwrap();
    let deployed = fanin_devstack::deployment::deploy(&stack, &[MEMBER], &REGIONS)
        .await
        .unwrap();
    let central = deployed.central.clone();
    let updated = chrono::Utc::now().timestamp() - 600;
    let mut expected = BTreeSet::new();
    let mut exposed = BTreeSet::new();
    for region in REGIONS {
        let facts = scenario::create_workloads(&stack, MEMBER, region, 2)
            .await
            .unwrap();
        let findings: Vec<Value> = facts
            .iter()
            .map(|instance| scenario::guardduty_ec2_finding(instance, 3, updated))
            .collect();
        for (finding, instance) in findings.iter().zip(&facts) {
            let arn = finding["arn"].as_str().unwrap().to_owned();
            if !instance.internet_open_ports.is_empty() {
                exposed.insert(arn.clone());
            }
            expected.insert(arn);
        }
        scenario::emit_guardduty(&stack, scenario::CENTRAL_ACCOUNT, region, &findings)
            .await
            .unwrap();
    }
    // The same finding delivered by an account that is not an administrator.
    let forged_detail = scenario::guardduty_ec2_finding(
        &scenario::create_workloads(&stack, MEMBER, REGIONS[0], 1)
            .await
            .unwrap()[0],
        1,
        updated,
    );
    let forged = json!({
        "version": "0", "id": "0d9f4a52-forged", "detail-type": "GuardDuty Finding",
        "source": "aws.guardduty", "account": "999999999999", "region": REGIONS[0],
        "time": "2026-11-30T00:00:00Z", "resources": [], "detail": forged_detail,
    });
    scenario::send_raw(&stack, &central, &[forged.to_string()])
        .await
        .unwrap();

    scenario::collect(&stack, &deployed).await.unwrap();

    let detections = scenario::indexed_detections(&stack, &central)
        .await
        .unwrap();
    let stored: BTreeSet<String> = detections
        .iter()
        .map(|(_, d)| d["finding_info"]["uid"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(stored, expected, "every finding once, the forged one not");
    assert!(
        scenario::indexed_documents(&stack, &central)
            .await
            .unwrap()
            .is_empty(),
        "nothing in the vulnerability index"
    );
    for (_, document) in &detections {
        let uid = document["finding_info"]["uid"].as_str().unwrap();
        assert_eq!(document["class_uid"], 2004);
        assert_eq!(document["cloud"]["account"]["uid"], MEMBER);
        assert_eq!(
            document["unmapped"]["fanin"]["enrichment"]["status"], "enriched",
            "{uid}"
        );
        assert_eq!(
            document["unmapped"]["fanin"]["network"]["internet_exposed"],
            json!(exposed.contains(uid)),
            "{uid}"
        );
    }
    let archived = scenario::archived_records(&stack, &central).await.unwrap();
    assert_eq!(archived.len(), expected.len());
    for (key, record) in &archived {
        assert!(
            key.starts_with(&format!(
                "findings/classUid=2004/region={}/accountId={MEMBER}/",
                record["cloud"]["region"].as_str().unwrap()
            )),
            "{key}"
        );
    }
    let reasons: Vec<String> = scenario::quarantined(&stack, &central)
        .await
        .unwrap()
        .iter()
        .map(|(_, o)| o["reason"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(reasons, ["event_account_mismatch"]);
    assert_eq!(scenario::dlq_depth(&stack, &central).await.unwrap(), 0);
}
