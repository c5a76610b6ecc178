//! The zips in the code bucket of every region (`<CodeBucketPrefix>-<region>`,
//! created by the artifacts StackSet): a Lambda reads its code from a bucket
//! of its own region.

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier};
use fanin::aws::classify;
use fanin::ids::Region;
use serde::Serialize;

use crate::deployment::Deployment;
use crate::error::Error;
use crate::package::Artifacts;
use crate::sessions::in_region;

/// Where fanin-deploy puts the zips inside a code bucket.
const KEY_PREFIX: &str = "fanin/";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Upload {
    pub bucket: String,
    pub key: String,
    /// False when the same content was already there.
    pub uploaded: bool,
}

fn s3_client(config: &SdkConfig, region: &Region) -> aws_sdk_s3::Client {
    let config = in_region(config, region);
    // A custom endpoint (moto) has no per-bucket host names.
    let s3_config = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Puts both zips in every region's code bucket, skipping keys that exist
/// (a key names its content).
pub(crate) async fn upload_code(
    config: &SdkConfig,
    deployment: &Deployment,
    artifacts: &Artifacts,
) -> Result<Vec<Upload>, Error> {
    let mut uploads = Vec::new();
    for region in deployment.ordered_regions() {
        let s3 = s3_client(config, &region);
        let bucket = deployment.code_bucket(&region);
        for (key, path) in artifacts.uploads() {
            let head = s3.head_object().bucket(&bucket).key(&key).send().await;
            let present = match head {
                Ok(_) => true,
                Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => false,
                Err(error) => return Err(classify("HeadObject", error).into()),
            };
            if !present {
                let body = ByteStream::from_path(path).await.map_err(|e| Error::Io {
                    path: path.to_owned(),
                    source: std::io::Error::other(e),
                })?;
                s3.put_object()
                    .bucket(&bucket)
                    .key(&key)
                    .content_type("application/zip")
                    .body(body)
                    .send()
                    .await
                    .map_err(|e| classify("PutObject", e))?;
            }
            tracing::info!(bucket = %bucket, key = %key, uploaded = !present, "code in place");
            uploads.push(Upload {
                bucket: bucket.clone(),
                key,
                uploaded: !present,
            });
        }
    }
    Ok(uploads)
}

/// Deletes every version of what fanin-deploy put in the code buckets, so
/// CloudFormation can delete them. Returns how many versions went; a bucket
/// that is already gone counts as empty.
pub(crate) async fn empty_code_buckets(
    config: &SdkConfig,
    deployment: &Deployment,
) -> Result<usize, Error> {
    let mut deleted = 0;
    for region in deployment.ordered_regions() {
        let s3 = s3_client(config, &region);
        let bucket = deployment.code_bucket(&region);
        loop {
            let listing = s3
                .list_object_versions()
                .bucket(&bucket)
                .prefix(KEY_PREFIX)
                .send()
                .await;
            let listing = match listing {
                Ok(listing) => listing,
                Err(error)
                    if error.as_service_error().and_then(|e| e.meta().code())
                        == Some("NoSuchBucket") =>
                {
                    break;
                }
                Err(error) => return Err(classify("ListObjectVersions", error).into()),
            };
            let mut objects = Vec::new();
            let versions = listing.versions().iter().map(|v| (v.key(), v.version_id()));
            let markers = listing
                .delete_markers()
                .iter()
                .map(|m| (m.key(), m.version_id()));
            for (key, version) in versions.chain(markers) {
                let Some(key) = key else { continue };
                let identifier = ObjectIdentifier::builder()
                    .key(key)
                    .set_version_id(version.filter(|v| *v != "null").map(str::to_owned))
                    .build()
                    .map_err(|_| Error::IncompleteAnswer {
                        operation: "ListObjectVersions",
                        missing: "object keys",
                    })?;
                objects.push(identifier);
            }
            if objects.is_empty() {
                break;
            }
            let count = objects.len();
            let delete = Delete::builder()
                .set_objects(Some(objects))
                .quiet(true)
                .build()
                .map_err(|_| Error::IncompleteAnswer {
                    operation: "ListObjectVersions",
                    missing: "object keys",
                })?;
            let answer = s3
                .delete_objects()
                .bucket(&bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| classify("DeleteObjects", e))?;
            if let Some(failed) = answer.errors().first() {
                return Err(fanin::ports::CallError::Rejected {
                    operation: "DeleteObjects",
                    code: failed.code().unwrap_or("Unknown").to_owned(),
                    message: format!(
                        "{bucket}/{}: {}",
                        failed.key().unwrap_or("?"),
                        failed.message().unwrap_or_default()
                    ),
                }
                .into());
            }
            deleted += count;
            tracing::info!(bucket = %bucket, deleted = count, "code bucket emptied");
        }
    }
    Ok(deleted)
}
