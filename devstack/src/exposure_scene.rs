//! The unused-exposure scene, as the demo and the end-to-end test play it on
//! a deployed local stack: the exposure world (rules of known use and their
//! flow logs, [`crate::exposure_world`]) in the first application account
//! and two regions, its objects' S3 notifications drained through the
//! hosted `fanin-exposure` (ingest), a critical Inspector2 finding on the
//! first region's web instance stored by the collector (so an unused open
//! port there ranks first), then the scheduled evaluation, whose records
//! wait on the central bus's queue for the collector.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::Context;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};

use crate::deployment::Deployed;
use crate::esm::MappingStats;
use crate::exposure_host::{self, ExposureHost};
use crate::exposure_world::{self, ExposureWorld};
use crate::scenario::{self, LocalStack};

/// The world's seed: the same traffic on every run.
const SEED: u64 = 11;
/// How long the flow-log queue may take to drain.
const DRAIN_LIMIT: Duration = Duration::from_secs(180);

/// What the scene left behind, before the collector runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExposureScene {
    pub account: String,
    pub regions: Vec<String>,
    /// Flow-log objects the world wrote (default, custom v5, Parquet).
    pub objects: usize,
    /// Malformed lines the world wrote, and quarantine objects listing them.
    pub malformed_lines: usize,
    pub malformed_objects: usize,
    /// Invocations of `fanin-exposure` by the flow-log queue's mapping.
    pub ingest_invocations: usize,
    /// Aggregate objects in the archive (`flow-aggregates/`) and documents
    /// in the flows index.
    pub aggregate_objects: usize,
    pub aggregates_indexed: usize,
    /// The instance with a critical vulnerability finding.
    pub vulnerable_instance: String,
    /// The evaluation's answer (`fanin_exposure::evaluate::Summary`).
    pub evaluation: Value,
    /// Rules judged, by state, as the evaluation counted them.
    pub by_state: BTreeMap<String, usize>,
    pub records: usize,
    /// What the world says each rule is: the answer the findings must give.
    #[serde(skip)]
    pub world: Option<ExposureWorld>,
}

/// Plays the scene on `deployed`; the records it produced are on the central
/// queue when it returns.
pub async fn play(stack: &LocalStack, deployed: &Deployed) -> anyhow::Result<ExposureScene> {
    let account = deployed
        .application_accounts
        .first()
        .context("no application account")?
        .clone();
    let regions: Vec<&str> = deployed
        .regions
        .iter()
        .take(2)
        .map(String::as_str)
        .collect();
    let world = exposure_world::build(
        stack,
        &account,
        &regions,
        &deployed.exposure.flow_log_bucket,
        Utc::now(),
        SEED,
    )
    .await?;
    let host = exposure_host::start_exposure(stack, deployed).await?;
    let stats = drain(&host).await?;
    let central = &deployed.central;
    let malformed_objects =
        scenario::bucket_keys(stack, central, "quarantine/reason=flowlog_malformed/")
            .await?
            .len();
    let aggregate_objects = scenario::bucket_keys(stack, central, "flow-aggregates/")
        .await?
        .len();
    let aggregates_indexed = scenario::indexed_in(stack, central, "flows").await?.len();
    let vulnerable_instance = store_critical_vulnerability(stack, deployed, &world).await?;
    let evaluation = host
        .invoke_evaluation(json!({"fanin": "evaluate", "accounts": [account]}))
        .await
        .context("the scheduled evaluation")?;
    let by_state = evaluation["by_state"]
        .as_object()
        .map(|states| {
            states
                .iter()
                .map(|(state, n)| (state.clone(), n.as_u64().unwrap_or(0) as usize))
                .collect()
        })
        .unwrap_or_default();
    Ok(ExposureScene {
        account,
        regions: world.regions.clone(),
        objects: world.objects.len(),
        malformed_lines: world.malformed_lines,
        malformed_objects,
        ingest_invocations: stats.invocations,
        aggregate_objects,
        aggregates_indexed,
        vulnerable_instance,
        records: evaluation["records"].as_u64().unwrap_or(0) as usize,
        by_state,
        evaluation,
        world: Some(world),
    })
}

/// Drains the flow-log queue; an invocation that failed is an error here
/// (the world's objects are all readable).
async fn drain(host: &ExposureHost) -> anyhow::Result<MappingStats> {
    let stats = host.drain(DRAIN_LIMIT).await?;
    anyhow::ensure!(
        stats.failures_reported == 0,
        "fanin-exposure reported {} failed messages in {} invocations (log: {})",
        stats.failures_reported,
        stats.invocations,
        host.log_path().await.display()
    );
    Ok(stats)
}

/// A critical Inspector2 finding on the first region's `web` instance, put
/// on its account's bus and stored by the collector; its id.
async fn store_critical_vulnerability(
    stack: &LocalStack,
    deployed: &Deployed,
    world: &ExposureWorld,
) -> anyhow::Result<String> {
    let web = world
        .instances
        .iter()
        .find(|i| i.name == "web")
        .context("the world has a web instance")?;
    let facts = scenario::InstanceFacts {
        account: web.account.clone(),
        region: web.region.clone(),
        instance_id: web.instance_id.clone(),
        vpc_id: web.vpc_id.clone(),
        subnet_id: web.subnet_id.clone(),
        private_ip: web.private_ip.clone(),
        public_ip: None,
        security_group_ids: web.group_ids.clone(),
        internet_open_ports: Vec::new(),
    };
    // Index 0: CRITICAL.
    let finding = scenario::inspector2_ec2_finding(&facts, 0, Utc::now().timestamp());
    scenario::emit_inspector2(stack, &web.account, &web.region, &[finding]).await?;
    scenario::collect(stack, deployed).await?;
    Ok(web.instance_id.clone())
}
