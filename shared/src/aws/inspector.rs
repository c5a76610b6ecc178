//! Inspector Classic: DescribeFindings for the collector, template
//! subscriptions for the forwarder.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_inspector::types::{self as sdk, InspectorEvent};

use crate::ids::Region;
use crate::model::{
    ClassicAssetAttributes, ClassicFinding, ClassicNetworkInterface, ClassicPrivateIp,
    ClassicSecurityGroup, ClassicServiceAttributes, KeyValue,
};
use crate::ports::{
    AccountSession, AssessmentTemplate, CLASSIC_DESCRIBE_LIMIT, CallError, ClassicFindingsSource,
    DescribedFindings, EventSubscription, FailedItem, TemplateSubscriber,
};

/// DescribeFindings in source accounts.
pub struct InspectorClassicFindings {
    base: SdkConfig,
}

impl InspectorClassicFindings {
    pub fn new(base: SdkConfig) -> Self {
        Self { base }
    }
}

#[async_trait]
impl ClassicFindingsSource for InspectorClassicFindings {
    async fn describe_findings(
        &self,
        session: &AccountSession,
        region: &Region,
        arns: &[String],
    ) -> Result<DescribedFindings, CallError> {
        debug_assert!(!arns.is_empty() && arns.len() <= CLASSIC_DESCRIBE_LIMIT);
        let client =
            aws_sdk_inspector::Client::new(&super::account_config(&self.base, session, region));
        let answer = client
            .describe_findings()
            .set_finding_arns(Some(arns.to_vec()))
            .locale(sdk::Locale::EnUs)
            .send()
            .await
            .map_err(|e| super::classify("DescribeFindings", e))?;
        let findings = answer.findings().iter().map(convert_finding).collect();
        let failed = answer
            .failed_items()
            .iter()
            .map(|(arn, item)| FailedItem {
                arn: arn.clone(),
                failure_code: item.failure_code().as_str().to_owned(),
                retryable: item.retryable(),
            })
            .collect();
        Ok(DescribedFindings { findings, failed })
    }
}

fn time(value: &aws_smithy_types::DateTime) -> chrono::DateTime<chrono::Utc> {
    value
        .to_millis()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .unwrap_or_default()
}

fn key_values(attributes: &[sdk::Attribute]) -> Vec<KeyValue> {
    attributes
        .iter()
        .map(|a| KeyValue {
            key: a.key().to_owned(),
            value: a.value().map(str::to_owned),
        })
        .collect()
}

fn convert_finding(finding: &sdk::Finding) -> ClassicFinding {
    ClassicFinding {
        arn: finding.arn().to_owned(),
        id: finding.id().map(str::to_owned),
        title: finding.title().map(str::to_owned),
        description: finding.description().map(str::to_owned),
        recommendation: finding.recommendation().map(str::to_owned),
        severity: finding.severity().map(|s| s.as_str().to_owned()),
        numeric_severity: Some(finding.numeric_severity()),
        confidence: Some(i64::from(finding.confidence())),
        created_at: time(finding.created_at()),
        updated_at: time(finding.updated_at()),
        service_attributes: finding
            .service_attributes()
            .map(|s| ClassicServiceAttributes {
                assessment_run_arn: s.assessment_run_arn().map(str::to_owned),
                rules_package_arn: s.rules_package_arn().map(str::to_owned),
                schema_version: Some(i64::from(s.schema_version())),
            }),
        asset_type: finding.asset_type().map(|a| a.as_str().to_owned()),
        asset_attributes: finding.asset_attributes().map(|a| ClassicAssetAttributes {
            agent_id: a.agent_id().map(str::to_owned),
            ami_id: a.ami_id().map(str::to_owned),
            auto_scaling_group: a.auto_scaling_group().map(str::to_owned),
            hostname: a.hostname().map(str::to_owned),
            ipv4_addresses: a.ipv4_addresses().to_vec(),
            tags: a
                .tags()
                .iter()
                .map(|t| KeyValue {
                    key: t.key().to_owned(),
                    value: t.value().map(str::to_owned),
                })
                .collect(),
            network_interfaces: a
                .network_interfaces()
                .iter()
                .map(convert_interface)
                .collect(),
            schema_version: Some(i64::from(a.schema_version())),
        }),
        attributes: key_values(finding.attributes()),
        user_attributes: key_values(finding.user_attributes()),
        indicator_of_compromise: finding.indicator_of_compromise(),
        schema_version: Some(i64::from(finding.schema_version())),
        service: finding.service().map(str::to_owned),
    }
}

fn convert_interface(eni: &sdk::NetworkInterface) -> ClassicNetworkInterface {
    ClassicNetworkInterface {
        network_interface_id: eni.network_interface_id().map(str::to_owned),
        subnet_id: eni.subnet_id().map(str::to_owned),
        vpc_id: eni.vpc_id().map(str::to_owned),
        private_ip_address: eni.private_ip_address().map(str::to_owned),
        private_ip_addresses: eni
            .private_ip_addresses()
            .iter()
            .map(|p| ClassicPrivateIp {
                private_ip_address: p.private_ip_address().map(str::to_owned),
                private_dns_name: p.private_dns_name().map(str::to_owned),
            })
            .collect(),
        public_ip: eni.public_ip().map(str::to_owned),
        public_dns_name: eni.public_dns_name().map(str::to_owned),
        ipv6_addresses: eni.ipv6_addresses().to_vec(),
        security_groups: eni
            .security_groups()
            .iter()
            .map(|g| ClassicSecurityGroup {
                group_id: g.group_id().map(str::to_owned),
                group_name: g.group_name().map(str::to_owned),
            })
            .collect(),
    }
}

/// The forwarder's view of its own account's templates (ambient credentials).
pub struct InspectorClassicTemplates {
    client: aws_sdk_inspector::Client,
}

impl InspectorClassicTemplates {
    pub fn new(config: &SdkConfig) -> Self {
        Self {
            client: aws_sdk_inspector::Client::new(config),
        }
    }
}

#[async_trait]
impl TemplateSubscriber for InspectorClassicTemplates {
    async fn list_templates(&self) -> Result<Vec<String>, CallError> {
        let mut arns = Vec::new();
        let mut pages = self
            .client
            .list_assessment_templates()
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| super::classify("ListAssessmentTemplates", e))?;
            arns.extend(page.assessment_template_arns().iter().cloned());
        }
        Ok(arns)
    }

    async fn describe_templates(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentTemplate>, CallError> {
        let answer = self
            .client
            .describe_assessment_templates()
            .set_assessment_template_arns(Some(arns.to_vec()))
            .send()
            .await
            .map_err(|e| super::classify("DescribeAssessmentTemplates", e))?;
        Ok(answer
            .assessment_templates()
            .iter()
            .map(|t| AssessmentTemplate {
                arn: t.arn().to_owned(),
                name: t.name().to_owned(),
                user_attributes: key_values(t.user_attributes_for_findings()),
            })
            .collect())
    }

    async fn template_tags(&self, arn: &str) -> Result<Vec<KeyValue>, CallError> {
        let answer = self
            .client
            .list_tags_for_resource()
            .resource_arn(arn)
            .send()
            .await
            .map_err(|e| super::classify("ListTagsForResource", e))?;
        Ok(answer
            .tags()
            .iter()
            .map(|t| KeyValue {
                key: t.key().to_owned(),
                value: t.value().map(str::to_owned),
            })
            .collect())
    }

    async fn subscriptions(&self, arn: &str) -> Result<Vec<EventSubscription>, CallError> {
        let mut found = Vec::new();
        let mut pages = self
            .client
            .list_event_subscriptions()
            .resource_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| super::classify("ListEventSubscriptions", e))?;
            for subscription in page.subscriptions() {
                for event in subscription.event_subscriptions() {
                    found.push((
                        event.event().as_str().to_owned(),
                        subscription.topic_arn().to_owned(),
                    ));
                }
            }
        }
        Ok(found)
    }

    async fn subscribe(&self, arn: &str, event: &str, topic_arn: &str) -> Result<(), CallError> {
        self.client
            .subscribe_to_event()
            .resource_arn(arn)
            .event(InspectorEvent::from(event))
            .topic_arn(topic_arn)
            .send()
            .await
            .map_err(|e| super::classify("SubscribeToEvent", e))?;
        Ok(())
    }
}
