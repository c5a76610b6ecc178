//! The findings bucket.

use async_trait::async_trait;
use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::ServerSideEncryption;

use crate::config::Encryption;
use crate::ports::{CallError, ObjectKind, ObjectStore};

pub struct S3Objects {
    client: aws_sdk_s3::Client,
    bucket: String,
    encryption: Encryption,
}

impl S3Objects {
    pub fn new(
        config: &SdkConfig,
        bucket: String,
        encryption: Encryption,
        force_path_style: bool,
    ) -> Self {
        let s3_config = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(force_path_style)
            .build();
        Self {
            client: aws_sdk_s3::Client::from_conf(s3_config),
            bucket,
            encryption,
        }
    }
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn put_object(
        &self,
        key: &str,
        body: Vec<u8>,
        kind: ObjectKind,
    ) -> Result<(), CallError> {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(body));
        request = match kind {
            ObjectKind::GzipNdjson => request
                .content_type("application/x-ndjson")
                .content_encoding("gzip"),
            ObjectKind::Json => request.content_type("application/json"),
        };
        request = match &self.encryption {
            Encryption::Kms { key_id } => request
                .server_side_encryption(ServerSideEncryption::AwsKms)
                .set_ssekms_key_id(key_id.clone())
                .bucket_key_enabled(true),
            Encryption::S3Managed => request.server_side_encryption(ServerSideEncryption::Aes256),
        };
        request
            .send()
            .await
            .map_err(|e| super::classify("PutObject", e))?;
        Ok(())
    }

    async fn object_exists(&self, key: &str) -> Result<bool, CallError> {
        match self
            .client
            .head_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(false),
            Err(error) => Err(super::classify("HeadObject", error)),
        }
    }

    async fn get_object(&self, key: &str) -> Result<Option<Vec<u8>>, CallError> {
        let answer = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(None);
            }
            Err(error) => return Err(super::classify("GetObject", error)),
        };
        let bytes = answer
            .body
            .collect()
            .await
            .map_err(|e| CallError::transient("GetObject", "read", e.to_string()))?;
        Ok(Some(bytes.into_bytes().to_vec()))
    }
}
