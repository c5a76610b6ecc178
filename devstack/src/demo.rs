//! The demo: the whole pipeline on the local stack, from nothing to a summary.

use anyhow::Context;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};

use crate::deployment::{DeployOptions, Deployed};
use crate::esm::MappingStats;
use crate::exposure_scene::ExposureScene;
use crate::privileges_scene::PrivilegesScene;
use crate::scenario::{self, LocalStack};

/// The application accounts of the demo's organization (moto picks their ids).
const ACCOUNTS: [&str; 3] = ["app-one", "app-two", "app-three"];
/// An account that joined the organization but never got fanin: the
/// coverage table shows it as a gap.
const WITHOUT_FANIN: &str = "app-new";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];
/// The guard policy the demo deploys: the AWS Config walkthrough's (web
/// groups allow exactly TCP 80 and 443 from anywhere, enforced).
const GUARD_POLICY: &str = "policies/examples/config-walkthrough.yaml";

#[derive(Debug, Serialize)]
pub struct Summary {
    /// StackSet → number of stack instances the deployment created.
    pub stack_instances: BTreeMap<String, usize>,
    /// The collector's event-source mapping batch size, as deployed.
    pub collector_batch_size: i32,
    /// Time of the StackSets deployment and its read-back, zipping included.
    pub deploy_seconds: f64,
    pub findings_indexed: usize,
    pub findings_archived: usize,
    pub s3_objects: usize,
    pub by_account: BTreeMap<String, usize>,
    pub by_region: BTreeMap<String, usize>,
    pub by_severity: BTreeMap<String, usize>,
    pub by_source: BTreeMap<String, usize>,
    pub by_enrichment: BTreeMap<String, usize>,
    pub internet_exposed_findings: usize,
    pub quarantined: BTreeMap<String, usize>,
    pub dead_letter_messages: u64,
    pub collector_invocations: usize,
    /// Peak resident memory of the collector process (debug build), MiB.
    pub collector_peak_memory_mib: f64,
    pub collector_aws_calls: BTreeMap<String, u64>,
    pub aws_calls_per_finding: f64,
    pub opensearch_requests: BTreeMap<String, u64>,
    /// `fanin-coverage report --json` at the end of the demo.
    pub coverage: Value,
    /// The same report as the table `fanin-coverage report` prints.
    #[serde(skip)]
    pub coverage_table: String,
    /// The security-group guard reverting an operator's change.
    pub guard: GuardScene,
    /// The unused-exposure scene: flow logs, aggregates, rules judged.
    pub exposure: ExposureScene,
    /// The stored unused-exposure finding ranked first (highest risk score).
    pub exposure_top: Value,
    /// The least-privilege scene: CloudTrail usage, principals judged.
    pub privileges: PrivilegesScene,
    /// The stored least-privilege findings, ranked (highest risk first).
    pub privileges_ranked: Vec<Value>,
    /// What the operator's `fanin` made at the end of the demo.
    pub operator: Operated,
    pub seconds: f64,
}

/// The operator's end of the demo: `fanin install` (templates, aliases, ISM
/// policy, saved objects), `fanin export` (Parquet for Security Lake) and
/// `fanin report` (HTML), and where each result is.
#[derive(Debug, Default, Serialize)]
pub struct Operated {
    /// `fanin install`'s own lines.
    pub install: Vec<String>,
    /// The Parquet objects in the central bucket, as `s3://...` URLs.
    pub parquet_objects: Vec<String>,
    /// Where the demo copied them (moto's bucket goes when the demo ends).
    pub parquet_directory: String,
    pub report: String,
    /// The saved objects imported, as the shipped file holds them.
    pub saved_objects_file: String,
}

/// What the demo's pipeline left behind on its stack.
pub struct Played {
    pub deployed: Deployed,
    pub stats: MappingStats,
    /// Peak resident memory of the collector process, KiB.
    pub collector_peak_rss_kib: Option<u64>,
    pub deploy_seconds: f64,
    pub guard: GuardScene,
    pub exposure: ExposureScene,
    pub privileges: PrivilegesScene,
}

/// The guard's scene: a developer of an application account opens TCP 443
/// and TCP 22 to the world on a web group in one call; the policy allows
/// only 80 and 443, so the guard revokes the SSH rule by its id.
#[derive(Debug, Clone, Default, Serialize)]
pub struct GuardScene {
    pub account: String,
    pub region: String,
    pub group_id: String,
    /// The group's ingress after the guard, as `tcp/443 0.0.0.0/0`.
    pub ingress_after: Vec<String>,
    /// The guard's answer: outcomes, time to revert, guard time.
    pub answer: Value,
}

pub async fn run() -> anyhow::Result<Summary> {
    let started = Instant::now();
    eprintln!("demo: starting moto, osmem-server and the gateway");
    let stack = LocalStack::start().await?;
    let played = play(&stack).await?;
    let mut summary = summarize(&stack, &played).await?;
    summary.operator = operate(&stack, &played, &output_directory()).await?;
    summary.seconds = (started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    Ok(summary)
}

/// The demo's organization, deployment, findings and collector run on
/// `stack`: what `run` summarizes and the end-to-end tests check.
pub async fn play(stack: &LocalStack) -> anyhow::Result<Played> {
    let mut names = ACCOUNTS.to_vec();
    names.push(WITHOUT_FANIN);
    let organization = crate::coverage::create_organization(stack, &names).await?;
    let accounts: Vec<&str> = ACCOUNTS
        .iter()
        .map(|name| organization.accounts[*name].as_str())
        .collect();
    // Recent updates, so the coverage check counts them in its window.
    let updated = chrono::Utc::now().timestamp() - 3600;
    eprintln!(
        "demo: deploying fanin's StackSets (central account, {} application accounts x {} regions)",
        ACCOUNTS.len(),
        REGIONS.len()
    );
    let deploy_started = Instant::now();
    let options = DeployOptions {
        guard_policy: Some(crate::lambda_host::workspace_root().join(GUARD_POLICY)),
        guard_remediation: false,
    };
    let deployed = crate::deployment::deploy_with(stack, &accounts, &REGIONS, &options).await?;
    let deploy_seconds = (deploy_started.elapsed().as_secs_f64() * 10.0).round() / 10.0;
    let central = deployed.central.clone();
    for account in accounts.iter().copied() {
        for region in REGIONS {
            eprintln!(
                "demo: account {account} {region}: instances, Inspector Classic run, Inspector2 and GuardDuty events"
            );
            let facts = scenario::create_workloads(stack, account, region, 4).await?;
            scenario::run_classic(stack, &deployed, account, region, 3)
                .await
                .context("running Inspector Classic")?;
            let mut events = scenario::inspector2_fleet_findings(&facts, 4, updated);
            events.push(scenario::inspector2_serverless_finding(
                account, region, "ecr", updated,
            ));
            events.push(scenario::inspector2_serverless_finding(
                account, region, "lambda", updated,
            ));
            scenario::emit_inspector2(stack, account, region, &events)
                .await
                .context("emitting Inspector2 findings")?;
            // GuardDuty, managed by the organization from the central
            // account, publishes every member's findings there.
            let detections: Vec<Value> = facts
                .iter()
                .take(2)
                .map(|instance| scenario::guardduty_ec2_finding(instance, 3, updated))
                .collect();
            scenario::emit_guardduty(stack, scenario::CENTRAL_ACCOUNT, region, &detections)
                .await
                .context("emitting GuardDuty findings")?;
        }
    }
    // An account fanin was never deployed to (no read role), whose Inspector2
    // finding still arrives (as from a delegated administrator), and one
    // broken message: what an operator sees when things go wrong.
    let orphan = scenario::create_workloads(stack, "444444444444", "us-east-1", 1).await?;
    let orphan_event = serde_json::json!({
        "version": "0",
        "source": "aws.inspector2",
        "detail-type": "Inspector2 Finding",
        "account": "444444444444",
        "region": "us-east-1",
        "detail": scenario::inspector2_ec2_finding(&orphan[0], 0, updated),
    });
    scenario::send_raw(stack, &central, &[orphan_event.to_string()]).await?;
    scenario::send_raw(stack, &central, &["{\"truncated\": ".to_owned()]).await?;

    eprintln!(
        "demo: security-group guard: a developer of {} opens TCP 22 and 443 to the world on a web group",
        accounts[0]
    );
    let guard = guard_scene(stack, &deployed, accounts[0], REGIONS[0])
        .await
        .context("the guard's scene")?;

    eprintln!("demo: running the collector Lambda over the central queue");
    stack.gateway.reset_calls();
    let mut collector = scenario::start_collector(stack, &deployed).await?;
    let esm = deployed.event_source_mapping(stack).await?;
    let stats = esm.drain(&mut collector, scenario::DRAIN_LIMIT).await?;
    let collector_peak_rss_kib = collector.peak_rss_kib();
    drop(collector);

    // The scene stores its critical vulnerability through the collector
    // itself, so it plays after the demo's drain (which it would otherwise
    // empty and miscount); its usage records wait on the central queue.
    eprintln!(
        "demo: unused exposure: flow logs of {} through fanin-exposure, then the evaluation",
        accounts[0]
    );
    let exposure = crate::exposure_scene::play(stack, &deployed)
        .await
        .context("the unused-exposure scene")?;
    eprintln!("demo: the collector stores the usage records");
    scenario::collect(stack, &deployed).await?;
    eprintln!(
        "demo: least privilege: CloudTrail of {} and {} through fanin-privileges, then the evaluation",
        accounts[0], accounts[1]
    );
    let privileges = crate::privileges_scene::play(stack, &deployed)
        .await
        .context("the least-privilege scene")?;
    eprintln!("demo: the collector stores the privilege records");
    scenario::collect(stack, &deployed).await?;
    Ok(Played {
        deployed,
        stats,
        collector_peak_rss_kib,
        deploy_seconds,
        guard,
        exposure,
        privileges,
    })
}

/// Plays [`GuardScene`] with the deployed guard of `account`/`region`: the
/// developer's call goes through the gateway, which plays CloudTrail and
/// delivers the event to the guard as EventBridge would.
async fn guard_scene(
    stack: &LocalStack,
    deployed: &Deployed,
    account: &str,
    region: &str,
) -> anyhow::Result<GuardScene> {
    use aws_sdk_ec2::types::{IpPermission, IpRange, ResourceType, Tag, TagSpecification};
    let _guards = crate::guard_host::start_guards(stack, deployed, &[account], &[region]).await?;
    let admin = aws_sdk_ec2::Client::new(
        &stack.moto_config(region, Some(stack.account_credentials(account).await?)),
    );
    let vpc = admin.create_vpc().cidr_block("10.30.0.0/16").send().await?;
    let vpc_id = vpc.vpc().and_then(|v| v.vpc_id()).context("no VPC id")?;
    let web = TagSpecification::builder()
        .resource_type(ResourceType::SecurityGroup)
        .tags(Tag::builder().key("tier").value("web").build())
        .build();
    let group = admin
        .create_security_group()
        .group_name("web-public")
        .description("public web tier")
        .vpc_id(vpc_id)
        .tag_specifications(web)
        .send()
        .await?;
    let group_id = group.group_id().context("no group id")?.to_owned();

    let developer = stack
        .person_credentials(account, "developer", "alice")
        .await?;
    let ec2 = aws_sdk_ec2::Client::new(&scenario::sdk_config(
        &stack.gateway.aws_url,
        region,
        Some(developer),
    ));
    let world = |port: i32| {
        IpPermission::builder()
            .ip_protocol("tcp")
            .from_port(port)
            .to_port(port)
            .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
            .build()
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group_id)
        .ip_permissions(world(443))
        .ip_permissions(world(22))
        .send()
        .await?;

    // CloudTrail's event reaches the guard after the call has answered.
    let deadline = Instant::now() + Duration::from_secs(30);
    let answer = loop {
        let delivered = stack.gateway.cloudtrail().played().into_iter().find(|e| {
            e.done
                && e.event["detail"]["eventName"] == "AuthorizeSecurityGroupIngress"
                && e.event["detail"]["requestParameters"]["groupId"] == group_id.as_str()
        });
        if let Some(answer) = delivered
            .as_ref()
            .and_then(|e| e.deliveries.iter().find_map(|d| d.answer.clone()))
        {
            break answer;
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "the guard did not answer CloudTrail's event for {group_id}: {delivered:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let rules = admin
        .describe_security_group_rules()
        .filters(
            aws_sdk_ec2::types::Filter::builder()
                .name("group-id")
                .values(&group_id)
                .build(),
        )
        .send()
        .await?;
    let ingress_after = rules
        .security_group_rules()
        .iter()
        .filter(|r| r.is_egress() == Some(false))
        .map(|r| {
            format!(
                "{}/{} {}",
                r.ip_protocol().unwrap_or_default(),
                r.from_port().unwrap_or_default(),
                r.cidr_ipv4().or(r.cidr_ipv6()).unwrap_or_default()
            )
        })
        .collect();
    Ok(GuardScene {
        account: account.to_owned(),
        region: region.to_owned(),
        group_id,
        ingress_after,
        answer,
    })
}

/// The archived unused-exposure finding with the highest risk score (the
/// latest version of each rule), in a few fields for the summary.
fn exposure_top(archived: &[(String, Value)]) -> Value {
    let mut latest: BTreeMap<&str, &Value> = BTreeMap::new();
    for (_, record) in archived {
        let (Some(uid), true) = (
            record["finding_info"]["uid"].as_str(),
            record["unmapped"]["exposure"].is_object(),
        ) else {
            continue;
        };
        let newer = latest
            .get(uid)
            .is_none_or(|kept| record["time"].as_i64() > kept["time"].as_i64());
        if newer {
            latest.insert(uid, record);
        }
    }
    let Some(top) = latest.into_values().max_by_key(|record| {
        (
            record["unmapped"]["exposure"]["risk_score"].as_i64(),
            record["finding_info"]["uid"].as_str().map(str::to_owned),
        )
    }) else {
        return Value::Null;
    };
    let exposure = &top["unmapped"]["exposure"];
    let resources: Vec<&str> = exposure["instance_ids"]
        .as_array()
        .into_iter()
        .flatten()
        .chain(exposure["interface_ids"].as_array().into_iter().flatten())
        .filter_map(Value::as_str)
        .take(3)
        .collect();
    json!({
        "uid": top["finding_info"]["uid"],
        "state": exposure["state"],
        "group_id": exposure["group_id"],
        "rule_id": exposure["rule_id"],
        "protocol": exposure["protocol"],
        "port": exposure["from_port"],
        "region": top["cloud"]["region"],
        "resources": resources.join(", "),
        "risk_score": exposure["risk_score"],
        "critical_vulnerabilities": exposure["critical_vulnerabilities"],
        "why": top["status_detail"],
    })
}

/// The archived least-privilege findings, highest risk first, in a few
/// fields for the summary.
fn privileges_ranked(archived: &[(String, Value)]) -> Vec<Value> {
    let mut findings: Vec<&Value> = archived
        .iter()
        .map(|(_, record)| record)
        .filter(|record| record["unmapped"]["privileges"].is_object())
        .collect();
    findings.sort_by_key(|record| {
        (
            std::cmp::Reverse(record["unmapped"]["privileges"]["risk_score"].as_i64()),
            record["finding_info"]["uid"].as_str().map(str::to_owned),
        )
    });
    findings
        .into_iter()
        .map(|record| {
            let details = &record["unmapped"]["privileges"];
            json!({
                "principal": details["principal_arn"],
                "state": details["state"],
                "used": details["used_count"],
                "unused": details["unused_count"],
                "used_not_granted": details["used_not_granted_count"],
                "external_trust": details["external_trust"],
                "risk_score": details["risk_score"],
                "severity": record["severity"],
            })
        })
        .collect()
}

/// The demo's figures, read back from the stack after `play`.
pub async fn summarize(stack: &LocalStack, played: &Played) -> anyhow::Result<Summary> {
    let Played {
        deployed,
        stats,
        collector_peak_rss_kib,
        deploy_seconds,
        guard,
        exposure,
        privileges,
    } = played;
    let central = deployed.central.clone();
    let mut documents = scenario::indexed_documents(stack, &central).await?;
    documents.extend(scenario::indexed_detections(stack, &central).await?);
    let archived = scenario::archived_records(stack, &central).await?;
    let mut summary = Summary {
        findings_indexed: documents.len(),
        stack_instances: deployed
            .outputs
            .as_object()
            .map(|sets| {
                sets.iter()
                    .map(|(name, instances)| {
                        (name.clone(), instances.as_object().map_or(0, |i| i.len()))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        collector_batch_size: deployed.mapping.batch_size,
        deploy_seconds: *deploy_seconds,
        findings_archived: archived.len(),
        s3_objects: scenario::bucket_keys(stack, &central, "findings/")
            .await?
            .len(),
        by_account: BTreeMap::new(),
        by_region: BTreeMap::new(),
        by_severity: BTreeMap::new(),
        by_source: BTreeMap::new(),
        by_enrichment: BTreeMap::new(),
        internet_exposed_findings: 0,
        quarantined: BTreeMap::new(),
        dead_letter_messages: scenario::dlq_depth(stack, &central).await?,
        collector_invocations: stats.invocations,
        collector_peak_memory_mib: collector_peak_rss_kib
            .map(|k| (k as f64 / 1024.0 * 10.0).round() / 10.0)
            .unwrap_or(0.0),
        collector_aws_calls: BTreeMap::new(),
        aws_calls_per_finding: 0.0,
        opensearch_requests: BTreeMap::new(),
        coverage: Value::Null,
        coverage_table: String::new(),
        guard: guard.clone(),
        exposure: exposure.clone(),
        exposure_top: exposure_top(&archived),
        privileges: privileges.clone(),
        privileges_ranked: privileges_ranked(&archived),
        operator: Operated::default(),
        seconds: 0.0,
    };
    for (_, document) in &documents {
        let text = |pointer: &str| {
            document
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned()
        };
        *summary
            .by_account
            .entry(text("/cloud/account/uid"))
            .or_default() += 1;
        *summary.by_region.entry(text("/cloud/region")).or_default() += 1;
        *summary.by_severity.entry(text("/severity")).or_default() += 1;
        *summary
            .by_source
            .entry(text("/unmapped/fanin/source"))
            .or_default() += 1;
        *summary
            .by_enrichment
            .entry(text("/unmapped/fanin/enrichment/status"))
            .or_default() += 1;
        if document.pointer("/unmapped/fanin/network/internet_exposed") == Some(&json!(true)) {
            summary.internet_exposed_findings += 1;
        }
    }
    for (_, object) in scenario::quarantined(stack, &central).await? {
        *summary
            .quarantined
            .entry(object["reason"].as_str().unwrap_or("?").to_owned())
            .or_default() += 1;
    }
    for call in stack.gateway.calls() {
        if call.caller == "fanin-collector" {
            *summary
                .collector_aws_calls
                .entry(format!("{}:{}", call.service, call.operation))
                .or_default() += call.count;
        } else if call.caller == "opensearch" {
            *summary
                .opensearch_requests
                .entry(call.operation.clone())
                .or_default() += call.count;
        }
    }
    let total_calls: u64 = summary.collector_aws_calls.values().sum();
    summary.aws_calls_per_finding =
        (total_calls as f64 / summary.findings_indexed.max(1) as f64 * 100.0).round() / 100.0;
    eprintln!("demo: running the coverage check (fanin-coverage report)");
    summary.coverage =
        serde_json::from_str(&crate::coverage::run_report(stack, &["--json"]).await?)?;
    summary.coverage_table = crate::coverage::run_report(stack, &[]).await?;
    Ok(summary)
}

/// Where the demo leaves what outlives its servers: `target/demo/`.
fn output_directory() -> std::path::PathBuf {
    workspace_root().join("target").join("demo")
}

/// The workspace root, without the `devstack/..` of its build-time path.
fn workspace_root() -> std::path::PathBuf {
    let root = crate::lambda_host::workspace_root();
    root.canonicalize().unwrap_or(root)
}

/// The operator's end of the demo, with the real `fanin` binary and no
/// places on its command line (the central stack's outputs give them):
/// install the templates, aliases, ISM policy and saved objects; export the
/// archive's days as Parquet; write the HTML report. What outlives the
/// stack goes to `directory`.
pub async fn operate(
    stack: &LocalStack,
    played: &Played,
    directory: &std::path::Path,
) -> anyhow::Result<Operated> {
    use crate::operator::fanin;
    let central = &played.deployed.central;
    std::fs::create_dir_all(directory)?;
    eprintln!("demo: fanin install (index templates, aliases, ISM policy, saved objects)");
    let install = fanin(
        stack,
        &["install", "--dashboards-url", &stack.dashboards.url],
    )
    .await?;

    let days: std::collections::BTreeSet<String> =
        scenario::bucket_keys(stack, central, "findings/")
            .await?
            .iter()
            .filter_map(|key| key.split("/eventDay=").nth(1)?.get(..8).map(str::to_owned))
            .collect();
    let as_date = |day: &str| format!("{}-{}-{}", &day[..4], &day[4..6], &day[6..]);
    let (first, last) = (
        days.first().context("the demo archived nothing")?,
        days.last().context("the demo archived nothing")?,
    );
    eprintln!("demo: fanin export (OCSF 1.3.0 Parquet, Security Lake layout)");
    fanin(
        stack,
        &["export", "--from", &as_date(first), "--to", &as_date(last)],
    )
    .await?;
    let parquet = directory.join("parquet");
    let _ = std::fs::remove_dir_all(&parquet);
    let mut parquet_objects = Vec::new();
    for (key, bytes) in scenario::bucket_objects(stack, central, "ext/").await? {
        let path = parquet.join(&key);
        std::fs::create_dir_all(path.parent().expect("a key has a directory"))?;
        std::fs::write(&path, bytes)?;
        parquet_objects.push(format!("s3://{}/{key}", central.bucket));
    }

    eprintln!("demo: fanin report (self-contained HTML)");
    let report = directory.join("report.html");
    fanin(stack, &["report", "--out", &report.to_string_lossy()]).await?;
    Ok(Operated {
        install: install.lines().map(str::to_owned).collect(),
        parquet_objects,
        parquet_directory: parquet.to_string_lossy().into_owned(),
        report: report.to_string_lossy().into_owned(),
        saved_objects_file: workspace_root()
            .join("cli/saved-objects/fanin.ndjson")
            .to_string_lossy()
            .into_owned(),
    })
}

pub fn print_table(summary: &Summary) {
    let section = |title: &str, map: &BTreeMap<String, usize>| {
        println!("{title}");
        for (key, count) in map {
            println!("  {key:<28} {count:>6}");
        }
    };
    println!(
        "fanin demo: 3 application accounts x 2 regions, Inspector Classic, Inspector2 and GuardDuty"
    );
    println!("StackSet instances deployed");
    for (name, count) in &summary.stack_instances {
        println!("  {name:<28} {count:>6}");
    }
    println!(
        "collector batch size (deployed)  {:>6}",
        summary.collector_batch_size
    );
    println!(
        "deployment took (s)              {:>6.1}",
        summary.deploy_seconds
    );
    println!(
        "findings indexed (latest state)  {:>6}",
        summary.findings_indexed
    );
    println!(
        "findings archived to S3          {:>6}",
        summary.findings_archived
    );
    println!("S3 objects (gzip NDJSON)         {:>6}", summary.s3_objects);
    println!(
        "internet-exposed findings        {:>6}",
        summary.internet_exposed_findings
    );
    section("by account", &summary.by_account);
    section("by region", &summary.by_region);
    section("by severity", &summary.by_severity);
    section("by source", &summary.by_source);
    section("by enrichment status", &summary.by_enrichment);
    section("quarantined messages", &summary.quarantined);
    println!(
        "dead-letter queue                {:>6}",
        summary.dead_letter_messages
    );
    let guard = &summary.guard;
    println!(
        "guard: {}/{} {} outcome {} in {} ms from CloudTrail's event time ({} ms in the guard)",
        guard.account,
        guard.region,
        guard.group_id,
        guard.answer["decisions"],
        guard.answer["time_to_revert_ms"],
        guard.answer["guard_ms"]
    );
    println!(
        "  ingress after the guard: {}",
        guard.ingress_after.join(", ")
    );
    let exposure = &summary.exposure;
    println!(
        "unused exposure: {} flow-log objects of {} in {}, {} aggregates indexed, {} usage records",
        exposure.objects,
        exposure.account,
        exposure.regions.join(" and "),
        exposure.aggregates_indexed,
        exposure.records
    );
    for (state, count) in &exposure.by_state {
        println!("  rules {state:<22} {count:>6}");
    }
    let top = &summary.exposure_top;
    if !top.is_null() {
        println!(
            "  ranked first: {} {} {}/{} on {} ({}), risk {}: {}",
            top["state"].as_str().unwrap_or_default(),
            top["group_id"].as_str().unwrap_or_default(),
            top["protocol"].as_str().unwrap_or_default(),
            top["port"],
            top["resources"].as_str().unwrap_or_default(),
            top["region"].as_str().unwrap_or_default(),
            top["risk_score"],
            top["why"].as_str().unwrap_or_default()
        );
    }
    let privileges = &summary.privileges;
    println!(
        "least privilege: {} CloudTrail objects ({} calls) of {} and {}, {} usage documents indexed, {} principals judged",
        privileges.objects,
        privileges.calls,
        privileges.account,
        privileges.second_account,
        privileges.usage_indexed,
        summary.privileges_ranked.len()
    );
    for finding in summary.privileges_ranked.iter().take(5) {
        println!(
            "  {:<58} used {:>3}  unused {:>5}  used-not-granted {:>2}  risk {:>3}{}",
            finding["principal"].as_str().unwrap_or_default(),
            finding["used"],
            finding["unused"],
            finding["used_not_granted"],
            finding["risk_score"],
            if finding["external_trust"]
                .as_array()
                .is_some_and(|t| !t.is_empty())
            {
                format!("  trusted from outside: {}", finding["external_trust"])
            } else {
                String::new()
            }
        );
    }
    println!(
        "collector invocations            {:>6}",
        summary.collector_invocations
    );
    println!(
        "collector peak memory (MiB)      {:>6.1}",
        summary.collector_peak_memory_mib
    );
    println!("collector AWS calls");
    for (call, count) in &summary.collector_aws_calls {
        println!("  {call:<28} {count:>6}");
    }
    println!(
        "AWS calls per finding            {:>6.2}",
        summary.aws_calls_per_finding
    );
    println!("OpenSearch requests");
    for (call, count) in &summary.opensearch_requests {
        println!("  {call:<28} {count:>6}");
    }
    println!("coverage (fanin-coverage report)");
    for line in summary.coverage_table.lines() {
        println!("  {line}");
    }
    let operator = &summary.operator;
    println!("fanin install");
    for line in &operator.install {
        println!("  {line}");
    }
    println!(
        "fanin export: {} Parquet objects (OCSF 1.3.0, Security Lake layout), copied to {}",
        operator.parquet_objects.len(),
        operator.parquet_directory
    );
    for object in &operator.parquet_objects {
        println!("  {object}");
    }
    println!("fanin report: {}", operator.report);
    println!(
        "dashboards: the saved objects above ({}) import into OpenSearch Dashboards 1.x to 3.x",
        operator.saved_objects_file
    );
    println!("took {:.1} s", summary.seconds);
}
