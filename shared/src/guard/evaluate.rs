//! What the policy says of a group: which selector covers it, whether each
//! changed rule is approved, and how its rules differ from the desired set.
//! Pure: the guard function does the calls around it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use serde::{Deserialize, Serialize};

use super::permission::{Direction, GroupRule, Peer, Permission};
use super::policy::{Mode, Policy, RuleSet, Selector, glob_matches};
use crate::ids::{AccountId, Region};

/// A security group as the guard sees it: where it is, its tags, its rules.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFacts {
    pub account: AccountId,
    pub region: Region,
    pub group_id: String,
    pub group_name: String,
    pub vpc_id: Option<String>,
    pub tags: BTreeMap<String, String>,
    pub rules: Vec<GroupRule>,
}

/// Who made a call, from CloudTrail's `userIdentity`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Actor {
    /// `IAMUser`, `AssumedRole`, `Root`, `AWSService`, `FederatedUser`...
    pub identity_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// The role an assumed-role session was issued from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_issuer_arn: Option<String>,
    /// The AWS service that called on the principal's behalf.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoked_by: Option<String>,
}

impl Actor {
    /// The ARNs an approver pattern is matched against: the caller's own
    /// and, for a session, its role's.
    pub fn arns(&self) -> impl Iterator<Item = &str> {
        self.arn
            .iter()
            .chain(&self.session_issuer_arn)
            .map(String::as_str)
    }

    /// Whether the call was made by one of `roles` (the guard's own).
    pub fn is_one_of(&self, roles: &[String]) -> bool {
        self.arns().any(|arn| roles.iter().any(|role| role == arn))
    }

    /// The first approver pattern that matches the caller.
    pub fn approved_by<'p>(
        &self,
        patterns: impl IntoIterator<Item = &'p String>,
    ) -> Option<&'p String> {
        patterns
            .into_iter()
            .find(|pattern| self.arns().any(|arn| glob_matches(pattern, arn)))
    }
}

/// Whether a rule stands, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// The caller is an approver (the matching pattern).
    Approver { pattern: String },
    /// The group carries the break-glass tag: left alone.
    BreakGlass,
    /// The rule is one of the desired permissions.
    InDesiredSet,
    /// The rule keeps within the selector's limits.
    WithinLimits,
    /// The selector says nothing of this direction.
    NotJudged,
    /// The rule is not in the desired set.
    NotInDesiredSet,
    /// The rule opens a port to the internet the limits do not allow.
    OutsideLimits,
}

impl Verdict {
    pub fn approved(&self) -> bool {
        !matches!(self, Self::NotInDesiredSet | Self::OutsideLimits)
    }
}

/// The selector covering a group, with the break-glass state.
#[derive(Debug, Clone, Copy)]
pub struct Coverage<'p> {
    pub policy: &'p Policy,
    pub selector: &'p Selector,
    pub break_glass: bool,
}

impl Policy {
    /// The first selector that matches the group, or `None`: not covered.
    pub fn covering<'p>(&'p self, group: &GroupFacts) -> Option<Coverage<'p>> {
        let selector = self.selectors.iter().find(|s| matches(s, group))?;
        let break_glass = self.break_glass_tag.as_ref().is_some_and(|key| {
            group
                .tags
                .get(key)
                .is_some_and(|value| value.eq_ignore_ascii_case("true"))
        });
        Some(Coverage {
            policy: self,
            selector,
            break_glass,
        })
    }
}

fn matches(selector: &Selector, group: &GroupFacts) -> bool {
    let m = &selector.matcher;
    (m.accounts.is_empty() || m.accounts.contains(&group.account))
        && (m.regions.is_empty() || m.regions.contains(&group.region))
        && (m.vpcs.is_empty()
            || group
                .vpc_id
                .as_ref()
                .is_some_and(|vpc| m.vpcs.contains(vpc)))
        && (m.groups.is_empty()
            || m.groups
                .iter()
                .any(|g| g == &group.group_id || glob_matches(g, &group.group_name)))
        && m.tags.iter().all(|(key, pattern)| {
            group
                .tags
                .get(key)
                .is_some_and(|value| glob_matches(pattern, value))
        })
}

impl Coverage<'_> {
    /// The verdict on a rule `actor` added or changed.
    pub fn judge(&self, actor: &Actor, rule: &GroupRule) -> Verdict {
        if self.break_glass {
            return Verdict::BreakGlass;
        }
        let approvers = self.policy.approvers.iter().chain(&self.selector.approvers);
        if let Some(pattern) = actor.approved_by(approvers) {
            return Verdict::Approver {
                pattern: pattern.clone(),
            };
        }
        judge_permission(self.selector.rules(rule.direction), &rule.permission)
    }

    /// How the group's rules differ from the desired ones.
    pub fn desired_state(&self, group: &GroupFacts) -> StateDiff {
        let mut diff = StateDiff::default();
        for direction in [Direction::Ingress, Direction::Egress] {
            let Some(set) = self.selector.rules(direction) else {
                continue;
            };
            let current = group.rules.iter().filter(|r| r.direction == direction);
            for rule in current.clone() {
                if !judge_permission(Some(set), &rule.permission).approved() {
                    diff.extra.push(rule.clone());
                }
            }
            if let RuleSet::Exact(desired) = set {
                for wanted in desired {
                    if !current
                        .clone()
                        .any(|r| r.permission.access() == wanted.access())
                    {
                        diff.missing.push(MissingRule {
                            direction,
                            permission: wanted.clone(),
                        });
                    }
                }
            }
        }
        diff
    }

    pub fn mode(&self) -> Mode {
        self.selector.mode
    }
}

/// The verdict on one permission against a direction's desired rules.
fn judge_permission(set: Option<&RuleSet>, permission: &Permission) -> Verdict {
    match set {
        None => Verdict::NotJudged,
        Some(RuleSet::Exact(desired)) => {
            if desired.iter().any(|d| d.access() == permission.access()) {
                Verdict::InDesiredSet
            } else {
                Verdict::NotInDesiredSet
            }
        }
        Some(RuleSet::Limits {
            internet_ports,
            trusted_cidrs,
        }) => {
            if !is_internet(&permission.peer, trusted_cidrs)
                || internet_ports.iter().any(|spec| spec.covers(permission))
            {
                Verdict::WithinLimits
            } else {
                Verdict::OutsideLimits
            }
        }
    }
}

/// Whether a peer includes public addresses outside the trusted CIDRs.
/// Prefix lists and referenced groups are not the internet.
pub fn is_internet(peer: &Peer, trusted: &[IpNet]) -> bool {
    let net = match peer {
        Peer::Ipv4(net) => IpNet::V4(*net),
        Peer::Ipv6(net) => IpNet::V6(*net),
        Peer::PrefixList(_) | Peer::Group { .. } => return false,
    };
    if trusted.iter().any(|t| t.contains(&net)) {
        return false;
    }
    match net {
        IpNet::V4(net) => !private_v4().iter().any(|p| p.contains(&net)),
        IpNet::V6(net) => !private_v6().iter().any(|p| p.contains(&net)),
    }
}

fn private_v4() -> [Ipv4Net; 6] {
    let net = |a, b, c, d, len| Ipv4Net::new(Ipv4Addr::new(a, b, c, d), len).expect("valid");
    [
        net(10, 0, 0, 0, 8),
        net(172, 16, 0, 0, 12),
        net(192, 168, 0, 0, 16),
        net(100, 64, 0, 0, 10),
        net(127, 0, 0, 0, 8),
        net(169, 254, 0, 0, 16),
    ]
}

fn private_v6() -> [Ipv6Net; 3] {
    [
        Ipv6Net::new(Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7).expect("valid"),
        Ipv6Net::new(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10).expect("valid"),
        Ipv6Net::new(Ipv6Addr::LOCALHOST, 128).expect("valid"),
    ]
}

/// A desired permission the group lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissingRule {
    pub direction: Direction,
    pub permission: Permission,
}

/// The group against its desired rules.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateDiff {
    /// Rules the desired set does not have (or that break the limits).
    pub extra: Vec<GroupRule>,
    /// Desired permissions the group does not have.
    pub missing: Vec<MissingRule>,
}

/// AWS Config's annotation limit.
pub const ANNOTATION_LIMIT: usize = 256;

impl StateDiff {
    pub fn compliant(&self) -> bool {
        self.extra.is_empty() && self.missing.is_empty()
    }

    /// `extra: ingress tcp/22 0.0.0.0/0; missing: ingress tcp/443 ::/0`,
    /// cut to Config's 256 characters with the count of what was left out.
    pub fn annotation(&self) -> String {
        if self.compliant() {
            return "matches the desired rules".to_owned();
        }
        let mut items: Vec<String> = self
            .extra
            .iter()
            .map(|r| format!("extra {} {}", direction_word(r.direction), r.permission))
            .collect();
        items.extend(
            self.missing
                .iter()
                .map(|m| format!("missing {} {}", direction_word(m.direction), m.permission)),
        );
        let total = items.len();
        let mut text = String::new();
        for (shown, item) in items.iter().enumerate() {
            let rest = total - shown - 1;
            let tail = if rest > 0 {
                format!("; +{rest} more")
            } else {
                String::new()
            };
            let candidate = if text.is_empty() {
                item.clone()
            } else {
                format!("{text}; {item}")
            };
            if candidate.len() + tail.len() > ANNOTATION_LIMIT {
                let left = total - shown;
                return format!("{text}; +{left} more");
            }
            text = candidate;
        }
        text
    }
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "ingress",
        Direction::Egress => "egress",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::permission::{Peer, Protocol};

    fn rule(
        id: &str,
        direction: Direction,
        protocol: Protocol,
        port: i32,
        peer: &str,
    ) -> GroupRule {
        let peer = if peer.starts_with("sg-") {
            Peer::group(peer, None).unwrap()
        } else if peer.contains(':') {
            Peer::ipv6(peer).unwrap()
        } else if peer.starts_with("pl-") {
            Peer::prefix_list(peer).unwrap()
        } else {
            Peer::ipv4(peer).unwrap()
        };
        let ports = (protocol != Protocol::All).then_some(port);
        GroupRule {
            rule_id: id.to_owned(),
            direction,
            permission: Permission::new(protocol, ports, ports, peer, None).unwrap(),
        }
    }

    fn group(tags: &[(&str, &str)], rules: Vec<GroupRule>) -> GroupFacts {
        GroupFacts {
            account: AccountId::parse("111111111111").unwrap(),
            region: Region::parse("us-east-1").unwrap(),
            group_id: "sg-0aaa".to_owned(),
            group_name: "web-prod".to_owned(),
            vpc_id: Some("vpc-0bbb".to_owned()),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            rules,
        }
    }

    fn policy() -> Policy {
        Policy::parse(
            r#"
version: 1
break_glass_tag: fanin-break-glass
approvers: ["arn:aws:iam::*:role/network-admins"]
selectors:
  - name: web
    match: { groups: ["web-*"], tags: { tier: web } }
    mode: enforce
    ingress:
      exact:
        - { IpProtocol: tcp, FromPort: 443, ToPort: 443, IpRanges: [{CidrIp: 0.0.0.0/0}], Ipv6Ranges: [{CidrIpv6: "::/0"}] }
  - name: rest
    ingress: { internet_ports: ["tcp/80", "tcp/443"], trusted_cidrs: [203.0.113.0/24] }
"#,
        )
        .unwrap()
    }

    fn user(arn: &str) -> Actor {
        Actor {
            identity_type: "IAMUser".into(),
            arn: Some(arn.into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_first_matching_selector_covers() {
        let policy = policy();
        let web = group(&[("tier", "web")], vec![]);
        assert_eq!(policy.covering(&web).unwrap().selector.name, "web");
        let other = group(&[("tier", "db")], vec![]);
        let coverage = policy.covering(&other).unwrap();
        assert_eq!(coverage.selector.name, "rest");
        assert_eq!(coverage.mode(), Mode::Audit);
    }

    #[test]
    fn exact_sets_approve_only_their_permissions() {
        let policy = policy();
        let web = group(&[("tier", "web")], vec![]);
        let coverage = policy.covering(&web).unwrap();
        let dev = user("arn:aws:iam::111111111111:user/dev");
        let https6 = rule("sgr-01", Direction::Ingress, Protocol::Tcp, 443, "::/0");
        assert_eq!(coverage.judge(&dev, &https6), Verdict::InDesiredSet);
        let ssh = rule("sgr-02", Direction::Ingress, Protocol::Tcp, 22, "0.0.0.0/0");
        assert_eq!(coverage.judge(&dev, &ssh), Verdict::NotInDesiredSet);
        let all = rule("sgr-03", Direction::Ingress, Protocol::All, 0, "10.0.0.0/8");
        assert_eq!(coverage.judge(&dev, &all), Verdict::NotInDesiredSet);
        let egress = rule("sgr-04", Direction::Egress, Protocol::All, 0, "0.0.0.0/0");
        assert_eq!(coverage.judge(&dev, &egress), Verdict::NotJudged);
    }

    #[test]
    fn approvers_and_break_glass_stand_before_the_rules() {
        let policy = policy();
        let ssh = rule("sgr-02", Direction::Ingress, Protocol::Tcp, 22, "0.0.0.0/0");
        let session = Actor {
            identity_type: "AssumedRole".into(),
            arn: Some("arn:aws:sts::111111111111:assumed-role/network-admins/alice".into()),
            session_issuer_arn: Some("arn:aws:iam::111111111111:role/network-admins".into()),
            ..Default::default()
        };
        let web = group(&[("tier", "web")], vec![]);
        assert!(matches!(
            policy.covering(&web).unwrap().judge(&session, &ssh),
            Verdict::Approver { .. }
        ));
        let glass = group(&[("tier", "web"), ("fanin-break-glass", "TRUE")], vec![]);
        let dev = user("arn:aws:iam::111111111111:user/dev");
        assert_eq!(
            policy.covering(&glass).unwrap().judge(&dev, &ssh),
            Verdict::BreakGlass
        );
        let not_glass = group(&[("tier", "web"), ("fanin-break-glass", "no")], vec![]);
        assert_eq!(
            policy.covering(&not_glass).unwrap().judge(&dev, &ssh),
            Verdict::NotInDesiredSet
        );
    }

    #[test]
    fn limits_judge_only_what_is_open_to_the_internet() {
        let policy = policy();
        let db = group(&[("tier", "db")], vec![]);
        let coverage = policy.covering(&db).unwrap();
        let dev = user("arn:aws:iam::111111111111:user/dev");
        for (port, peer, approved) in [
            (22, "0.0.0.0/0", false),
            (22, "0.0.0.0/1", false),
            (22, "::/0", false),
            (22, "198.51.100.7/32", false),
            (22, "203.0.113.9/32", true),
            (22, "10.0.0.0/8", true),
            (22, "fd00::/8", true),
            (22, "pl-0abc", true),
            (22, "sg-0ccc", true),
            (443, "0.0.0.0/0", true),
        ] {
            let r = rule("sgr-05", Direction::Ingress, Protocol::Tcp, port, peer);
            assert_eq!(
                coverage.judge(&dev, &r).approved(),
                approved,
                "{port} {peer}"
            );
        }
        let everything = rule("sgr-06", Direction::Ingress, Protocol::All, 0, "0.0.0.0/0");
        assert_eq!(coverage.judge(&dev, &everything), Verdict::OutsideLimits);
    }

    #[test]
    fn desired_state_names_extra_and_missing() {
        let policy = policy();
        let web = group(
            &[("tier", "web")],
            vec![
                rule(
                    "sgr-01",
                    Direction::Ingress,
                    Protocol::Tcp,
                    443,
                    "0.0.0.0/0",
                ),
                rule("sgr-02", Direction::Ingress, Protocol::Tcp, 22, "0.0.0.0/0"),
                rule("sgr-03", Direction::Egress, Protocol::All, 0, "0.0.0.0/0"),
            ],
        );
        let diff = policy.covering(&web).unwrap().desired_state(&web);
        assert_eq!(diff.extra.len(), 1);
        assert_eq!(diff.extra[0].rule_id, "sgr-02");
        assert_eq!(diff.missing.len(), 1);
        assert_eq!(diff.missing[0].permission.to_string(), "tcp/443 ::/0");
        assert_eq!(
            diff.annotation(),
            "extra ingress tcp/22 0.0.0.0/0; missing ingress tcp/443 ::/0"
        );
        assert!(!diff.compliant());
    }

    #[test]
    fn a_long_annotation_is_cut_with_a_count() {
        let extra = (0..40)
            .map(|i| {
                rule(
                    &format!("sgr-{i:02}"),
                    Direction::Ingress,
                    Protocol::Tcp,
                    1000 + i,
                    "0.0.0.0/0",
                )
            })
            .collect();
        let diff = StateDiff {
            extra,
            missing: vec![],
        };
        let text = diff.annotation();
        assert!(text.len() <= ANNOTATION_LIMIT, "{}", text.len());
        assert!(text.ends_with(" more"), "{text}");
        assert!(text.starts_with("extra ingress tcp/1000 0.0.0.0/0"));
    }
}
