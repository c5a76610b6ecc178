//! Silent drop-out is noticed: fanin deployed for two accounts of an
//! organization, one account's Inspector2 rule deleted and the other's read
//! role; `fanin-coverage report` names exactly those gaps, the scheduled
//! Lambda publishes them as the CoverageGaps metric (embedded metric format
//! lines, as CloudWatch Logs receives them), and the account list
//! lands in the bucket in the shape the collector reads.

use fanin_devstack::coverage;
use fanin_devstack::deployment::{self, account_config};
use fanin_devstack::lambda_host::{LocalLambda, workspace_binary};
use fanin_devstack::scenario::{self, CENTRAL_ACCOUNT, LocalStack, PRIMARY_REGION};
use serde_json::{Value, json};

/// Never had Inspector Classic: no forwarder expected there.
const WITHOUT_CLASSIC: &str = "ca-central-1";
const INSTANCES: usize = 2;
const PER_INSTANCE: usize = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_rule_and_a_deleted_read_role_are_reported_and_alarmed() {
    let stack = LocalStack::start().await.unwrap();
    let organization = coverage::create_organization(&stack, &["rule-gone", "role-gone"])
        .await
        .unwrap();
    let rule_gone = organization.accounts["rule-gone"].clone();
    let role_gone = organization.accounts["role-gone"].clone();
    let deployed = deployment::deploy(
        &stack,
        &[rule_gone.as_str(), role_gone.as_str()],
        &[PRIMARY_REGION, WITHOUT_CLASSIC],
    )
    .await
    .unwrap();

    // Both accounts work first: recent Inspector2 findings reach the index,
    // and one Classic template is subscribed by the forwarder.
    let now = chrono::Utc::now().timestamp();
    for account in [&rule_gone, &role_gone] {
        let facts = scenario::create_workloads(&stack, account, PRIMARY_REGION, INSTANCES)
            .await
            .unwrap();
        let events = scenario::inspector2_fleet_findings(&facts, PER_INSTANCE, now - 600);
        scenario::emit_inspector2(&stack, account, PRIMARY_REGION, &events)
            .await
            .unwrap();
    }
    scenario::setup_classic(&stack, &deployed, &rule_gone, PRIMARY_REGION)
        .await
        .unwrap();
    let drained = scenario::collect(&stack, &deployed).await.unwrap();
    assert_eq!(drained.failures_reported, 0, "{drained:?}");

    // Then one account deletes its Inspector2 rule, the other its read role.
    let config = account_config(&stack, &rule_gone, PRIMARY_REGION)
        .await
        .unwrap();
    let events = aws_sdk_eventbridge::Client::new(&config);
    events
        .remove_targets()
        .rule("fanin-inspector2-to-central")
        .ids("central-bus")
        .send()
        .await
        .unwrap();
    events
        .delete_rule()
        .name("fanin-inspector2-to-central")
        .send()
        .await
        .unwrap();
    let iam = aws_sdk_iam::Client::new(
        &account_config(&stack, &role_gone, PRIMARY_REGION)
            .await
            .unwrap(),
    );
    for policy in iam
        .list_role_policies()
        .role_name("fanin-collector-read")
        .send()
        .await
        .unwrap()
        .policy_names()
    {
        iam.delete_role_policy()
            .role_name("fanin-collector-read")
            .policy_name(policy)
            .send()
            .await
            .unwrap();
    }
    iam.delete_role()
        .role_name("fanin-collector-read")
        .send()
        .await
        .unwrap();

    // The command names exactly those gaps, row by row.
    let report: Value = serde_json::from_str(
        &coverage::run_report(&stack, &["--json", "--hours", "2"])
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["organization_id"], organization.id.as_str());
    assert_eq!(report["excluded_accounts"], json!([CENTRAL_ACCOUNT]));
    let rows = report["rows"].as_array().unwrap();
    let row = |account: &str, region: &str| -> Value {
        rows.iter()
            .find(|r| r["account"] == account && r["region"] == region)
            .cloned()
            .unwrap_or_else(|| panic!("no row {account} {region}: {report:#}"))
    };
    assert_eq!(rows.len(), 4, "{report:#}");
    let seen = (INSTANCES * PER_INSTANCE) as u64;

    let broken_rule = row(&rule_gone, PRIMARY_REGION);
    assert_eq!(
        broken_rule["gaps"],
        json!(["inspector2_rule_missing"]),
        "{broken_rule:#}"
    );
    assert_eq!(broken_rule["inspector2_events"], seen);
    assert_eq!(broken_rule["read_role"]["state"], "yes");
    assert_eq!(broken_rule["forwarder"]["state"], "yes");
    assert_eq!(broken_rule["inspector2_rule"]["state"], "no");
    assert_eq!(
        broken_rule["classic"],
        json!({"state": "checked", "templates": 1, "subscribed": 1})
    );
    let untouched = row(&rule_gone, WITHOUT_CLASSIC);
    assert_eq!(untouched["gaps"], json!([]), "{untouched:#}");
    assert_eq!(untouched["forwarder"]["state"], "not_applicable");
    assert_eq!(untouched["inspector2_rule"]["state"], "yes");
    assert_eq!(untouched["inspector2_events"], 0);

    for region in [PRIMARY_REGION, WITHOUT_CLASSIC] {
        let no_role = row(&role_gone, region);
        assert_eq!(
            no_role["gaps"],
            json!(["read_role_unusable"]),
            "{no_role:#}"
        );
        assert_eq!(no_role["read_role"]["state"], "no");
    }
    assert_eq!(row(&role_gone, PRIMARY_REGION)["inspector2_events"], seen);

    // The table says the same to a person.
    let table = coverage::run_report(&stack, &[]).await.unwrap();
    let line = |account: &str, region: &str| {
        table
            .lines()
            .find(|l| l.starts_with(account) && l.contains(region))
            .unwrap_or_else(|| panic!("no line {account} {region}:\n{table}"))
            .to_owned()
    };
    assert!(
        line(&rule_gone, PRIMARY_REGION).ends_with("YES (inspector2_rule_missing)"),
        "{table}"
    );
    assert!(
        line(&rule_gone, WITHOUT_CLASSIC).ends_with(" no"),
        "{table}"
    );
    assert!(
        line(&role_gone, PRIMARY_REGION).ends_with("YES (read_role_unusable)"),
        "{table}"
    );
    assert!(
        table.contains("4 account-region(s) checked, 3 with a gap"),
        "{table}"
    );

    // The scheduled Lambda publishes the gaps and writes the account list.
    let mut lambda = LocalLambda::start(
        "fanin-coverage",
        &workspace_binary("fanin-coverage"),
        &coverage::coverage_env(&stack).await.unwrap(),
    )
    .await
    .unwrap();
    let scheduled = json!({
        "version": "0", "id": "coverage-test", "detail-type": "Scheduled Event",
        "source": "aws.events", "account": CENTRAL_ACCOUNT, "region": PRIMARY_REGION,
        "resources": [], "detail": {},
    });
    let summary = lambda.invoke(&scheduled).await.unwrap();
    assert_eq!(summary["account_regions_with_gaps"], 3, "{summary}");
    assert_eq!(summary["accounts_listed"], 3, "{summary}");

    // The metrics are the embedded-metric-format lines of the function's
    // output (CloudWatch Logs extracts them in AWS): one per value.
    let output = std::fs::read_to_string(&lambda.log_path).unwrap();
    let metric = |kind: Option<&str>| -> f64 {
        let documents: Vec<Value> = output
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|d| d.get("_aws").is_some() && d.get("CoverageGaps").is_some())
            .filter(|d| d.get("Kind").and_then(Value::as_str) == kind)
            .collect();
        assert_eq!(documents.len(), 1, "{kind:?}: {output}");
        let declared = &documents[0]["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(declared["Namespace"], "fanin");
        assert_eq!(declared["Metrics"][0]["Name"], "CoverageGaps");
        let dimensions: Vec<&str> = kind.iter().map(|_| "Kind").collect();
        assert_eq!(declared["Dimensions"], json!([dimensions]));
        documents[0]["CoverageGaps"].as_f64().unwrap()
    };
    assert_eq!(metric(None), 3.0);
    assert_eq!(metric(Some("read_role_unusable")), 2.0);
    assert_eq!(metric(Some("inspector2_rule_missing")), 1.0);
    assert_eq!(metric(Some("forwarder_missing")), 0.0);
    // And one structured log line per gap.
    let gap_lines = output
        .lines()
        .filter(|l| l.contains("\"coverage gap\""))
        .count();
    assert_eq!(gap_lines, 3, "{output}");

    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&stack.moto_config(PRIMARY_REGION, None))
            .force_path_style(true)
            .build(),
    );
    let object = s3
        .get_object()
        .bucket(&deployed.central.bucket)
        .key("state/organization-accounts.json")
        .send()
        .await
        .unwrap();
    assert_eq!(object.content_type(), Some("application/json"));
    let bytes = object.body.collect().await.unwrap().into_bytes();
    let list: Value = serde_json::from_slice(&bytes).unwrap();
    let mut keys: Vec<&String> = list.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["accounts", "generated_at", "organization_id"]);
    assert_eq!(list["organization_id"], organization.id.as_str());
    let generated =
        chrono::DateTime::parse_from_rfc3339(list["generated_at"].as_str().unwrap()).unwrap();
    assert!((generated.timestamp() - chrono::Utc::now().timestamp()).abs() < 600);
    let mut expected: Vec<Value> = [
        (CENTRAL_ACCOUNT, "master"),
        (rule_gone.as_str(), "rule-gone"),
        (role_gone.as_str(), "role-gone"),
    ]
    .iter()
    .map(|(id, name)| json!({"id": id, "status": "ACTIVE", "name": name}))
    .collect();
    expected.sort_by(|a, b| a["id"].as_str().cmp(&b["id"].as_str()));
    let mut listed = list["accounts"].as_array().unwrap().clone();
    for account in &mut listed {
        // moto names the management account itself; compare the others' names.
        if account["id"] == CENTRAL_ACCOUNT {
            account["name"] = json!("master");
        }
    }
    assert_eq!(listed, expected);
}
