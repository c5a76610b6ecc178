//! The guard host with a stand-in for the `fanin-guard` binary: a Lambda
//! custom runtime in `sh` that answers each event with the environment it
//! was started with. Checks that each account and region's function runs
//! with the deployed environment, the local endpoint and a session of the
//! account's `fanin-guard` role, under the function's ARN, and that
//! CloudTrail events reach it through the deployed rule.

use std::os::unix::fs::PermissionsExt;
use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use fanin_devstack::gateway::awsreq;
use fanin_devstack::guard_host;
use fanin_devstack::scenario::{LocalStack, sdk_config};
use serde_json::{Value, json};

const APP: &str = "111111111111";
const REGIONS: [&str; 2] = ["us-east-1", "eu-west-1"];

const STAND_IN: &str = r#"#!/bin/sh
# A Lambda custom runtime: answers each event with what it was started with.
api="$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/invocation"
while true; do
  headers=$(mktemp)
  event=$(curl -sS -D "$headers" "$api/next") || exit 1
  id=$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\r\n')
  rm -f "$headers"
  printf '{"key":"%s","policyKey":"%s","endpoint":"%s","received":%s}' \
    "$AWS_ACCESS_KEY_ID" "$FANIN_GUARD_POLICY_KEY" "$AWS_ENDPOINT_URL" "$event" |
    curl -sS -X POST -H 'content-type: application/json' --data-binary @- "$api/$id/response" >/dev/null
done
"#;

fn stand_in() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("fanin-guard-stand-in-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("fanin-guard");
    std::fs::write(&path, STAND_IN).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// The `fanin-guard` role and function as the StackSets would create them.
async fn deploy_guard(stack: &LocalStack) {
    let admin = stack.account_credentials(APP).await.unwrap();
    let iam = aws_sdk_iam::Client::new(&stack.moto_config("us-east-1", Some(admin.clone())));
    let trust = json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
        "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]});
    let role = iam
        .create_role()
        .role_name(guard_host::GUARD_ROLE)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await
        .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("bootstrap", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, STAND_IN.as_bytes()).unwrap();
    let code = zip.finish().unwrap().into_inner();
    for region in REGIONS {
        let lambda = aws_sdk_lambda::Client::new(&stack.moto_config(region, Some(admin.clone())));
        lambda
            .create_function()
            .function_name("fanin-guard")
            .runtime(Runtime::Providedal2023)
            .handler("bootstrap")
            .role(role.role().unwrap().arn())
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(code.clone()))
                    .build(),
            )
            .environment(
                Environment::builder()
                    .variables(
                        "FANIN_GUARD_POLICY_KEY",
                        format!("fanin/{region}/guard-policy.yaml"),
                    )
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guards_run_with_the_deployed_environment_and_their_roles_session() {
    let stack = LocalStack::start().await.unwrap();
    deploy_guard(&stack).await;
    let host = guard_host::start_guard_binary(&stack, &stand_in(), &[APP], &REGIONS)
        .await
        .unwrap();
    let http = awsreq::local_http_client();
    for region in REGIONS {
        let guard = host.guard(APP, region).unwrap();
        let arn = format!("arn:aws:lambda:{region}:{APP}:function:fanin-guard");
        assert_eq!(guard.function_arn, arn);
        assert_eq!(
            stack.gateway.lambda_targets().url(&arn).as_deref(),
            Some(guard.lambda.invoke_url.as_str())
        );
        let answer = stack
            .gateway
            .lambda_targets()
            .invoke(&arn, &json!({"probe": region}))
            .await
            .unwrap();
        assert_eq!(answer["received"], json!({"probe": region}));
        assert_eq!(answer["endpoint"], stack.gateway.aws_url);
        assert_eq!(
            answer["policyKey"],
            format!("fanin/{region}/guard-policy.yaml")
        );
        let (account, caller) =
            awsreq::moto_caller_identity(&http, &stack.moto.url, answer["key"].as_str().unwrap())
                .await
                .unwrap();
        assert_eq!(account, APP);
        assert!(
            caller.starts_with(&format!("arn:aws:sts::{APP}:assumed-role/fanin-guard/")),
            "{caller}"
        );
    }

    // A change in the account reaches its guard through the deployed rule.
    let admin = stack.account_credentials(APP).await.unwrap();
    let events =
        aws_sdk_eventbridge::Client::new(&stack.moto_config("eu-west-1", Some(admin.clone())));
    events
        .put_rule()
        .name("fanin-guard-security-group-changes")
        .event_pattern(
            json!({"source": ["aws.ec2"], "detail": {"eventName": ["CreateSecurityGroup"]}})
                .to_string(),
        )
        .send()
        .await
        .unwrap();
    events
        .put_targets()
        .rule("fanin-guard-security-group-changes")
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("guard")
                .arn(format!(
                    "arn:aws:lambda:eu-west-1:{APP}:function:fanin-guard"
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let ec2 = aws_sdk_ec2::Client::new(&sdk_config(
        &stack.gateway.aws_url,
        "eu-west-1",
        Some(admin),
    ));
    let vpc = ec2
        .create_vpc()
        .cidr_block("10.0.0.0/16")
        .send()
        .await
        .unwrap();
    ec2.create_security_group()
        .group_name("web")
        .description("web")
        .vpc_id(vpc.vpc().unwrap().vpc_id().unwrap())
        .send()
        .await
        .unwrap();
    let started = Instant::now();
    let delivery = loop {
        let played = stack.gateway.cloudtrail().played();
        if let Some(event) = played.iter().find(|e| e.done) {
            break event.deliveries.clone();
        }
        assert!(started.elapsed() < Duration::from_secs(20), "{played:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(delivery.len(), 1, "{delivery:?}");
    assert_eq!(delivery[0].outcome, "delivered");
    let answer: &Value = delivery[0].answer.as_ref().unwrap();
    assert_eq!(
        answer["received"]["detail"]["eventName"],
        "CreateSecurityGroup"
    );
    assert_eq!(answer["received"]["account"], APP);

    drop(host);
    assert!(
        stack
            .gateway
            .lambda_targets()
            .url(&format!(
                "arn:aws:lambda:us-east-1:{APP}:function:fanin-guard"
            ))
            .is_none(),
        "stopped guards leave the registry"
    );
}
