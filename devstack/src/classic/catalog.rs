//! What the simulated assessment finds: the regional rules packages and a
//! small catalog of CVE and non-CVE rules, turned into Classic findings from an
//! instance's real EC2 data.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

/// The kinds of Inspector Classic rules packages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RulesPackageKind {
    Cve,
    Cis,
    NetworkReachability,
    SecurityBestPractices,
    RuntimeBehaviorAnalysis,
}

impl RulesPackageKind {
    pub const ALL: [RulesPackageKind; 5] = [
        RulesPackageKind::Cve,
        RulesPackageKind::Cis,
        RulesPackageKind::NetworkReachability,
        RulesPackageKind::SecurityBestPractices,
        RulesPackageKind::RuntimeBehaviorAnalysis,
    ];

    /// The package's name as DescribeRulesPackages reports it.
    pub fn name(self) -> &'static str {
        match self {
            RulesPackageKind::Cve => "Common Vulnerabilities and Exposures",
            RulesPackageKind::Cis => "CIS Operating System Security Configuration Benchmarks",
            RulesPackageKind::NetworkReachability => "Network Reachability",
            RulesPackageKind::SecurityBestPractices => "Security Best Practices",
            RulesPackageKind::RuntimeBehaviorAnalysis => "Runtime Behavior Analysis",
        }
    }

    fn version(self) -> &'static str {
        match self {
            RulesPackageKind::Cve | RulesPackageKind::Cis => "1.1",
            _ => "1.0",
        }
    }

    fn description(self) -> &'static str {
        match self {
            RulesPackageKind::Cve => {
                "Checks whether the instances are exposed to publicly known Common Vulnerabilities and Exposures."
            }
            RulesPackageKind::Cis => {
                "Checks the operating system configuration against the CIS Security Benchmarks."
            }
            RulesPackageKind::NetworkReachability => {
                "Checks which ports of the instances can be reached from outside their VPC."
            }
            RulesPackageKind::SecurityBestPractices => {
                "Checks whether the instances follow common operating system security best practices."
            }
            RulesPackageKind::RuntimeBehaviorAnalysis => {
                "Observes the instances' behavior during the assessment run for insecure protocols and unused listeners."
            }
        }
    }

    fn index(self) -> usize {
        match self {
            RulesPackageKind::Cve => 0,
            RulesPackageKind::Cis => 1,
            RulesPackageKind::NetworkReachability => 2,
            RulesPackageKind::SecurityBestPractices => 3,
            RulesPackageKind::RuntimeBehaviorAnalysis => 4,
        }
    }
}

/// Per region: Inspector's service account and the rules package ids
/// (CVE, CIS, Network Reachability, Security Best Practices, Runtime Behavior
/// Analysis; "" where the region does not have the package), as AWS
/// documents them.
const REGIONS: &[(&str, &str, [&str; 5])] = &[
    (
        "us-east-1",
        "316112463485",
        [
            "0-gEjTy7T7",
            "0-rExsr2X8",
            "0-PmNV0Tcd",
            "0-R01qwB5Q",
            "0-gBONHN9h",
        ],
    ),
    (
        "us-east-2",
        "646659390643",
        [
            "0-JnA8Zp85",
            "0-m8r61nnh",
            "0-cE4kTR30",
            "0-AxKmMHPX",
            "0-UCYZFKPV",
        ],
    ),
    (
        "us-west-1",
        "166987590008",
        [
            "0-TKgzoVOa",
            "0-xUY8iRqX",
            "0-TxmXimXF",
            "0-byoQRFYm",
            "0-yeYxlt0x",
        ],
    ),
    (
        "us-west-2",
        "758058086616",
        [
            "0-9hgA516p",
            "0-H5hpSawc",
            "0-rD1z6dpl",
            "0-JJOtZiqQ",
            "0-vg5GGHSD",
        ],
    ),
    (
        "ap-south-1",
        "162588757376",
        [
            "0-LqnJE9dO",
            "0-PSUlX14m",
            "0-YxKfjFu1",
            "0-fs0IZZBj",
            "0-EhMQZy6C",
        ],
    ),
    (
        "ap-northeast-2",
        "526946625049",
        [
            "0-PoGHMznc",
            "0-T9srhg1z",
            "0-s3OmLzhL",
            "0-2WRpmi4n",
            "0-PoYq7lI7",
        ],
    ),
    (
        "ap-southeast-2",
        "454640832652",
        [
            "0-D5TGAxiR",
            "0-Vkd2Vxjq",
            "0-FLcuV4Gz",
            "0-asL6HRgN",
            "0-P8Tel2Xj",
        ],
    ),
    (
        "ap-northeast-1",
        "406045910587",
        [
            "0-gHP9oWNT",
            "0-7WNjqgGu",
            "0-YI95DVd7",
            "0-bBUQnxMq",
            "0-knGBhqEu",
        ],
    ),
    (
        "eu-central-1",
        "537503971621",
        [
            "0-wNqHa8M9",
            "0-nZrAVuv8",
            "0-6yunpJ91",
            "0-ZujVHEPB",
            "0-0GMUM6fg",
        ],
    ),
    (
        "eu-west-1",
        "357557129151",
        [
            "0-ubA5XvBh",
            "0-sJBhCr0F",
            "0-SPzU33xe",
            "0-SnojL3Z6",
            "0-lLmwe1zd",
        ],
    ),
    (
        "eu-west-2",
        "146838936955",
        ["0-kZGCqcE1", "0-IeCjwf1W", "0-AizSYyNq", "0-XApUiSaP", ""],
    ),
    (
        "eu-north-1",
        "453420244670",
        ["0-IgdgIewd", "0-Yn8jlX7f", "0-52Sn74uu", "0-HfBQSbSf", ""],
    ),
];

/// The account Inspector Classic publishes to SNS from in `region` (the
/// account a topic policy must allow), where AWS documents it.
pub fn inspector_service_account(region: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|(r, _, _)| *r == region)
        .map(|(_, account, _)| *account)
}

/// The ARN of a rules package in `region`: the documented one where known,
/// else a stable made-up one of the same shape.
pub fn rules_package_arn(region: &str, kind: RulesPackageKind) -> String {
    let known = REGIONS.iter().find(|(r, _, _)| *r == region);
    let account = known.map(|(_, a, _)| *a).unwrap_or("000000000000");
    let id = known
        .map(|(_, _, ids)| ids[kind.index()])
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("0-{}", alnum8(fnv1a(&format!("{region}/{kind:?}")))));
    format!("arn:aws:inspector:{region}:{account}:rulespackage/{id}")
}

/// Every rules package ARN of `region` (CVE, CIS, Network Reachability,
/// Security Best Practices, Runtime Behavior Analysis where available).
pub fn rules_package_arns(region: &str) -> Vec<String> {
    let known = REGIONS.iter().find(|(r, _, _)| *r == region);
    RulesPackageKind::ALL
        .iter()
        .filter(|kind| known.is_none_or(|(_, _, ids)| !ids[kind.index()].is_empty()))
        .map(|kind| rules_package_arn(region, *kind))
        .collect()
}

/// The DescribeRulesPackages entry for an ARN, if it is one of `region`'s.
pub(crate) fn describe_rules_package(region: &str, arn: &str) -> Option<Value> {
    RulesPackageKind::ALL
        .iter()
        .find(|kind| rules_package_arn(region, **kind) == arn)
        .map(|kind| {
            json!({
                "arn": arn,
                "name": kind.name(),
                "version": kind.version(),
                "provider": "Amazon Web Services, Inc.",
                "description": kind.description(),
            })
        })
}

/// FNV-1a, 64 bits: stable across runs and Rust versions.
pub(crate) fn fnv1a(text: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in text.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

const ALNUM: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// Eight alphanumeric characters from a number.
pub(crate) fn alnum8(mut n: u64) -> String {
    let mut out = String::with_capacity(8);
    for _ in 0..8 {
        out.push(ALNUM[(n % ALNUM.len() as u64) as usize] as char);
        n /= ALNUM.len() as u64;
    }
    out
}

/// Classic severities and their numeric values.
pub(crate) fn numeric_severity(severity: &str) -> f64 {
    match severity {
        "High" => 9.0,
        "Medium" => 6.0,
        "Low" => 3.0,
        _ => 0.0,
    }
}

struct Cve {
    id: &'static str,
    package: &'static str,
    version: &'static str,
    severity: &'static str,
    summary: &'static str,
}

/// High, Medium, Low, repeated: any three consecutive picks cover all three.
const CVES: &[Cve] = &[
    Cve {
        id: "CVE-2021-44228",
        package: "log4j",
        version: "2.14.1-1.amzn2",
        severity: "High",
        summary: "The JNDI lookup feature of Apache Log4j 2 lets an attacker who controls logged text load and run code from a remote server.",
    },
    Cve {
        id: "CVE-2022-0778",
        package: "openssl",
        version: "1.0.2k-19.amzn2.0.8",
        severity: "Medium",
        summary: "Parsing a crafted certificate makes BN_mod_sqrt() loop forever, a denial of service for any program that reads untrusted certificates.",
    },
    Cve {
        id: "CVE-2018-20685",
        package: "openssh-clients",
        version: "7.4p1-21.amzn2.0.1",
        severity: "Low",
        summary: "The scp client lets a malicious server change the permissions of the target directory with an empty or '.' file name.",
    },
    Cve {
        id: "CVE-2021-3156",
        package: "sudo",
        version: "1.8.23-9.amzn2.0.1",
        severity: "High",
        summary: "A heap-based buffer overflow in sudo's command line parsing lets any local user gain root privileges.",
    },
    Cve {
        id: "CVE-2022-1271",
        package: "gzip",
        version: "1.5-10.amzn2",
        severity: "Medium",
        summary: "zgrep mishandles file names with newlines, letting an attacker who controls a file name overwrite arbitrary files.",
    },
    Cve {
        id: "CVE-2017-18018",
        package: "coreutils",
        version: "8.22-24.amzn2",
        severity: "Low",
        summary: "A race condition in chown and chgrp with -R -L lets a local user change the ownership of files outside the intended tree.",
    },
    Cve {
        id: "CVE-2016-5195",
        package: "kernel",
        version: "4.4.19-29.55.amzn1",
        severity: "High",
        summary: "A race condition in the kernel's copy-on-write handling lets a local user write to read-only memory mappings and gain privileges.",
    },
    Cve {
        id: "CVE-2020-1971",
        package: "openssl",
        version: "1.0.2k-19.amzn2.0.3",
        severity: "Medium",
        summary: "Comparing two crafted EDIPartyName values dereferences a NULL pointer, crashing programs that check certificate revocation.",
    },
    Cve {
        id: "CVE-2018-20482",
        package: "tar",
        version: "1.26-34.amzn2",
        severity: "Low",
        summary: "GNU tar can loop for a long time on a crafted sparse file that shrinks while it is archived, a local denial of service.",
    },
    Cve {
        id: "CVE-2021-4034",
        package: "polkit",
        version: "0.112-26.amzn2",
        severity: "High",
        summary: "pkexec mishandles an empty argument list and lets any local user run code as root.",
    },
    Cve {
        id: "CVE-2019-14287",
        package: "sudo",
        version: "1.8.23-3.amzn2.0.1",
        severity: "Medium",
        summary: "A sudoers rule that allows running commands as any user except root can be bypassed with the user id -1.",
    },
    Cve {
        id: "CVE-2020-14145",
        package: "openssh",
        version: "7.4p1-21.amzn2.0.1",
        severity: "Low",
        summary: "The SSH client reveals during algorithm negotiation whether it already knows the server host key, which helps a man-in-the-middle choose its targets.",
    },
    Cve {
        id: "CVE-2014-0160",
        package: "openssl",
        version: "1.0.1e-30.51.amzn1",
        severity: "High",
        summary: "The TLS heartbeat extension reads past its buffer and sends up to 64 KB of process memory, including keys, to the peer.",
    },
    Cve {
        id: "CVE-2018-1000001",
        package: "glibc",
        version: "2.17-196.amzn2.0.1",
        severity: "Medium",
        summary: "realpath() can return a relative path that leads to a buffer underflow and local privilege escalation.",
    },
    Cve {
        id: "CVE-2016-6210",
        package: "openssh-server",
        version: "6.6.1p1-22.58.amzn1",
        severity: "Low",
        summary: "sshd takes measurably longer to reject long passwords of existing users, which lets a remote attacker enumerate user names.",
    },
    Cve {
        id: "CVE-2023-38545",
        package: "curl",
        version: "7.88.1-1.amzn2.0.1",
        severity: "High",
        summary: "A heap buffer overflow in the SOCKS5 proxy handshake can be triggered by a long host name from a malicious server.",
    },
    Cve {
        id: "CVE-2022-2068",
        package: "openssl",
        version: "1.0.2k-24.amzn2.0.3",
        severity: "Medium",
        summary: "The c_rehash script does not sanitize file names and lets an attacker run shell commands with the script's privileges.",
    },
    Cve {
        id: "CVE-2021-20193",
        package: "tar",
        version: "1.26-35.amzn2",
        severity: "Low",
        summary: "GNU tar leaks memory while reading a crafted archive whose members are not found, a local denial of service.",
    },
];

struct Rule {
    package: RulesPackageKind,
    name: &'static str,
    severity: &'static str,
    /// Completes "Instance i-... ".
    problem: &'static str,
    description: &'static str,
    recommendation: &'static str,
}

/// Best-practice rules (no CVE), used for the first finding of every instance.
const BEST_PRACTICES: &[Rule] = &[
    Rule {
        package: RulesPackageKind::SecurityBestPractices,
        name: "Disable password authentication over SSH",
        severity: "Medium",
        problem: "is configured to support password authentication over SSH.",
        description: "Password authentication over SSH is exposed to brute-force and credential-stuffing attacks. Key-based authentication is much harder to attack.",
        recommendation: "Set PasswordAuthentication to no in /etc/ssh/sshd_config and restart sshd; use SSH key pairs instead.",
    },
    Rule {
        package: RulesPackageKind::SecurityBestPractices,
        name: "Disable root login over SSH",
        severity: "Medium",
        problem: "allows users to log in as root over SSH.",
        description: "Logging in as root over SSH removes the accountability of individual users and gives an attacker full control after one successful login.",
        recommendation: "Set PermitRootLogin to no in /etc/ssh/sshd_config and use individual accounts with sudo.",
    },
    Rule {
        package: RulesPackageKind::SecurityBestPractices,
        name: "Configure password maximum age",
        severity: "Low",
        problem: "is not configured with a maximum password age.",
        description: "Passwords that never expire stay useful to an attacker indefinitely once they leak.",
        recommendation: "Set PASS_MAX_DAYS in /etc/login.defs to 90 days or less.",
    },
    Rule {
        package: RulesPackageKind::SecurityBestPractices,
        name: "Configure password minimum length",
        severity: "Low",
        problem: "is not configured with a minimum password length.",
        description: "Short passwords can be guessed quickly.",
        recommendation: "Require at least 14 characters with pam_pwquality (minlen) or PASS_MIN_LEN.",
    },
];

/// Informational rules (no CVE), used for every fifth finding.
const INFORMATIONAL: &[Rule] = &[
    Rule {
        package: RulesPackageKind::RuntimeBehaviorAnalysis,
        name: "Unused listening TCP ports",
        severity: "Informational",
        problem: "is listening on TCP ports that received no traffic during the assessment run.",
        description: "Services that listen without being used enlarge the attack surface of the instance.",
        recommendation: "Stop the services behind the unused ports or restrict them with security groups.",
    },
    Rule {
        package: RulesPackageKind::RuntimeBehaviorAnalysis,
        name: "Insecure client protocols (general)",
        severity: "Informational",
        problem: "used unencrypted client protocols during the assessment run.",
        description: "Clients that use unencrypted protocols expose credentials and data to anyone on the network path.",
        recommendation: "Use encrypted alternatives (HTTPS, SFTP, SSH) for outbound connections.",
    },
];

/// A network interface of an instance, as EC2 describes it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Eni {
    pub id: String,
    pub subnet_id: Option<String>,
    pub vpc_id: Option<String>,
    pub private_dns_name: Option<String>,
    pub private_ip: Option<String>,
    /// (private DNS name, private IP)
    pub private_ips: Vec<(Option<String>, String)>,
    pub public_dns_name: Option<String>,
    pub public_ip: Option<String>,
    pub ipv6: Vec<String>,
    /// (group name, group id)
    pub groups: Vec<(Option<String>, String)>,
}

/// What a finding needs to know about an instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct InstanceInfo {
    pub id: String,
    pub ami_id: Option<String>,
    pub hostname: Option<String>,
    pub auto_scaling_group: Option<String>,
    pub tags: Vec<(String, String)>,
    pub enis: Vec<Eni>,
}

/// Where a finding belongs.
pub(crate) struct FindingContext<'a> {
    pub arn: &'a str,
    pub run_arn: &'a str,
    pub region: &'a str,
    pub user_attributes: &'a Value,
    pub at: DateTime<Utc>,
}

/// The DescribeFindings entry for finding number `index` of `instance`:
/// deterministic per (instance id, index). Index 0 is a best-practice
/// finding, every fifth an informational one, the others CVEs.
pub(crate) fn finding(ctx: &FindingContext<'_>, instance: &InstanceInfo, index: usize) -> Value {
    let seed = fnv1a(&instance.id);
    let iid = instance.id.as_str();
    let (id, title, description, recommendation, severity, package, attributes);
    if index == 0 || index % 5 == 4 {
        let rules = if index == 0 {
            BEST_PRACTICES
        } else {
            INFORMATIONAL
        };
        let rule = &rules[((seed as usize) + index / 5) % rules.len()];
        id = rule.name.to_string();
        title = format!("Instance {iid} {}", rule.problem);
        description = rule.description.to_string();
        recommendation = rule.recommendation.to_string();
        severity = rule.severity;
        package = rule.package;
        attributes = json!([{"key": "INSTANCE_ID", "value": iid}]);
    } else {
        let start = (seed % CVES.len() as u64) as usize;
        let cve = &CVES[(start + index - 1 - index / 5) % CVES.len()];
        let package_name = format!("{}-{}", cve.package, cve.version);
        id = cve.id.to_string();
        title = format!("Instance {iid} is vulnerable to {}", cve.id);
        description = format!(
            "{} The installed package {package_name} is affected by {}.",
            cve.summary, cve.id
        );
        recommendation = format!(
            "Update the {} package with the operating system's package manager (for example 'yum update {}'). More information: https://nvd.nist.gov/vuln/detail/{}",
            cve.package, cve.package, cve.id
        );
        severity = cve.severity;
        package = RulesPackageKind::Cve;
        attributes = json!([
            {"key": "INSTANCE_ID", "value": iid},
            {"key": "CVE_ID", "value": cve.id},
            {"key": "package_name", "value": package_name},
        ]);
    }
    let at = epoch(ctx.at);
    json!({
        "arn": ctx.arn,
        "schemaVersion": 1,
        "service": "Inspector",
        "serviceAttributes": {
            "schemaVersion": 1,
            "assessmentRunArn": ctx.run_arn,
            "rulesPackageArn": rules_package_arn(ctx.region, package),
        },
        "assetType": "ec2-instance",
        "assetAttributes": asset_attributes(instance),
        "id": id,
        "title": title,
        "description": description,
        "recommendation": recommendation,
        "severity": severity,
        "numericSeverity": numeric_severity(severity),
        "confidence": 10,
        "indicatorOfCompromise": false,
        "attributes": attributes,
        "userAttributes": ctx.user_attributes,
        "createdAt": at,
        "updatedAt": at,
    })
}

fn asset_attributes(instance: &InstanceInfo) -> Value {
    let mut ipv4: Vec<&str> = Vec::new();
    for eni in &instance.enis {
        for (_, ip) in &eni.private_ips {
            if !ipv4.contains(&ip.as_str()) {
                ipv4.push(ip);
            }
        }
        if let Some(ip) = &eni.private_ip
            && !ipv4.contains(&ip.as_str())
        {
            ipv4.push(ip);
        }
    }
    let mut attrs = json!({
        "schemaVersion": 1,
        "agentId": instance.id,
        "ipv4Addresses": ipv4,
        "tags": instance.tags.iter().map(|(k, v)| key_value(k, v)).collect::<Vec<_>>(),
        "networkInterfaces": instance.enis.iter().map(eni_json).collect::<Vec<_>>(),
    });
    let obj = attrs.as_object_mut().expect("object literal");
    if let Some(ami) = &instance.ami_id {
        obj.insert("amiId".into(), json!(ami));
    }
    if let Some(host) = &instance.hostname {
        obj.insert("hostname".into(), json!(host));
    }
    if let Some(asg) = &instance.auto_scaling_group {
        obj.insert("autoScalingGroup".into(), json!(asg));
    }
    attrs
}

fn eni_json(eni: &Eni) -> Value {
    let mut value = json!({
        "networkInterfaceId": eni.id,
        "privateIpAddresses": eni.private_ips.iter().map(|(dns, ip)| {
            let mut p = json!({"privateIpAddress": ip});
            if let Some(dns) = dns {
                p["privateDnsName"] = json!(dns);
            }
            p
        }).collect::<Vec<_>>(),
        "ipv6Addresses": eni.ipv6,
        "securityGroups": eni.groups.iter().map(|(name, id)| {
            let mut g = json!({"groupId": id});
            if let Some(name) = name {
                g["groupName"] = json!(name);
            }
            g
        }).collect::<Vec<_>>(),
    });
    let fields = [
        ("subnetId", &eni.subnet_id),
        ("vpcId", &eni.vpc_id),
        ("privateDnsName", &eni.private_dns_name),
        ("privateIpAddress", &eni.private_ip),
        ("publicDnsName", &eni.public_dns_name),
        ("publicIp", &eni.public_ip),
    ];
    for (name, field) in fields {
        if let Some(v) = field {
            value[name] = json!(v);
        }
    }
    value
}

/// `{"key": k, "value": v}`, without `value` when it is empty (Classic
/// values have a minimum length of 1).
pub(crate) fn key_value(key: &str, value: &str) -> Value {
    if value.is_empty() {
        json!({"key": key})
    } else {
        json!({"key": key, "value": value})
    }
}

/// Epoch seconds with milliseconds, as the JSON protocol sends timestamps.
pub(crate) fn epoch(t: DateTime<Utc>) -> Value {
    json!(t.timestamp_millis() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str) -> InstanceInfo {
        InstanceInfo {
            id: id.into(),
            ami_id: Some("ami-12345678".into()),
            hostname: Some("ip-10-0-0-5.ec2.internal".into()),
            auto_scaling_group: None,
            tags: vec![
                ("Name".into(), "web".into()),
                ("empty".into(), String::new()),
            ],
            enis: vec![Eni {
                id: "eni-1".into(),
                private_ip: Some("10.0.0.5".into()),
                private_ips: vec![(None, "10.0.0.5".into())],
                groups: vec![(Some("web".into()), "sg-1".into())],
                ..Default::default()
            }],
        }
    }

    #[test]
    fn findings_are_deterministic_varied_and_complete() {
        let ua = json!([{"key": "ScanType", "value": "x"}]);
        let ctx = FindingContext {
            arn: "arn:aws:inspector:us-east-1:1:target/0-a/template/0-b/run/0-c/finding/0-d",
            run_arn: "arn:aws:inspector:us-east-1:1:target/0-a/template/0-b/run/0-c",
            region: "us-east-1",
            user_attributes: &ua,
            at: Utc::now(),
        };
        for iid in ["i-0123456789abcdef0", "i-0fedcba9876543210", "i-1", "i-2"] {
            let inst = instance(iid);
            let set: Vec<Value> = (0..5).map(|i| finding(&ctx, &inst, i)).collect();
            assert_eq!(
                set,
                (0..5).map(|i| finding(&ctx, &inst, i)).collect::<Vec<_>>()
            );
            let severities: std::collections::BTreeSet<&str> = set
                .iter()
                .map(|f| f["severity"].as_str().unwrap())
                .collect();
            assert_eq!(severities.len(), 4, "{severities:?}");
            assert!(!set[0]["id"].as_str().unwrap().starts_with("CVE-"));
            let cves = set
                .iter()
                .filter(|f| f["id"].as_str().unwrap().starts_with("CVE-"))
                .count();
            assert_eq!(cves, 3);
            for f in &set {
                assert_eq!(
                    f["numericSeverity"].as_f64().unwrap(),
                    numeric_severity(f["severity"].as_str().unwrap())
                );
                assert_eq!(f["assetAttributes"]["agentId"], iid);
                assert_eq!(f["assetAttributes"]["tags"][1], json!({"key": "empty"}));
            }
        }
        assert!(rules_package_arn("us-east-1", RulesPackageKind::Cve).ends_with("0-gEjTy7T7"));
        assert_eq!(rules_package_arns("eu-west-2").len(), 4);
        assert_eq!(rules_package_arns("xx-test-1").len(), 5);
    }
}
