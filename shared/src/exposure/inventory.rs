//! The network of one account and region as the evaluation sees it: each
//! network interface with its security groups and the resource behind it,
//! the ingress rules of those groups, the VPCs' CIDR blocks and the active
//! peerings between VPCs.
//!
//! The resource behind an interface is read from the interface's own fields
//! (`interfaceType`, `requesterId`, `requesterManaged`, `description`,
//! `attachment.instanceId`), as `DescribeNetworkInterfaces` answers them:
//! no call per resource. The table of [`classify_resource`] says what each
//! combination means; an interface nothing in it recognizes is `unknown`.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::flowlogs::classify::NetworkMap;
use crate::guard::permission::GroupRule;
use crate::ids::{AccountId, Region};

/// A security group attached to an interface.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct GroupRef {
    pub id: String,
    pub name: String,
}

/// What kind of resource an interface belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Ec2Instance,
    Rds,
    ApplicationLoadBalancer,
    NetworkLoadBalancer,
    GatewayLoadBalancer,
    GatewayLoadBalancerEndpoint,
    ClassicLoadBalancer,
    Lambda,
    EcsTask,
    Eks,
    Redshift,
    Elasticache,
    Opensearch,
    VpcEndpoint,
    NatGateway,
    TransitGateway,
    Efs,
    Workspaces,
    ApiGateway,
    GlobalAccelerator,
    Quicksight,
    Unknown,
}

impl ResourceKind {
    /// The name records and the index use (`ec2_instance`, `rds`...).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Ec2Instance => "ec2_instance",
            Self::Rds => "rds",
            Self::ApplicationLoadBalancer => "application_load_balancer",
            Self::NetworkLoadBalancer => "network_load_balancer",
            Self::GatewayLoadBalancer => "gateway_load_balancer",
            Self::GatewayLoadBalancerEndpoint => "gateway_load_balancer_endpoint",
            Self::ClassicLoadBalancer => "classic_load_balancer",
            Self::Lambda => "lambda",
            Self::EcsTask => "ecs_task",
            Self::Eks => "eks",
            Self::Redshift => "redshift",
            Self::Elasticache => "elasticache",
            Self::Opensearch => "opensearch",
            Self::VpcEndpoint => "vpc_endpoint",
            Self::NatGateway => "nat_gateway",
            Self::TransitGateway => "transit_gateway",
            Self::Efs => "efs",
            Self::Workspaces => "workspaces",
            Self::ApiGateway => "api_gateway",
            Self::GlobalAccelerator => "global_accelerator",
            Self::Quicksight => "quicksight",
            Self::Unknown => "unknown",
        }
    }

    /// The CloudFormation resource type an OCSF `resources[]` entry names
    /// (`None` for unknown).
    pub fn resource_type(&self) -> Option<&'static str> {
        Some(match self {
            Self::Ec2Instance => "AWS::EC2::Instance",
            Self::Rds => "AWS::RDS::DBInstance",
            Self::ApplicationLoadBalancer
            | Self::NetworkLoadBalancer
            | Self::GatewayLoadBalancer => "AWS::ElasticLoadBalancingV2::LoadBalancer",
            Self::GatewayLoadBalancerEndpoint | Self::VpcEndpoint => "AWS::EC2::VPCEndpoint",
            Self::ClassicLoadBalancer => "AWS::ElasticLoadBalancing::LoadBalancer",
            Self::Lambda => "AWS::Lambda::Function",
            Self::EcsTask => "AWS::ECS::Task",
            Self::Eks => "AWS::EKS::Cluster",
            Self::Redshift => "AWS::Redshift::Cluster",
            Self::Elasticache => "AWS::ElastiCache::CacheCluster",
            Self::Opensearch => "AWS::OpenSearchService::Domain",
            Self::NatGateway => "AWS::EC2::NatGateway",
            Self::TransitGateway => "AWS::EC2::TransitGatewayAttachment",
            Self::Efs => "AWS::EFS::FileSystem",
            Self::Workspaces => "AWS::WorkSpaces::Workspace",
            Self::ApiGateway => "AWS::ApiGateway::RestApi",
            Self::GlobalAccelerator => "AWS::GlobalAccelerator::Accelerator",
            Self::Quicksight => "AWS::QuickSight::VPCConnection",
            Self::Unknown => return None,
        })
    }
}

/// The resource behind an interface: its kind, and its id and name when the
/// interface says them.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Resource {
    pub kind: ResourceKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Resource {
    fn new(kind: ResourceKind, uid: Option<&str>, name: Option<&str>) -> Self {
        let clean = |text: Option<&str>| {
            text.map(str::trim)
                .filter(|t| !t.is_empty())
                .map(|t| bounded(t, 256))
        };
        Self {
            kind,
            uid: clean(uid),
            name: clean(name),
        }
    }
}

/// One network interface, as `DescribeNetworkInterfaces` answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Interface {
    pub interface_id: String,
    pub vpc_id: Option<String>,
    pub subnet_id: Option<String>,
    /// `interface`, `natGateway`, `lambda`, `network_load_balancer`...
    pub interface_type: Option<String>,
    pub description: Option<String>,
    pub requester_id: Option<String>,
    pub requester_managed: bool,
    /// `attachment.instanceId`.
    pub instance_id: Option<String>,
    pub private_ips: Vec<IpAddr>,
    pub public_ips: Vec<IpAddr>,
    pub ipv6_addresses: Vec<IpAddr>,
    pub groups: Vec<GroupRef>,
    /// Filled by [`Interface::classified`].
    pub resource: Resource,
}

impl Interface {
    /// The interface with its [`resource`](Self::resource) read from its
    /// fields.
    pub fn classified(mut self) -> Self {
        self.resource = classify_resource(&self);
        self
    }

    /// Every address of the interface, IPv4 and IPv6.
    pub fn addresses(&self) -> impl Iterator<Item = &IpAddr> {
        self.private_ips
            .iter()
            .chain(&self.public_ips)
            .chain(&self.ipv6_addresses)
    }
}

/// An active peering between two VPCs, with both sides' CIDR blocks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Peering {
    pub peering_id: String,
    pub requester_vpc: String,
    pub requester_cidrs: Vec<IpNet>,
    pub accepter_vpc: String,
    pub accepter_cidrs: Vec<IpNet>,
}

/// The network of one account and region.
#[derive(Debug, Clone, PartialEq)]
pub struct Inventory {
    pub account: AccountId,
    pub region: Region,
    pub interfaces: Vec<Interface>,
    /// The rules of each attached group, by group id (both directions, as
    /// `DescribeSecurityGroupRules` answers).
    pub rules: BTreeMap<String, Vec<GroupRule>>,
    /// Each VPC's CIDR blocks, IPv4 and IPv6.
    pub vpcs: BTreeMap<String, Vec<IpNet>>,
    pub peerings: Vec<Peering>,
}

impl Inventory {
    /// The interfaces, VPCs and peerings as the flow-log classifier reads
    /// them (both sides of each peering see the other's blocks).
    pub fn network_map(&self) -> NetworkMap {
        let mut map = NetworkMap::new();
        for interface in &self.interfaces {
            map.insert_interface(
                interface.interface_id.clone(),
                interface.vpc_id.clone(),
                interface.addresses().copied(),
            );
        }
        for (vpc_id, cidrs) in &self.vpcs {
            for cidr in cidrs {
                map.insert_vpc_cidr(vpc_id.clone(), *cidr);
            }
        }
        for peering in &self.peerings {
            let sides = [
                (&peering.requester_vpc, &peering.accepter_cidrs),
                (&peering.accepter_vpc, &peering.requester_cidrs),
            ];
            for (vpc, other_side) in sides {
                for cidr in other_side {
                    map.insert_peered_cidr(vpc.clone(), *cidr);
                }
            }
        }
        map
    }

    /// The interfaces a group is attached to.
    pub fn interfaces_of<'a>(&'a self, group_id: &'a str) -> impl Iterator<Item = &'a Interface> {
        self.interfaces
            .iter()
            .filter(move |i| i.groups.iter().any(|g| g.id == group_id))
    }

    /// Every group attached to at least one interface, once, by id.
    pub fn attached_groups(&self) -> BTreeMap<&str, &GroupRef> {
        self.interfaces
            .iter()
            .flat_map(|i| &i.groups)
            .map(|g| (g.id.as_str(), g))
            .collect()
    }
}

/// The resource behind an interface, from its own fields:
///
/// | field | value | resource |
/// |---|---|---|
/// | interfaceType | `natGateway` / `nat_gateway` | NAT gateway (`nat-...` from the description) |
/// | interfaceType | `vpc_endpoint` | VPC endpoint (`vpce-...`) |
/// | interfaceType | `gateway_load_balancer_endpoint` | GWLB endpoint |
/// | interfaceType | `network_load_balancer` / `gateway_load_balancer` / `load_balancer` | from `ELB net/`, `ELB gwy/`, `ELB app/`, `ELB <name>` |
/// | interfaceType | `lambda` | Lambda (function name from `AWS Lambda VPC ENI-<name>[-<uuid>]`) |
/// | interfaceType | `transit_gateway` | transit gateway attachment (`tgw-attach-...`) |
/// | interfaceType | `api_gateway_managed`, `global_accelerator_managed`, `quicksight`, `efs` | that service |
/// | attachment.instanceId | `i-...`, not requester-managed | EC2 instance |
/// | description | `RDSNetworkInterface` | RDS |
/// | description | `ELB app/<name>/<id>`, `ELB net/...`, `ELB gwy/...`, `ELB <name>` | ALB, NLB, GWLB, Classic LB |
/// | description | `AWS Lambda VPC ENI-...` | Lambda |
/// | description | `arn:aws:ecs:...:attachment/...` | ECS task (the attachment ARN) |
/// | description | `ElastiCache <cluster>` | ElastiCache |
/// | description | `Amazon EKS <cluster>` | EKS control plane |
/// | description | `RedshiftNetworkInterface` | Redshift |
/// | description | `ES <domain>` | OpenSearch / Elasticsearch domain |
/// | description | `EFS mount target for fs-...` | EFS |
/// | description | `Interface for NAT Gateway nat-...` | NAT gateway |
/// | description | `VPC Endpoint Interface vpce-...` | VPC endpoint |
/// | description | `Network Interface for Transit Gateway Attachment tgw-attach-...` | transit gateway |
/// | description | `Created By Amazon Workspaces...` | WorkSpaces |
/// | anything else | | unknown |
pub fn classify_resource(interface: &Interface) -> Resource {
    let description = interface.description.as_deref().unwrap_or("").trim();
    let interface_type = interface.interface_type.as_deref().unwrap_or("interface");
    let word_after = |prefix: &str| {
        description
            .strip_prefix(prefix)
            .and_then(|rest| rest.split_whitespace().next())
    };
    let id_in = |prefix: &str| {
        description
            .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
            .find(|word| word.starts_with(prefix))
    };
    match interface_type {
        "natGateway" | "nat_gateway" => {
            return Resource::new(ResourceKind::NatGateway, id_in("nat-"), None);
        }
        "vpc_endpoint" => {
            return Resource::new(ResourceKind::VpcEndpoint, id_in("vpce-"), None);
        }
        "gateway_load_balancer_endpoint" => {
            return Resource::new(
                ResourceKind::GatewayLoadBalancerEndpoint,
                id_in("vpce-"),
                None,
            );
        }
        "lambda" => return lambda(description),
        "transit_gateway" => {
            return Resource::new(ResourceKind::TransitGateway, id_in("tgw-attach-"), None);
        }
        "api_gateway_managed" => return Resource::new(ResourceKind::ApiGateway, None, None),
        "global_accelerator_managed" => {
            return Resource::new(ResourceKind::GlobalAccelerator, None, None);
        }
        "quicksight" => return Resource::new(ResourceKind::Quicksight, None, None),
        "efs" => return Resource::new(ResourceKind::Efs, id_in("fs-"), None),
        "network_load_balancer" | "gateway_load_balancer" | "load_balancer" => {
            if let Some(resource) = load_balancer(description) {
                return resource;
            }
            let kind = match interface_type {
                "network_load_balancer" => ResourceKind::NetworkLoadBalancer,
                "gateway_load_balancer" => ResourceKind::GatewayLoadBalancer,
                _ => ResourceKind::ApplicationLoadBalancer,
            };
            return Resource::new(kind, None, None);
        }
        _ => {}
    }
    if let Some(instance) = interface.instance_id.as_deref()
        && !interface.requester_managed
        && instance.starts_with("i-")
    {
        return Resource::new(ResourceKind::Ec2Instance, Some(instance), None);
    }
    if description == "RDSNetworkInterface" {
        return Resource::new(ResourceKind::Rds, None, None);
    }
    if description == "RedshiftNetworkInterface" {
        return Resource::new(ResourceKind::Redshift, None, None);
    }
    if let Some(resource) = load_balancer(description) {
        return resource;
    }
    if description.starts_with("AWS Lambda VPC ENI") {
        return lambda(description);
    }
    if description.starts_with("arn:aws") && description.contains(":ecs:") {
        return Resource::new(ResourceKind::EcsTask, Some(description), None);
    }
    if let Some(cluster) = word_after("ElastiCache ") {
        return Resource::new(ResourceKind::Elasticache, None, Some(cluster));
    }
    if let Some(cluster) = word_after("Amazon EKS ") {
        return Resource::new(ResourceKind::Eks, None, Some(cluster));
    }
    if let Some(domain) = word_after("ES ") {
        return Resource::new(ResourceKind::Opensearch, None, Some(domain));
    }
    if description.starts_with("EFS mount target") {
        return Resource::new(ResourceKind::Efs, id_in("fs-"), None);
    }
    if description.starts_with("Interface for NAT Gateway") {
        return Resource::new(ResourceKind::NatGateway, id_in("nat-"), None);
    }
    if description.starts_with("VPC Endpoint Interface") {
        return Resource::new(ResourceKind::VpcEndpoint, id_in("vpce-"), None);
    }
    if description.starts_with("Network Interface for Transit Gateway Attachment") {
        return Resource::new(ResourceKind::TransitGateway, id_in("tgw-attach-"), None);
    }
    if description.starts_with("Created By Amazon Workspaces") {
        return Resource::new(ResourceKind::Workspaces, None, None);
    }
    // An instance's interface that another service manages (an EKS node's
    // secondary interface keeps its instance) is still the instance's.
    if let Some(instance) = interface.instance_id.as_deref()
        && instance.starts_with("i-")
    {
        return Resource::new(ResourceKind::Ec2Instance, Some(instance), None);
    }
    Resource::new(ResourceKind::Unknown, None, None)
}

/// `ELB app/<name>/<id>`, `ELB net/<name>/<id>`, `ELB gwy/<name>/<id>`,
/// `ELB <name>` (Classic).
fn load_balancer(description: &str) -> Option<Resource> {
    let rest = description.strip_prefix("ELB ")?.trim();
    let (kind, named) = if let Some(named) = rest.strip_prefix("app/") {
        (ResourceKind::ApplicationLoadBalancer, named)
    } else if let Some(named) = rest.strip_prefix("net/") {
        (ResourceKind::NetworkLoadBalancer, named)
    } else if let Some(named) = rest.strip_prefix("gwy/") {
        (ResourceKind::GatewayLoadBalancer, named)
    } else {
        return Some(Resource::new(
            ResourceKind::ClassicLoadBalancer,
            None,
            Some(rest),
        ));
    };
    let name = named.split('/').next();
    Some(Resource::new(kind, Some(rest), name))
}

/// `AWS Lambda VPC ENI-<function>[-<uuid>]`: the function's name.
fn lambda(description: &str) -> Resource {
    let name = description
        .strip_prefix("AWS Lambda VPC ENI-")
        .map(|rest| strip_uuid_suffix(rest.trim()));
    Resource::new(ResourceKind::Lambda, None, name)
}

/// `name-8-4-4-4-12` → `name`.
fn strip_uuid_suffix(text: &str) -> &str {
    const UUID_LEN: usize = 36;
    if text.len() > UUID_LEN + 1 && text.is_char_boundary(text.len() - UUID_LEN - 1) {
        let (head, tail) = text.split_at(text.len() - UUID_LEN - 1);
        let uuid = &tail[1..];
        let shape = uuid.split('-').map(str::len).collect::<Vec<_>>() == [8, 4, 4, 4, 12];
        if tail.starts_with('-')
            && shape
            && uuid.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-')
        {
            return head;
        }
    }
    text
}

/// Text from AWS cut to `max` bytes, without control characters.
fn bounded(text: &str, max: usize) -> String {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// An interface with only the fields classification reads.
    pub(crate) fn interface(
        interface_type: &str,
        description: &str,
        requester_managed: bool,
        instance_id: Option<&str>,
    ) -> Interface {
        Interface {
            interface_id: "eni-0123456789abcdef0".into(),
            vpc_id: Some("vpc-0123456789abcdef0".into()),
            subnet_id: None,
            interface_type: Some(interface_type.into()),
            description: Some(description.into()),
            requester_id: None,
            requester_managed,
            instance_id: instance_id.map(str::to_owned),
            private_ips: vec![],
            public_ips: vec![],
            ipv6_addresses: vec![],
            groups: vec![],
            resource: Resource::new(ResourceKind::Unknown, None, None),
        }
        .classified()
    }

    /// interfaceType, description, requester-managed, instance; kind, uid, name.
    type Case<'a> = (
        &'a str,
        &'a str,
        bool,
        Option<&'a str>,
        ResourceKind,
        Option<&'a str>,
        Option<&'a str>,
    );

    #[test]
    fn resources_are_read_from_the_interfaces_own_fields() {
        let cases: &[Case] = &[
            (
                "interface",
                "Primary network interface",
                false,
                Some("i-0abc1234def567890"),
                ResourceKind::Ec2Instance,
                Some("i-0abc1234def567890"),
                None,
            ),
            (
                "interface",
                "RDSNetworkInterface",
                true,
                None,
                ResourceKind::Rds,
                None,
                None,
            ),
            (
                "interface",
                "ELB app/my-alb/50dc6c495c0c9188",
                true,
                None,
                ResourceKind::ApplicationLoadBalancer,
                Some("app/my-alb/50dc6c495c0c9188"),
                Some("my-alb"),
            ),
            (
                "network_load_balancer",
                "ELB net/my-nlb/4ab0e2c1f9d8a7b6",
                true,
                None,
                ResourceKind::NetworkLoadBalancer,
                Some("net/my-nlb/4ab0e2c1f9d8a7b6"),
                Some("my-nlb"),
            ),
            (
                "gateway_load_balancer",
                "ELB gwy/inspection/9f8e7d6c5b4a3210",
                true,
                None,
                ResourceKind::GatewayLoadBalancer,
                Some("gwy/inspection/9f8e7d6c5b4a3210"),
                Some("inspection"),
            ),
            (
                "interface",
                "ELB legacy-web",
                true,
                None,
                ResourceKind::ClassicLoadBalancer,
                None,
                Some("legacy-web"),
            ),
            (
                "lambda",
                "AWS Lambda VPC ENI-orders-api-3f2b9a1c-4d5e-6f70-8192-a3b4c5d6e7f8",
                true,
                None,
                ResourceKind::Lambda,
                None,
                Some("orders-api"),
            ),
            (
                "interface",
                "AWS Lambda VPC ENI-resize",
                true,
                None,
                ResourceKind::Lambda,
                None,
                Some("resize"),
            ),
            (
                "interface",
                "arn:aws:ecs:us-east-1:111122223333:attachment/3f2b9a1c-4d5e-6f70-8192-a3b4c5d6e7f8",
                true,
                None,
                ResourceKind::EcsTask,
                Some(
                    "arn:aws:ecs:us-east-1:111122223333:attachment/3f2b9a1c-4d5e-6f70-8192-a3b4c5d6e7f8",
                ),
                None,
            ),
            (
                "interface",
                "ElastiCache sessions-0001-001",
                true,
                None,
                ResourceKind::Elasticache,
                None,
                Some("sessions-0001-001"),
            ),
            (
                "interface",
                "Amazon EKS prod-cluster",
                true,
                None,
                ResourceKind::Eks,
                None,
                Some("prod-cluster"),
            ),
            (
                "interface",
                "RedshiftNetworkInterface",
                true,
                None,
                ResourceKind::Redshift,
                None,
                None,
            ),
            (
                "interface",
                "ES search-logs",
                true,
                None,
                ResourceKind::Opensearch,
                None,
                Some("search-logs"),
            ),
            (
                "interface",
                "EFS mount target for fs-0123abcd (fsmt-0123abcd)",
                true,
                None,
                ResourceKind::Efs,
                Some("fs-0123abcd"),
                None,
            ),
            (
                "natGateway",
                "Interface for NAT Gateway nat-0a1b2c3d4e5f60718",
                true,
                None,
                ResourceKind::NatGateway,
                Some("nat-0a1b2c3d4e5f60718"),
                None,
            ),
            (
                "interface",
                "Interface for NAT Gateway nat-0a1b2c3d4e5f60718",
                true,
                None,
                ResourceKind::NatGateway,
                Some("nat-0a1b2c3d4e5f60718"),
                None,
            ),
            (
                "vpc_endpoint",
                "VPC Endpoint Interface vpce-0a1b2c3d4e5f60718",
                true,
                None,
                ResourceKind::VpcEndpoint,
                Some("vpce-0a1b2c3d4e5f60718"),
                None,
            ),
            (
                "gateway_load_balancer_endpoint",
                "VPC Endpoint Interface vpce-0a1b2c3d4e5f60719",
                true,
                None,
                ResourceKind::GatewayLoadBalancerEndpoint,
                Some("vpce-0a1b2c3d4e5f60719"),
                None,
            ),
            (
                "transit_gateway",
                "Network Interface for Transit Gateway Attachment tgw-attach-0a1b2c3d4e5f60718",
                true,
                None,
                ResourceKind::TransitGateway,
                Some("tgw-attach-0a1b2c3d4e5f60718"),
                None,
            ),
            (
                "api_gateway_managed",
                "",
                true,
                None,
                ResourceKind::ApiGateway,
                None,
                None,
            ),
            (
                "global_accelerator_managed",
                "",
                true,
                None,
                ResourceKind::GlobalAccelerator,
                None,
                None,
            ),
            (
                "quicksight",
                "",
                true,
                None,
                ResourceKind::Quicksight,
                None,
                None,
            ),
            (
                "interface",
                "Created By Amazon Workspaces for AWS Account ID 111122223333",
                true,
                None,
                ResourceKind::Workspaces,
                None,
                None,
            ),
            // An EKS node's secondary interface: managed by the CNI, still the node's.
            (
                "interface",
                "aws-K8S-i-0abc1234def567890",
                true,
                Some("i-0abc1234def567890"),
                ResourceKind::Ec2Instance,
                Some("i-0abc1234def567890"),
                None,
            ),
            (
                "interface",
                "something else",
                false,
                None,
                ResourceKind::Unknown,
                None,
                None,
            ),
            ("efa", "", false, None, ResourceKind::Unknown, None, None),
        ];
        for (interface_type, description, managed, instance, kind, uid, name) in cases {
            let resource = interface(interface_type, description, *managed, *instance).resource;
            assert_eq!(resource.kind, *kind, "{interface_type} {description:?}");
            assert_eq!(resource.uid.as_deref(), *uid, "{description:?}");
            assert_eq!(resource.name.as_deref(), *name, "{description:?}");
        }
    }

    #[test]
    fn every_kind_names_itself_and_its_resource_type() {
        assert_eq!(ResourceKind::Ec2Instance.as_str(), "ec2_instance");
        assert_eq!(
            serde_json::to_value(ResourceKind::NetworkLoadBalancer).unwrap(),
            "network_load_balancer"
        );
        assert_eq!(
            ResourceKind::Rds.resource_type(),
            Some("AWS::RDS::DBInstance")
        );
        assert_eq!(ResourceKind::Unknown.resource_type(), None);
    }

    #[test]
    fn the_network_map_has_addresses_vpc_cidrs_and_both_sides_of_a_peering() {
        let mut web = interface("interface", "web", false, Some("i-0abc1234def567890"));
        web.private_ips = vec!["10.0.1.10".parse().unwrap()];
        web.public_ips = vec!["203.0.113.10".parse().unwrap()];
        web.ipv6_addresses = vec!["2001:db8::10".parse().unwrap()];
        let mut loose = interface("interface", "no vpc", false, None);
        loose.interface_id = "eni-0fedcba9876543210".into();
        loose.vpc_id = None;
        let inventory = Inventory {
            account: AccountId::parse("111122223333").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            interfaces: vec![web, loose],
            rules: BTreeMap::new(),
            vpcs: [
                (
                    "vpc-0123456789abcdef0".to_owned(),
                    vec![
                        "10.0.0.0/16".parse().unwrap(),
                        "2001:db8::/56".parse().unwrap(),
                    ],
                ),
                (
                    "vpc-0aaaaaaaaaaaaaaaa".to_owned(),
                    vec!["10.1.0.0/16".parse().unwrap()],
                ),
            ]
            .into(),
            peerings: vec![Peering {
                peering_id: "pcx-0123456789abcdef0".into(),
                requester_vpc: "vpc-0123456789abcdef0".into(),
                requester_cidrs: vec!["10.0.0.0/16".parse().unwrap()],
                accepter_vpc: "vpc-0aaaaaaaaaaaaaaaa".into(),
                accepter_cidrs: vec!["10.1.0.0/16".parse().unwrap()],
            }],
        };
        let map = inventory.network_map();
        assert_eq!(map.interface_count(), 2);
        let web = map.interface("eni-0123456789abcdef0").unwrap();
        assert_eq!(web.vpc_id.as_deref(), Some("vpc-0123456789abcdef0"));
        assert_eq!(web.addresses.len(), 3);
        let own = map.vpc("vpc-0123456789abcdef0").unwrap();
        assert_eq!(own.cidrs.len(), 2);
        assert_eq!(
            own.peered_cidrs,
            vec!["10.1.0.0/16".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            map.vpc("vpc-0aaaaaaaaaaaaaaaa").unwrap().peered_cidrs,
            vec!["10.0.0.0/16".parse::<IpNet>().unwrap()]
        );
    }
}
