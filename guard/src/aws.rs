//! The AWS adapters of [`crate::ports`]: one method per SDK call,
//! paginated, in the function's own account and region, with fanin's
//! timeouts and the SDK's standard retries ([`fanin::aws::load_sdk_config`]).
//! Every error is classified once by [`fanin::aws::classify`], keeping its
//! AWS code.

use std::collections::BTreeMap;
use std::sync::Arc;

use anyhow::Context;
use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ec2::types::{self as ec2, Filter};
use fanin::aws::classify;
use fanin::guard::permission::{Direction, Peer, Permission};
use fanin::guard::policy::Policy;
use fanin::guard::record::{self, AttachedInterface};
use fanin::ports::CallError;
use tracing::warn;

use crate::Guard;
use crate::config::GuardConfig;
use crate::ports::{
    ComplianceReporter, DescribedRule, Evaluation, GroupDescription, GroupLookup, Notifier,
    RecordEntry, RecordSink, SecurityGroups,
};

/// EC2 accepts up to 200 values in one filter.
const FILTER_VALUES_LIMIT: usize = 200;

/// Builds the guard at cold start: the SDK configuration, the clients, and
/// the policy read from S3 and validated (an invalid policy fails the cold
/// start with every problem listed).
pub async fn build_guard(config: GuardConfig) -> anyhow::Result<Guard> {
    let sdk = fanin::aws::load_sdk_config("fanin-guard").await;
    let policy = load_policy(&sdk, &config).await?;
    Ok(guard_from_sdk(&sdk, config, policy))
}

/// The guard with AWS clients from `sdk` (tests point it at moto).
pub fn guard_from_sdk(sdk: &SdkConfig, config: GuardConfig, policy: Policy) -> Guard {
    let notifier: Option<Arc<dyn Notifier>> = config.topic_arn.clone().map(|topic_arn| {
        Arc::new(SnsNotifier {
            client: aws_sdk_sns::Client::new(sdk),
            topic_arn,
        }) as Arc<dyn Notifier>
    });
    Guard {
        groups: Arc::new(Ec2SecurityGroups::new(sdk)),
        compliance: Arc::new(ConfigEvaluations {
            client: aws_sdk_config::Client::new(sdk),
        }),
        records: Arc::new(EventBridgeRecords {
            client: aws_sdk_eventbridge::Client::new(sdk),
            bus: config.event_bus.clone(),
        }),
        notifier,
        config,
        policy,
    }
}

/// Reads the policy object (`GetObject` with the pinned version) and parses it.
pub async fn load_policy(sdk: &SdkConfig, config: &GuardConfig) -> anyhow::Result<Policy> {
    let client = aws_sdk_s3::Client::new(sdk);
    let object = client
        .get_object()
        .bucket(&config.policy_bucket)
        .key(&config.policy_key)
        .set_version_id(config.policy_version.clone())
        .send()
        .await
        .map_err(|e| classify("GetObject", e))
        .with_context(|| {
            format!(
                "reading the guard policy s3://{}/{}",
                config.policy_bucket, config.policy_key
            )
        })?;
    let bytes = object
        .body
        .collect()
        .await
        .context("reading the guard policy body")?
        .into_bytes();
    let text = String::from_utf8(bytes.to_vec()).context("the guard policy is not UTF-8")?;
    Ok(Policy::parse(&text)?)
}

/// EC2 security groups of the function's account and region.
pub struct Ec2SecurityGroups {
    client: aws_sdk_ec2::Client,
}

impl Ec2SecurityGroups {
    pub fn new(sdk: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_ec2::Client::new(sdk),
        }
    }
}

fn is_not_found(error: &CallError) -> bool {
    crate::actions::error_code(error) == "InvalidGroup.NotFound"
}

#[async_trait]
impl SecurityGroups for Ec2SecurityGroups {
    async fn describe_group(
        &self,
        lookup: &GroupLookup,
    ) -> Result<Option<GroupDescription>, CallError> {
        let request = self.client.describe_security_groups();
        let request = match lookup {
            GroupLookup::Id(id) => request.group_ids(id),
            GroupLookup::Name(name) => request.group_names(name),
        };
        match request.send().await {
            Ok(answer) => Ok(answer.security_groups().first().map(convert_group)),
            Err(error) => {
                let error = classify("DescribeSecurityGroups", error);
                if is_not_found(&error) {
                    Ok(None)
                } else {
                    Err(error)
                }
            }
        }
    }

    async fn list_groups(&self) -> Result<Vec<GroupDescription>, CallError> {
        let mut groups = Vec::new();
        let mut pages = self
            .client
            .describe_security_groups()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeSecurityGroups", e))?;
            groups.extend(page.security_groups().iter().map(convert_group));
        }
        Ok(groups)
    }

    async fn describe_rules(&self, group_ids: &[String]) -> Result<Vec<DescribedRule>, CallError> {
        let mut rules = Vec::new();
        let chunks: Vec<Option<&[String]>> = if group_ids.is_empty() {
            vec![None]
        } else {
            group_ids.chunks(FILTER_VALUES_LIMIT).map(Some).collect()
        };
        for chunk in chunks {
            let mut request = self.client.describe_security_group_rules();
            if let Some(ids) = chunk {
                request = request.filters(
                    Filter::builder()
                        .name("group-id")
                        .set_values(Some(ids.to_vec()))
                        .build(),
                );
            }
            let mut pages = request.into_paginator().send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify("DescribeSecurityGroupRules", e))?;
                rules.extend(page.security_group_rules().iter().filter_map(convert_rule));
            }
        }
        Ok(rules)
    }

    async fn describe_interfaces(
        &self,
        group_id: &str,
    ) -> Result<Vec<AttachedInterface>, CallError> {
        let mut interfaces = Vec::new();
        let mut pages = self
            .client
            .describe_network_interfaces()
            .filters(Filter::builder().name("group-id").values(group_id).build())
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| classify("DescribeNetworkInterfaces", e))?;
            interfaces.extend(page.network_interfaces().iter().map(convert_interface));
        }
        Ok(interfaces)
    }

    async fn revoke_rules(
        &self,
        group_id: &str,
        direction: Direction,
        rule_ids: &[String],
    ) -> Result<(), CallError> {
        let answered = match direction {
            Direction::Ingress => self
                .client
                .revoke_security_group_ingress()
                .group_id(group_id)
                .set_security_group_rule_ids(Some(rule_ids.to_vec()))
                .send()
                .await
                .map(|answer| answer.r#return())
                .map_err(|e| classify("RevokeSecurityGroupIngress", e))?,
            Direction::Egress => self
                .client
                .revoke_security_group_egress()
                .group_id(group_id)
                .set_security_group_rule_ids(Some(rule_ids.to_vec()))
                .send()
                .await
                .map(|answer| answer.r#return())
                .map_err(|e| classify("RevokeSecurityGroupEgress", e))?,
        };
        // EC2 answers `false` when nothing it was asked to revoke existed.
        if answered == Some(false) {
            return Err(CallError::Rejected {
                operation: "RevokeSecurityGroupRules",
                code: "InvalidPermission.NotFound".to_owned(),
                message: "EC2 answered false: no such rule".to_owned(),
            });
        }
        Ok(())
    }

    async fn authorize(
        &self,
        group_id: &str,
        direction: Direction,
        permissions: &[Permission],
    ) -> Result<(), CallError> {
        let entries: Vec<ec2::IpPermission> = permissions.iter().map(to_sdk_permission).collect();
        match direction {
            Direction::Ingress => self
                .client
                .authorize_security_group_ingress()
                .group_id(group_id)
                .set_ip_permissions(Some(entries))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("AuthorizeSecurityGroupIngress", e)),
            Direction::Egress => self
                .client
                .authorize_security_group_egress()
                .group_id(group_id)
                .set_ip_permissions(Some(entries))
                .send()
                .await
                .map(drop)
                .map_err(|e| classify("AuthorizeSecurityGroupEgress", e)),
        }
    }
}

fn convert_group(group: &ec2::SecurityGroup) -> GroupDescription {
    GroupDescription {
        group_id: group.group_id().unwrap_or_default().to_owned(),
        group_name: group.group_name().unwrap_or_default().to_owned(),
        vpc_id: group.vpc_id().map(str::to_owned),
        owner_id: group.owner_id().map(str::to_owned),
        tags: group
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_owned(),
                    t.value().unwrap_or_default().to_owned(),
                ))
            })
            .collect::<BTreeMap<_, _>>(),
    }
}

fn convert_rule(rule: &ec2::SecurityGroupRule) -> Option<DescribedRule> {
    let item = fanin::aws::ec2::rule_item(rule);
    match item.to_rule() {
        Ok(converted) => Some(DescribedRule {
            group_id: item.group_id.clone().unwrap_or_default(),
            rule: converted,
        }),
        Err(error) => {
            warn!(rule_id = %item.security_group_rule_id.chars().take(64).collect::<String>(), error = %error, "unreadable security group rule left out");
            None
        }
    }
}

fn convert_interface(interface: &ec2::NetworkInterface) -> AttachedInterface {
    let attachment = interface.attachment();
    let mut public_ips: Vec<String> = Vec::new();
    let mut push_public = |ip: Option<&str>| {
        if let Some(ip) = ip
            && !public_ips.iter().any(|seen| seen == ip)
        {
            public_ips.push(ip.to_owned());
        }
    };
    push_public(interface.association().and_then(|a| a.public_ip()));
    for private in interface.private_ip_addresses() {
        push_public(private.association().and_then(|a| a.public_ip()));
    }
    AttachedInterface {
        interface_id: interface
            .network_interface_id()
            .unwrap_or_default()
            .to_owned(),
        interface_type: interface.interface_type().map(|t| t.as_str().to_owned()),
        resource_id: attachment
            .and_then(|a| a.instance_id())
            .or(interface.requester_id())
            .map(str::to_owned),
        description: interface
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        private_ips: interface
            .private_ip_addresses()
            .iter()
            .filter_map(|p| p.private_ip_address().map(str::to_owned))
            .collect(),
        public_ips,
        ipv6_addresses: interface
            .ipv6_addresses()
            .iter()
            .filter_map(|a| a.ipv6_address().map(str::to_owned))
            .collect(),
    }
}

/// One `IpPermission` with exactly one peer.
fn to_sdk_permission(permission: &Permission) -> ec2::IpPermission {
    let description = permission.description.clone();
    let mut builder = ec2::IpPermission::builder().ip_protocol(permission.protocol.as_aws());
    if let Some(ports) = permission.ports {
        builder = builder.from_port(ports.from).to_port(ports.to);
    }
    match &permission.peer {
        Peer::Ipv4(net) => builder.ip_ranges(
            ec2::IpRange::builder()
                .cidr_ip(net.to_string())
                .set_description(description)
                .build(),
        ),
        Peer::Ipv6(net) => builder.ipv6_ranges(
            ec2::Ipv6Range::builder()
                .cidr_ipv6(net.to_string())
                .set_description(description)
                .build(),
        ),
        Peer::PrefixList(id) => builder.prefix_list_ids(
            ec2::PrefixListId::builder()
                .prefix_list_id(id)
                .set_description(description)
                .build(),
        ),
        Peer::Group { group_id, user_id } => builder.user_id_group_pairs(
            ec2::UserIdGroupPair::builder()
                .group_id(group_id)
                .set_user_id(user_id.clone())
                .set_description(description)
                .build(),
        ),
    }
    .build()
}

/// AWS Config's `PutEvaluations`.
pub struct ConfigEvaluations {
    client: aws_sdk_config::Client,
}

#[async_trait]
impl ComplianceReporter for ConfigEvaluations {
    async fn put_evaluations(
        &self,
        result_token: &str,
        evaluations: &[Evaluation],
    ) -> Result<Vec<String>, CallError> {
        let mut entries = Vec::new();
        for evaluation in evaluations {
            let entry = aws_sdk_config::types::Evaluation::builder()
                .compliance_resource_type(&evaluation.resource_type)
                .compliance_resource_id(&evaluation.resource_id)
                .compliance_type(aws_sdk_config::types::ComplianceType::from(
                    evaluation.compliance.as_str(),
                ))
                .set_annotation(evaluation.annotation.clone())
                .ordering_timestamp(aws_smithy_types::DateTime::from_millis(
                    evaluation.ordering_timestamp.timestamp_millis(),
                ))
                .build()
                .map_err(|e| CallError::Rejected {
                    operation: "PutEvaluations",
                    code: "BuildError".to_owned(),
                    message: e.to_string(),
                })?;
            entries.push(entry);
        }
        let answer = self
            .client
            .put_evaluations()
            .result_token(result_token)
            .set_evaluations(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PutEvaluations", e))?;
        Ok(answer
            .failed_evaluations()
            .iter()
            .map(|e| e.compliance_resource_id().to_owned())
            .collect())
    }
}

/// EventBridge `PutEvents` on the guard's bus.
pub struct EventBridgeRecords {
    client: aws_sdk_eventbridge::Client,
    bus: String,
}

#[async_trait]
impl RecordSink for EventBridgeRecords {
    async fn put_records(&self, entries: &[RecordEntry]) -> Result<usize, CallError> {
        let entries = entries
            .iter()
            .map(|entry| {
                aws_sdk_eventbridge::types::PutEventsRequestEntry::builder()
                    .source(record::SOURCE)
                    .detail_type(entry.detail_type)
                    .detail(&entry.detail)
                    .event_bus_name(&self.bus)
                    .build()
            })
            .collect();
        let answer = self
            .client
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| classify("PutEvents", e))?;
        Ok(usize::try_from(answer.failed_entry_count()).unwrap_or(0))
    }
}

/// SNS `Publish` to the notification topic.
pub struct SnsNotifier {
    client: aws_sdk_sns::Client,
    topic_arn: String,
}

#[async_trait]
impl Notifier for SnsNotifier {
    async fn notify(&self, subject: &str, message: &str) -> Result<(), CallError> {
        self.client
            .publish()
            .topic_arn(&self.topic_arn)
            .subject(subject)
            .message(message)
            .send()
            .await
            .map(drop)
            .map_err(|e| classify("Publish", e))
    }
}
