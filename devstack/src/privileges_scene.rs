//! The least-privilege scene, as the demo and the end-to-end test play it on
//! a deployed local stack: the privileges world's IAM users, groups, roles
//! and policies ([`crate::privileges_world`]) created in the first two
//! application accounts, their calls written to the trail bucket as the
//! organization trail writes them ([`crate::trails`]), the objects' S3
//! notifications drained through the hosted `fanin-privileges` (ingest),
//! then the scheduled evaluation, whose records wait on the central bus's
//! queue for the collector.

use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use crate::deployment::{Deployed, ORGANIZATION_ID};
use crate::privileges_host::{self, PrivilegesHost};
use crate::privileges_world::{self, ExpectedReport};
use crate::scenario::{self, LocalStack, PRIMARY_REGION};
use crate::trails;

/// How long after the world's creation the evaluation runs: more than the
/// function's `FANIN_PRIVILEGES_MIN_DAYS` (7), so its principals are judged.
const EVALUATED_AFTER: chrono::Duration = chrono::Duration::days(9);
/// How long the trail queue may take to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);

/// What the scene left behind, before the collector runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct PrivilegesScene {
    /// The account of the world's judged principals, and the second one.
    pub account: String,
    pub second_account: String,
    /// Trail objects written, and their calls.
    pub objects: usize,
    pub calls: usize,
    /// Invocations of `fanin-privileges` by the trail queue's mapping.
    pub ingest_invocations: usize,
    /// Usage objects in the archive (`iam-usage/`) and documents in the
    /// usage index.
    pub usage_objects: usize,
    pub usage_indexed: usize,
    /// The evaluation's answer (`fanin_privileges::evaluate::Summary`).
    pub evaluation: Value,
    pub records: usize,
    /// What the world says each principal's report is.
    #[serde(skip)]
    pub expected: Vec<ExpectedReport>,
}

/// Plays the scene on `deployed`; the records it produced are on the central
/// queue when it returns.
pub async fn play(stack: &LocalStack, deployed: &Deployed) -> anyhow::Result<PrivilegesScene> {
    let mut accounts = deployed.application_accounts.iter();
    let account = accounts.next().context("no application account")?.clone();
    let second_account = accounts
        .next()
        .context("a second application account")?
        .clone();
    for (which, create_second) in [(&account, false), (&second_account, true)] {
        let credentials = stack.account_credentials(which).await?;
        let iam = aws_sdk_iam::Client::new(&stack.moto_config(PRIMARY_REGION, Some(credentials)));
        if create_second {
            privileges_world::create_second(&iam).await
        } else {
            privileges_world::create(&iam).await
        }
        .with_context(|| format!("the privileges world in {which}"))?;
        restate_inline_role_policies(&iam)
            .await
            .with_context(|| format!("restating the inline role policies of {which}"))?;
    }
    // The world's principals are created now; the evaluation runs as if
    // EVALUATED_AFTER had passed, so that they are old enough to be judged
    // and their calls (up to four days before that) come after their
    // creation.
    let now = Utc::now();
    let evaluated_at = now + EVALUATED_AFTER;
    let calls = privileges_world::calls(&account, evaluated_at - chrono::Duration::days(1));
    let s3 = scenario::central_s3(stack);
    let region = deployed.regions.first().context("no region")?.clone();
    let keys = trails::write_trail(
        &s3,
        &deployed.privileges.trail_bucket,
        ORGANIZATION_ID,
        &region,
        &calls,
    )
    .await
    .context("writing the trail")?;

    let host = privileges_host::start_privileges(stack, deployed).await?;
    let stats = drain(&host).await?;
    let central = &deployed.central;
    let usage_objects = scenario::bucket_keys(stack, central, "iam-usage/")
        .await?
        .len();
    let usage_indexed = scenario::indexed_in(stack, central, "iam-usage")
        .await?
        .len();
    let evaluation = host
        .invoke_evaluation(json!({
            "fanin": "evaluate",
            "accounts": [&account, &second_account],
            "until": evaluated_at.to_rfc3339(),
        }))
        .await
        .context("the scheduled evaluation")?;
    Ok(PrivilegesScene {
        expected: privileges_world::expected(&account),
        account,
        second_account,
        objects: keys.len(),
        calls: calls.len(),
        ingest_invocations: stats.invocations,
        usage_objects,
        usage_indexed,
        records: evaluation["records"].as_u64().unwrap_or(0) as usize,
        evaluation,
    })
}

/// Drains the trail queue; an invocation that failed is an error here (the
/// world's objects are all readable).
async fn drain(host: &PrivilegesHost) -> anyhow::Result<crate::esm::MappingStats> {
    let stats = host.drain(DRAIN_LIMIT).await?;
    anyhow::ensure!(
        stats.failures_reported == 0,
        "fanin-privileges reported {} failed messages in {} invocations (log: {})",
        stats.failures_reported,
        stats.invocations,
        host.log_path().await.display()
    );
    Ok(stats)
}

/// moto's CloudFormation keeps a role's inline `Policies` as parsed JSON,
/// and moto's `GetAccountAuthorizationDetails` then fails (HTTP 500: it
/// URL-encodes the document as text). Putting each inline role policy back
/// through IAM's own `PutRolePolicy`, unchanged, stores it as text, as AWS
/// does. A gap of moto 5.2.5 only (docs/privileges.md, "Local stack").
async fn restate_inline_role_policies(iam: &aws_sdk_iam::Client) -> anyhow::Result<()> {
    let roles = iam.list_roles().max_items(1000).send().await?;
    for role in roles.roles() {
        let name = role.role_name();
        let policies = iam.list_role_policies().role_name(name).send().await?;
        for policy in policies.policy_names() {
            let answer = iam
                .get_role_policy()
                .role_name(name)
                .policy_name(policy)
                .send()
                .await?;
            let document = answer.policy_document();
            // IAM answers URL-encoded documents; moto answers them as it
            // keeps them: text (fine), or a parsed document printed.
            let document = percent_encoding::percent_decode_str(document)
                .decode_utf8()
                .map(|decoded| decoded.into_owned())
                .unwrap_or_else(|_| document.to_owned());
            if serde_json::from_str::<Value>(&document).is_ok() {
                continue;
            }
            // The parsed document, as moto prints it: Python's repr.
            let document = python_repr_to_json(&document)
                .with_context(|| format!("role {name} policy {policy}: {document}"))?;
            iam.put_role_policy()
                .role_name(name)
                .policy_name(policy)
                .policy_document(&document)
                .send()
                .await
                .with_context(|| format!("role {name} policy {policy}: {document}"))?;
        }
    }
    Ok(())
}

/// A policy document printed by Python (`{'Version': '2012-10-17', ...}`)
/// as JSON (policy documents hold no quotes inside their strings), without
/// the statements moto's CloudFormation left as None.
fn python_repr_to_json(printed: &str) -> anyhow::Result<String> {
    let json = printed
        .replace('\'', "\"")
        .replace("True", "true")
        .replace("False", "false")
        .replace("None", "null");
    let mut document: Value = serde_json::from_str(&json)?;
    // A statement under `!If [.., .., !Ref AWS::NoValue]` is left as None
    // where CloudFormation removes it.
    if let Some(statements) = document["Statement"].as_array_mut() {
        statements.retain(|statement| !statement.is_null());
    }
    Ok(document.to_string())
}
