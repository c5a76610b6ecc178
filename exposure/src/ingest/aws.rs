//! [`FlowLogObjects`] over S3 GetObject: the body is handed on as the SDK
//! streams it, never collected.

use async_trait::async_trait;
use aws_config::SdkConfig;
use fanin::ports::CallError;

use super::ports::{FlowLogObjects, ObjectBody};

pub struct S3FlowLogObjects {
    client: aws_sdk_s3::Client,
}

impl S3FlowLogObjects {
    pub fn new(config: &SdkConfig, force_path_style: bool) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3_config),
        }
    }
}

#[async_trait]
impl FlowLogObjects for S3FlowLogObjects {
    async fn open(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<ObjectBody, CallError> {
        let answer = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| fanin::aws::classify("GetObject", e))?;
        let chunks = futures::stream::unfold(answer.body, |mut body| async move {
            match body.next().await {
                None => None,
                Some(Ok(bytes)) => Some((Ok(bytes), body)),
                Some(Err(error)) => Some((
                    Err(CallError::transient("GetObject", "read", error.to_string())),
                    body,
                )),
            }
        });
        Ok(ObjectBody {
            chunks: Box::pin(chunks),
        })
    }
}
