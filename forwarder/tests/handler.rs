//! The forwarder's Lambda handler called as the runtime calls it, with an
//! in-memory Inspector Classic.

use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use fanin::config::ForwarderConfig;
use fanin::forward::{FINDING_REPORTED, Forwarder};
use fanin::ids::{AccountId, Partition, Region};
use fanin::model::KeyValue;
use fanin::ports::{AssessmentTemplate, CallError, EventSubscription, TemplateSubscriber};
use fanin_forwarder::handle_forwarder;
use lambda_runtime::{Context, LambdaEvent};
use serde_json::json;

const TEMPLATE: &str =
    "arn:aws:inspector:eu-west-1:111111111111:target/0-aaaaaaaa/template/0-tmpl0001";
const TOPIC: &str = "arn:aws:sns:eu-west-1:999999999999:fanin-inspector-classic";

/// Templates by ARN, and the subscriptions made; `refuse` makes Subscribe fail.
#[derive(Default)]
struct FakeInspector {
    subscriptions: Mutex<Vec<(String, String, String)>>,
    refuse: bool,
}

#[async_trait]
impl TemplateSubscriber for FakeInspector {
    async fn list_templates(&self) -> Result<Vec<String>, CallError> {
        Ok(vec![TEMPLATE.into()])
    }
    async fn describe_templates(
        &self,
        arns: &[String],
    ) -> Result<Vec<AssessmentTemplate>, CallError> {
        Ok(arns
            .iter()
            .map(|arn| AssessmentTemplate {
                arn: arn.clone(),
                name: "weekly".into(),
                user_attributes: Vec::new(),
            })
            .collect())
    }
    async fn template_tags(&self, _: &str) -> Result<Vec<KeyValue>, CallError> {
        Ok(Vec::new())
    }
    async fn subscriptions(&self, arn: &str) -> Result<Vec<EventSubscription>, CallError> {
        Ok(self
            .subscriptions
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, _, _)| a == arn)
            .map(|(_, event, topic)| (event.clone(), topic.clone()))
            .collect())
    }
    async fn subscribe(&self, arn: &str, event: &str, topic: &str) -> Result<(), CallError> {
        if self.refuse {
            return Err(CallError::Denied {
                operation: "SubscribeToEvent",
                code: "AccessDeniedException".into(),
                message: "not allowed".into(),
            });
        }
        self.subscriptions
            .lock()
            .unwrap()
            .push((arn.into(), event.into(), topic.into()));
        Ok(())
    }
}

fn forwarder(inspector: Arc<FakeInspector>) -> Forwarder {
    let config = ForwarderConfig {
        central_account: AccountId::parse("999999999999").unwrap(),
        topic_name: "fanin-inspector-classic".into(),
        partition: Partition::parse("aws").unwrap(),
        region: Region::parse("eu-west-1").unwrap(),
        template_filter: None,
    };
    Forwarder::new(config, inspector)
}

fn created_event() -> LambdaEvent<serde_json::Value> {
    let payload = json!({
        "source": "aws.inspector",
        "detail-type": "AWS API Call via CloudTrail",
        "detail": {
            "eventName": "CreateAssessmentTemplate",
            "responseElements": {"assessmentTemplateArn": TEMPLATE},
        },
    });
    LambdaEvent::new(payload, Context::default())
}

#[tokio::test]
async fn a_created_template_is_subscribed_to_the_central_topic_once() {
    let inspector = Arc::new(FakeInspector::default());
    let forwarder = forwarder(inspector.clone());
    let first = handle_forwarder(&forwarder, created_event()).await.unwrap();
    assert_eq!(first.subscribed, [TEMPLATE]);
    let again = handle_forwarder(&forwarder, created_event()).await.unwrap();
    assert_eq!((again.subscribed.len(), again.already_subscribed), (0, 1));
    assert_eq!(
        *inspector.subscriptions.lock().unwrap(),
        [(TEMPLATE.into(), FINDING_REPORTED.into(), TOPIC.into())]
    );
}

#[tokio::test]
async fn a_template_that_cannot_be_subscribed_fails_the_invocation() {
    let inspector = Arc::new(FakeInspector {
        refuse: true,
        ..Default::default()
    });
    let error = handle_forwarder(&forwarder(inspector), created_event())
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains("1 template(s) could not be subscribed"),
        "{error}"
    );
}
