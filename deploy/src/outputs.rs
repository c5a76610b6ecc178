//! `outputs`: the outputs of every instance's stack, read in the instance's
//! account and region.
//!
//! Real AWS names an instance stack `StackSet-<stackset-name>-<uuid>` and
//! lists its ARN in `ListStackInstances`. moto 5.2 names self-managed
//! instance stacks `StackSet:<stackset-name>` and lists a StackId that does
//! not resolve, so when the ARN finds nothing the stack is looked up by name.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_cloudformation::Client;
use fanin::ids::{AccountId, Region};
use serde_json::{Value, json};

use crate::cloudformation::{StackSetApi, live_stack_names, stack_outputs};
use crate::deployment::Deployment;
use crate::error::Error;
use crate::plan::{ExistingInstance, StackSetName, StackSetPlan, plan};
use crate::sessions::{AccountConfigs, in_region};

/// Output name → value of one instance's stack.
pub type InstanceOutputs = BTreeMap<String, String>;

/// StackSet → (account, region) → outputs. StackSets that do not exist are
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Outputs {
    pub stack_sets: BTreeMap<StackSetName, BTreeMap<(AccountId, Region), InstanceOutputs>>,
}

impl Outputs {
    pub fn instance(
        &self,
        stack_set: StackSetName,
        account: &str,
        region: &str,
    ) -> Option<&InstanceOutputs> {
        self.stack_sets
            .get(&stack_set)?
            .iter()
            .find(|((a, r), _)| a.as_str() == account && r.as_str() == region)
            .map(|(_, outputs)| outputs)
    }

    pub fn value(
        &self,
        stack_set: StackSetName,
        account: &str,
        region: &str,
        output: &str,
    ) -> Option<&str> {
        self.instance(stack_set, account, region)?
            .get(output)
            .map(String::as_str)
    }

    /// `{"<stackset>": {"<account>/<region>": {"<output>": "<value>"}}}`.
    pub fn to_json(&self) -> Value {
        let stack_sets: serde_json::Map<String, Value> = self
            .stack_sets
            .iter()
            .map(|(name, instances)| {
                let instances: serde_json::Map<String, Value> = instances
                    .iter()
                    .map(|((account, region), outputs)| {
                        (format!("{account}/{region}"), json!(outputs))
                    })
                    .collect();
                (name.to_string(), Value::Object(instances))
            })
            .collect();
        Value::Object(stack_sets)
    }
}

impl std::fmt::Display for Outputs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (name, instances) in &self.stack_sets {
            for ((account, region), outputs) in instances {
                writeln!(f, "{name} {account}/{region}")?;
                for (key, value) in outputs {
                    writeln!(f, "  {key} = {value}")?;
                }
            }
        }
        Ok(())
    }
}

/// Reads the outputs of every instance of every StackSet of `deployment`,
/// assuming `OutputsRoleName` in accounts other than the caller's.
pub async fn outputs(config: &SdkConfig, deployment: &Deployment) -> Result<Outputs, Error> {
    crate::deploy::check(deployment)?;
    let home = in_region(config, deployment.stack_set_region());
    let client = Client::new(&home);
    let accounts = AccountConfigs::new(config, deployment).await?;
    let mut result = Outputs::default();
    for plan in plan(deployment) {
        if let Some(instances) = stack_set_outputs(&client, &accounts, &plan).await? {
            result.stack_sets.insert(plan.name, instances);
        }
    }
    Ok(result)
}

/// The outputs of each instance of one StackSet; `None` when it does not exist.
pub(crate) async fn stack_set_outputs(
    client: &Client,
    accounts: &AccountConfigs,
    plan: &StackSetPlan,
) -> Result<Option<BTreeMap<(AccountId, Region), InstanceOutputs>>, Error> {
    let api = StackSetApi::new(client, plan);
    if !api.exists().await? {
        return Ok(None);
    }
    let mut instances = BTreeMap::new();
    for instance in api.list_instances().await? {
        let config = accounts.config(&instance.account, &instance.region).await?;
        let outputs = instance_outputs(&Client::new(&config), plan.name, &instance).await?;
        instances.insert((instance.account, instance.region), outputs);
    }
    Ok(Some(instances))
}

async fn instance_outputs(
    client: &Client,
    stack_set: StackSetName,
    instance: &ExistingInstance,
) -> Result<InstanceOutputs, Error> {
    if let Some(stack_id) = &instance.stack_id
        && let Some(outputs) = stack_outputs(client, stack_id).await?
    {
        return Ok(outputs);
    }
    let names = live_stack_names(client).await?;
    if let Some(name) = instance_stack_name(&names, stack_set.as_str())
        && let Some(outputs) = stack_outputs(client, name).await?
    {
        return Ok(outputs);
    }
    Err(Error::InstanceStackNotFound {
        stack_set,
        account: instance.account.to_string(),
        region: instance.region.to_string(),
    })
}

/// The instance stack of the StackSet named `stack_set` among an account's
/// stacks: `StackSet-<name>-<uuid>` (AWS) or `StackSet:<name>` (moto). The
/// operator CLI finds the central stack with it.
pub fn instance_stack_name<'a>(names: &'a [String], stack_set: &str) -> Option<&'a String> {
    let aws_prefix = format!("StackSet-{stack_set}-");
    let moto_name = format!("StackSet:{stack_set}");
    names.iter().find(|name| {
        **name == moto_name
            || name
                .strip_prefix(&aws_prefix)
                .is_some_and(|rest| uuid::Uuid::parse_str(rest).is_ok())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_stacks_are_found_by_exact_name() {
        let names: Vec<String> = [
            "StackSet-fanin-central-primary-regional-x",
            "StackSet-fanin-application-global-7c1d2b8e-3f4a-4e55-9a51-0d7d1c6e2f10",
            "StackSet:fanin-application-regional",
            "StackSet:fanin-central",
        ]
        .map(str::to_owned)
        .to_vec();
        assert_eq!(
            instance_stack_name(&names, StackSetName::ApplicationGlobal.as_str())
                .map(String::as_str),
            Some("StackSet-fanin-application-global-7c1d2b8e-3f4a-4e55-9a51-0d7d1c6e2f10")
        );
        assert_eq!(
            instance_stack_name(&names, StackSetName::ApplicationRegional.as_str())
                .map(String::as_str),
            Some("StackSet:fanin-application-regional")
        );
        assert_eq!(
            instance_stack_name(&names, StackSetName::CentralPrimary.as_str()),
            None
        );
        assert_eq!(
            instance_stack_name(&names, StackSetName::CentralRegional.as_str()),
            None
        );
    }

    #[test]
    fn outputs_are_addressed_by_stack_set_account_and_region() {
        let mut outputs = Outputs::default();
        let key = (
            AccountId::parse("222222222222").unwrap(),
            Region::parse("us-east-1").unwrap(),
        );
        outputs.stack_sets.insert(
            StackSetName::CentralPrimary,
            BTreeMap::from([(
                key,
                BTreeMap::from([("QueueUrl".to_owned(), "q".to_owned())]),
            )]),
        );
        assert_eq!(
            outputs.value(
                StackSetName::CentralPrimary,
                "222222222222",
                "us-east-1",
                "QueueUrl"
            ),
            Some("q")
        );
        assert_eq!(
            outputs.value(
                StackSetName::CentralPrimary,
                "222222222222",
                "eu-west-1",
                "QueueUrl"
            ),
            None
        );
        assert_eq!(
            outputs.to_json(),
            json!({"fanin-central-primary": {"222222222222/us-east-1": {"QueueUrl": "q"}}})
        );
    }
}
