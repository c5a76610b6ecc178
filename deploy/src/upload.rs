//! The zips and the guard's policy in the code bucket of every region
//! (`<CodeBucketPrefix>-<region>`, created by the artifacts StackSet): a
//! Lambda reads its code, and the guard its policy, from a bucket of its own
//! region.
//!
//! A key that exists proves nothing about its content: each object's SHA-256
//! is asked of S3 and compared with the local zip's, and a missing or
//! different one is uploaded (with S3 checking the SHA-256 on arrival). The
//! version id of the checked object is what the functions pin
//! (`S3ObjectVersion`), so a later overwrite of the key changes nothing.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{ChecksumAlgorithm, ChecksumMode, Delete, ObjectIdentifier};
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
    pub region: Region,
    pub bucket: String,
    pub key: String,
    /// False when an object with the same SHA-256 was already there.
    pub uploaded: bool,
    /// The version the functions of this region pin.
    pub version_id: String,
    /// The object's SHA-256 as S3 reports it (base64).
    pub checksum_sha256: String,
}

/// The version ids of the pinned objects in one region's code bucket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeVersions {
    pub collector: String,
    pub forwarder: String,
    pub guard: String,
    pub guard_policy: String,
    pub exposure: String,
    pub privileges: String,
}

/// Each region's code versions, from the uploads of one run.
pub fn code_versions(
    uploads: &[Upload],
    artifacts: &Artifacts,
) -> Result<BTreeMap<Region, CodeVersions>, Error> {
    let version = |region: &Region, key: &str| {
        uploads
            .iter()
            .find(|u| &u.region == region && u.key == key)
            .map(|u| u.version_id.clone())
    };
    let mut versions = BTreeMap::new();
    for region in uploads.iter().map(|u| &u.region) {
        let (
            Some(collector),
            Some(forwarder),
            Some(guard),
            Some(guard_policy),
            Some(exposure),
            Some(privileges),
        ) = (
            version(region, &artifacts.collector_key()),
            version(region, &artifacts.forwarder_key()),
            version(region, &artifacts.guard_key()),
            version(region, &artifacts.guard_policy_key()),
            version(region, &artifacts.exposure_key()),
            version(region, &artifacts.privileges_key()),
        )
        else {
            return Err(Error::IncompleteAnswer {
                operation: "PutObject",
                missing: "a version id of every zip and the guard's policy in every region",
            });
        };
        versions.insert(
            region.clone(),
            CodeVersions {
                collector,
                forwarder,
                guard,
                guard_policy,
                exposure,
                privileges,
            },
        );
    }
    Ok(versions)
}

/// What S3 holds under a key, as far as the comparison needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StoredObject {
    pub checksum_sha256: Option<String>,
    pub version_id: Option<String>,
}

/// Whether the stored object can be used as it is: only with a SHA-256
/// equal to the local one, and a version to pin. An object uploaded without
/// a SHA-256 checksum (by hand, or by an older fanin-deploy) is uploaded
/// again rather than trusted.
pub(crate) fn reusable(stored: Option<&StoredObject>, local_sha256_base64: &str) -> Option<String> {
    let stored = stored?;
    if stored.checksum_sha256.as_deref() != Some(local_sha256_base64) {
        return None;
    }
    stored
        .version_id
        .clone()
        .filter(|version| version != "null")
}

fn s3_client(config: &SdkConfig, region: &Region) -> aws_sdk_s3::Client {
    let config = in_region(config, region);
    // A custom endpoint (moto) has no per-bucket host names.
    let s3_config = aws_sdk_s3::config::Builder::from(&config)
        .force_path_style(config.endpoint_url().is_some())
        .build();
    aws_sdk_s3::Client::from_conf(s3_config)
}

/// Puts every zip and the guard's policy in every region's code bucket
/// unless an object with the same SHA-256 is already there, and returns each
/// object's version.
pub(crate) async fn upload_code(
    config: &SdkConfig,
    deployment: &Deployment,
    artifacts: &Artifacts,
) -> Result<Vec<Upload>, Error> {
    let mut uploads = Vec::new();
    for region in deployment.ordered_regions() {
        let s3 = s3_client(config, &region);
        let bucket = deployment.code_bucket(&region);
        ensure_versioning(&s3, &bucket).await?;
        for (key, artifact) in artifacts.uploads() {
            let local = artifact.sha256_base64();
            let head = s3
                .head_object()
                .bucket(&bucket)
                .key(&key)
                .checksum_mode(ChecksumMode::Enabled)
                .send()
                .await;
            let stored = match head {
                Ok(head) => Some(StoredObject {
                    checksum_sha256: head.checksum_sha256().map(str::to_owned),
                    version_id: head.version_id().map(str::to_owned),
                }),
                Err(error) if error.as_service_error().is_some_and(|e| e.is_not_found()) => None,
                Err(error) => return Err(classify("HeadObject", error).into()),
            };
            if let Some(stored) = &stored
                && stored.checksum_sha256.as_deref() != Some(local.as_str())
            {
                tracing::warn!(
                    bucket = %bucket,
                    key = %key,
                    stored_sha256 = stored.checksum_sha256.as_deref().unwrap_or("none"),
                    "code object differs from the local zip or has no SHA-256; uploading it again"
                );
            }
            let (version_id, uploaded) = match reusable(stored.as_ref(), &local) {
                Some(version_id) => (version_id, false),
                None => (
                    put_object(&s3, &bucket, &key, &artifact.path, &local).await?,
                    true,
                ),
            };
            tracing::info!(bucket = %bucket, key = %key, version_id = %version_id, uploaded, "code in place");
            uploads.push(Upload {
                region: region.clone(),
                bucket: bucket.clone(),
                key,
                uploaded,
                version_id,
                checksum_sha256: local,
            });
        }
    }
    Ok(uploads)
}

/// The functions pin object versions, so the bucket must keep them. The
/// artifacts template enables versioning; a bucket found without it (changed
/// by hand, or an emulator that ignores the template's setting) gets it
/// here, with a warning, before anything is uploaded.
async fn ensure_versioning(s3: &aws_sdk_s3::Client, bucket: &str) -> Result<(), Error> {
    // An answer that cannot be read counts as "not enabled": enabling is
    // idempotent, and a real failure shows in PutBucketVersioning.
    let versioning = s3.get_bucket_versioning().bucket(bucket).send().await;
    if versioning
        .is_ok_and(|v| v.status() == Some(&aws_sdk_s3::types::BucketVersioningStatus::Enabled))
    {
        return Ok(());
    }
    tracing::warn!(bucket = %bucket, "code bucket not versioned; enabling versioning");
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            aws_sdk_s3::types::VersioningConfiguration::builder()
                .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| classify("PutBucketVersioning", e))?;
    Ok(())
}

/// The Content-Type of an object fanin-deploy puts, from its key.
fn content_type(key: &str) -> &'static str {
    if key.ends_with(".yaml") {
        "application/yaml"
    } else {
        "application/zip"
    }
}

/// Uploads one file with its SHA-256 (S3 refuses the object if the bytes
/// that arrive do not match) and returns the new version id.
async fn put_object(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    key: &str,
    path: &std::path::Path,
    sha256_base64: &str,
) -> Result<String, Error> {
    let body = ByteStream::from_path(path).await.map_err(|e| Error::Io {
        path: path.to_owned(),
        source: std::io::Error::other(e),
    })?;
    let answer = s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type(key))
        .checksum_algorithm(ChecksumAlgorithm::Sha256)
        .checksum_sha256(sha256_base64)
        .body(body)
        .send()
        .await
        .map_err(|e| classify("PutObject", e))?;
    if answer.checksum_sha256() != Some(sha256_base64) {
        return Err(Error::ChecksumMismatch {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
            expected: sha256_base64.to_owned(),
            stored: answer.checksum_sha256().unwrap_or("none").to_owned(),
        });
    }
    answer
        .version_id()
        .filter(|version| *version != "null")
        .map(str::to_owned)
        .ok_or(Error::IncompleteAnswer {
            operation: "PutObject",
            missing: "a version id (is the code bucket versioned?)",
        })
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

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(checksum: Option<&str>, version: Option<&str>) -> StoredObject {
        StoredObject {
            checksum_sha256: checksum.map(str::to_owned),
            version_id: version.map(str::to_owned),
        }
    }

    #[test]
    fn only_an_object_with_the_same_sha256_and_a_version_is_reused() {
        let local = "n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=";
        assert_eq!(
            reusable(Some(&stored(Some(local), Some("v1"))), local),
            Some("v1".to_owned())
        );
        // The key exists but its content is another: uploaded again.
        assert_eq!(
            reusable(Some(&stored(Some("AAAA"), Some("v1"))), local),
            None
        );
        // No checksum to compare (put without one): not trusted.
        assert_eq!(reusable(Some(&stored(None, Some("v1"))), local), None);
        // An unversioned bucket gives nothing to pin.
        assert_eq!(
            reusable(Some(&stored(Some(local), Some("null"))), local),
            None
        );
        assert_eq!(reusable(Some(&stored(Some(local), None)), local), None);
        assert_eq!(reusable(None, local), None);
    }

    fn upload(region: &str, key: &str, version: &str) -> Upload {
        Upload {
            region: Region::parse(region).unwrap(),
            bucket: format!("fanin-code-{region}"),
            key: key.to_owned(),
            uploaded: true,
            version_id: version.to_owned(),
            checksum_sha256: String::new(),
        }
    }

    fn artifacts() -> Artifacts {
        let artifact = |sha256: &str| crate::package::Artifact {
            path: "x".into(),
            sha256: sha256.repeat(64),
        };
        Artifacts {
            collector: artifact("1"),
            forwarder: artifact("2"),
            coverage: artifact("3"),
            guard: artifact("4"),
            guard_policy: artifact("5"),
            exposure: artifact("6"),
            privileges: artifact("7"),
        }
    }

    #[test]
    fn each_region_pins_its_own_versions_of_the_guard_and_its_policy() {
        let artifacts = artifacts();
        let mut uploads = Vec::new();
        for region in ["us-east-1", "eu-west-1"] {
            for (key, _) in artifacts.uploads() {
                let version = format!("{region}:{}", &key[6..7]);
                uploads.push(upload(region, &key, &version));
            }
        }
        let versions = code_versions(&uploads, &artifacts).unwrap();
        let eu = &versions[&Region::parse("eu-west-1").unwrap()];
        assert_eq!(eu.guard, "eu-west-1:4");
        assert_eq!(eu.guard_policy, "eu-west-1:5");
        assert_eq!(eu.exposure, "eu-west-1:6");
        assert_eq!(eu.privileges, "eu-west-1:7");
        assert_eq!(
            versions[&Region::parse("us-east-1").unwrap()].guard_policy,
            "us-east-1:5"
        );

        // A region whose policy upload is missing cannot be pinned.
        uploads
            .retain(|u| u.key != artifacts.guard_policy_key() || u.region.as_str() != "eu-west-1");
        assert!(matches!(
            code_versions(&uploads, &artifacts),
            Err(Error::IncompleteAnswer { .. })
        ));
    }

    #[test]
    fn the_policy_is_stored_as_yaml_and_the_zips_as_zips() {
        assert_eq!(
            content_type("fanin/ab/guard-policy.yaml"),
            "application/yaml"
        );
        assert_eq!(content_type("fanin/ab/guard.zip"), "application/zip");
    }

    #[test]
    fn sha256_is_sent_as_base64_of_the_digest() {
        // SHA-256 of "abc".
        let artifact = crate::package::Artifact {
            path: "abc.zip".into(),
            sha256: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into(),
        };
        assert_eq!(
            artifact.sha256_base64(),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
