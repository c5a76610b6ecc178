//! Where the CLI acts: the central stack's outputs (and the index prefix,
//! a parameter of that stack), each overridable by a flag.
//!
//! The CLI runs in the central account with its credentials. The central
//! stack is the instance, in this account and region, of the StackSet
//! `--stack-set` (default `fanin-central-primary`); it is found among the
//! account's stacks by the instance naming `fanin-deploy` knows (AWS and
//! moto name instance stacks differently). The stack is read only when a
//! value is not given by its flag.

use std::collections::BTreeMap;

use anyhow::{Context, bail};
use aws_config::SdkConfig;
use aws_sdk_cloudformation::error::ProvideErrorMetadata;
use aws_sdk_cloudformation::types::StackStatus;

/// The prefix of the index names when neither the flag nor a stack says.
pub const DEFAULT_INDEX_PREFIX: &str = "fanin";

/// Which deployed stack to read, for every command.
#[derive(clap::Args, Debug, Clone)]
pub struct StackFlags {
    /// The StackSet whose instance in this account and region is the central
    /// stack; its outputs give every place a flag does not.
    #[arg(long, default_value = "fanin-central-primary", value_name = "NAME")]
    pub stack_set: String,
    /// The AWS region of the central stack (default: the AWS configuration's
    /// region, from AWS_REGION or the profile).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// One value a command needs, and where it comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Bucket,
    QueueUrl,
    DeadLetterQueueUrl,
    OpenSearchEndpoint,
    /// The exposure stack's (`fanin-central-exposure`).
    FlowLogBucket,
    FlowLogQueueUrl,
    /// The least-privilege stack's (`fanin-central-privileges`).
    TrailBucket,
    TrailQueueUrl,
}

impl Place {
    /// The central stack's output that holds it.
    pub fn output(self) -> &'static str {
        match self {
            Self::Bucket => "BucketName",
            Self::QueueUrl => "QueueUrl",
            Self::DeadLetterQueueUrl => "DeadLetterQueueUrl",
            Self::OpenSearchEndpoint => "OpenSearchEndpoint",
            Self::FlowLogBucket => "FlowLogBucketName",
            Self::FlowLogQueueUrl => "FlowLogQueueUrl",
            Self::TrailBucket => "TrailBucketName",
            Self::TrailQueueUrl => "TrailQueueUrl",
        }
    }

    /// The flag that overrides it.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Bucket => "--bucket",
            Self::QueueUrl => "--queue-url",
            Self::DeadLetterQueueUrl => "--dead-letter-queue-url",
            Self::OpenSearchEndpoint => "--opensearch-endpoint",
            Self::FlowLogBucket => "--flow-log-bucket",
            Self::FlowLogQueueUrl => "--flow-log-queue-url",
            Self::TrailBucket => "--trail-bucket",
            Self::TrailQueueUrl => "--trail-queue-url",
        }
    }
}

/// The central stack as read: its outputs and parameters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CentralStack {
    pub name: String,
    pub outputs: BTreeMap<String, String>,
    pub parameters: BTreeMap<String, String>,
}

/// Why the central stack could not give a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Missing {
    /// No instance stack of the StackSet here.
    NoStack {
        stack_set: String,
        account: String,
        region: String,
    },
    /// The stack exists but has no such output (an older template).
    NoOutput { stack: String },
}

/// The value of `place`: its flag, else the stack's output; the error says
/// what to do (pure).
pub fn resolve(
    place: Place,
    flag: Option<&str>,
    stack: Result<&CentralStack, &Missing>,
) -> anyhow::Result<String> {
    if let Some(value) = flag {
        return Ok(value.to_owned());
    }
    let missing = match stack {
        Ok(stack) => match stack.outputs.get(place.output()) {
            Some(value) if !value.is_empty() => return Ok(value.clone()),
            _ => Missing::NoOutput {
                stack: stack.name.clone(),
            },
        },
        Err(missing) => missing.clone(),
    };
    match missing {
        Missing::NoStack {
            stack_set,
            account,
            region,
        } => bail!(
            "no stack instance of {stack_set} in account {account} region {region}: deploy it \
             (scripts/demo / fanin-deploy), pick another with --stack-set or --region, or pass {}",
            place.flag()
        ),
        Missing::NoOutput { stack } => bail!(
            "the stack {stack} has no output {}: update it with fanin-deploy, or pass {}",
            place.output(),
            place.flag()
        ),
    }
}

/// The index prefix: the flag, else the stack's `IndexPrefix` parameter,
/// else [`DEFAULT_INDEX_PREFIX`] (pure). Validated as the collector does:
/// it names indices.
pub fn resolve_index_prefix(
    flag: Option<&str>,
    stack: Result<&CentralStack, &Missing>,
) -> anyhow::Result<String> {
    let prefix = flag
        .map(str::to_owned)
        .or_else(|| {
            stack
                .ok()
                .and_then(|s| s.parameters.get("IndexPrefix").cloned())
        })
        .filter(|p| !p.is_empty())
        .unwrap_or_else(|| DEFAULT_INDEX_PREFIX.to_owned());
    let valid = prefix.len() <= 64
        && !prefix.starts_with('-')
        && prefix
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !valid {
        bail!(
            "index prefix {:?} is not lowercase letters, digits and dashes (at most 64): pass --index-prefix",
            fanin::ids::truncate_for_message(&prefix)
        );
    }
    Ok(prefix)
}

/// Reads the central stack, once, when a command first needs it.
pub struct StackReader {
    config: SdkConfig,
    stack_set: String,
    read: Option<Result<CentralStack, Missing>>,
}

impl StackReader {
    pub fn new(config: &SdkConfig, flags: &StackFlags) -> Self {
        Self {
            config: config.clone(),
            stack_set: flags.stack_set.clone(),
            read: None,
        }
    }

    /// `place` from its flag or the stack.
    pub async fn place(&mut self, place: Place, flag: Option<&str>) -> anyhow::Result<String> {
        if let Some(value) = flag {
            return Ok(value.to_owned());
        }
        let stack = self.stack().await?;
        resolve(place, None, stack.as_ref())
    }

    /// The index prefix from its flag, the stack, or the default; a missing
    /// stack is not an error here (the other places already said so, or
    /// were all given by flags).
    pub async fn index_prefix(&mut self, flag: Option<&str>) -> anyhow::Result<String> {
        if flag.is_some() {
            return resolve_index_prefix(
                flag,
                Err(&Missing::NoOutput {
                    stack: String::new(),
                }),
            );
        }
        let stack = self.stack().await?;
        resolve_index_prefix(None, stack.as_ref())
    }

    async fn stack(&mut self) -> anyhow::Result<Result<CentralStack, Missing>> {
        if self.read.is_none() {
            self.read = Some(read_central_stack(&self.config, &self.stack_set).await?);
        }
        Ok(self.read.clone().expect("read above"))
    }
}

/// The instance stack of `stack_set` in the caller's account and region;
/// `Err(Missing)` when there is none. Fails on a call error.
async fn read_central_stack(
    config: &SdkConfig,
    stack_set: &str,
) -> anyhow::Result<Result<CentralStack, Missing>> {
    let client = aws_sdk_cloudformation::Client::new(config);
    let mut names = Vec::new();
    let mut pages = client.list_stacks().into_paginator().send();
    while let Some(page) = pages.next().await {
        let page =
            page.context("listing the stacks of this account (cloudformation:ListStacks)")?;
        names.extend(
            page.stack_summaries()
                .iter()
                .filter(|s| s.stack_status() != Some(&StackStatus::DeleteComplete))
                .filter_map(|s| s.stack_name().map(str::to_owned)),
        );
    }
    let Some(name) = fanin_deploy::outputs::instance_stack_name(&names, stack_set).cloned() else {
        return Ok(Err(no_stack(config, stack_set).await));
    };
    let answer = match client.describe_stacks().stack_name(&name).send().await {
        Ok(answer) => answer,
        Err(error) if error.code() == Some("ValidationError") => {
            return Ok(Err(no_stack(config, stack_set).await));
        }
        Err(error) => {
            return Err(error).with_context(|| format!("reading the stack {name}"));
        }
    };
    let Some(stack) = answer.stacks().first() else {
        return Ok(Err(no_stack(config, stack_set).await));
    };
    Ok(Ok(CentralStack {
        name,
        outputs: stack
            .outputs()
            .iter()
            .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value()?.to_owned())))
            .collect(),
        parameters: stack
            .parameters()
            .iter()
            .filter_map(|p| {
                Some((
                    p.parameter_key()?.to_owned(),
                    p.parameter_value()?.to_owned(),
                ))
            })
            .collect(),
    }))
}

async fn no_stack(config: &SdkConfig, stack_set: &str) -> Missing {
    let account = aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .ok()
        .and_then(|identity| identity.account().map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    Missing::NoStack {
        stack_set: stack_set.to_owned(),
        account,
        region: config
            .region()
            .map(ToString::to_string)
            .unwrap_or_else(|| "?".to_owned()),
    }
}

/// The AWS configuration, in `--region` when given. With a custom endpoint
/// (`AWS_ENDPOINT_URL`: moto, an S3-compatible store) S3 uses path-style
/// addresses, which such endpoints on a bare host need.
pub async fn aws_config(flags: &StackFlags) -> SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
    if let Some(region) = &flags.region {
        loader = loader.region(aws_config::Region::new(region.clone()));
    }
    loader.load().await
}

/// The S3 client for `config` (path-style with a custom endpoint).
pub fn s3_client(config: &SdkConfig) -> aws_sdk_s3::Client {
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn central() -> CentralStack {
        CentralStack {
            name: "StackSet-fanin-central-primary-x".into(),
            outputs: BTreeMap::from([("BucketName".into(), "central-bucket".into())]),
            parameters: BTreeMap::from([("IndexPrefix".into(), "acme".into())]),
        }
    }

    #[test]
    fn a_flag_wins_over_the_stack_and_the_stack_fills_the_rest() {
        let stack = central();
        assert_eq!(
            resolve(Place::Bucket, Some("mine"), Ok(&stack)).unwrap(),
            "mine"
        );
        assert_eq!(
            resolve(Place::Bucket, None, Ok(&stack)).unwrap(),
            "central-bucket"
        );
        assert_eq!(resolve_index_prefix(None, Ok(&stack)).unwrap(), "acme");
        assert_eq!(
            resolve_index_prefix(Some("other"), Ok(&stack)).unwrap(),
            "other"
        );
    }

    #[test]
    fn errors_say_what_to_do() {
        let stack = central();
        let no_output = resolve(Place::QueueUrl, None, Ok(&stack))
            .unwrap_err()
            .to_string();
        assert!(no_output.contains("no output QueueUrl"), "{no_output}");
        assert!(no_output.contains("pass --queue-url"), "{no_output}");
        let missing = Missing::NoStack {
            stack_set: "fanin-central-primary".into(),
            account: "123456789012".into(),
            region: "eu-west-1".into(),
        };
        let no_stack = resolve(Place::Bucket, None, Err(&missing))
            .unwrap_err()
            .to_string();
        assert!(
            no_stack.starts_with(
                "no stack instance of fanin-central-primary in account 123456789012 region eu-west-1: deploy it"
            ),
            "{no_stack}"
        );
        assert!(no_stack.ends_with("or pass --bucket"), "{no_stack}");
    }

    /// The outputs of `cloudformation/central-privileges.yaml` the CLI reads
    /// for `fanin privileges process` (the template declares them).
    #[test]
    fn the_trail_places_are_outputs_of_the_privileges_template() {
        let template = include_str!("../../cloudformation/central-privileges.yaml");
        let outputs = &template[template.find("\nOutputs:").expect("an Outputs section")..];
        for place in [Place::TrailBucket, Place::TrailQueueUrl] {
            assert!(
                outputs.contains(&format!("\n  {}:\n", place.output())),
                "{} is not an output of central-privileges.yaml",
                place.output()
            );
        }
        let stack = CentralStack {
            name: "StackSet-fanin-central-privileges-x".into(),
            outputs: BTreeMap::from([
                ("TrailBucketName".into(), "fanin-trail-1-us-east-1".into()),
                (
                    "TrailQueueUrl".into(),
                    "https://sqs/fanin-cloudtrail".into(),
                ),
            ]),
            parameters: BTreeMap::new(),
        };
        assert_eq!(
            resolve(Place::TrailBucket, None, Ok(&stack)).unwrap(),
            "fanin-trail-1-us-east-1"
        );
        assert_eq!(
            resolve(Place::TrailQueueUrl, None, Ok(&stack)).unwrap(),
            "https://sqs/fanin-cloudtrail"
        );
        let missing = resolve(Place::TrailQueueUrl, None, Ok(&central()))
            .unwrap_err()
            .to_string();
        assert!(missing.contains("pass --trail-queue-url"), "{missing}");
    }

    #[test]
    fn the_index_prefix_defaults_and_is_checked() {
        let missing = Missing::NoOutput { stack: "s".into() };
        assert_eq!(resolve_index_prefix(None, Err(&missing)).unwrap(), "fanin");
        for bad in ["Fanin", "-x", "a/b", "a b", &"x".repeat(65)] {
            assert!(
                resolve_index_prefix(Some(bad), Err(&missing)).is_err(),
                "{bad}"
            );
        }
    }
}
