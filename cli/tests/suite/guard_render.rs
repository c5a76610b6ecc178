//! `fanin guard`'s evaluation and output, without AWS: the report of each
//! kind of group (covered and compliant, non-compliant with revokes and
//! authorizations, break-glass, not covered) as text and JSON, and the
//! policy problems `validate` prints.

use std::collections::BTreeMap;
use std::path::Path;

use fanin::guard::evaluate::GroupFacts;
use fanin::guard::permission::{GroupRule, RuleItem};
use fanin::guard::policy::Policy;
use fanin::ids::{AccountId, Region};
use fanin_cli::guard::{CheckReport, evaluate_group, render_problems, render_text, render_valid};
use serde_json::json;

const POLICY: &str = r#"
version: 1
break_glass_tag: fanin-break-glass
selectors:
  - name: web
    match: { tags: { tier: web } }
    mode: enforce
    ingress:
      exact:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          IpRanges: [{CidrIp: 0.0.0.0/0}]
          Ipv6Ranges: [{CidrIpv6: "::/0"}]
  - name: apps
    match: { groups: ["app-*"] }
    ingress: { internet_ports: ["tcp/443"] }
"#;

fn rule(id: &str, protocol: &str, port: i32, peer: serde_json::Value) -> GroupRule {
    let mut item = json!({
        "securityGroupRuleId": id,
        "isEgress": false,
        "ipProtocol": protocol,
        "fromPort": port,
        "toPort": port,
    });
    for (key, value) in peer.as_object().unwrap() {
        item[key] = value.clone();
    }
    let item: RuleItem = serde_json::from_value(item).unwrap();
    item.to_rule().unwrap()
}

fn group(id: &str, name: &str, tags: &[(&str, &str)], rules: Vec<GroupRule>) -> GroupFacts {
    GroupFacts {
        account: AccountId::parse("111111111111").unwrap(),
        region: Region::parse("eu-west-1").unwrap(),
        group_id: id.into(),
        group_name: name.into(),
        vpc_id: Some("vpc-0123456789abcdef0".into()),
        tags: tags
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
        rules,
    }
}

fn report() -> CheckReport {
    let policy = Policy::parse(POLICY).unwrap();
    let web_ok = group(
        "sg-0000000000000000a",
        "web-ok",
        &[("tier", "web")],
        vec![
            rule(
                "sgr-0000000000000001a",
                "tcp",
                443,
                json!({"cidrIpv4": "0.0.0.0/0"}),
            ),
            rule(
                "sgr-0000000000000002a",
                "tcp",
                443,
                json!({"cidrIpv6": "::/0"}),
            ),
        ],
    );
    let web_bad = group(
        "sg-0000000000000000b",
        "web-bad",
        &[("tier", "web")],
        vec![
            rule(
                "sgr-0000000000000001b",
                "tcp",
                443,
                json!({"cidrIpv4": "0.0.0.0/0"}),
            ),
            rule(
                "sgr-0000000000000002b",
                "tcp",
                22,
                json!({"cidrIpv4": "0.0.0.0/0"}),
            ),
        ],
    );
    let glass = group(
        "sg-0000000000000000c",
        "glass",
        &[("tier", "web"), ("fanin-break-glass", "true")],
        vec![rule(
            "sgr-0000000000000001c",
            "tcp",
            22,
            json!({"cidrIpv4": "0.0.0.0/0"}),
        )],
    );
    let app = group(
        "sg-0000000000000000d",
        "app-api",
        &[],
        vec![
            rule(
                "sgr-0000000000000001d",
                "tcp",
                5432,
                json!({"referencedGroupInfo": {"groupId": "sg-0000000000000000b"}}),
            ),
            rule(
                "sgr-0000000000000002d",
                "tcp",
                3389,
                json!({"cidrIpv6": "2001:db8::/32"}),
            ),
        ],
    );
    let other = group("sg-0000000000000000e", "default", &[], vec![]);
    CheckReport {
        policy_digest: policy.digest.clone(),
        groups: [web_ok, web_bad, glass, app, other]
            .iter()
            .map(|g| evaluate_group(&policy, g, Vec::new()))
            .collect(),
    }
}

#[test]
fn each_kind_of_group_is_reported_as_the_guard_would_see_it() {
    let report = report();
    let [web_ok, web_bad, glass, app, other] = &report.groups[..] else {
        panic!("five groups")
    };
    assert_eq!(web_ok.status, "COMPLIANT");
    assert!(web_ok.would_revoke.is_empty() && web_ok.would_authorize.is_empty());

    assert_eq!(web_bad.status, "NON_COMPLIANT");
    assert_eq!(web_bad.selector.as_deref(), Some("web"));
    assert_eq!(web_bad.would_revoke.len(), 1);
    assert_eq!(web_bad.would_revoke[0].rule_id, "sgr-0000000000000002b");
    assert_eq!(web_bad.would_authorize.len(), 1, "443 from ::/0 is missing");
    assert!(web_bad.would_authorize[0].permission.contains("::/0"));
    assert!(
        web_bad.annotation.contains("extra"),
        "{}",
        web_bad.annotation
    );

    assert!(glass.break_glass);
    assert!(glass.would_revoke.is_empty(), "break-glass is left alone");

    assert_eq!(app.selector.as_deref(), Some("apps"));
    assert_eq!(
        app.would_revoke.len(),
        1,
        "the group reference is no internet"
    );
    assert_eq!(app.would_revoke[0].rule_id, "sgr-0000000000000002d");

    assert_eq!(other.status, "NOT_COVERED");
    assert_eq!(other.selector, None);
}

#[test]
fn the_text_report_names_the_selector_mode_status_and_changes() {
    let text = render_text(&report());
    assert!(text.starts_with("policy "), "{text}");
    assert!(text.contains("5 groups"), "{text}");
    assert!(
        text.contains(
            "111111111111 eu-west-1 sg-0000000000000000b (web-bad) in vpc-0123456789abcdef0"
        ),
        "{text}"
    );
    assert!(
        text.contains("  selector web, mode enforce, remediation off, break-glass no"),
        "{text}"
    );
    assert!(text.contains("  NON_COMPLIANT: extra ingress"), "{text}");
    assert!(
        text.contains("  would revoke sgr-0000000000000002b ingress"),
        "{text}"
    );
    assert!(text.contains("(remediation off)"), "{text}");
    assert!(text.contains("selector apps, mode audit"), "{text}");
    assert!(text.contains("break-glass yes"), "{text}");
    assert!(text.contains("  not covered by the policy"), "{text}");
    assert!(
        text.contains("  COMPLIANT: matches the desired rules"),
        "{text}"
    );
}

#[test]
fn the_json_report_is_one_document_for_machines() {
    let value = serde_json::to_value(report()).unwrap();
    let groups = value["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 5);
    assert_eq!(groups[1]["status"], "NON_COMPLIANT");
    assert_eq!(groups[1]["mode"], "enforce");
    assert_eq!(
        groups[1]["would_revoke"][0]["rule_id"],
        "sgr-0000000000000002b"
    );
    assert_eq!(groups[1]["would_revoke"][0]["direction"], "ingress");
    assert_eq!(groups[4]["selector"], serde_json::Value::Null);
}

#[test]
fn validate_prints_each_problem_with_its_place() {
    let broken = "version: 1\nselectors:\n  - name: x\n    mode: enforce\n    ingress: { internet_ports: [\"tcp/99999\"] }\n";
    let problems = Policy::parse(broken).unwrap_err().0;
    let text = render_problems(Path::new("guard.yaml"), &problems);
    assert!(
        text.starts_with(&format!("guard.yaml: {} problems", problems.len())),
        "{text}"
    );
    assert!(text.contains("99999"), "{text}");
    let policy = Policy::parse(POLICY).unwrap();
    let valid = render_valid(Path::new("guard.yaml"), &policy);
    assert!(valid.contains("valid"), "{valid}");
    assert!(valid.contains("web (enforce), apps (audit)"), "{valid}");
}
