//! `fanin guard check` on the local stack, run as the operator runs it
//! (central credentials, the application account reached through its
//! deployed read role with the ExternalId): the report of each group, and
//! not one mutating EC2 call.

use aws_sdk_ec2::types::{
    IpPermission, IpRange, Ipv6Range, Tag, TagSpecification, UserIdGroupPair,
};
use fanin_devstack::scenario::{LocalStack, PRIMARY_REGION};
use serde_json::Value;

const ACCOUNT: &str = "111111111111";

const POLICY: &str = r#"
version: 1
break_glass_tag: fanin-break-glass
selectors:
  - name: web
    match: { tags: { tier: web } }
    mode: enforce
    remediation: true
    ingress:
      exact:
        - IpProtocol: tcp
          FromPort: 443
          ToPort: 443
          IpRanges: [{CidrIp: 0.0.0.0/0}]
          Ipv6Ranges: [{CidrIpv6: "::/0"}]
  - name: everything-else
    match: { groups: ["app-*"] }
    ingress: { internet_ports: ["tcp/443"] }
"#;

async fn group(ec2: &aws_sdk_ec2::Client, vpc: &str, name: &str, tags: &[(&str, &str)]) -> String {
    let mut request = ec2
        .create_security_group()
        .group_name(name)
        .description(name)
        .vpc_id(vpc);
    if !tags.is_empty() {
        let mut spec = TagSpecification::builder()
            .resource_type(aws_sdk_ec2::types::ResourceType::SecurityGroup);
        for (key, value) in tags {
            spec = spec.tags(Tag::builder().key(*key).value(*value).build());
        }
        request = request.tag_specifications(spec.build());
    }
    request.send().await.unwrap().group_id().unwrap().to_owned()
}

fn tcp(port: i32) -> aws_sdk_ec2::types::builders::IpPermissionBuilder {
    IpPermission::builder()
        .ip_protocol("tcp")
        .from_port(port)
        .to_port(port)
}

#[tokio::test(flavor = "multi_thread")]
async fn check_reports_each_group_and_changes_nothing() {
    let stack = LocalStack::start().await.unwrap();
    fanin_devstack::deployment::deploy(&stack, &[ACCOUNT], &[PRIMARY_REGION])
        .await
        .unwrap();
    let credentials = stack.account_credentials(ACCOUNT).await.unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&stack.moto_config(PRIMARY_REGION, Some(credentials)));
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.30.0.0/16")
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_owned();
    // web: 443 from everywhere (desired, but IPv6 missing) and SSH from the
    // internet (extra).
    let web = group(&ec2, &vpc, "public-web", &[("tier", "web")]).await;
    ec2.authorize_security_group_ingress()
        .group_id(&web)
        .ip_permissions(
            tcp(443)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .ip_permissions(
            tcp(22)
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    // app: within limits (443 from ::/0, a group reference) and outside
    // them (RDP from the internet).
    let app = group(&ec2, &vpc, "app-api", &[]).await;
    ec2.authorize_security_group_ingress()
        .group_id(&app)
        .ip_permissions(
            tcp(443)
                .ipv6_ranges(Ipv6Range::builder().cidr_ipv6("::/0").build())
                .build(),
        )
        .ip_permissions(
            tcp(5432)
                .user_id_group_pairs(UserIdGroupPair::builder().group_id(&web).build())
                .build(),
        )
        .ip_permissions(
            tcp(3389)
                .ip_ranges(IpRange::builder().cidr_ip("198.51.100.0/24").build())
                .build(),
        )
        .send()
        .await
        .unwrap();
    // break-glass: web-tagged, everything open, left alone.
    let glass = group(
        &ec2,
        &vpc,
        "glass",
        &[("tier", "web"), ("fanin-break-glass", "true")],
    )
    .await;
    ec2.authorize_security_group_ingress()
        .group_id(&glass)
        .ip_permissions(
            IpPermission::builder()
                .ip_protocol("-1")
                .ip_ranges(IpRange::builder().cidr_ip("0.0.0.0/0").build())
                .build(),
        )
        .send()
        .await
        .unwrap();

    let dir = std::env::temp_dir().join(format!("fanin-guard-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let policy = dir.join("guard.yaml");
    std::fs::write(&policy, POLICY).unwrap();
    let policy = policy.to_str().unwrap();

    stack.gateway.reset_calls();
    let run = |json: bool| {
        let mut args = vec![
            "guard",
            "check",
            "--policy",
            policy,
            "--account",
            ACCOUNT,
            "--region",
            PRIMARY_REGION,
            "--external-id",
            fanin_devstack::deployment::EXTERNAL_ID,
        ];
        if json {
            args.push("--json");
        }
        let mut command = fanin_devstack::operator::command(&stack, &args);
        // Through the gateway, which counts every call by operation.
        command.env("AWS_ENDPOINT_URL", &stack.gateway.aws_url);
        command
    };
    let output = run(true).output().await.unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    let by_id = |id: &str| -> Value {
        report["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group_id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {report}"))
            .clone()
    };
    let web_report = by_id(&web);
    assert_eq!(web_report["account"], ACCOUNT);
    assert_eq!(web_report["selector"], "web");
    assert_eq!(web_report["mode"], "enforce");
    assert_eq!(web_report["status"], "NON_COMPLIANT");
    let annotation = web_report["annotation"].as_str().unwrap();
    assert!(annotation.contains("extra ingress"), "{annotation}");
    assert!(annotation.contains("22"), "{annotation}");
    assert!(annotation.contains("missing ingress"), "{annotation}");
    assert!(annotation.contains("::/0"), "{annotation}");
    let revoke = web_report["would_revoke"].as_array().unwrap();
    assert_eq!(revoke.len(), 1, "{web_report}");
    assert!(revoke[0]["rule_id"].as_str().unwrap().starts_with("sgr-"));
    assert!(revoke[0]["permission"].as_str().unwrap().contains("22"));
    let authorize = web_report["would_authorize"].as_array().unwrap();
    assert_eq!(authorize.len(), 1, "{web_report}");
    assert!(
        authorize[0]["permission"]
            .as_str()
            .unwrap()
            .contains("::/0")
    );

    let app_report = by_id(&app);
    assert_eq!(app_report["selector"], "everything-else");
    assert_eq!(app_report["mode"], "audit");
    assert_eq!(app_report["status"], "NON_COMPLIANT");
    let revoke = app_report["would_revoke"].as_array().unwrap();
    assert_eq!(revoke.len(), 1, "only RDP breaks the limits: {app_report}");
    assert!(revoke[0]["permission"].as_str().unwrap().contains("3389"));
    assert_eq!(app_report["would_authorize"], serde_json::json!([]));

    let glass_report = by_id(&glass);
    assert_eq!(glass_report["break_glass"], true);
    assert_eq!(glass_report["would_revoke"], serde_json::json!([]));

    // The VPC's default group: covered by no selector.
    let default = report["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["group_name"] == "default")
        .expect("the default group is listed");
    assert_eq!(default["status"], "NOT_COVERED");

    // The text report says the same.
    let text = run(false).output().await.unwrap();
    assert!(text.status.success());
    let text = String::from_utf8(text.stdout).unwrap();
    assert!(
        text.contains(&format!("{ACCOUNT} {PRIMARY_REGION} {web} (public-web)")),
        "{text}"
    );
    assert!(
        text.contains("selector web, mode enforce, remediation on, break-glass no"),
        "{text}"
    );
    assert!(text.contains("would revoke sgr-"), "{text}");

    // Read calls only: the two Describe calls (every page) through the
    // assumed read role, and never a change.
    let calls = stack.gateway.calls();
    let ec2_calls: Vec<_> = calls
        .iter()
        .filter(|c| c.service == "ec2" && c.caller == "fanin-cli")
        .collect();
    assert!(
        ec2_calls
            .iter()
            .any(|c| c.operation == "DescribeSecurityGroupRules"),
        "{calls:?}"
    );
    for call in &ec2_calls {
        assert!(
            call.operation.starts_with("Describe"),
            "fanin guard check called {}",
            call.operation
        );
    }
    for operation in [
        "AuthorizeSecurityGroupIngress",
        "AuthorizeSecurityGroupEgress",
        "RevokeSecurityGroupIngress",
        "RevokeSecurityGroupEgress",
        "ModifySecurityGroupRules",
    ] {
        let any_caller: u64 = calls
            .iter()
            .filter(|c| c.operation == operation)
            .map(|c| c.count)
            .sum();
        assert_eq!(any_caller, 0, "{operation} was called");
    }
    assert!(
        stack.gateway.call_count("fanin-cli", "sts", "AssumeRole") >= 1,
        "the application account is reached through its read role: {calls:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
