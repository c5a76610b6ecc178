//! EC2 as the network inventory: one DescribeInstances and one
//! DescribeSecurityGroups per (account, region) and batch, whatever its size.

use std::collections::BTreeMap;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ec2::types::{self as sdk, Filter};

use crate::ids::Region;
use crate::model::{GroupRef, IngressRule, InstanceRecord, InterfaceRecord, SecurityGroupRecord};
use crate::ports::{AccountSession, CallError, NetworkInventory};

/// EC2 accepts up to 200 values in one filter.
const FILTER_VALUES_LIMIT: usize = 200;

pub struct Ec2Inventory {
    base: SdkConfig,
}

impl Ec2Inventory {
    pub fn new(base: SdkConfig) -> Self {
        Self { base }
    }
}

#[async_trait]
impl NetworkInventory for Ec2Inventory {
    async fn describe_instances(
        &self,
        session: &AccountSession,
        region: &Region,
        instance_ids: &[String],
    ) -> Result<Vec<InstanceRecord>, CallError> {
        let client = aws_sdk_ec2::Client::new(&super::account_config(&self.base, session, region));
        let mut records = Vec::new();
        // A filter (not InstanceIds) so that unknown ids are left out instead
        // of failing the whole call with InvalidInstanceID.NotFound.
        for chunk in instance_ids.chunks(FILTER_VALUES_LIMIT) {
            let filter = Filter::builder()
                .name("instance-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let mut pages = client
                .describe_instances()
                .filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| super::classify("DescribeInstances", e))?;
                for reservation in page.reservations() {
                    records.extend(reservation.instances().iter().map(convert_instance));
                }
            }
        }
        Ok(records)
    }

    async fn describe_security_groups(
        &self,
        session: &AccountSession,
        region: &Region,
        group_ids: &[String],
    ) -> Result<Vec<SecurityGroupRecord>, CallError> {
        let client = aws_sdk_ec2::Client::new(&super::account_config(&self.base, session, region));
        let mut records = Vec::new();
        for chunk in group_ids.chunks(FILTER_VALUES_LIMIT) {
            let filter = Filter::builder()
                .name("group-id")
                .set_values(Some(chunk.to_vec()))
                .build();
            let mut pages = client
                .describe_security_groups()
                .filters(filter)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| super::classify("DescribeSecurityGroups", e))?;
                records.extend(page.security_groups().iter().map(convert_group));
            }
        }
        Ok(records)
    }
}

fn convert_instance(instance: &sdk::Instance) -> InstanceRecord {
    let tags: BTreeMap<String, String> = instance
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_owned(),
                t.value().unwrap_or_default().to_owned(),
            ))
        })
        .collect();
    let mut interfaces: Vec<InterfaceRecord> = instance
        .network_interfaces()
        .iter()
        .map(convert_interface)
        .collect();
    interfaces.sort_by_key(|i| i.device_index.unwrap_or(i32::MAX));
    // EC2-Classic style answers without ENIs still name the primary addresses.
    if interfaces.is_empty()
        && (instance.private_ip_address().is_some() || instance.public_ip_address().is_some())
    {
        interfaces.push(InterfaceRecord {
            interface_id: String::new(),
            subnet_id: instance.subnet_id().map(str::to_owned),
            vpc_id: instance.vpc_id().map(str::to_owned),
            private_ips: instance
                .private_ip_address()
                .map(str::to_owned)
                .into_iter()
                .collect(),
            public_ips: instance
                .public_ip_address()
                .map(str::to_owned)
                .into_iter()
                .collect(),
            public_dns_name: instance
                .public_dns_name()
                .filter(|d| !d.is_empty())
                .map(str::to_owned),
            security_groups: instance
                .security_groups()
                .iter()
                .filter_map(|g| {
                    Some(GroupRef {
                        id: g.group_id()?.to_owned(),
                        name: g.group_name().map(str::to_owned),
                    })
                })
                .collect(),
            ..Default::default()
        });
    }
    InstanceRecord {
        instance_id: instance.instance_id().unwrap_or_default().to_owned(),
        state: instance
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_owned())
            .unwrap_or_else(|| "unknown".into()),
        instance_type: instance.instance_type().map(|t| t.as_str().to_owned()),
        image_id: instance.image_id().map(str::to_owned),
        vpc_id: instance.vpc_id().map(str::to_owned),
        subnet_id: instance.subnet_id().map(str::to_owned),
        private_dns_name: instance
            .private_dns_name()
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        public_dns_name: instance
            .public_dns_name()
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        tags,
        interfaces,
    }
}

fn convert_interface(eni: &sdk::InstanceNetworkInterface) -> InterfaceRecord {
    let mut private_ips: Vec<String> = eni
        .private_ip_address()
        .map(str::to_owned)
        .into_iter()
        .collect();
    let mut public_ips: Vec<String> = eni
        .association()
        .and_then(|a| a.public_ip())
        .map(str::to_owned)
        .into_iter()
        .collect();
    for address in eni.private_ip_addresses() {
        if let Some(ip) = address.private_ip_address()
            && !private_ips.iter().any(|p| p == ip)
        {
            private_ips.push(ip.to_owned());
        }
        if let Some(ip) = address.association().and_then(|a| a.public_ip())
            && !public_ips.iter().any(|p| p == ip)
        {
            public_ips.push(ip.to_owned());
        }
    }
    InterfaceRecord {
        interface_id: eni.network_interface_id().unwrap_or_default().to_owned(),
        device_index: eni.attachment().and_then(|a| a.device_index()),
        subnet_id: eni.subnet_id().map(str::to_owned),
        vpc_id: eni.vpc_id().map(str::to_owned),
        mac_address: eni.mac_address().map(str::to_owned),
        private_ips,
        public_ips,
        public_dns_name: eni
            .association()
            .and_then(|a| a.public_dns_name())
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        ipv6_addresses: eni
            .ipv6_addresses()
            .iter()
            .filter_map(|a| a.ipv6_address().map(str::to_owned))
            .collect(),
        security_groups: eni
            .groups()
            .iter()
            .filter_map(|g| {
                Some(GroupRef {
                    id: g.group_id()?.to_owned(),
                    name: g.group_name().map(str::to_owned),
                })
            })
            .collect(),
    }
}

fn convert_group(group: &sdk::SecurityGroup) -> SecurityGroupRecord {
    SecurityGroupRecord {
        group_id: group.group_id().unwrap_or_default().to_owned(),
        group_name: group.group_name().map(str::to_owned),
        vpc_id: group.vpc_id().map(str::to_owned),
        ingress: group
            .ip_permissions()
            .iter()
            .map(convert_permission)
            .collect(),
    }
}

fn convert_permission(permission: &sdk::IpPermission) -> IngressRule {
    let protocol = match permission.ip_protocol().unwrap_or("-1") {
        "-1" => "all".to_owned(),
        "6" => "tcp".to_owned(),
        "17" => "udp".to_owned(),
        "1" => "icmp".to_owned(),
        "58" => "icmpv6".to_owned(),
        other => other.to_ascii_lowercase(),
    };
    IngressRule {
        protocol,
        from_port: permission.from_port(),
        to_port: permission.to_port(),
        ipv4_ranges: permission
            .ip_ranges()
            .iter()
            .filter_map(|r| r.cidr_ip().map(str::to_owned))
            .collect(),
        ipv6_ranges: permission
            .ipv6_ranges()
            .iter()
            .filter_map(|r| r.cidr_ipv6().map(str::to_owned))
            .collect(),
        source_groups: permission
            .user_id_group_pairs()
            .iter()
            .filter_map(|p| p.group_id().map(str::to_owned))
            .collect(),
        prefix_lists: permission
            .prefix_list_ids()
            .iter()
            .filter_map(|p| p.prefix_list_id().map(str::to_owned))
            .collect(),
    }
}

/// One rule of `DescribeSecurityGroupRules` in the guard's shape (the same
/// fields CloudTrail records for a rule); [`RuleItem::to_rule`] checks it.
///
/// [`RuleItem::to_rule`]: crate::guard::permission::RuleItem::to_rule
pub fn rule_item(rule: &sdk::SecurityGroupRule) -> crate::guard::permission::RuleItem {
    use crate::guard::permission::{ReferencedGroup, RuleItem};
    RuleItem {
        security_group_rule_id: rule.security_group_rule_id().unwrap_or_default().to_owned(),
        group_id: rule.group_id().map(str::to_owned),
        group_owner_id: rule.group_owner_id().map(str::to_owned),
        is_egress: rule.is_egress().unwrap_or(false),
        ip_protocol: rule.ip_protocol().unwrap_or_default().to_owned(),
        from_port: rule.from_port(),
        to_port: rule.to_port(),
        cidr_ipv4: rule.cidr_ipv4().map(str::to_owned),
        cidr_ipv6: rule.cidr_ipv6().map(str::to_owned),
        prefix_list_id: rule.prefix_list_id().map(str::to_owned),
        referenced_group_info: rule.referenced_group_info().map(|r| ReferencedGroup {
            group_id: r.group_id().map(str::to_owned),
            user_id: r.user_id().map(str::to_owned),
        }),
        description: rule.description().map(str::to_owned),
    }
}
