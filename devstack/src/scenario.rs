//! The local world fanin runs in for the demo and the end-to-end tests: the
//! central account and application accounts in moto, with fanin deployed
//! through its StackSets ([`crate::deployment`]), workloads (instances behind
//! security groups), Inspector Classic templates and runs, and Inspector2
//! events.
//!
//! Setup talks to moto directly (it plays the account administrators);
//! the Lambdas talk to the gateway, which counts their calls and enforces
//! roles and ExternalIds.

use std::collections::BTreeMap;
use std::io::Read;
use std::time::Duration;

use anyhow::Context;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_ec2::types::{
    Filter, InstanceNetworkInterfaceSpecification, InstanceType, IpPermission, IpRange, Ipv6Range,
    UserIdGroupPair,
};
use aws_sdk_sqs::types::QueueAttributeName;
use serde::Serialize;
use serde_json::{Value, json};

use crate::gateway::{self, GatewayHandle, GatewayOptions};
use crate::lambda_host::{LocalLambda, workspace_binary};
use crate::procs::{ChildServer, MotoServer, OsmemServer};

pub const CENTRAL_ACCOUNT: &str = "123456789012";
pub const PRIMARY_REGION: &str = "us-east-1";
pub const TEMPLATE_TAG: (&str, &str) = ("ScanType", "ScheduledRun-across-Fleet");

/// moto, osmem-server and the gateway, stopped when dropped.
pub struct LocalStack {
    pub moto: ChildServer,
    pub osmem: ChildServer,
    pub gateway: GatewayHandle,
    /// The saved-objects API stand-in (no Dashboards runs here).
    pub dashboards: crate::dashboards::LocalDashboards,
}

impl LocalStack {
    pub async fn start() -> anyhow::Result<Self> {
        let (moto, osmem) = tokio::try_join!(MotoServer::start(), OsmemServer::start())?;
        let gateway = gateway::start(GatewayOptions {
            moto_url: moto.url.clone(),
            opensearch_upstream: Some(osmem.url.clone()),
        })
        .await?;
        Ok(Self {
            moto,
            osmem,
            gateway,
            dashboards: crate::dashboards::start().await?,
        })
    }

    pub fn opensearch_url(&self) -> String {
        self.gateway
            .opensearch_url
            .clone()
            .expect("the gateway fronts OpenSearch")
    }

    /// A config acting as `credentials` (the central account when `None`), talking to moto.
    pub fn moto_config(&self, region: &str, credentials: Option<Credentials>) -> SdkConfig {
        sdk_config(&self.moto.url, region, credentials)
    }

    /// Credentials acting in `account` (moto's AssumeRole, as an administrator would have).
    pub async fn account_credentials(&self, account: &str) -> anyhow::Result<Credentials> {
        if account == CENTRAL_ACCOUNT {
            return Ok(Credentials::new("testing", "testing", None, None, "static"));
        }
        admin_credentials(&self.moto.url, account, "devstack-admin").await
    }

    /// A session of role `role` of `account` (created when missing, trusted
    /// by the account), assumed through the gateway: what a person of the
    /// account works with, and what CloudTrail records as the caller.
    pub async fn person_credentials(
        &self,
        account: &str,
        role: &str,
        session: &str,
    ) -> anyhow::Result<Credentials> {
        let admin = self.account_credentials(account).await?;
        let iam = aws_sdk_iam::Client::new(&self.moto_config(PRIMARY_REGION, Some(admin.clone())));
        if iam.get_role().role_name(role).send().await.is_err() {
            let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
                "Principal": {"AWS": format!("arn:aws:iam::{account}:root")},
                "Action": "sts:AssumeRole"}]});
            iam.create_role()
                .role_name(role)
                .assume_role_policy_document(trust.to_string())
                .send()
                .await?;
        }
        let sts = aws_sdk_sts::Client::new(&sdk_config(
            &self.gateway.aws_url,
            PRIMARY_REGION,
            Some(admin),
        ));
        assume_role(
            &sts,
            &format!("arn:aws:iam::{account}:role/{role}"),
            session,
            "person",
        )
        .await
    }
}

/// A session `session` of `role_arn`, assumed with `sts`: the issued keys
/// as the SDK's credentials (named `provider`).
pub async fn assume_role(
    sts: &aws_sdk_sts::Client,
    role_arn: &str,
    session: &str,
    provider: &'static str,
) -> anyhow::Result<Credentials> {
    let answer = sts
        .assume_role()
        .role_arn(role_arn)
        .role_session_name(session)
        .send()
        .await
        .with_context(|| format!("assuming {role_arn}"))?;
    let c = answer
        .credentials()
        .context("AssumeRole without credentials")?;
    Ok(Credentials::new(
        c.access_key_id(),
        c.secret_access_key(),
        Some(c.session_token().to_owned()),
        None,
        provider,
    ))
}

/// A session named `session` of `account`'s `OrganizationAccountAccessRole`,
/// assumed from the central account at moto itself (no gateway in between):
/// how the devstack and its tests act as an administrator of that account.
pub async fn admin_credentials(
    moto_url: &str,
    account: &str,
    session: &str,
) -> anyhow::Result<Credentials> {
    let sts = aws_sdk_sts::Client::new(&sdk_config(moto_url, PRIMARY_REGION, None));
    assume_role(
        &sts,
        &format!("arn:aws:iam::{account}:role/OrganizationAccountAccessRole"),
        session,
        "admin",
    )
    .await
}

pub fn sdk_config(endpoint: &str, region: &str, credentials: Option<Credentials>) -> SdkConfig {
    let credentials =
        credentials.unwrap_or_else(|| Credentials::new("testing", "testing", None, None, "static"));
    SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_types_region(region))
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(credentials),
        )
        .build()
}

fn aws_types_region(region: &str) -> aws_config::Region {
    aws_config::Region::new(region.to_owned())
}

pub use crate::deployment::{Central, Deployed};

/// One instance as EC2 set it up: what every stored finding about it must say.
#[derive(Debug, Clone, Serialize)]
pub struct InstanceFacts {
    pub account: String,
    pub region: String,
    pub instance_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub private_ip: String,
    pub public_ip: Option<String>,
    pub security_group_ids: Vec<String>,
    /// (protocol, from, to) open to the internet through the attached groups.
    pub internet_open_ports: Vec<(String, i32, i32)>,
}

/// Creates an application account's workloads in one region: a VPC with
/// instances behind security groups (even ones public web servers with 443
/// open to the internet, odd ones private databases). fanin's own resources
/// there come from the StackSets.
pub async fn create_workloads(
    stack: &LocalStack,
    account: &str,
    region: &str,
    instances: usize,
) -> anyhow::Result<Vec<InstanceFacts>> {
    let credentials = stack.account_credentials(account).await?;
    let config = stack.moto_config(region, Some(credentials));
    let ec2 = aws_sdk_ec2::Client::new(&config);
    let vpc = ec2.create_vpc().cidr_block("10.20.0.0/16").send().await?;
    let vpc_id = vpc
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("no vpc id")?
        .to_owned();
    let subnet = ec2
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block("10.20.1.0/24")
        .send()
        .await?;
    let subnet_id = subnet
        .subnet()
        .and_then(|s| s.subnet_id())
        .context("no subnet id")?
        .to_owned();

    let web = ec2
        .create_security_group()
        .group_name("web")
        .description("web tier")
        .vpc_id(&vpc_id)
        .send()
        .await?;
    let web_id = web.group_id().context("no group id")?.to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&web_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(443)
                .to_port(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(22)
                .to_port(22)
                .ip_ranges(IpRange::builder().cidr_ip("10.0.0.0/8").build())
                .build(),
        )
        .send()
        .await?;
    let db = ec2
        .create_security_group()
        .group_name("db")
        .description("db tier")
        .vpc_id(&vpc_id)
        .send()
        .await?;
    let db_id = db.group_id().context("no group id")?.to_owned();
    ec2.authorize_security_group_ingress()
        .group_id(&db_id)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("tcp")
                .from_port(5432)
                .to_port(5432)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&web_id).build())
                .build(),
        )
        .send()
        .await?;

    let mut facts = Vec::new();
    for index in 0..instances {
        // Even instances are public web servers, odd ones private databases.
        let public = index.is_multiple_of(2);
        let groups = if public {
            vec![web_id.clone()]
        } else {
            vec![db_id.clone()]
        };
        let run = ec2
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(&subnet_id)
                    .set_groups(Some(groups.clone()))
                    .associate_public_ip_address(public)
                    .build(),
            )
            .tag_specifications(
                aws_sdk_ec2::types::TagSpecification::builder()
                    .resource_type(aws_sdk_ec2::types::ResourceType::Instance)
                    .tags(
                        aws_sdk_ec2::types::Tag::builder()
                            .key("Name")
                            .value(format!("app-{index}"))
                            .build(),
                    )
                    .build(),
            )
            .send()
            .await?;
        let instance_id = run
            .instances()
            .first()
            .and_then(|i| i.instance_id())
            .context("no instance")?
            .to_owned();
        facts.push(InstanceFacts {
            account: account.to_owned(),
            region: region.to_owned(),
            instance_id,
            vpc_id: vpc_id.clone(),
            subnet_id: subnet_id.clone(),
            private_ip: String::new(),
            public_ip: None,
            security_group_ids: groups,
            internet_open_ports: if public {
                vec![("tcp".into(), 443, 443)]
            } else {
                Vec::new()
            },
        });
    }
    // Read back the addresses EC2 assigned.
    let ids: Vec<String> = facts.iter().map(|f| f.instance_id.clone()).collect();
    let described = ec2
        .describe_instances()
        .filters(
            Filter::builder()
                .name("instance-id")
                .set_values(Some(ids))
                .build(),
        )
        .send()
        .await?;
    for instance in described.reservations().iter().flat_map(|r| r.instances()) {
        if let Some(fact) = facts
            .iter_mut()
            .find(|f| Some(f.instance_id.as_str()) == instance.instance_id())
        {
            fact.private_ip = instance.private_ip_address().unwrap_or_default().to_owned();
            fact.public_ip = instance.public_ip_address().map(str::to_owned);
        }
    }

    Ok(facts)
}

/// Terminates an instance (as its owner would).
pub async fn terminate_instance(
    stack: &LocalStack,
    account: &str,
    region: &str,
    instance_id: &str,
) -> anyhow::Result<()> {
    let credentials = stack.account_credentials(account).await?;
    let ec2 = aws_sdk_ec2::Client::new(&stack.moto_config(region, Some(credentials)));
    ec2.terminate_instances()
        .instance_ids(instance_id)
        .send()
        .await?;
    Ok(())
}

/// The environment of the collector Lambda: the deployed function's, with
/// the local endpoints and credentials, and the queue for poller mode.
pub fn collector_env(stack: &LocalStack, deployed: &Deployed) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> = deployed.collector_environment.clone();
    env.extend(crate::deployment::local_overrides(
        stack,
        PRIMARY_REGION,
        None,
    ));
    env.insert(
        "FANIN_QUEUE_URL".to_owned(),
        deployed.central.queue_url.clone(),
    );
    env.into_iter().collect()
}

pub async fn start_collector(
    stack: &LocalStack,
    deployed: &Deployed,
) -> anyhow::Result<LocalLambda> {
    LocalLambda::start(
        "fanin-collector",
        &workspace_binary("fanin-collector"),
        &collector_env(stack, deployed),
    )
    .await
}

/// A collector run over the central queue until it is empty, as the
/// deployed event-source mapping would feed it.
pub async fn collect(
    stack: &LocalStack,
    deployed: &Deployed,
) -> anyhow::Result<crate::esm::MappingStats> {
    let mut collector = start_collector(stack, deployed).await?;
    deployed
        .event_source_mapping(stack)
        .await?
        .drain(&mut collector, DRAIN_LIMIT)
        .await
}

/// Runs Inspector Classic in one application account and region: a target
/// and a tagged template, the forwarder Lambda (as the CloudTrail event
/// would trigger it) subscribing it to the central topic, then an assessment
/// run completed with `findings_per_instance` findings per instance.
/// Returns the finding ARNs.
pub async fn run_classic(
    stack: &LocalStack,
    deployed: &Deployed,
    account: &str,
    region: &str,
    findings_per_instance: usize,
) -> anyhow::Result<Vec<String>> {
    let template_arn = setup_classic(stack, deployed, account, region).await?;
    complete_classic_run(stack, account, region, &template_arn, findings_per_instance).await
}

/// Creates a tagged assessment template and lets the forwarder Lambda
/// subscribe it (CloudTrail trigger, then an idempotent scheduled sweep).
pub async fn setup_classic(
    stack: &LocalStack,
    deployed: &Deployed,
    account: &str,
    region: &str,
) -> anyhow::Result<String> {
    let credentials = stack.account_credentials(account).await?;
    let config = sdk_config(&stack.gateway.aws_url, region, Some(credentials.clone()));
    let inspector = aws_sdk_inspector::Client::new(&config);
    let target = inspector
        .create_assessment_target()
        .assessment_target_name("fleet")
        .send()
        .await?;
    let template = inspector
        .create_assessment_template()
        .assessment_target_arn(target.assessment_target_arn())
        .assessment_template_name("daily")
        .duration_in_seconds(900)
        .set_rules_package_arns(Some(Vec::new()))
        .user_attributes_for_findings(
            aws_sdk_inspector::types::Attribute::builder()
                .key(TEMPLATE_TAG.0)
                .value(TEMPLATE_TAG.1)
                .build()?,
        )
        .send()
        .await?;
    let template_arn = template.assessment_template_arn().to_owned();

    // The deployed forwarder's environment, acting in its own account.
    let mut env: BTreeMap<String, String> =
        deployed.forwarder_environment(account, region)?.clone();
    env.extend(crate::deployment::local_overrides(
        stack,
        region,
        Some(&credentials),
    ));
    let env: Vec<(String, String)> = env.into_iter().collect();
    let mut forwarder = LocalLambda::start(
        "fanin-forwarder",
        &workspace_binary("fanin-forwarder"),
        &env,
    )
    .await?;
    let cloudtrail = json!({
        "source": "aws.inspector",
        "detail-type": "AWS API Call via CloudTrail",
        "account": account,
        "region": region,
        "detail": {
            "eventSource": "inspector.amazonaws.com",
            "eventName": "CreateAssessmentTemplate",
            "awsRegion": region,
            "responseElements": {"assessmentTemplateArn": template_arn},
        },
    });
    let answer = forwarder.invoke(&cloudtrail).await?;
    anyhow::ensure!(
        answer
            .get("subscribed")
            .and_then(Value::as_array)
            .is_some_and(|s| s.len() == 1),
        "forwarder did not subscribe the template: {answer}"
    );
    // The scheduled sweep finds nothing left to do: subscriptions are idempotent.
    let sweep = forwarder
        .invoke(&json!({"detail-type": "Scheduled Event", "source": "aws.events"}))
        .await?;
    anyhow::ensure!(
        sweep.get("already_subscribed") == Some(&json!(1)),
        "sweep was not idempotent: {sweep}"
    );
    drop(forwarder);
    Ok(template_arn)
}

/// Starts an assessment run of `template_arn` and completes it: the devstack
/// creates the findings and publishes FINDING_REPORTED to the subscribed topic.
pub async fn complete_classic_run(
    stack: &LocalStack,
    account: &str,
    region: &str,
    template_arn: &str,
    findings_per_instance: usize,
) -> anyhow::Result<Vec<String>> {
    let credentials = stack.account_credentials(account).await?;
    let inspector = aws_sdk_inspector::Client::new(&sdk_config(
        &stack.gateway.aws_url,
        region,
        Some(credentials),
    ));
    let run = inspector
        .start_assessment_run()
        .assessment_template_arn(template_arn)
        .send()
        .await?;
    let http = reqwest::Client::new();
    let completed: Value = http
        .post(format!("{}/_devstack/inspector/complete-run", stack.gateway.aws_url))
        .json(&json!({"assessmentRunArn": run.assessment_run_arn(), "findingsPerInstance": findings_per_instance}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    Ok(completed
        .get("findingArns")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

/// The three timestamp forms Inspector2 events have used.
pub fn inspector2_time(epoch_seconds: i64, form: usize) -> Value {
    let time = chrono::DateTime::from_timestamp(epoch_seconds, 0).unwrap_or_default();
    match form % 3 {
        0 => json!(time.format("%b %-d, %Y, %-I:%M:%S %p").to_string()),
        1 => json!(time.format("%a %b %d %H:%M:%S%.3f UTC %Y").to_string()),
        _ => json!(time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
    }
}

/// An Inspector2 package-vulnerability finding on an EC2 instance.
pub fn inspector2_ec2_finding(facts: &InstanceFacts, index: usize, updated_epoch: i64) -> Value {
    let cves = [
        "CVE-2023-44487",
        "CVE-2024-3094",
        "CVE-2021-44228",
        "CVE-2022-0778",
        "CVE-2023-4863",
        "CVE-2024-6387",
    ];
    let severities = [
        "CRITICAL",
        "HIGH",
        "MEDIUM",
        "LOW",
        "INFORMATIONAL",
        "UNTRIAGED",
    ];
    let cve = cves[index % cves.len()];
    json!({
        "findingArn": format!("arn:aws:inspector2:{}:{}:finding/{}{:04}", facts.region, facts.account, &facts.instance_id[2..], index),
        "awsAccountId": facts.account,
        "type": "PACKAGE_VULNERABILITY",
        "severity": severities[index % severities.len()],
        "status": "ACTIVE",
        "title": format!("{cve} - openssl"),
        "description": format!("{cve} affects a package installed on the instance."),
        "firstObservedAt": inspector2_time(updated_epoch - 86_400, index),
        "lastObservedAt": inspector2_time(updated_epoch, index + 1),
        "updatedAt": inspector2_time(updated_epoch, index),
        "inspectorScore": 7.5,
        "epss": {"score": 0.0421},
        "exploitAvailable": if index.is_multiple_of(2) { "YES" } else { "NO" },
        "fixAvailable": "YES",
        "packageVulnerabilityDetails": {
            "vulnerabilityId": cve,
            "source": "NVD",
            "sourceUrl": format!("https://nvd.nist.gov/vuln/detail/{cve}"),
            "cvss": [{"baseScore": 7.5, "scoringVector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "source": "NVD", "version": "3.1"}],
            "referenceUrls": [format!("https://nvd.nist.gov/vuln/detail/{cve}")],
            "vulnerablePackages": [{"name": "openssl", "version": "3.0.2", "fixedInVersion": "3.0.13", "packageManager": "OS", "arch": "x86_64"}],
        },
        "remediation": {"recommendation": {"text": "Upgrade openssl to 3.0.13 or later."}},
        "resources": [{
            "id": facts.instance_id,
            "type": "AWS_EC2_INSTANCE",
            "region": facts.region,
            "partition": "aws",
            "tags": {"Name": "app"},
            "details": {"awsEc2Instance": {
                "vpcId": facts.vpc_id, "subnetId": facts.subnet_id, "ipV4Addresses": [facts.private_ip],
                "imageId": "ami-12c6146b", "platform": "AMAZON_LINUX_2023", "type": "t3.micro",
            }},
        }],
    })
}

/// `per_instance` package-vulnerability findings on each instance, the
/// `i`-th updated `i` seconds after `updated_epoch`.
pub fn inspector2_fleet_findings(
    facts: &[InstanceFacts],
    per_instance: usize,
    updated_epoch: i64,
) -> Vec<Value> {
    facts
        .iter()
        .flat_map(|f| {
            (0..per_instance).map(move |i| inspector2_ec2_finding(f, i, updated_epoch + i as i64))
        })
        .collect()
}

/// An Inspector2 finding on a container image or a Lambda function.
pub fn inspector2_serverless_finding(
    account: &str,
    region: &str,
    kind: &str,
    updated_epoch: i64,
) -> Value {
    let (resource_type, id, details) = match kind {
        "ecr" => (
            "AWS_ECR_CONTAINER_IMAGE",
            format!(
                "arn:aws:ecr:{region}:{account}:repository/shop/sha256:{}",
                "a".repeat(64)
            ),
            json!({"awsEcrContainerImage": {"repositoryName": "shop", "imageTags": ["v1"], "platform": "LINUX"}}),
        ),
        _ => (
            "AWS_LAMBDA_FUNCTION",
            format!("arn:aws:lambda:{region}:{account}:function:thumbnailer"),
            json!({"awsLambdaFunction": {"functionName": "thumbnailer", "runtime": "PYTHON_3_12"}}),
        ),
    };
    json!({
        "findingArn": format!("arn:aws:inspector2:{region}:{account}:finding/{kind}{updated_epoch}"),
        "awsAccountId": account,
        "type": "PACKAGE_VULNERABILITY",
        "severity": "HIGH",
        "status": "ACTIVE",
        "title": "CVE-2024-24790 - stdlib",
        "description": "A Go standard library flaw.",
        "firstObservedAt": inspector2_time(updated_epoch - 3600, 2),
        "updatedAt": inspector2_time(updated_epoch, 1),
        "fixAvailable": "YES",
        "exploitAvailable": "NO",
        "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2024-24790", "source": "NVD",
            "vulnerablePackages": [{"name": "stdlib", "version": "1.21.0", "fixedInVersion": "1.22.4", "packageManager": "GOBINARY"}]},
        "resources": [{"id": id, "type": resource_type, "region": region, "partition": "aws", "details": details}],
    })
}

/// Emits Inspector2 finding events as Inspector does: on the application
/// account's default bus, from where its rule forwards them centrally.
pub async fn emit_inspector2(
    stack: &LocalStack,
    account: &str,
    region: &str,
    findings: &[Value],
) -> anyhow::Result<()> {
    put_events(
        stack,
        account,
        region,
        ("aws.inspector2", "Inspector2 Finding"),
        findings,
    )
    .await
}

/// PutEvents of `(source, detail-type)` events, one per detail, on the
/// default bus of `account` in `region`.
async fn put_events(
    stack: &LocalStack,
    account: &str,
    region: &str,
    (source, detail_type): (&str, &str),
    details: &[Value],
) -> anyhow::Result<()> {
    let credentials = stack.account_credentials(account).await?;
    let events = aws_sdk_eventbridge::Client::new(&stack.moto_config(region, Some(credentials)));
    for chunk in details.chunks(10) {
        let entries = chunk
            .iter()
            .map(|detail| {
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(source)
                    .detail_type(detail_type)
                    .detail(detail.to_string())
                    .build()
            })
            .collect();
        let answer = events
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "PutEvents: {}",
                    aws_sdk_eventbridge::error::DisplayErrorContext(e)
                )
            })?;
        anyhow::ensure!(
            answer.failed_entry_count() == 0,
            "put_events failed: {answer:?}"
        );
    }
    Ok(())
}

/// A GuardDuty finding about `facts`'s instance in the shape GuardDuty
/// publishes (`tests/fixtures/published/guardduty/`): an inbound SSH
/// brute-force attempt from a documentation address, `count` times.
pub fn guardduty_ec2_finding(facts: &InstanceFacts, count: i64, updated_epoch: i64) -> Value {
    let time = |epoch: i64| {
        chrono::DateTime::from_timestamp(epoch, 0)
            .expect("a plausible epoch")
            .format("%Y-%m-%dT%H:%M:%S%.3fZ")
            .to_string()
    };
    let detector = "4cc5b2b8d2bca4b8a4f2b1f0c8a3e9d1";
    let id = format!(
        "{:032x}",
        u128::from_str_radix(&facts.instance_id[2..], 16).unwrap_or(0)
    );
    json!({
        "schemaVersion": "2.0",
        "accountId": facts.account,
        "region": facts.region,
        "partition": "aws",
        "id": id,
        "arn": format!("arn:aws:guardduty:{}:{}:detector/{detector}/finding/{id}", facts.region, facts.account),
        "type": "UnauthorizedAccess:EC2/SSHBruteForce",
        "resource": {
            "resourceType": "Instance",
            "instanceDetails": {
                "instanceId": facts.instance_id,
                "instanceType": "t3.micro",
                "instanceState": "running",
                "networkInterfaces": [{
                    "networkInterfaceId": "eni-0000000000000000a",
                    "privateIpAddress": facts.private_ip,
                    "publicIp": facts.public_ip,
                    "subnetId": facts.subnet_id,
                    "vpcId": facts.vpc_id,
                    "securityGroups": facts.security_group_ids.iter()
                        .map(|id| json!({"groupId": id, "groupName": id}))
                        .collect::<Vec<_>>(),
                }],
            },
        },
        "service": {
            "serviceName": "guardduty",
            "detectorId": detector,
            "action": {
                "actionType": "NETWORK_CONNECTION",
                "networkConnectionAction": {
                    "connectionDirection": "INBOUND",
                    "protocol": "TCP",
                    "blocked": false,
                    "localPortDetails": {"port": 22, "portName": "SSH"},
                    "remotePortDetails": {"port": 49152, "portName": "Unknown"},
                    "remoteIpDetails": {
                        "ipAddressV4": "198.51.100.7",
                        "country": {"countryName": "Example"},
                        "organization": {"asn": "64496", "asnOrg": "Example Networks"},
                    },
                },
            },
            "resourceRole": "TARGET",
            "eventFirstSeen": time(updated_epoch - 600),
            "eventLastSeen": time(updated_epoch),
            "archived": false,
            "count": count,
        },
        "severity": 5,
        "createdAt": time(updated_epoch - 600),
        "updatedAt": time(updated_epoch),
        "title": format!("SSH brute force attacks against {}.", facts.instance_id),
        "description": format!("{} is performing SSH brute force attacks against {}.", "198.51.100.7", facts.instance_id),
    })
}

/// Puts GuardDuty Finding events on the default bus of the GuardDuty
/// administrator `delivered_by` in `region`, as GuardDuty does for every
/// member of the organization.
pub async fn emit_guardduty(
    stack: &LocalStack,
    delivered_by: &str,
    region: &str,
    findings: &[Value],
) -> anyhow::Result<()> {
    put_events(
        stack,
        delivered_by,
        region,
        ("aws.guardduty", "GuardDuty Finding"),
        findings,
    )
    .await
}

/// Puts Inspector2 events on the central queue as the central bus's rule
/// delivers them (the whole event, with the member's `account` and `region`),
/// without going through EventBridge: moto's PutEvents with rule matching and
/// SQS targets runs at a few events per second, too slow for the 100,000-finding
/// load run. Everything downstream of the queue is the same.
pub async fn enqueue_inspector2(
    stack: &LocalStack,
    central: &Central,
    account: &str,
    region: &str,
    findings: &[Value],
) -> anyhow::Result<()> {
    use futures::{StreamExt, TryStreamExt};
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let batches: Vec<Vec<aws_sdk_sqs::types::SendMessageBatchRequestEntry>> = findings
        .chunks(10)
        .map(|chunk| {
            chunk
                .iter()
                .enumerate()
                .map(|(n, detail)| {
                    let event = json!({
                        "version": "0",
                        "id": uuid::Uuid::new_v4().to_string(),
                        "detail-type": "Inspector2 Finding",
                        "source": "aws.inspector2",
                        "account": account,
                        "time": detail["updatedAt"],
                        "region": region,
                        "resources": [],
                        "detail": detail,
                    });
                    aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                        .id(n.to_string())
                        .message_body(event.to_string())
                        .build()
                        .expect("id and body are set")
                })
                .collect()
        })
        .collect();
    futures::stream::iter(batches)
        .map(|entries| {
            let sqs = sqs.clone();
            async move {
                let answer = sqs
                    .send_message_batch()
                    .queue_url(&central.queue_url)
                    .set_entries(Some(entries))
                    .send()
                    .await?;
                anyhow::ensure!(
                    answer.failed().is_empty(),
                    "send_message_batch failed: {:?}",
                    answer.failed()
                );
                anyhow::Ok(())
            }
        })
        .buffer_unordered(8)
        .try_collect::<()>()
        .await
}

/// Sends raw bodies straight to the central queue (bad-input tests, replays).
pub async fn send_raw(
    stack: &LocalStack,
    central: &Central,
    bodies: &[String],
) -> anyhow::Result<()> {
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    for body in bodies {
        sqs.send_message()
            .queue_url(&central.queue_url)
            .message_body(body)
            .send()
            .await?;
    }
    Ok(())
}

/// Every object under `prefix` in the central bucket: (key, bytes).
pub async fn bucket_objects(
    stack: &LocalStack,
    central: &Central,
    prefix: &str,
) -> anyhow::Result<Vec<(String, Vec<u8>)>> {
    let s3 = central_s3(stack);
    let mut found = Vec::new();
    for key in list_keys(&s3, &central.bucket, prefix).await? {
        let object = s3
            .get_object()
            .bucket(&central.bucket)
            .key(&key)
            .send()
            .await?;
        found.push((key, object.body.collect().await?.into_bytes().to_vec()));
    }
    Ok(found)
}

/// Every finding record archived in the bucket, with the object key.
pub async fn archived_records(
    stack: &LocalStack,
    central: &Central,
) -> anyhow::Result<Vec<(String, Value)>> {
    let mut records = Vec::new();
    for (key, bytes) in bucket_objects(stack, central, "findings/").await? {
        let mut text = String::new();
        flate2::read::GzDecoder::new(&bytes[..]).read_to_string(&mut text)?;
        for line in text.lines() {
            records.push((key.clone(), serde_json::from_str(line)?));
        }
    }
    Ok(records)
}

/// Keys under `prefix` in the central bucket.
pub async fn bucket_keys(
    stack: &LocalStack,
    central: &Central,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    list_keys(&central_s3(stack), &central.bucket, prefix).await
}

/// The quarantined messages: (key, object).
pub async fn quarantined(
    stack: &LocalStack,
    central: &Central,
) -> anyhow::Result<Vec<(String, Value)>> {
    bucket_objects(stack, central, "quarantine/")
        .await?
        .into_iter()
        .map(|(key, bytes)| Ok((key, serde_json::from_slice(&bytes)?)))
        .collect()
}

/// An S3 client of `config`, path-style as moto on loopback needs.
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(true)
            .build(),
    )
}

/// The central account's S3 client.
pub fn central_s3(stack: &LocalStack) -> aws_sdk_s3::Client {
    s3_client(&stack.moto_config(PRIMARY_REGION, None))
}

async fn list_keys(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    prefix: &str,
) -> anyhow::Result<Vec<String>> {
    let mut keys = Vec::new();
    let mut pages = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        keys.extend(
            page?
                .contents()
                .iter()
                .filter_map(|o| o.key().map(str::to_owned)),
        );
    }
    Ok(keys)
}

/// Every document of the latest-state index (straight from osmem, not through the gateway).
pub async fn indexed_documents(
    stack: &LocalStack,
    central: &Central,
) -> anyhow::Result<Vec<(String, Value)>> {
    indexed_in(stack, central, "findings").await
}

/// Every document of the Detection Finding index (`<prefix>-detections`).
pub async fn indexed_detections(
    stack: &LocalStack,
    central: &Central,
) -> anyhow::Result<Vec<(String, Value)>> {
    indexed_in(stack, central, "detections").await
}

/// Every document of `<prefix>-<suffix>` (none if it does not exist).
pub async fn indexed_in(
    stack: &LocalStack,
    central: &Central,
    suffix: &str,
) -> anyhow::Result<Vec<(String, Value)>> {
    let http = reqwest::Client::new();
    let index = format!("{}-{suffix}", central.index_prefix);
    http.post(format!("{}/{index}/_refresh", stack.osmem.url))
        .send()
        .await?;
    let answer: Value = http
        .post(format!("{}/{index}/_search", stack.osmem.url))
        .json(&json!({"size": 10000, "query": {"match_all": {}}}))
        .send()
        .await?
        .json()
        .await?;
    Ok(answer
        .pointer("/hits/hits")
        .and_then(Value::as_array)
        .map(|hits| {
            hits.iter()
                .filter_map(|h| {
                    Some((
                        h.get("_id")?.as_str()?.to_owned(),
                        h.get("_source")?.clone(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default())
}

/// Messages in the dead-letter queue.
pub async fn dlq_depth(stack: &LocalStack, central: &Central) -> anyhow::Result<u64> {
    let sqs = aws_sdk_sqs::Client::new(&stack.moto_config(PRIMARY_REGION, None));
    let answer = sqs
        .get_queue_attributes()
        .queue_url(&central.dlq_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await?;
    Ok(answer
        .attributes()
        .and_then(|a| a.get(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0))
}

/// The default drain limit for a local queue.
pub const DRAIN_LIMIT: Duration = Duration::from_secs(240);
