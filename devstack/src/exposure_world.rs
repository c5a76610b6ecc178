//! The unused-exposure world: an application account whose security-group
//! rules open to the internet are used, unused, used only from inside, used
//! only by answers, used over IPv6 or added mid-window, with VPC Flow Logs of
//! known traffic in the flow-log bucket, so a test (and the demo) can assert
//! the evaluation's verdict on every rule exactly ([`ExposureWorld::expected`]).
//!
//! In each of two regions of one account, two instances:
//! - `web` has three groups: `exposure-web` (TCP 443 and 8080 from
//!   `0.0.0.0/0`), `exposure-admin` (TCP 22 and TCP 443 from `0.0.0.0/0`: the
//!   same 443 flows use two rules of two groups) and `exposure-late` (TCP 9443
//!   from `0.0.0.0/0`, added three days ago; attempts before that were
//!   rejected, accepted ones follow);
//! - `worker` has `exposure-return` (TCP 1024-65535 from `0.0.0.0/0`, whose
//!   only inbound traffic is the answers to connections the worker opened)
//!   and `exposure-v6` (TCP 443 from `::/0`, used by IPv6 clients).
//!
//! 8080 sees only rejected attempts (a network ACL stops them: scanning of an
//! unused open port); 22 only connections from the VPC itself. Flow logs:
//! the first region's web interface in the default format (with one
//! malformed line), its worker in a custom version 5 format (with a NODATA
//! and a SKIPDATA window), the second region's both in Parquet.
//!
//! The groups are created by a person of the account through the gateway,
//! so CloudTrail records them: the baseline dated 30 days ago, the late rule
//! 3 days ago (the CloudTrail clock offset). No group carries the
//! `tier: web` tag the demo's guard policy selects, so the guard leaves
//! them as they are.

use std::net::IpAddr;

use anyhow::Context;
use aws_sdk_ec2::types::{
    Filter, InstanceNetworkInterfaceSpecification, InstanceType, IpPermission, IpRange, Ipv6Range,
};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::flowlogs::{Action, Draw, Flow, FlowLog, Format, Gap, InterfaceFacts, put_objects};
use crate::scenario::{self, LocalStack};

/// The window the evaluation judges: 14 days ending at the world's `now`.
pub const WINDOW_DAYS: i64 = 14;

/// What the evaluation must conclude about one internet-open ingress rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExpectedRule {
    pub account: String,
    pub region: String,
    pub group_id: String,
    pub group_name: String,
    pub rule_id: String,
    /// `tcp`.
    pub protocol: String,
    pub from_port: i32,
    pub to_port: i32,
    /// `0.0.0.0/0` or `::/0`.
    pub cidr: String,
    /// `used`, `used_internally` or `unused`.
    pub state: &'static str,
    /// Why (for a failing assertion's message).
    pub why: &'static str,
    /// Accepted inbound flows from the internet that use the rule.
    pub used_flows: u64,
    /// The latest end of those flows (epoch seconds).
    pub last_seen: Option<i64>,
    /// Their sources, sorted.
    pub internet_sources: Vec<String>,
    /// Rejected inbound attempts on the rule's ports in the window.
    pub rejected_attempts: u64,
    /// The interfaces the rule's group is attached to.
    pub interfaces: Vec<String>,
    /// When the rule was created, as CloudTrail dates it.
    pub created: DateTime<Utc>,
}

/// One instance of the world.
#[derive(Debug, Clone, Serialize)]
pub struct WorldInstance {
    pub account: String,
    pub region: String,
    pub name: &'static str,
    pub instance_id: String,
    pub interface_id: String,
    pub private_ip: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub vpc_cidr: String,
    pub group_ids: Vec<String>,
}

/// The built world.
#[derive(Debug, Clone, Serialize)]
pub struct ExposureWorld {
    pub account: String,
    pub regions: Vec<String>,
    pub flow_log_bucket: String,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub instances: Vec<WorldInstance>,
    /// Every internet-open ingress rule of the world's groups.
    pub expected: Vec<ExpectedRule>,
    /// The flow-log objects written (keys).
    pub objects: Vec<String>,
    /// Malformed lines written (the default-format object).
    pub malformed_lines: usize,
}

/// A rule as the world asks for it.
struct RuleSpec {
    group: &'static str,
    port: (i32, i32),
    cidr: &'static str,
}

const BASELINE: [RuleSpec; 5] = [
    RuleSpec {
        group: "exposure-web",
        port: (443, 443),
        cidr: "0.0.0.0/0",
    },
    RuleSpec {
        group: "exposure-web",
        port: (8080, 8080),
        cidr: "0.0.0.0/0",
    },
    RuleSpec {
        group: "exposure-admin",
        port: (22, 22),
        cidr: "0.0.0.0/0",
    },
    RuleSpec {
        group: "exposure-admin",
        port: (443, 443),
        cidr: "0.0.0.0/0",
    },
    RuleSpec {
        group: "exposure-return",
        port: (1024, 65535),
        cidr: "0.0.0.0/0",
    },
];
const IPV6_RULE: RuleSpec = RuleSpec {
    group: "exposure-v6",
    port: (443, 443),
    cidr: "::/0",
};
const LATE_RULE: RuleSpec = RuleSpec {
    group: "exposure-late",
    port: (9443, 9443),
    cidr: "0.0.0.0/0",
};

/// Builds the world in `account` and `regions` (two), writing its flow logs
/// to `flow_log_bucket` (created in the central account when missing), with
/// traffic dated relative to `now`. Deterministic for a `seed`.
pub async fn build(
    stack: &LocalStack,
    account: &str,
    regions: &[&str],
    flow_log_bucket: &str,
    now: DateTime<Utc>,
    seed: u64,
) -> anyhow::Result<ExposureWorld> {
    let central_s3 = scenario::central_s3(stack);
    if central_s3
        .head_bucket()
        .bucket(flow_log_bucket)
        .send()
        .await
        .is_err()
    {
        central_s3
            .create_bucket()
            .bucket(flow_log_bucket)
            .send()
            .await
            .with_context(|| format!("creating {flow_log_bucket}"))?;
    }
    let person = stack
        .person_credentials(account, "exposure-operator", "carol")
        .await?;
    let admin = stack.account_credentials(account).await?;
    let mut world = ExposureWorld {
        account: account.to_owned(),
        regions: regions.iter().map(|r| (*r).to_owned()).collect(),
        flow_log_bucket: flow_log_bucket.to_owned(),
        window_start: now - Duration::days(WINDOW_DAYS),
        window_end: now,
        instances: Vec::new(),
        expected: Vec::new(),
        objects: Vec::new(),
        malformed_lines: 0,
    };
    let mut draw = Draw::new(seed);
    for (index, region) in regions.iter().enumerate() {
        let through_gateway = aws_sdk_ec2::Client::new(&scenario::sdk_config(
            &stack.gateway.aws_url,
            region,
            Some(person.clone()),
        ));
        let direct = aws_sdk_ec2::Client::new(&stack.moto_config(region, Some(admin.clone())));
        let region_world = build_region(
            stack,
            &through_gateway,
            &direct,
            account,
            region,
            index,
            now,
            &mut draw,
        )
        .await
        .with_context(|| format!("the exposure world in {account} {region}"))?;
        for log in &region_world.logs {
            let objects = log.objects()?;
            put_objects(&central_s3, flow_log_bucket, &objects).await?;
            world.malformed_lines += objects.iter().map(|o| o.malformed_lines).sum::<usize>();
            world.objects.extend(objects.into_iter().map(|o| o.key));
        }
        world.instances.extend(region_world.instances);
        world.expected.extend(region_world.expected);
    }
    stack
        .gateway
        .cloudtrail()
        .set_clock_offset(Duration::zero());
    stack
        .gateway
        .cloudtrail()
        .settled(std::time::Duration::from_secs(60))
        .await?;
    Ok(world)
}

struct RegionWorld {
    instances: Vec<WorldInstance>,
    expected: Vec<ExpectedRule>,
    logs: Vec<FlowLog>,
}

/// A group and its rules as created.
struct Group {
    name: &'static str,
    id: String,
    /// (from port, to port, cidr, rule id, created).
    rules: Vec<(i32, i32, &'static str, String, DateTime<Utc>)>,
}

#[allow(clippy::too_many_arguments)]
async fn build_region(
    stack: &LocalStack,
    ec2: &aws_sdk_ec2::Client,
    direct: &aws_sdk_ec2::Client,
    account: &str,
    region: &str,
    index: usize,
    now: DateTime<Utc>,
    draw: &mut Draw,
) -> anyhow::Result<RegionWorld> {
    let cloudtrail = stack.gateway.cloudtrail();
    let vpc_cidr = format!("10.{}.0.0/16", 40 + index);
    let vpc_id = direct
        .create_vpc()
        .cidr_block(&vpc_cidr)
        .send()
        .await?
        .vpc()
        .and_then(|v| v.vpc_id())
        .context("no vpc id")?
        .to_owned();
    let subnet_id = direct
        .create_subnet()
        .vpc_id(&vpc_id)
        .cidr_block(format!("10.{}.1.0/24", 40 + index))
        .send()
        .await?
        .subnet()
        .and_then(|s| s.subnet_id())
        .context("no subnet id")?
        .to_owned();

    // The baseline, 30 days ago; the late rule, 3 days ago.
    let baseline_at = now - Duration::days(30);
    cloudtrail.set_clock_offset(baseline_at - Utc::now());
    let mut groups = Vec::new();
    for name in [
        "exposure-web",
        "exposure-admin",
        "exposure-late",
        "exposure-return",
        "exposure-v6",
    ] {
        let id = ec2
            .create_security_group()
            .group_name(name)
            .description(format!("fanin exposure world: {name}"))
            .vpc_id(&vpc_id)
            .send()
            .await?
            .group_id()
            .context("no group id")?
            .to_owned();
        groups.push(Group {
            name,
            id,
            rules: Vec::new(),
        });
    }
    for spec in BASELINE.iter().chain([&IPV6_RULE]) {
        authorize(ec2, &mut groups, spec, baseline_at).await?;
    }
    let late_at = now - Duration::days(3);
    cloudtrail.set_clock_offset(late_at - Utc::now());
    authorize(ec2, &mut groups, &LATE_RULE, late_at).await?;
    cloudtrail.set_clock_offset(Duration::zero());

    let group_id = |name: &str| -> String {
        groups
            .iter()
            .find(|g| g.name == name)
            .map(|g| g.id.clone())
            .unwrap_or_default()
    };
    let web_groups = vec![
        group_id("exposure-web"),
        group_id("exposure-admin"),
        group_id("exposure-late"),
    ];
    let worker_groups = vec![group_id("exposure-return"), group_id("exposure-v6")];
    let mut instances = Vec::new();
    for (name, group_ids) in [("web", web_groups), ("worker", worker_groups)] {
        let run = direct
            .run_instances()
            .image_id("ami-12c6146b")
            .instance_type(InstanceType::T3Micro)
            .min_count(1)
            .max_count(1)
            .network_interfaces(
                InstanceNetworkInterfaceSpecification::builder()
                    .device_index(0)
                    .subnet_id(&subnet_id)
                    .set_groups(Some(group_ids.clone()))
                    .associate_public_ip_address(true)
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
        let described = direct
            .describe_instances()
            .filters(
                Filter::builder()
                    .name("instance-id")
                    .values(&instance_id)
                    .build(),
            )
            .send()
            .await?;
        let instance = described
            .reservations()
            .iter()
            .flat_map(|r| r.instances())
            .next()
            .context("the instance is not described")?;
        let interface = instance
            .network_interfaces()
            .first()
            .context("the instance has no interface")?;
        instances.push(WorldInstance {
            account: account.to_owned(),
            region: region.to_owned(),
            name,
            instance_id: instance_id.clone(),
            interface_id: interface
                .network_interface_id()
                .context("no interface id")?
                .to_owned(),
            private_ip: instance
                .private_ip_address()
                .context("no private address")?
                .to_owned(),
            vpc_id: vpc_id.clone(),
            subnet_id: subnet_id.clone(),
            vpc_cidr: vpc_cidr.clone(),
            group_ids,
        });
    }
    let (web, worker) = (&instances[0], &instances[1]);

    // The traffic, within the window.
    let ip = |text: &str| -> IpAddr { text.parse().expect("a literal address") };
    let web_ip = ip(&web.private_ip);
    let worker_ip = ip(&worker.private_ip);
    let worker_v6 = ip(&format!("2600:1f18:{:x}::10", 0x40 + index));
    let day = |days_ago: i64, hour: i64| now - Duration::days(days_ago) + Duration::hours(hour);
    let mut web_flows = Vec::new();
    let mut worker_flows = Vec::new();
    // 443 from the internet on days 12, 7 and 1 before now.
    let mut https_sources = Vec::new();
    let mut https_last = 0;
    for days_ago in [12, 7, 1] {
        let source = draw.public_v4([198, 18 + index as u8]);
        https_sources.push(source.to_string());
        let flow = Flow::inbound_tcp(
            &web.interface_id,
            source,
            draw.ephemeral_port(),
            web_ip,
            443,
            Action::Accept,
            day(days_ago, -2),
            12,
        );
        https_last = https_last.max(flow.end.timestamp());
        web_flows.push(flow);
    }
    // 8080: only rejected attempts (a network ACL in front), from scanners.
    let mut scans_8080 = 0;
    for days_ago in [11, 9, 5, 2] {
        web_flows.push(Flow::inbound_tcp(
            &web.interface_id,
            draw.public_v4([45, 155]),
            draw.ephemeral_port(),
            web_ip,
            8080,
            Action::Reject,
            day(days_ago, -5),
            1,
        ));
        scans_8080 += 1;
    }
    // 22: only from the VPC itself.
    for days_ago in [10, 4] {
        web_flows.push(Flow::inbound_tcp(
            &web.interface_id,
            ip(&format!("10.{}.1.99", 40 + index)),
            draw.ephemeral_port(),
            web_ip,
            22,
            Action::Accept,
            day(days_ago, -3),
            40,
        ));
    }
    // 9443: rejected before the rule existed, accepted after.
    let mut late_rejected = 0;
    for days_ago in [6, 5] {
        web_flows.push(Flow::inbound_tcp(
            &web.interface_id,
            draw.public_v4([203, 0]),
            draw.ephemeral_port(),
            web_ip,
            9443,
            Action::Reject,
            day(days_ago, -1),
            2,
        ));
        late_rejected += 1;
    }
    let late_source = draw.public_v4([192, 88]);
    let late_flow = Flow::inbound_tcp(
        &web.interface_id,
        late_source,
        draw.ephemeral_port(),
        web_ip,
        9443,
        Action::Accept,
        day(2, -4),
        6,
    );
    let late_last = late_flow.end.timestamp();
    web_flows.push(late_flow);
    // The worker opens connections to the internet on 443: their answers
    // arrive on its ephemeral ports, inside the 1024-65535 rule's range.
    for days_ago in [13, 8, 3] {
        worker_flows.push(Flow::outbound_tcp(
            &worker.interface_id,
            worker_ip,
            draw.ephemeral_port(),
            draw.public_v4([52, 94]),
            443,
            day(days_ago, -6),
            30,
        ));
    }
    // IPv6 clients on 443.
    let mut v6_sources = Vec::new();
    let mut v6_last = 0;
    for days_ago in [9, 2] {
        let source = ip(&format!("2a05:d018:{:x}::{:x}", 0x10 + index, days_ago));
        v6_sources.push(source.to_string());
        let flow = Flow::inbound_tcp(
            &worker.interface_id,
            source,
            draw.ephemeral_port(),
            worker_v6,
            443,
            Action::Accept,
            day(days_ago, -7),
            9,
        );
        v6_last = v6_last.max(flow.end.timestamp());
        worker_flows.push(flow);
    }
    https_sources.sort();
    v6_sources.sort();

    let facts = |instance: &WorldInstance| InterfaceFacts {
        interface_id: instance.interface_id.clone(),
        vpc_id: instance.vpc_id.clone(),
        subnet_id: subnet_id.clone(),
        instance_id: Some(instance.instance_id.clone()),
        az_id: format!("{}-az1", region.replace('-', "")),
    };
    let flow_log_id = |n: u64| format!("fl-0{:016x}", (index as u64) << 8 | n);
    let mut logs = Vec::new();
    if index == 0 {
        let mut web_log = FlowLog::new(account, region, &flow_log_id(1), Format::DefaultText);
        web_log.interfaces.push(facts(web));
        web_log.flows = web_flows;
        web_log.malformed_lines = 1;
        web_log.seed = draw.next_u64();
        let mut worker_log = FlowLog::new(account, region, &flow_log_id(2), Format::CustomV5Text);
        worker_log.interfaces.push(facts(worker));
        worker_log.flows = worker_flows;
        worker_log.gaps = vec![
            Gap {
                interface_id: worker.interface_id.clone(),
                start: day(4, 0),
                end: day(4, 0) + Duration::minutes(10),
                skipped: false,
            },
            Gap {
                interface_id: worker.interface_id.clone(),
                start: day(5, 0),
                end: day(5, 0) + Duration::minutes(10),
                skipped: true,
            },
        ];
        worker_log.seed = draw.next_u64();
        logs.extend([web_log, worker_log]);
    } else {
        let mut log = FlowLog::new(account, region, &flow_log_id(1), Format::Parquet);
        log.interfaces.extend([facts(web), facts(worker)]);
        log.flows = web_flows.into_iter().chain(worker_flows).collect();
        log.seed = draw.next_u64();
        logs.push(log);
    }

    let mut expected = Vec::new();
    for group in &groups {
        let interfaces: Vec<String> = instances
            .iter()
            .filter(|i| i.group_ids.contains(&group.id))
            .map(|i| i.interface_id.clone())
            .collect();
        for (from_port, to_port, cidr, rule_id, created) in &group.rules {
            let rule =
                |state, why, used_flows, last_seen, sources: &[String], rejected| ExpectedRule {
                    account: account.to_owned(),
                    region: region.to_owned(),
                    group_id: group.id.clone(),
                    group_name: group.name.to_owned(),
                    rule_id: rule_id.clone(),
                    protocol: "tcp".to_owned(),
                    from_port: *from_port,
                    to_port: *to_port,
                    cidr: (*cidr).to_owned(),
                    state,
                    why,
                    used_flows,
                    last_seen,
                    internet_sources: sources.to_vec(),
                    rejected_attempts: rejected,
                    interfaces: interfaces.clone(),
                    created: *created,
                };
            expected.push(match (group.name, *from_port) {
                ("exposure-web" | "exposure-admin", 443) => rule(
                    "used",
                    "HTTPS clients from the internet (one flow uses two groups' rules)",
                    3,
                    Some(https_last),
                    &https_sources,
                    0,
                ),
                ("exposure-web", 8080) => {
                    rule("unused", "only rejected scans", 0, None, &[], scans_8080)
                }
                ("exposure-admin", 22) => {
                    rule("used_internally", "SSH only from the VPC", 0, None, &[], 0)
                }
                ("exposure-late", 9443) => rule(
                    "used",
                    "added 3 days ago, accepted after; rejected before",
                    1,
                    Some(late_last),
                    &[late_source.to_string()],
                    late_rejected,
                ),
                ("exposure-return", _) => rule(
                    "unused",
                    "only answers to connections the worker opened",
                    0,
                    None,
                    &[],
                    0,
                ),
                ("exposure-v6", 443) => {
                    rule("used", "IPv6 clients", 2, Some(v6_last), &v6_sources, 0)
                }
                (name, port) => anyhow::bail!("no expectation for {name} {port}"),
            });
        }
    }
    Ok(RegionWorld {
        instances,
        expected,
        logs,
    })
}

/// Authorizes `spec` on its group and records the rule id EC2 gave it.
async fn authorize(
    ec2: &aws_sdk_ec2::Client,
    groups: &mut [Group],
    spec: &RuleSpec,
    created: DateTime<Utc>,
) -> anyhow::Result<()> {
    let group = groups
        .iter_mut()
        .find(|g| g.name == spec.group)
        .context("a group of the world")?;
    let mut permission = IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(spec.port.0)
        .to_port(spec.port.1);
    permission = if spec.cidr.contains(':') {
        permission.ipv6_ranges(Ipv6Range::builder().cidr_ipv6(spec.cidr).build())
    } else {
        permission.ip_ranges(IpRange::builder().cidr_ip(spec.cidr).build())
    };
    ec2.authorize_security_group_ingress()
        .group_id(&group.id)
        .ip_permissions(permission.build())
        .send()
        .await?;
    let rules = ec2
        .describe_security_group_rules()
        .filters(Filter::builder().name("group-id").values(&group.id).build())
        .send()
        .await?;
    let rule_id = rules
        .security_group_rules()
        .iter()
        .find(|r| {
            r.is_egress() == Some(false)
                && r.from_port() == Some(spec.port.0)
                && r.to_port() == Some(spec.port.1)
                && (r.cidr_ipv4() == Some(spec.cidr) || r.cidr_ipv6() == Some(spec.cidr))
        })
        .and_then(|r| r.security_group_rule_id())
        .context("the authorized rule is not described")?
        .to_owned();
    group
        .rules
        .push((spec.port.0, spec.port.1, spec.cidr, rule_id, created));
    Ok(())
}
