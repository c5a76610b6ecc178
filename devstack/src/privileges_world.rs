//! The least-privilege world of the local stack: IAM users, groups, roles
//! and policies created in moto for the demo's application accounts, the
//! calls their principals make (written as CloudTrail objects by the trail
//! generator), and the report expected per principal, as data the e2e test
//! asserts.
//!
//! The first account: `alice` (group `readers` with the managed `s3:Get*`/
//! `s3:List*` policy, an inline `Deny`), `bob` (`NotAction` under a
//! permissions boundary, a conditional allow), `app-role` (a condition,
//! used through a service too), `partner-access` (trusted by an account
//! outside the organization), and a service-linked role. The second:
//! `ci` with one inline policy.

use chrono::{DateTime, Duration, Utc};
use serde_json::json;

use crate::trails::{TrailCall, TrailPrincipal};

/// The first demo application account.
pub const APP_A: &str = "111111111111";
/// The second demo application account.
pub const APP_B: &str = "222222222222";
/// An account outside the organization, trusted by `partner-access`.
pub const OUTSIDE: &str = "999999999999";

/// What the report must say about one principal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpectedReport {
    pub principal_arn: String,
    /// Granted and used, exactly.
    pub used: Vec<&'static str>,
    /// Some of the granted-but-unused actions (the whole list follows from
    /// the catalogue).
    pub unused_includes: Vec<&'static str>,
    /// Actions that must not be granted at all (boundary, `Deny`).
    pub not_granted: Vec<&'static str>,
    /// Used (or attempted) while not granted, exactly.
    pub used_not_granted: Vec<&'static str>,
    pub external_trust: Vec<String>,
}

fn arn(account: &str, resource: &str) -> String {
    format!("arn:aws:iam::{account}:{resource}")
}

/// The second account's one user, `ci`, with one inline policy.
pub async fn create_second(iam: &aws_sdk_iam::Client) -> anyhow::Result<()> {
    iam.create_user().user_name("ci").send().await?;
    put_user_policy(iam, "ci", "deploy", json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["lambda:UpdateFunctionCode", "lambda:GetFunction"], "Resource": "*"}]}))
    .await?;
    Ok(())
}

/// Creates the first account's IAM entities through a client acting in it.
pub async fn create(iam: &aws_sdk_iam::Client) -> anyhow::Result<()> {
    let read = iam
        .create_policy()
        .policy_name("fanin-demo-s3-read")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:Get*", "s3:List*"], "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await?;
    let read_arn = read
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or_default()
        .to_owned();
    let boundary = iam
        .create_policy()
        .policy_name("fanin-demo-boundary")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:*", "sqs:*"], "Resource": "*"}]})
            .to_string(),
        )
        .send()
        .await?;
    let boundary_arn = boundary
        .policy()
        .and_then(|p| p.arn())
        .unwrap_or_default()
        .to_owned();

    iam.create_group().group_name("readers").send().await?;
    iam.attach_group_policy()
        .group_name("readers")
        .policy_arn(&read_arn)
        .send()
        .await?;
    iam.create_user().user_name("alice").send().await?;
    iam.add_user_to_group()
        .group_name("readers")
        .user_name("alice")
        .send()
        .await?;
    put_user_policy(
        iam,
        "alice",
        "write-no-delete",
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:PutObject", "s3:DeleteObject"], "Resource": "*"},
        {"Sid": "NeverDelete", "Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "*"}]}),
    )
    .await?;

    iam.create_user()
        .user_name("bob")
        .permissions_boundary(&boundary_arn)
        .send()
        .await?;
    put_user_policy(
        iam,
        "bob",
        "everything-but-iam",
        json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "NotAction": "iam:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": "*",
         "Condition": {"Bool": {"aws:SecureTransport": "true"}}}]}),
    )
    .await?;

    create_role(iam, "app-role", json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": "ec2.amazonaws.com"}, "Action": "sts:AssumeRole"}]}))
    .await?;
    iam.put_role_policy()
        .role_name("app-role")
        .policy_name("app")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["dynamodb:GetItem", "dynamodb:PutItem"], "Resource": "*"},
                {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": "*",
                 "Condition": {"StringEquals": {"aws:SourceVpc": "vpc-0demo"}}}]})
            .to_string(),
        )
        .send()
        .await?;

    create_role(iam, "partner-access", json!({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": arn(OUTSIDE, "root")}, "Action": "sts:AssumeRole"}]}))
    .await?;
    iam.put_role_policy()
        .role_name("partner-access")
        .policy_name("exchange")
        .policy_document(
            json!({"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject"],
                 "Resource": "arn:aws:s3:::fanin-demo-exchange/*"}]})
            .to_string(),
        )
        .send()
        .await?;

    iam.create_service_linked_role()
        .aws_service_name("elasticbeanstalk.amazonaws.com")
        .send()
        .await?;
    Ok(())
}

async fn put_user_policy(
    iam: &aws_sdk_iam::Client,
    user: &str,
    name: &str,
    document: serde_json::Value,
) -> anyhow::Result<()> {
    iam.put_user_policy()
        .user_name(user)
        .policy_name(name)
        .policy_document(document.to_string())
        .send()
        .await?;
    Ok(())
}

async fn create_role(
    iam: &aws_sdk_iam::Client,
    name: &str,
    trust: serde_json::Value,
) -> anyhow::Result<()> {
    iam.create_role()
        .role_name(name)
        .assume_role_policy_document(trust.to_string())
        .send()
        .await?;
    Ok(())
}

fn user_call(
    account: &str,
    user: &str,
    source: &str,
    name: &str,
    time: DateTime<Utc>,
) -> TrailCall {
    TrailCall {
        principal: TrailPrincipal::User {
            account: account.to_owned(),
            name: user.to_owned(),
        },
        event_source: source.into(),
        event_name: name.into(),
        error_code: None,
        time,
        invoked_by: None,
    }
}

fn role_call(
    account: &str,
    role: &str,
    source: &str,
    name: &str,
    time: DateTime<Utc>,
) -> TrailCall {
    TrailCall {
        principal: TrailPrincipal::Session {
            account: account.to_owned(),
            role: role.to_owned(),
            session: "session-1".to_owned(),
        },
        ..user_call(account, "-", source, name, time)
    }
}

/// The calls of the world's principals, the last a day before `now`: an
/// event name that differs from its action (`ListObjectsV2`, `Invoke`), a
/// denied attempt, assumed-role sessions, and a call a service makes on a
/// role's behalf (not the role's use).
pub fn calls(account: &str, now: DateTime<Utc>) -> Vec<TrailCall> {
    let day = |n: i64| now - Duration::days(n);
    vec![
        user_call(account, "alice", "s3.amazonaws.com", "GetObject", day(3)),
        user_call(
            account,
            "alice",
            "s3.amazonaws.com",
            "ListObjectsV2",
            day(2),
        ),
        TrailCall {
            error_code: Some("AccessDenied".into()),
            ..user_call(account, "alice", "s3.amazonaws.com", "DeleteObject", day(1))
        },
        role_call(
            account,
            "app-role",
            "dynamodb.amazonaws.com",
            "GetItem",
            day(4),
        ),
        role_call(
            account,
            "app-role",
            "lambda.amazonaws.com",
            "Invoke",
            day(2),
        ),
        TrailCall {
            invoked_by: Some("cloudformation.amazonaws.com".into()),
            ..role_call(
                account,
                "app-role",
                "dynamodb.amazonaws.com",
                "PutItem",
                day(1),
            )
        },
        role_call(
            account,
            "partner-access",
            "s3.amazonaws.com",
            "GetObject",
            day(1),
        ),
    ]
}

/// The report expected per judged principal of the first account.
pub fn expected(account: &str) -> Vec<ExpectedReport> {
    vec![
        ExpectedReport {
            principal_arn: arn(account, "user/alice"),
            used: vec!["s3:GetObject", "s3:ListBucket"],
            unused_includes: vec!["s3:PutObject", "s3:GetBucketPolicy", "s3:ListAllMyBuckets"],
            not_granted: vec!["s3:DeleteObject", "s3:DeleteBucket"],
            used_not_granted: vec!["s3:DeleteObject"],
            external_trust: vec![],
        },
        ExpectedReport {
            principal_arn: arn(account, "user/bob"),
            used: vec![],
            unused_includes: vec!["s3:GetObject", "sqs:SendMessage", "sqs:DeleteQueue"],
            not_granted: vec!["iam:CreateUser", "ec2:RunInstances"],
            used_not_granted: vec![],
            external_trust: vec![],
        },
        ExpectedReport {
            principal_arn: arn(account, "role/app-role"),
            used: vec!["dynamodb:GetItem", "lambda:InvokeFunction"],
            unused_includes: vec!["dynamodb:PutItem"],
            not_granted: vec!["dynamodb:DeleteTable"],
            used_not_granted: vec![],
            external_trust: vec![],
        },
        ExpectedReport {
            principal_arn: arn(account, "role/partner-access"),
            used: vec!["s3:GetObject"],
            unused_includes: vec!["s3:PutObject"],
            not_granted: vec!["s3:ListBucket"],
            used_not_granted: vec![],
            external_trust: vec![arn(OUTSIDE, "root")],
        },
    ]
}
