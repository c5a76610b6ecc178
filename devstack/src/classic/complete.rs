//! Completing an assessment run: findings from the account's real EC2
//! instances (read from moto with the account's own credentials) and the SNS
//! notifications Inspector Classic publishes.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use super::catalog::{self, Eni, FindingContext, InstanceInfo};
use super::{Classic, StoredFinding, new_id};

/// The role the simulated Inspector assumes (in moto, directly, not through
/// the gateway's enforcement) to read an account's instances.
pub const INSPECTOR_ROLE_NAME: &str = "fanin-devstack-inspector";

const DUMMY_KEY: &str = "AKIAIOSFODNN7EXAMPLE";
const DUMMY_SECRET: &str = "devstack-dummy-secret";

/// What completing a run did.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CompleteRunOutcome {
    /// The new findings, instance by instance.
    pub finding_arns: Vec<String>,
    /// SNS messages published (findings and run events).
    pub published: usize,
}

/// Why a run could not be completed.
#[derive(Debug)]
pub enum CompleteRunError {
    /// No such run.
    NotFound(String),
    /// The run is completed (or being completed) already.
    Conflict(String),
    /// moto (EC2, STS or SNS) failed.
    Failed(anyhow::Error),
}

impl std::fmt::Display for CompleteRunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompleteRunError::NotFound(m) | CompleteRunError::Conflict(m) => f.write_str(m),
            CompleteRunError::Failed(e) => write!(f, "{e:#}"),
        }
    }
}

impl std::error::Error for CompleteRunError {}

impl CompleteRunError {
    /// The HTTP status the admin API answers with.
    pub fn status(&self) -> u16 {
        match self {
            CompleteRunError::NotFound(_) => 404,
            CompleteRunError::Conflict(_) => 409,
            CompleteRunError::Failed(_) => 500,
        }
    }
}

struct RunInfo {
    account: String,
    region: String,
    template_arn: String,
    target_arn: String,
    user_attributes: Value,
}

fn rfc3339_ms(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The SNS message Inspector publishes (fields in Inspector's order).
fn message(
    run: &RunInfo,
    run_arn: &str,
    at: DateTime<Utc>,
    event: &str,
    finding: Option<&str>,
) -> String {
    let q = |s: &str| Value::String(s.to_string()).to_string();
    let finding = finding
        .map(|f| format!(",\"finding\":{}", q(f)))
        .unwrap_or_default();
    format!(
        "{{\"template\":{},\"run\":{},\"time\":{}{finding},\"event\":{},\"target\":{}}}",
        q(&run.template_arn),
        q(run_arn),
        q(&rfc3339_ms(at)),
        q(event),
        q(&run.target_arn),
    )
}

fn credentials(
    key: &str,
    secret: &str,
    token: Option<String>,
) -> aws_credential_types::Credentials {
    aws_credential_types::Credentials::new(key, secret, token, None, "fanin-devstack")
}

impl Classic {
    /// Completes a run started with StartAssessmentRun: `findings_per_instance`
    /// findings for every running or stopped instance of the run's account and
    /// region, then the SNS notifications of every subscription of the run's
    /// template (one per finding for FINDING_REPORTED, one each for
    /// ASSESSMENT_RUN_STARTED and ASSESSMENT_RUN_COMPLETED).
    pub async fn complete_run(
        &self,
        run_arn: &str,
        findings_per_instance: usize,
    ) -> Result<CompleteRunOutcome, CompleteRunError> {
        let started = Utc::now();
        let run = {
            let mut st = self.state();
            let run = st.runs.get_mut(run_arn).ok_or_else(|| {
                CompleteRunError::NotFound(format!("no assessment run {run_arn}"))
            })?;
            if run.state != "COLLECTING_DATA" {
                return Err(CompleteRunError::Conflict(format!(
                    "assessment run {run_arn} is {} already",
                    run.state
                )));
            }
            run.set_state("STOP_DATA_COLLECTION_PENDING", started);
            let arn = super::parse_arn(run_arn)
                .ok_or_else(|| CompleteRunError::NotFound(format!("bad run ARN {run_arn}")))?;
            RunInfo {
                account: arn.account.to_string(),
                region: arn.region.to_string(),
                template_arn: run.template_arn.clone(),
                target_arn: run.target_arn.clone(),
                user_attributes: run.user_attributes.clone(),
            }
        };
        let instances = match self.instances(&run.account, &run.region).await {
            Ok(instances) => instances,
            Err(e) => {
                if let Some(r) = self.state().runs.get_mut(run_arn) {
                    r.set_state("COLLECTING_DATA", Utc::now());
                }
                return Err(CompleteRunError::Failed(e));
            }
        };

        let at = Utc::now();
        let mut findings = Vec::new();
        for instance in &instances {
            for index in 0..findings_per_instance {
                let arn = format!("{run_arn}/finding/{}", new_id());
                let ctx = FindingContext {
                    arn: &arn,
                    run_arn,
                    region: &run.region,
                    user_attributes: &run.user_attributes,
                    at,
                };
                findings.push((arn.clone(), catalog::finding(&ctx, instance, index)));
            }
        }
        let finding_arns: Vec<String> = findings.iter().map(|(arn, _)| arn.clone()).collect();
        let subscriptions: Vec<(String, Vec<String>)> = {
            let mut st = self.state();
            for (arn, finding) in findings {
                let seq = st.next_seq();
                st.findings.insert(
                    arn,
                    StoredFinding {
                        seq,
                        run_arn: run_arn.to_string(),
                        finding,
                    },
                );
            }
            let mut subs: Vec<&super::Subscription> = st
                .subscriptions
                .iter()
                .filter(|s| s.resource_arn == run.template_arn)
                .collect();
            subs.sort_by_key(|s| s.seq);
            subs.iter()
                .map(|s| {
                    (
                        s.topic_arn.clone(),
                        s.events.iter().map(|(e, _)| e.clone()).collect(),
                    )
                })
                .collect()
        };

        let mut published = 0;
        let mut notifications = Vec::new();
        let mut failure = None;
        for (topic, events) in &subscriptions {
            let mut messages = Vec::new();
            let mut sent_events = Vec::new();
            if events.iter().any(|e| e == "ASSESSMENT_RUN_STARTED") {
                messages.push(message(
                    &run,
                    run_arn,
                    started,
                    "ASSESSMENT_RUN_STARTED",
                    None,
                ));
                sent_events.push("ASSESSMENT_RUN_STARTED");
            }
            if events.iter().any(|e| e == "FINDING_REPORTED") {
                for arn in &finding_arns {
                    messages.push(message(&run, run_arn, at, "FINDING_REPORTED", Some(arn)));
                }
                if !finding_arns.is_empty() {
                    sent_events.push("FINDING_REPORTED");
                }
            }
            if events.iter().any(|e| e == "ASSESSMENT_RUN_COMPLETED") {
                messages.push(message(
                    &run,
                    run_arn,
                    Utc::now(),
                    "ASSESSMENT_RUN_COMPLETED",
                    None,
                ));
                sent_events.push("ASSESSMENT_RUN_COMPLETED");
            }
            let result = self.publish(topic, &messages).await;
            let status = if result.is_ok() {
                "SUCCESS"
            } else {
                "INTERNAL_ERROR"
            };
            for event in sent_events {
                notifications.push(json!({
                    "date": catalog::epoch(Utc::now()),
                    "event": event,
                    "error": result.is_err(),
                    "snsTopicArn": topic,
                    "snsPublishStatusCode": status,
                }));
            }
            match result {
                Ok(n) => published += n,
                Err(e) => failure = Some(e.context(format!("publishing to {topic}"))),
            }
        }

        let done = Utc::now();
        {
            let mut st = self.state();
            let counts = {
                let mut counts = std::collections::HashMap::new();
                for sev in ["High", "Medium", "Low", "Informational", "Undefined"] {
                    counts.insert(sev.to_string(), 0_i64);
                }
                for arn in &finding_arns {
                    if let Some(sev) = st
                        .findings
                        .get(arn)
                        .and_then(|f| f.finding["severity"].as_str())
                    {
                        *counts.entry(sev.to_string()).or_insert(0) += 1;
                    }
                }
                counts
            };
            if let Some(r) = st.runs.get_mut(run_arn) {
                for state in [
                    "DATA_COLLECTED",
                    "START_EVALUATING_RULES_PENDING",
                    "EVALUATING_RULES",
                ] {
                    r.set_state(state, at);
                }
                r.set_state(
                    if failure.is_some() {
                        "COMPLETED_WITH_ERRORS"
                    } else {
                        "COMPLETED"
                    },
                    done,
                );
                r.completed_at = Some(done);
                r.finding_counts = counts;
                r.notifications.extend(notifications);
            }
        }
        match failure {
            Some(e) => Err(CompleteRunError::Failed(e)),
            None => Ok(CompleteRunOutcome {
                finding_arns,
                published,
            }),
        }
    }

    /// Publishes `messages` to `topic` with PublishBatch (10 a call).
    async fn publish(&self, topic: &str, messages: &[String]) -> anyhow::Result<usize> {
        let region = super::topic_region(topic)
            .ok_or_else(|| anyhow::anyhow!("{topic} is not an SNS topic ARN"))?;
        let config = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new(region.to_string()))
            .endpoint_url(self.moto_url())
            .credentials_provider(credentials(DUMMY_KEY, DUMMY_SECRET, None))
            .build();
        let sns = aws_sdk_sns::Client::from_conf(config);
        let mut sent = 0;
        for chunk in messages.chunks(10) {
            let entries = chunk
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    aws_sdk_sns::types::PublishBatchRequestEntry::builder()
                        .id(format!("m{i}"))
                        .message(m)
                        .build()
                })
                .collect::<Result<Vec<_>, _>>()?;
            let out = sns
                .publish_batch()
                .topic_arn(topic)
                .set_publish_batch_request_entries(Some(entries))
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "SNS PublishBatch: {}",
                        aws_sdk_sns::error::DisplayErrorContext(e)
                    )
                })?;
            if !out.failed().is_empty() {
                anyhow::bail!("SNS PublishBatch failed entries: {:?}", out.failed());
            }
            sent += out.successful().len();
        }
        Ok(sent)
    }

    /// The running and stopped instances of `account` in `region`, read with
    /// the account's own credentials (AssumeRole at moto).
    async fn instances(&self, account: &str, region: &str) -> anyhow::Result<Vec<InstanceInfo>> {
        let sts_config = aws_sdk_sts::Config::builder()
            .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
            .region(aws_sdk_sts::config::Region::new(region.to_string()))
            .endpoint_url(self.moto_url())
            .credentials_provider(credentials(DUMMY_KEY, DUMMY_SECRET, None))
            .build();
        let assumed = aws_sdk_sts::Client::from_conf(sts_config)
            .assume_role()
            .role_arn(format!("arn:aws:iam::{account}:role/{INSPECTOR_ROLE_NAME}"))
            .role_session_name("inspector-assessment")
            .send()
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "STS AssumeRole at moto: {}",
                    aws_sdk_sts::error::DisplayErrorContext(e)
                )
            })?;
        let creds = assumed
            .credentials()
            .ok_or_else(|| anyhow::anyhow!("AssumeRole returned no credentials"))?;
        let ec2_config = aws_sdk_ec2::Config::builder()
            .behavior_version(aws_sdk_ec2::config::BehaviorVersion::latest())
            .region(aws_sdk_ec2::config::Region::new(region.to_string()))
            .endpoint_url(self.moto_url())
            .credentials_provider(credentials(
                creds.access_key_id(),
                creds.secret_access_key(),
                Some(creds.session_token().to_string()),
            ))
            .build();
        let ec2 = aws_sdk_ec2::Client::from_conf(ec2_config);
        let mut out = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = ec2
                .describe_instances()
                .filters(
                    aws_sdk_ec2::types::Filter::builder()
                        .name("instance-state-name")
                        .values("running")
                        .values("stopped")
                        .build(),
                )
                .set_next_token(token.take())
                .send()
                .await
                .map_err(|e| {
                    anyhow::anyhow!(
                        "EC2 DescribeInstances: {}",
                        aws_sdk_ec2::error::DisplayErrorContext(e)
                    )
                })?;
            for reservation in page.reservations() {
                out.extend(reservation.instances().iter().map(instance_info));
            }
            match page.next_token() {
                Some(t) if !t.is_empty() => token = Some(t.to_string()),
                _ => break,
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }
}

fn some(s: Option<&str>) -> Option<String> {
    s.filter(|s| !s.is_empty()).map(str::to_string)
}

fn instance_info(i: &aws_sdk_ec2::types::Instance) -> InstanceInfo {
    let tags: Vec<(String, String)> = i
        .tags()
        .iter()
        .filter_map(|t| {
            Some((
                t.key()?.to_string(),
                t.value().unwrap_or_default().to_string(),
            ))
        })
        .collect();
    let auto_scaling_group = tags
        .iter()
        .find(|(k, _)| k == "aws:autoscaling:groupName")
        .map(|(_, v)| v.clone());
    let mut enis: Vec<Eni> = i
        .network_interfaces()
        .iter()
        .map(|n| Eni {
            id: n.network_interface_id().unwrap_or_default().to_string(),
            subnet_id: some(n.subnet_id()),
            vpc_id: some(n.vpc_id()),
            private_dns_name: some(n.private_dns_name()),
            private_ip: some(n.private_ip_address()),
            private_ips: n
                .private_ip_addresses()
                .iter()
                .filter_map(|p| Some((some(p.private_dns_name()), some(p.private_ip_address())?)))
                .collect(),
            public_dns_name: n.association().and_then(|a| some(a.public_dns_name())),
            public_ip: n.association().and_then(|a| some(a.public_ip())),
            ipv6: n
                .ipv6_addresses()
                .iter()
                .filter_map(|a| some(a.ipv6_address()))
                .collect(),
            groups: n
                .groups()
                .iter()
                .filter_map(|g| Some((some(g.group_name()), some(g.group_id())?)))
                .collect(),
        })
        .collect();
    if enis.is_empty() && i.private_ip_address().is_some() {
        // An instance described without its interfaces: one from the
        // instance-level fields.
        let private_ip = some(i.private_ip_address());
        enis.push(Eni {
            id: String::new(),
            subnet_id: some(i.subnet_id()),
            vpc_id: some(i.vpc_id()),
            private_dns_name: some(i.private_dns_name()),
            private_ips: private_ip
                .clone()
                .map(|ip| vec![(some(i.private_dns_name()), ip)])
                .unwrap_or_default(),
            private_ip,
            public_dns_name: some(i.public_dns_name()),
            public_ip: some(i.public_ip_address()),
            ipv6: Vec::new(),
            groups: i
                .security_groups()
                .iter()
                .filter_map(|g| Some((some(g.group_name()), some(g.group_id())?)))
                .collect(),
        });
    }
    InstanceInfo {
        id: i.instance_id().unwrap_or_default().to_string(),
        ami_id: some(i.image_id()),
        hostname: some(i.private_dns_name()),
        auto_scaling_group,
        tags,
        enis,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_has_inspectors_shape() {
        let run = RunInfo {
            account: "1".into(),
            region: "us-east-1".into(),
            template_arn: "T".into(),
            target_arn: "G".into(),
            user_attributes: json!([]),
        };
        let at = DateTime::parse_from_rfc3339("2019-04-09T00:00:01.401Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            message(&run, "R", at, "FINDING_REPORTED", Some("F")),
            r#"{"template":"T","run":"R","time":"2019-04-09T00:00:01.401Z","finding":"F","event":"FINDING_REPORTED","target":"G"}"#
        );
        assert_eq!(
            message(&run, "R", at, "ASSESSMENT_RUN_COMPLETED", None),
            r#"{"template":"T","run":"R","time":"2019-04-09T00:00:01.401Z","event":"ASSESSMENT_RUN_COMPLETED","target":"G"}"#
        );
    }
}
