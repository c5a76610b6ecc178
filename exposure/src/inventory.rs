//! The network of an account and region through its read role: interfaces
//! (`DescribeNetworkInterfaces`, the whole region, 1,000 a page), the
//! ingress and egress rules of their groups (`DescribeSecurityGroupRules`,
//! filtered by `group-id` in chunks of 200), VPC CIDR blocks
//! (`DescribeVpcs`) and active peerings (`DescribeVpcPeeringConnections`).
//! Every answer is paginated; every error keeps its AWS code
//! ([`fanin::aws::classify`]).
//!
//! [`NetworkReader`] is the port; [`Ec2Network`] its AWS adapter. The model
//! and the resource behind each interface are `fanin::exposure::inventory`.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_ec2::types::{Filter, NetworkInterface};
use fanin::exposure::inventory::{GroupRef, Interface, Inventory, Peering, Resource, ResourceKind};
use fanin::flowlogs::classify::NetworkMap;
use fanin::guard::permission::GroupRule;
use fanin::ids::{AccountId, Region};
use fanin::ports::{AccountSession, CallError, SessionProvider};
use ipnet::IpNet;

use crate::ingest::ports::NetworkMaps;

/// EC2 accepts up to 200 values in one filter.
const FILTER_VALUES_LIMIT: usize = 200;

/// Reads the network of an account and region.
///
/// Failure contract: `Denied` when the read role lacks a Describe action
/// (the account and region are reported, not judged), `Transient` on
/// throttling and 5xx (the next evaluation tries again); a rule EC2 answers
/// that fanin cannot read is left out and logged, never a failure.
#[async_trait]
pub trait NetworkReader: Send + Sync {
    /// Interfaces, their groups' rules, VPCs and peerings.
    async fn inventory(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError>;

    /// Interfaces, VPCs and peerings only (no rules): what flow-log ingest
    /// classifies sources with.
    async fn network(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError>;
}

/// [`NetworkReader`] over EC2.
pub struct Ec2Network {
    base: SdkConfig,
}

impl Ec2Network {
    pub fn new(base: SdkConfig) -> Self {
        Self { base }
    }

    fn client(&self, session: &AccountSession, region: &Region) -> aws_sdk_ec2::Client {
        aws_sdk_ec2::Client::new(&fanin::aws::account_config(&self.base, session, region))
    }
}

#[async_trait]
impl NetworkReader for Ec2Network {
    async fn inventory(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError> {
        let mut inventory = self.network(session, region).await?;
        let client = self.client(session, region);
        let groups: Vec<String> = inventory
            .attached_groups()
            .keys()
            .map(|id| (*id).to_owned())
            .collect();
        inventory.rules = group_rules(&client, &groups).await?;
        Ok(inventory)
    }

    async fn network(
        &self,
        session: &AccountSession,
        region: &Region,
    ) -> Result<Inventory, CallError> {
        let client = self.client(session, region);
        Ok(Inventory {
            account: session.account.clone(),
            region: region.clone(),
            interfaces: interfaces(&client).await?,
            rules: BTreeMap::new(),
            vpcs: vpcs(&client).await?,
            peerings: peerings(&client).await?,
        })
    }
}

/// Flow-log ingest's network maps ([`NetworkMaps`]): an account and
/// region's interfaces, VPCs and peerings through its read role, as the
/// classifier reads them ([`Inventory::network_map`]).
pub struct ReadRoleNetworkMaps {
    pub sessions: Arc<dyn SessionProvider>,
    pub reader: Arc<dyn NetworkReader>,
}

#[async_trait]
impl NetworkMaps for ReadRoleNetworkMaps {
    async fn network_map(
        &self,
        account: &AccountId,
        region: &Region,
    ) -> Result<NetworkMap, CallError> {
        let session = self.sessions.session(account).await?;
        Ok(self.reader.network(&session, region).await?.network_map())
    }
}

async fn interfaces(client: &aws_sdk_ec2::Client) -> Result<Vec<Interface>, CallError> {
    let mut interfaces = Vec::new();
    let mut pages = client
        .describe_network_interfaces()
        .max_results(1000)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fanin::aws::classify("DescribeNetworkInterfaces", e))?;
        interfaces.extend(
            page.network_interfaces()
                .iter()
                .filter_map(convert_interface),
        );
    }
    Ok(interfaces)
}

/// One interface in the model; `None` without an id.
pub fn convert_interface(eni: &NetworkInterface) -> Option<Interface> {
    let ip = |raw: Option<&str>| raw.and_then(|r| r.parse::<IpAddr>().ok());
    let mut private_ips: Vec<IpAddr> = Vec::new();
    let mut public_ips: Vec<IpAddr> = Vec::new();
    for address in eni.private_ip_addresses() {
        private_ips.extend(ip(address.private_ip_address()));
        public_ips.extend(ip(address.association().and_then(|a| a.public_ip())));
    }
    if private_ips.is_empty() {
        private_ips.extend(ip(eni.private_ip_address()));
    }
    if let Some(public) = ip(eni.association().and_then(|a| a.public_ip()))
        && !public_ips.contains(&public)
    {
        public_ips.push(public);
    }
    let interface = Interface {
        interface_id: eni.network_interface_id()?.to_owned(),
        vpc_id: eni.vpc_id().map(str::to_owned),
        subnet_id: eni.subnet_id().map(str::to_owned),
        interface_type: eni.interface_type().map(|t| t.as_str().to_owned()),
        description: eni.description().map(str::to_owned),
        requester_id: eni.requester_id().map(str::to_owned),
        requester_managed: eni.requester_managed().unwrap_or(false),
        instance_id: eni
            .attachment()
            .and_then(|a| a.instance_id())
            .map(str::to_owned),
        private_ips,
        public_ips,
        ipv6_addresses: eni
            .ipv6_addresses()
            .iter()
            .filter_map(|a| ip(a.ipv6_address()))
            .collect(),
        groups: eni
            .groups()
            .iter()
            .filter_map(|g| {
                Some(GroupRef {
                    id: g.group_id()?.to_owned(),
                    name: g.group_name().unwrap_or_default().to_owned(),
                })
            })
            .collect(),
        resource: Resource {
            kind: ResourceKind::Unknown,
            uid: None,
            name: None,
        },
    };
    Some(interface.classified())
}

async fn group_rules(
    client: &aws_sdk_ec2::Client,
    group_ids: &[String],
) -> Result<BTreeMap<String, Vec<GroupRule>>, CallError> {
    let mut rules: BTreeMap<String, Vec<GroupRule>> = BTreeMap::new();
    for chunk in group_ids.chunks(FILTER_VALUES_LIMIT) {
        let filter = Filter::builder()
            .name("group-id")
            .set_values(Some(chunk.to_vec()))
            .build();
        let mut pages = client
            .describe_security_group_rules()
            .filters(filter)
            .max_results(1000)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| fanin::aws::classify("DescribeSecurityGroupRules", e))?;
            for rule in page.security_group_rules() {
                let item = fanin::aws::ec2::rule_item(rule);
                let Some(group_id) = item.group_id.clone() else {
                    continue;
                };
                match item.to_rule() {
                    Ok(rule) => rules.entry(group_id).or_default().push(rule),
                    Err(error) => tracing::warn!(
                        group_id = %fanin::ids::truncate_for_message(&group_id),
                        rule_id = %fanin::ids::truncate_for_message(&item.security_group_rule_id),
                        error = %error,
                        "rule left out: unreadable"
                    ),
                }
            }
        }
    }
    Ok(rules)
}

async fn vpcs(client: &aws_sdk_ec2::Client) -> Result<BTreeMap<String, Vec<IpNet>>, CallError> {
    let mut vpcs = BTreeMap::new();
    let mut pages = client.describe_vpcs().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fanin::aws::classify("DescribeVpcs", e))?;
        for vpc in page.vpcs() {
            let Some(id) = vpc.vpc_id() else { continue };
            let mut cidrs: Vec<IpNet> = vpc
                .cidr_block_association_set()
                .iter()
                .filter_map(|a| a.cidr_block()?.parse().ok())
                .collect();
            if cidrs.is_empty()
                && let Some(cidr) = vpc.cidr_block().and_then(|c| c.parse().ok())
            {
                cidrs.push(cidr);
            }
            cidrs.extend(
                vpc.ipv6_cidr_block_association_set()
                    .iter()
                    .filter_map(|a| a.ipv6_cidr_block()?.parse::<IpNet>().ok()),
            );
            vpcs.insert(id.to_owned(), cidrs);
        }
    }
    Ok(vpcs)
}

async fn peerings(client: &aws_sdk_ec2::Client) -> Result<Vec<Peering>, CallError> {
    let mut peerings = Vec::new();
    let active = Filter::builder()
        .name("status-code")
        .values("active")
        .build();
    let mut pages = client
        .describe_vpc_peering_connections()
        .filters(active)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| fanin::aws::classify("DescribeVpcPeeringConnections", e))?;
        for peering in page.vpc_peering_connections() {
            let side = |info: Option<&aws_sdk_ec2::types::VpcPeeringConnectionVpcInfo>| {
                let info = info?;
                let mut cidrs: Vec<IpNet> = info
                    .cidr_block_set()
                    .iter()
                    .filter_map(|c| c.cidr_block()?.parse().ok())
                    .collect();
                if cidrs.is_empty()
                    && let Some(cidr) = info.cidr_block().and_then(|c| c.parse().ok())
                {
                    cidrs.push(cidr);
                }
                cidrs.extend(
                    info.ipv6_cidr_block_set()
                        .iter()
                        .filter_map(|c| c.ipv6_cidr_block()?.parse::<IpNet>().ok()),
                );
                Some((info.vpc_id()?.to_owned(), cidrs))
            };
            let (Some((requester_vpc, requester_cidrs)), Some((accepter_vpc, accepter_cidrs))) = (
                side(peering.requester_vpc_info()),
                side(peering.accepter_vpc_info()),
            ) else {
                continue;
            };
            peerings.push(Peering {
                peering_id: peering
                    .vpc_peering_connection_id()
                    .unwrap_or_default()
                    .to_owned(),
                requester_vpc,
                requester_cidrs,
                accepter_vpc,
                accepter_cidrs,
            });
        }
    }
    Ok(peerings)
}

#[cfg(test)]
mod tests {
    use aws_sdk_ec2::types::{
        GroupIdentifier, NetworkInterfaceAssociation, NetworkInterfaceAttachment,
        NetworkInterfaceIpv6Address, NetworkInterfacePrivateIpAddress, NetworkInterfaceType,
    };

    use super::*;

    #[test]
    fn an_sdk_interface_becomes_the_model_with_its_resource() {
        let eni = NetworkInterface::builder()
            .network_interface_id("eni-0a1b2c3d4e5f60719")
            .vpc_id("vpc-0a1b2c3d4e5f60718")
            .interface_type(NetworkInterfaceType::Interface)
            .description("Primary network interface")
            .requester_managed(false)
            .attachment(
                NetworkInterfaceAttachment::builder()
                    .instance_id("i-0a1b2c3d4e5f60720")
                    .build(),
            )
            .private_ip_address("10.0.1.25")
            .private_ip_addresses(
                NetworkInterfacePrivateIpAddress::builder()
                    .private_ip_address("10.0.1.25")
                    .association(
                        NetworkInterfaceAssociation::builder()
                            .public_ip("203.0.113.25")
                            .build(),
                    )
                    .build(),
            )
            .association(
                NetworkInterfaceAssociation::builder()
                    .public_ip("203.0.113.25")
                    .build(),
            )
            .ipv6_addresses(
                NetworkInterfaceIpv6Address::builder()
                    .ipv6_address("2001:db8::15")
                    .build(),
            )
            .groups(
                GroupIdentifier::builder()
                    .group_id("sg-0a1b2c3d4e5f60718")
                    .group_name("web")
                    .build(),
            )
            .build();
        let interface = convert_interface(&eni).unwrap();
        assert_eq!(interface.resource.kind, ResourceKind::Ec2Instance);
        assert_eq!(
            interface.resource.uid.as_deref(),
            Some("i-0a1b2c3d4e5f60720")
        );
        assert_eq!(interface.interface_type.as_deref(), Some("interface"));
        assert_eq!(
            interface.public_ips,
            vec!["203.0.113.25".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(interface.private_ips.len(), 1);
        assert_eq!(interface.ipv6_addresses.len(), 1);
        assert_eq!(interface.groups[0].name, "web");
        assert!(convert_interface(&NetworkInterface::builder().build()).is_none());
    }
}
