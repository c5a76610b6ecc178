//! The guard's policy: one YAML file, versioned in the repository, that both
//! the real-time path (revert) and the continuous path (AWS Config) read.
//!
//! Parsing is strict: an unknown key, a malformed account id, region, CIDR or
//! ARN is an error naming where it is, so a typo never silently narrows what
//! the guard covers. `docs/guard.md` documents the format.

use std::collections::BTreeMap;

use ipnet::IpNet;
use serde::Deserialize;
use sha2::{Digest, Sha256};

use super::permission::{Direction, IpPermission, Permission, Ports, Protocol, is_aws_id};
use crate::ids::{AccountId, Region};

/// The only format version.
pub const POLICY_VERSION: u32 = 1;

/// Longest policy accepted (the object is read at every cold start).
pub const MAX_POLICY_BYTES: usize = 256 * 1024;

/// The problems of a policy, each with where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid guard policy:\n  {}", .0.join("\n  "))]
pub struct PolicyErrors(pub Vec<String>);

/// What the guard does with what it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Record only (the default).
    #[default]
    Audit,
    /// Revoke unapproved rules (and, with `remediation`, converge in Config).
    Enforce,
}

/// A validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// The break-glass tag key: a group tagged `<key>=true` is left alone.
    pub break_glass_tag: Option<String>,
    /// Principals that may change any covered group.
    pub approvers: Vec<String>,
    /// In order: the first selector that matches a group covers it.
    pub selectors: Vec<Selector>,
    /// SHA-256 of the policy text, 16 hex digits: recorded on every decision.
    pub digest: String,
}

/// Which groups a selector covers and what it wants of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Selector {
    pub name: String,
    pub matcher: Matcher,
    pub mode: Mode,
    /// Config path only: make the group equal to the desired set.
    pub remediation: bool,
    pub approvers: Vec<String>,
    pub ingress: Option<RuleSet>,
    pub egress: Option<RuleSet>,
}

/// Every listed condition must hold; an empty list holds for all.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Matcher {
    pub accounts: Vec<AccountId>,
    pub regions: Vec<Region>,
    pub vpcs: Vec<String>,
    /// Group ids (`sg-...`) or name patterns (`*` and `?`).
    pub groups: Vec<String>,
    /// Tag key to value pattern (`*` any value).
    pub tags: BTreeMap<String, String>,
}

/// The desired rules of one direction.
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSet {
    /// Exactly these permissions, nothing more, nothing less.
    Exact(Vec<Permission>),
    /// Limits: from (or to) the internet, only these protocols and ports;
    /// anything else is allowed.
    Limits {
        internet_ports: Vec<PortSpec>,
        /// Public CIDRs that are not "the internet" (an office, a partner).
        trusted_cidrs: Vec<IpNet>,
    },
}

/// `tcp/443`, `tcp/8000-8100`, `udp/53`, `icmp` (all ICMP), `all`.
#[derive(Debug, Clone, PartialEq)]
pub struct PortSpec {
    pub protocol: Protocol,
    pub ports: Option<Ports>,
    pub text: String,
}

impl PortSpec {
    pub fn parse(raw: &str) -> Result<Self, String> {
        let text = raw.trim().to_ascii_lowercase();
        let (protocol, ports) = match text.split_once('/') {
            None => (text.as_str(), None),
            Some((protocol, ports)) => (protocol, Some(ports)),
        };
        let protocol = Protocol::parse(protocol).map_err(|e| e.to_string())?;
        let ports = match (protocol, ports) {
            (Protocol::Tcp | Protocol::Udp, Some(ports)) => {
                let (from, to) = ports.split_once('-').unwrap_or((ports, ports));
                let from: i32 = from.parse().map_err(|_| format!("{raw:?}: bad port"))?;
                let to: i32 = to.parse().map_err(|_| format!("{raw:?}: bad port"))?;
                if !(0..=65535).contains(&from) || !(0..=65535).contains(&to) || from > to {
                    return Err(format!("{raw:?}: ports must be within 0-65535, low-high"));
                }
                Some(Ports { from, to })
            }
            (Protocol::Tcp | Protocol::Udp, None) => {
                return Err(format!("{raw:?}: give a port or range, e.g. tcp/443"));
            }
            (_, Some(_)) => return Err(format!("{raw:?}: only tcp and udp take ports")),
            (_, None) => None,
        };
        Ok(Self {
            protocol,
            ports,
            text,
        })
    }

    /// Whether a permission's protocol and ports fall within this spec.
    pub fn covers(&self, permission: &Permission) -> bool {
        match (self.protocol, &self.ports) {
            (Protocol::All, _) => true,
            (protocol, _) if protocol != permission.protocol => false,
            (_, None) => true,
            (_, Some(spec)) => permission.ports.is_some_and(|p| spec.contains(&p)),
        }
    }
}

// --- the file's shape ------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    version: u32,
    #[serde(default)]
    break_glass_tag: Option<String>,
    #[serde(default)]
    approvers: Vec<String>,
    selectors: Vec<SelectorFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SelectorFile {
    name: String,
    #[serde(rename = "match", default)]
    matcher: MatcherFile,
    #[serde(default)]
    mode: Mode,
    #[serde(default)]
    remediation: bool,
    #[serde(default)]
    approvers: Vec<String>,
    #[serde(default)]
    ingress: Option<RuleSetFile>,
    #[serde(default)]
    egress: Option<RuleSetFile>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct MatcherFile {
    #[serde(default)]
    accounts: Vec<String>,
    #[serde(default)]
    regions: Vec<String>,
    #[serde(default)]
    vpcs: Vec<String>,
    #[serde(default)]
    groups: Vec<String>,
    #[serde(default)]
    tags: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSetFile {
    #[serde(default)]
    exact: Option<Vec<IpPermission>>,
    #[serde(default)]
    internet_ports: Option<Vec<String>>,
    #[serde(default)]
    trusted_cidrs: Vec<String>,
}

impl Policy {
    /// Parses and validates a policy; every problem is reported at once.
    pub fn parse(text: &str) -> Result<Self, PolicyErrors> {
        if text.len() > MAX_POLICY_BYTES {
            return Err(PolicyErrors(vec![format!(
                "the policy is {} bytes; at most {MAX_POLICY_BYTES}",
                text.len()
            )]));
        }
        let file: PolicyFile =
            serde_norway::from_str(text).map_err(|e| PolicyErrors(vec![e.to_string()]))?;
        let mut problems = Vec::new();
        if file.version != POLICY_VERSION {
            problems.push(format!(
                "version: {} is not supported (only {POLICY_VERSION})",
                file.version
            ));
        }
        if let Some(tag) = &file.break_glass_tag
            && !valid_tag_key(tag)
        {
            problems.push(format!("break_glass_tag: {tag:?} is not a tag key"));
        }
        check_approvers("approvers", &file.approvers, &mut problems);
        if file.selectors.is_empty() {
            problems.push("selectors: none given, the guard would cover nothing".to_owned());
        }
        let mut selectors = Vec::new();
        for (i, selector) in file.selectors.into_iter().enumerate() {
            let at = format!("selectors[{i}] ({})", selector.name);
            if let Some(selector) = selector_from(selector, &at, &mut problems) {
                if selectors.iter().any(|s: &Selector| s.name == selector.name) {
                    problems.push(format!("{at}: the name is used twice"));
                }
                selectors.push(selector);
            }
        }
        if !problems.is_empty() {
            return Err(PolicyErrors(problems));
        }
        Ok(Self {
            break_glass_tag: file.break_glass_tag,
            approvers: file.approvers,
            selectors,
            digest: hex::encode(&Sha256::digest(text.as_bytes())[..8]),
        })
    }
}

fn selector_from(file: SelectorFile, at: &str, problems: &mut Vec<String>) -> Option<Selector> {
    let before = problems.len();
    if file.name.is_empty()
        || file.name.len() > 64
        || !file
            .name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    {
        problems.push(format!(
            "{at}: name must be 1-64 letters, digits, '-', '_' or '.'"
        ));
    }
    let mut matcher = Matcher::default();
    for raw in &file.matcher.accounts {
        match AccountId::parse(raw) {
            Ok(account) => matcher.accounts.push(account),
            Err(_) => problems.push(format!("{at}.match.accounts: {raw:?} is not an account id")),
        }
    }
    for raw in &file.matcher.regions {
        match Region::parse(raw) {
            Ok(region) => matcher.regions.push(region),
            Err(_) => problems.push(format!("{at}.match.regions: {raw:?} is not a region")),
        }
    }
    for raw in &file.matcher.vpcs {
        if is_aws_id(raw, "vpc-") {
            matcher.vpcs.push(raw.clone());
        } else {
            problems.push(format!("{at}.match.vpcs: {raw:?} is not a VPC id"));
        }
    }
    for raw in &file.matcher.groups {
        if raw.is_empty() || raw.len() > 255 || raw.chars().any(char::is_control) {
            problems.push(format!(
                "{at}.match.groups: {raw:?} is not a group id or name"
            ));
        } else {
            matcher.groups.push(raw.clone());
        }
    }
    for (key, value) in &file.matcher.tags {
        if !valid_tag_key(key) || value.len() > 256 {
            problems.push(format!(
                "{at}.match.tags: {key:?} is not a tag key and value"
            ));
        }
    }
    matcher.tags = file.matcher.tags;
    check_approvers(&format!("{at}.approvers"), &file.approvers, problems);
    let ingress = file
        .ingress
        .and_then(|set| rule_set_from(set, &format!("{at}.ingress"), problems));
    let egress = file
        .egress
        .and_then(|set| rule_set_from(set, &format!("{at}.egress"), problems));
    if file.remediation && file.mode != Mode::Enforce {
        problems.push(format!("{at}: remediation needs mode: enforce"));
    }
    if file.remediation && ingress.is_none() && egress.is_none() {
        problems.push(format!(
            "{at}: remediation needs a desired ingress or egress"
        ));
    }
    (problems.len() == before).then_some(Selector {
        name: file.name,
        matcher,
        mode: file.mode,
        remediation: file.remediation,
        approvers: file.approvers,
        ingress,
        egress,
    })
}

fn rule_set_from(file: RuleSetFile, at: &str, problems: &mut Vec<String>) -> Option<RuleSet> {
    match (file.exact, file.internet_ports) {
        (Some(_), Some(_)) => {
            problems.push(format!(
                "{at}: give either exact or internet_ports, not both"
            ));
            None
        }
        (None, None) => {
            problems.push(format!("{at}: give exact or internet_ports"));
            None
        }
        (Some(entries), None) => {
            if !file.trusted_cidrs.is_empty() {
                problems.push(format!("{at}.trusted_cidrs: only with internet_ports"));
            }
            let mut permissions: Vec<Permission> = Vec::new();
            for (i, entry) in entries.iter().enumerate() {
                match entry.flatten() {
                    Ok(flat) if flat.is_empty() => problems.push(format!(
                        "{at}.exact[{i}]: no IpRanges, Ipv6Ranges, PrefixListIds or UserIdGroupPairs"
                    )),
                    Ok(flat) => {
                        for permission in flat {
                            if !permissions.iter().any(|p| p.access() == permission.access()) {
                                permissions.push(permission);
                            }
                        }
                    }
                    Err(error) => problems.push(format!("{at}.exact[{i}]: {error}")),
                }
            }
            Some(RuleSet::Exact(permissions))
        }
        (None, Some(specs)) => {
            let mut internet_ports = Vec::new();
            for raw in &specs {
                match PortSpec::parse(raw) {
                    Ok(spec) => internet_ports.push(spec),
                    Err(error) => problems.push(format!("{at}.internet_ports: {error}")),
                }
            }
            let mut trusted_cidrs = Vec::new();
            for raw in &file.trusted_cidrs {
                match raw.parse::<IpNet>() {
                    Ok(net) => trusted_cidrs.push(net.trunc()),
                    Err(_) => problems.push(format!("{at}.trusted_cidrs: {raw:?} is not a CIDR")),
                }
            }
            Some(RuleSet::Limits {
                internet_ports,
                trusted_cidrs,
            })
        }
    }
}

/// Approvers are IAM or STS ARNs, `*` and `?` allowed.
fn check_approvers(at: &str, approvers: &[String], problems: &mut Vec<String>) {
    for raw in approvers {
        let parts: Vec<&str> = raw.splitn(6, ':').collect();
        let valid = parts.len() == 6
            && parts[0] == "arn"
            && parts[1].starts_with("aws")
            && (parts[2] == "iam" || parts[2] == "sts")
            && !parts[5].is_empty()
            && raw.len() <= 2048
            && !raw.chars().any(|c| c.is_control() || c.is_whitespace());
        if !valid {
            problems.push(format!(
                "{at}: {raw:?} is not an IAM role, user or assumed-role ARN"
            ));
        }
    }
}

fn valid_tag_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 128
        && !key.starts_with("aws:")
        && !key.chars().any(char::is_control)
}

/// `*` matches any run of characters, `?` any one.
pub fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '*')
}

impl Selector {
    /// The desired rules of `direction`.
    pub fn rules(&self, direction: Direction) -> Option<&RuleSet> {
        match direction {
            Direction::Ingress => self.ingress.as_ref(),
            Direction::Egress => self.egress.as_ref(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BOTH_ORIGINALS: &str = r#"
version: 1
break_glass_tag: fanin-break-glass
approvers: ["arn:aws:iam::111122223333:role/network-admins"]
selectors:
  - name: web
    match: { tags: { tier: web }, regions: [us-east-1] }
    mode: enforce
    remediation: true
    ingress:
      exact:
        - IpProtocol: tcp
          FromPort: 80
          ToPort: 80
          IpRanges: [{CidrIp: 0.0.0.0/0}]
          Ipv6Ranges: [{CidrIpv6: "::/0"}]
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          IpRanges: [{CidrIp: 0.0.0.0/0}]
          Ipv6Ranges: [{CidrIpv6: "::/0"}]
  - name: everything-else
    ingress: { internet_ports: ["tcp/80", "tcp/443"], trusted_cidrs: [203.0.113.0/24] }
"#;

    #[test]
    fn both_originals_read() {
        let policy = Policy::parse(BOTH_ORIGINALS).unwrap();
        assert_eq!(policy.selectors.len(), 2);
        let web = &policy.selectors[0];
        assert_eq!(web.mode, Mode::Enforce);
        let Some(RuleSet::Exact(exact)) = &web.ingress else {
            panic!("exact expected")
        };
        assert_eq!(exact.len(), 4);
        let rest = &policy.selectors[1];
        assert_eq!(rest.mode, Mode::Audit, "audit is the default");
        assert!(matches!(rest.ingress, Some(RuleSet::Limits { .. })));
        assert_eq!(policy.digest.len(), 16);
    }

    #[test]
    fn every_problem_is_named_with_its_place() {
        let text = r#"
version: 1
selectors:
  - name: one
    match: { accounts: ["12345"], regions: [us-east-1x], vpcs: [vpc-zz] }
    mode: audit
    remediation: true
    approvers: ["someone"]
    ingress: { exact: [{IpProtocol: tcp, IpRanges: [{CidrIp: 0.0.0.0/0}]}] }
  - name: one
    ingress: { internet_ports: ["tcp"], exact: [] }
"#;
        let problems = Policy::parse(text).unwrap_err().0;
        let joined = problems.join("\n");
        for expected in [
            "selectors[0] (one).match.accounts: \"12345\" is not an account id",
            "selectors[0] (one).match.regions",
            "selectors[0] (one).match.vpcs",
            "selectors[0] (one).approvers: \"someone\"",
            "selectors[0] (one).ingress.exact[0]: tcp needs FromPort and ToPort",
            "selectors[0] (one): remediation needs mode: enforce",
            "selectors[1] (one).ingress: give either exact or internet_ports, not both",
        ] {
            assert!(joined.contains(expected), "{expected:?} not in:\n{joined}");
        }
    }

    #[test]
    fn a_typo_in_a_key_is_an_error_not_a_narrower_policy() {
        let text = "version: 1\nselectors:\n  - name: a\n    match: { region: [us-east-1] }\n";
        let error = Policy::parse(text).unwrap_err().to_string();
        assert!(error.contains("unknown field `region`"), "{error}");
        assert!(error.contains("line 4"), "{error}");
        assert!(Policy::parse("version: 2\nselectors: []\n").is_err());
    }

    #[test]
    fn the_shipped_policies_are_valid() {
        for (name, text) in [
            ("guard.yaml", include_str!("../../../policies/guard.yaml")),
            (
                "revert-walkthrough.yaml",
                include_str!("../../../policies/examples/revert-walkthrough.yaml"),
            ),
            (
                "config-walkthrough.yaml",
                include_str!("../../../policies/examples/config-walkthrough.yaml"),
            ),
        ] {
            let policy = Policy::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!policy.selectors.is_empty(), "{name}");
        }
    }

    #[test]
    fn port_specs() {
        let spec = PortSpec::parse("tcp/8000-8100").unwrap();
        assert_eq!(
            spec.ports,
            Some(Ports {
                from: 8000,
                to: 8100
            })
        );
        assert!(PortSpec::parse("icmp").is_ok());
        assert!(PortSpec::parse("tcp").is_err());
        assert!(PortSpec::parse("icmp/8").is_err());
        assert!(PortSpec::parse("tcp/90-80").is_err());
    }

    #[test]
    fn globs() {
        assert!(glob_matches("web-*", "web-prod"));
        assert!(glob_matches(
            "arn:aws:iam::*:role/admin?",
            "arn:aws:iam::1:role/admin2"
        ));
        assert!(!glob_matches("web-*", "db-prod"));
        assert!(glob_matches("*", ""));
        assert!(!glob_matches("a", "ab"));
    }
}
