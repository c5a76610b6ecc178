//! The forwarder: subscribes Inspector Classic assessment templates of its
//! own account and region to the central SNS topic of that region.
//!
//! Triggered by the CloudTrail `CreateAssessmentTemplate` event (one
//! template), and by a schedule or a deployment trigger (a sweep of every
//! template). Idempotent: existing subscriptions are left alone.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;
use tracing::{info, warn};

use crate::config::ForwarderConfig;
use crate::ids::Arn;
use crate::ports::{AssessmentTemplate, CallError, TemplateSubscriber};

pub const FINDING_REPORTED: &str = "FINDING_REPORTED";

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ForwarderReport {
    pub examined: usize,
    pub subscribed: Vec<String>,
    pub already_subscribed: usize,
    /// Templates without the configured tag.
    pub skipped: usize,
    /// Templates that failed, with the reason (the invocation then fails so it is retried).
    pub failed: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ForwarderError {
    #[error("listing templates failed: {0}")]
    List(CallError),
    #[error("{count} template(s) could not be subscribed: {detail}")]
    Templates { count: usize, detail: String },
}

pub struct Forwarder {
    config: ForwarderConfig,
    templates: Arc<dyn TemplateSubscriber>,
}

/// What an event asks the forwarder to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    One(String),
    Sweep,
    /// A CloudTrail event of a failed call, or for another API: nothing to do.
    Nothing(String),
}

/// Reads the request out of an EventBridge event.
pub fn request_of(event: &Value) -> Request {
    let is_cloudtrail =
        event.get("detail-type").and_then(Value::as_str) == Some("AWS API Call via CloudTrail");
    if !is_cloudtrail {
        return Request::Sweep;
    }
    let detail = event.get("detail").cloned().unwrap_or_default();
    let name = detail
        .get("eventName")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if name != "CreateAssessmentTemplate" {
        return Request::Nothing(format!("CloudTrail event {name:?}"));
    }
    if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
        return Request::Nothing(format!("CreateAssessmentTemplate failed with {code}"));
    }
    match detail
        .pointer("/responseElements/assessmentTemplateArn")
        .and_then(Value::as_str)
    {
        Some(arn) => Request::One(arn.to_owned()),
        None => Request::Nothing("CreateAssessmentTemplate event without a template ARN".into()),
    }
}

impl Forwarder {
    pub fn new(config: ForwarderConfig, templates: Arc<dyn TemplateSubscriber>) -> Self {
        Self { config, templates }
    }

    pub async fn handle(&self, event: &Value) -> Result<ForwarderReport, ForwarderError> {
        let arns = match request_of(event) {
            Request::One(arn) => vec![arn],
            Request::Sweep => self
                .templates
                .list_templates()
                .await
                .map_err(ForwarderError::List)?,
            Request::Nothing(why) => {
                info!(reason = %why, "nothing to subscribe");
                return Ok(ForwarderReport::default());
            }
        };
        let mut report = ForwarderReport::default();
        let mut valid = Vec::new();
        for arn in arns {
            match Arn::parse(&arn, "inspector") {
                Ok(parsed)
                    if parsed.region == self.config.region
                        && parsed.resource.contains("/template/") =>
                {
                    valid.push(arn)
                }
                _ => report.failed.push(format!(
                    "{}: not a template ARN of region {}",
                    crate::ids::truncate_for_message(&arn),
                    self.config.region
                )),
            }
        }
        for chunk in valid.chunks(10) {
            match self.templates.describe_templates(chunk).await {
                Ok(templates) => {
                    for template in templates {
                        report.examined += 1;
                        if let Err(error) = self.consider(&template, &mut report).await {
                            warn!(template = %template.arn, error = %error, "template not subscribed");
                            report.failed.push(format!("{}: {error}", template.arn));
                        }
                    }
                }
                Err(error) => report
                    .failed
                    .extend(chunk.iter().map(|arn| format!("{arn}: {error}"))),
            }
        }
        if report.failed.is_empty() {
            Ok(report)
        } else {
            Err(ForwarderError::Templates {
                count: report.failed.len(),
                detail: report.failed.join("; "),
            })
        }
    }

    async fn consider(
        &self,
        template: &AssessmentTemplate,
        report: &mut ForwarderReport,
    ) -> Result<(), CallError> {
        if !self.matches(template).await? {
            report.skipped += 1;
            return Ok(());
        }
        let topic = self.config.topic_arn();
        let existing = self.templates.subscriptions(&template.arn).await?;
        if existing
            .iter()
            .any(|(event, arn)| event == FINDING_REPORTED && *arn == topic)
        {
            report.already_subscribed += 1;
            return Ok(());
        }
        self.templates
            .subscribe(&template.arn, FINDING_REPORTED, &topic)
            .await?;
        info!(template = %template.arn, topic = %topic, "template subscribed");
        report.subscribed.push(template.arn.clone());
        Ok(())
    }

    async fn matches(&self, template: &AssessmentTemplate) -> Result<bool, CallError> {
        let Some((key, value)) = &self.config.template_filter else {
            return Ok(true);
        };
        let carries = |pairs: &[crate::model::KeyValue]| {
            pairs
                .iter()
                .any(|p| p.key == *key && p.value.as_deref() == Some(value.as_str()))
        };
        if carries(&template.user_attributes) {
            return Ok(true);
        }
        Ok(carries(&self.templates.template_tags(&template.arn).await?))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use async_trait::async_trait;
    use serde_json::json;

    use super::*;
    use crate::ids::{AccountId, Partition, Region};
    use crate::model::KeyValue;
    use crate::ports::EventSubscription;

    const TAGGED: &str =
        "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaaaaaa/template/0-tagged01";
    const PLAIN: &str =
        "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaaaaaa/template/0-plain001";

    #[derive(Default)]
    struct FakeInspector {
        subscriptions: Mutex<Vec<(String, String, String)>>,
    }

    #[async_trait]
    impl TemplateSubscriber for FakeInspector {
        async fn list_templates(&self) -> Result<Vec<String>, CallError> {
            Ok(vec![TAGGED.into(), PLAIN.into()])
        }
        async fn describe_templates(
            &self,
            arns: &[String],
        ) -> Result<Vec<AssessmentTemplate>, CallError> {
            Ok(arns
                .iter()
                .map(|arn| AssessmentTemplate {
                    arn: arn.clone(),
                    name: "t".into(),
                    user_attributes: if arn == TAGGED {
                        vec![KeyValue {
                            key: "ScanType".into(),
                            value: Some("ScheduledRun-across-Fleet".into()),
                        }]
                    } else {
                        vec![]
                    },
                })
                .collect())
        }
        async fn template_tags(&self, _arn: &str) -> Result<Vec<KeyValue>, CallError> {
            Ok(vec![])
        }
        async fn subscriptions(&self, arn: &str) -> Result<Vec<EventSubscription>, CallError> {
            Ok(self
                .subscriptions
                .lock()
                .unwrap()
                .iter()
                .filter(|(a, _, _)| a == arn)
                .map(|(_, e, t)| (e.clone(), t.clone()))
                .collect())
        }
        async fn subscribe(
            &self,
            arn: &str,
            event: &str,
            topic_arn: &str,
        ) -> Result<(), CallError> {
            self.subscriptions
                .lock()
                .unwrap()
                .push((arn.into(), event.into(), topic_arn.into()));
            Ok(())
        }
    }

    fn forwarder(fake: Arc<FakeInspector>, filter: Option<(String, String)>) -> Forwarder {
        let config = ForwarderConfig {
            central_account: AccountId::parse("999999999999").unwrap(),
            topic_name: "fanin-inspector-classic".into(),
            partition: Partition::parse("aws").unwrap(),
            region: Region::parse("eu-west-1").unwrap(),
            template_filter: filter,
        };
        Forwarder::new(config, fake)
    }

    fn created(arn: &str) -> Value {
        json!({"source": "aws.inspector", "detail-type": "AWS API Call via CloudTrail",
               "detail": {"eventName": "CreateAssessmentTemplate", "responseElements": {"assessmentTemplateArn": arn}}})
    }

    #[tokio::test]
    async fn only_tagged_templates_are_subscribed_once() {
        let fake = Arc::new(FakeInspector::default());
        let forwarder = forwarder(
            fake.clone(),
            Some(("ScanType".into(), "ScheduledRun-across-Fleet".into())),
        );
        let first = forwarder.handle(&created(TAGGED)).await.unwrap();
        assert_eq!(first.subscribed, vec![TAGGED.to_string()]);
        let sweep = forwarder
            .handle(&json!({"detail-type": "Scheduled Event"}))
            .await
            .unwrap();
        assert_eq!(
            (
                sweep.examined,
                sweep.already_subscribed,
                sweep.skipped,
                sweep.subscribed.len()
            ),
            (2, 1, 1, 0)
        );
        let stored = fake.subscriptions.lock().unwrap().clone();
        assert_eq!(
            stored,
            vec![(
                TAGGED.into(),
                FINDING_REPORTED.into(),
                "arn:aws:sns:eu-west-1:999999999999:fanin-inspector-classic".into()
            )]
        );
    }

    #[tokio::test]
    async fn wildcard_subscribes_everything_and_other_events_do_nothing() {
        let fake = Arc::new(FakeInspector::default());
        let forwarder = forwarder(fake.clone(), None);
        assert_eq!(
            forwarder
                .handle(&json!({"action": "sweep"}))
                .await
                .unwrap()
                .subscribed
                .len(),
            2
        );
        let other = json!({"detail-type": "AWS API Call via CloudTrail", "detail": {"eventName": "DeleteAssessmentTemplate"}});
        assert_eq!(
            forwarder.handle(&other).await.unwrap(),
            ForwarderReport::default()
        );
        let wrong_region = created(&TAGGED.replace("eu-west-1", "us-east-1"));
        assert!(forwarder.handle(&wrong_region).await.is_err());
    }
}
