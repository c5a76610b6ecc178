//! GuardDuty finding → OCSF 1.7.0 Detection Finding (2004). The mapping is
//! documented in `docs/schema.md` (section "Mapping: GuardDuty").
//!
//! Pure and total: a decoded event and its enrichment become a
//! [`DetectionRecord`], or a [`NormalizeError`] when the update time cannot
//! be a version. What the typed attributes do not hold is kept under
//! `unmapped.guardduty`: the finding minus every attribute that was mapped
//! (see [`residue`]), so nothing GuardDuty said is lost.

use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::decode::GuardDutyEvent;
use super::model::{
    AwsApiCallAction, DnsRequestAction, Finding, IpDetails, KubernetesApiCallAction,
    NetworkConnectionAction, PortDetails, PortProbeAction, RemoteIpDetails, Tag,
};
use super::ocsf::{
    Actor, Api, ApiResponse, ApiService, AutonomousSystem, ConnectionInfo, DetectionFinding,
    DetectionUnmapped, DnsQuery, Endpoint, Evidence, Location, Observable, ResourceDetails, User,
};
use crate::enrich::{FaninContext, NetworkContext, ReportedNetwork};
use crate::ids::{AccountId, Partition, Region, is_ec2_id, is_instance_id};
use crate::model::{GroupRef, InterfaceRecord};
use crate::normalize::limits::{
    DESCRIPTION_BYTES, DETAIL_STRING_BYTES, LIST_ITEMS, NAME_BYTES, REFERENCE_BYTES, TITLE_BYTES,
    cap_string, parse_ip, unparsed,
};
use crate::normalize::{
    EnrichmentTarget, NormalizeError, Origin, document_id, external_version, version_uid,
};
use crate::ocsf::{
    Account, Activity, Cloud, Device, Feature, FindingInfo, Image, InputChanges, Metadata,
    NetworkInterface, Product, Severity, Truncation, Unmapped, UnparsedValue, millis_to_rfc3339,
    time_pair,
};
use crate::timestamps;

/// `unmapped.fanin.source` of every GuardDuty record.
pub const SOURCE_NAME: &str = "guardduty";

/// One normalized GuardDuty finding version, ready to encode: the same
/// identity and version scheme as every fanin record (`docs/schema.md`,
/// Identity and versioning).
#[derive(Debug, Clone, PartialEq)]
pub struct DetectionRecord {
    pub origin: Origin,
    /// The finding ARN.
    pub finding_uid: String,
    /// The OpenSearch `_id`: hex SHA-256 of the finding ARN.
    pub document_id: String,
    pub version: i64,
    /// `metadata.uid` and the ledger id.
    pub version_uid: String,
    /// The UTC day of `updatedAt` (S3 `eventDay`).
    pub event_day: NaiveDate,
    pub record: DetectionFinding,
}

/// The EC2 look-up a finding needs: the instance it names, in the account
/// and region the finding is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ec2Need {
    pub instance_id: String,
    pub account: AccountId,
    pub region: Region,
}

/// The enrichment a finding asks for: `Some` when it names an EC2 instance
/// with a well-formed id (EC2 findings, Runtime findings on an instance,
/// credential findings that name the instance the credentials came from).
pub fn enrichment_need(event: &GuardDutyEvent) -> Option<Ec2Need> {
    match enrichment_target(&event.finding) {
        EnrichmentTarget::Instance(instance_id) => Some(Ec2Need {
            instance_id,
            account: event.account.clone(),
            region: event.region.clone(),
        }),
        _ => None,
    }
}

/// What enrichment should do for a finding, in the terms the Inspector
/// sources use.
pub fn enrichment_target(finding: &Finding) -> EnrichmentTarget {
    let instance_id = finding
        .resource
        .instance_details
        .as_ref()
        .and_then(|d| d.instance_id.as_deref());
    if let Some(id) = instance_id {
        return if is_instance_id(id) {
            EnrichmentTarget::Instance(id.to_owned())
        } else {
            EnrichmentTarget::NoInstance
        };
    }
    match &finding.resource.resource_type {
        Some(kind) => EnrichmentTarget::NotApplicable(kind.clone()),
        None => EnrichmentTarget::NoInstance,
    }
}

/// What GuardDuty reports about the instance's interfaces: the network
/// context when EC2 cannot describe the instance. Only well-formed ids and
/// addresses (the sample findings' `GeneratedFindingVPCId` is neither).
pub fn reported_network(finding: &Finding) -> ReportedNetwork {
    let Some(details) = &finding.resource.instance_details else {
        return ReportedNetwork::default();
    };
    let interfaces: Vec<InterfaceRecord> = details
        .network_interfaces
        .iter()
        .map(|ni| {
            let mut private_ips: Vec<String> = ni
                .private_ip_address
                .iter()
                .chain(
                    ni.private_ip_addresses
                        .iter()
                        .filter_map(|p| p.private_ip_address.as_ref()),
                )
                .filter_map(|ip| parse_ip(ip))
                .collect();
            dedup_in_order(&mut private_ips);
            InterfaceRecord {
                interface_id: ni
                    .network_interface_id
                    .clone()
                    .filter(|id| is_ec2_id("eni", id))
                    .unwrap_or_default(),
                subnet_id: ni.subnet_id.clone().filter(|id| is_ec2_id("subnet", id)),
                vpc_id: ni.vpc_id.clone().filter(|id| is_ec2_id("vpc", id)),
                private_ips,
                public_ips: ni.public_ip.iter().filter_map(|ip| parse_ip(ip)).collect(),
                public_dns_name: ni.public_dns_name.clone(),
                ipv6_addresses: ni
                    .ipv6_addresses
                    .iter()
                    .filter_map(|ip| parse_ip(ip))
                    .collect(),
                security_groups: ni
                    .security_groups
                    .iter()
                    .filter_map(|g| {
                        let id = g.group_id.clone().filter(|id| is_ec2_id("sg", id))?;
                        Some(GroupRef {
                            id,
                            name: g.group_name.clone(),
                        })
                    })
                    .collect(),
                ..Default::default()
            }
        })
        .collect();
    ReportedNetwork {
        vpc_id: interfaces.iter().find_map(|i| i.vpc_id.clone()),
        subnet_id: interfaces.iter().find_map(|i| i.subnet_id.clone()),
        interfaces,
        ..Default::default()
    }
}

/// Reads a GuardDuty time: RFC 3339 text, or an epoch number (as a JSON
/// number or a string of digits). Numbers of 10^11 and more are
/// milliseconds (`launchTime: 1492735675000`), smaller ones seconds
/// (`createdAt: 1513612691.551`): 10^11 seconds is the year 5138, 10^11
/// milliseconds is 1973, so no time GuardDuty can report is misread.
pub fn parse_time(raw: &Value) -> Option<DateTime<Utc>> {
    let epoch = |number: f64| -> Option<DateTime<Utc>> {
        if !number.is_finite() || number < 0.0 {
            return None;
        }
        let millis = if number >= 1e11 {
            number
        } else {
            number * 1000.0
        };
        if millis > i64::MAX as f64 {
            return None;
        }
        DateTime::from_timestamp_millis(millis.round() as i64)
    };
    match raw {
        Value::Number(number) => epoch(number.as_f64()?),
        Value::String(text) => match text.trim().parse::<f64>() {
            Ok(number) => epoch(number),
            Err(_) => timestamps::parse_text(text).ok(),
        },
        _ => None,
    }
}

/// OCSF severity from GuardDuty's number, in GuardDuty's documented bands:
/// Low below 4.0, Medium 4.0 to 6.9, High 7.0 to 8.9, Critical 9.0 and up
/// (to 10.0). Anything else (negative, above 10) is Unknown.
pub fn severity(score: f64) -> Severity {
    match score {
        s if !s.is_finite() || !(0.0..=10.0).contains(&s) => Severity::new(0, "Unknown"),
        s if s >= 9.0 => Severity::new(5, "Critical"),
        s if s >= 7.0 => Severity::new(4, "High"),
        s if s >= 4.0 => Severity::new(3, "Medium"),
        _ => Severity::new(2, "Low"),
    }
}

/// Where this version ranks among versions with the same update time: a
/// finding is archived after it was active, so the archived state wins.
pub fn state_rank(finding: &Finding) -> u8 {
    if finding.service.archived == Some(true) {
        2
    } else {
        1
    }
}

/// SHA-256 of the finding as received. `serde_json` keeps object keys
/// sorted, so the hash does not depend on the order GuardDuty wrote them.
/// Every attribute counts: a recurrence changes `updatedAt`,
/// `service.count` and `service.eventLastSeen`, and so the version.
pub fn content_hash(finding: &Finding) -> [u8; 32] {
    let bytes = serde_json::to_vec(&finding.raw).expect("JSON values serialize");
    Sha256::digest(bytes).into()
}

/// Normalizes one decoded finding with its enrichment; `now` is the
/// collector's clock, which bounds the believable times.
pub fn normalize(
    event: &GuardDutyEvent,
    partition: &Partition,
    context: FaninContext,
    now: DateTime<Utc>,
) -> Result<DetectionRecord, NormalizeError> {
    let updated = event.updated_at;
    if !timestamps::is_believable(&updated, &now) {
        return Err(NormalizeError::VersionOutOfRange {
            updated: timestamps::rfc3339(&updated),
        });
    }
    let finding_uid = event.arn.as_str().to_owned();
    let hash = content_hash(&event.finding);
    let version = external_version(
        updated.timestamp_millis(),
        state_rank(&event.finding),
        &hash,
    );
    let version_uid = version_uid(&finding_uid, version, &hash);
    let record = to_ocsf(event, partition, context, version_uid.clone(), &now);
    Ok(DetectionRecord {
        origin: Origin {
            account: event.account.clone(),
            region: event.region.clone(),
        },
        document_id: document_id(&finding_uid),
        finding_uid,
        version,
        version_uid,
        event_day: updated.date_naive(),
        record,
    })
}

/// The OCSF document of one version for the source-neutral pipeline
/// (`crate::sources::guardduty`): `uid` is the `metadata.uid` the pipeline
/// computed with the same [`external_version`] and [`version_uid`] as
/// [`normalize`].
pub fn document(
    event: &GuardDutyEvent,
    partition: &Partition,
    context: FaninContext,
    uid: String,
    now: &DateTime<Utc>,
) -> crate::normalize::OcsfDocument {
    let record = to_ocsf(event, partition, context, uid, now);
    let changes = &record.unmapped.common.input;
    crate::normalize::OcsfDocument {
        json: serde_json::to_string(&record)
            .expect("OCSF records serialize")
            .into(),
        unparsed: changes.unparsed.iter().map(|u| u.field.clone()).collect(),
        truncated: changes.truncated.iter().map(|t| t.field.clone()).collect(),
    }
}

/// The JSON pointers of the source attributes a typed attribute holds.
#[derive(Default)]
struct Mapped(Vec<String>);

impl Mapped {
    fn take(&mut self, pointer: impl Into<String>) {
        self.0.push(pointer.into());
    }
}

/// What the mapping changed: capped strings and lists, values that did not
/// parse.
struct Changes<'a> {
    input: InputChanges,
    now: &'a DateTime<Utc>,
}

impl Changes<'_> {
    fn text(&mut self, field: &str, text: &str, max: usize) -> String {
        let mut text = text.to_owned();
        if let Some(original) = cap_string(&mut text, max) {
            self.input.truncated.push(Truncation {
                field: field.to_owned(),
                original_bytes: Some(original),
                original_items: None,
            });
        }
        text
    }

    fn name(&mut self, field: &str, text: &str) -> String {
        self.text(field, text, NAME_BYTES)
    }

    fn list<T>(&mut self, field: &str, items: &mut Vec<T>) {
        if items.len() > LIST_ITEMS {
            self.input.truncated.push(Truncation {
                field: field.to_owned(),
                original_bytes: None,
                original_items: Some(items.len()),
            });
            items.truncate(LIST_ITEMS);
        }
    }

    fn unparsed(&mut self, field: &str, value: &str) {
        self.input.unparsed.push(unparsed(field, value));
    }

    /// A source time, if it parses and is believable; else recorded.
    fn time(&mut self, field: &str, raw: &Value) -> Option<i64> {
        match parse_time(raw) {
            Some(time) if timestamps::is_believable(&time, self.now) => {
                Some(time.timestamp_millis())
            }
            _ => {
                let text = match raw {
                    Value::String(text) => text.clone(),
                    other => other.to_string(),
                };
                self.unparsed(field, &text);
                None
            }
        }
    }

    /// An IP address, canonical, if it parses; else recorded.
    fn ip(&mut self, field: &str, raw: &str) -> Option<String> {
        let parsed = parse_ip(raw);
        if parsed.is_none() {
            self.unparsed(field, raw);
        }
        parsed
    }

    /// A port, if it is one; else recorded.
    fn port(&mut self, field: &str, raw: i64) -> Option<u16> {
        let port = u16::try_from(raw).ok();
        if port.is_none() {
            self.unparsed(field, &raw.to_string());
        }
        port
    }
}

/// Source field paths in the form `unmapped.fanin.unparsed` uses.
fn source_field(pointer: &str) -> String {
    pointer
        .trim_start_matches('/')
        .split('/')
        .fold(String::new(), |mut path, segment| {
            if segment.bytes().all(|b| b.is_ascii_digit()) && !path.is_empty() {
                path.push_str(&format!("[{segment}]"));
            } else {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(segment);
            }
            path
        })
}

fn to_ocsf(
    event: &GuardDutyEvent,
    partition: &Partition,
    mut context: FaninContext,
    uid: String,
    now: &DateTime<Utc>,
) -> DetectionFinding {
    let finding = &event.finding;
    let mut mapped = Mapped::default();
    let mut changes = Changes {
        input: InputChanges {
            unparsed: unparsed_addresses(finding),
            ..Default::default()
        },
        now,
    };
    for key in [
        "accountId",
        "arn",
        "id",
        "region",
        "partition",
        "type",
        "title",
        "description",
        "updatedAt",
    ] {
        mapped.take(format!("/{key}"));
    }
    let region = event.region.to_string();
    let (status_id, status, activity) = state(event, &mut mapped);
    let severity = severity(finding.severity);
    let seen = Seen::of(event, &mut mapped, &mut changes);
    let count = finding.service.count.filter(|count| *count >= 0);
    if count.is_some() {
        mapped.take("/service/count");
    }
    let metadata = metadata(finding, uid, &mut mapped, &mut changes);
    let cloud = Cloud {
        provider: "AWS".to_owned(),
        region: Some(region.clone()),
        cloud_partition: Some(partition.to_string()),
        account: Some(Account::aws(event.account.as_str())),
        org: None,
    };
    let finding_info = finding_info(finding, &seen, &mut changes);

    let network = context.network.as_ref();
    let (resources, device, instance_uid) = resources_and_device(
        finding,
        &region,
        partition,
        network,
        &mut mapped,
        &mut changes,
    );
    let mut evidences = evidences(finding, instance_uid.as_deref(), &mut mapped, &mut changes);
    if let Some(actor) = actor(finding, &mut mapped, &mut changes) {
        match evidences.first_mut() {
            Some(first) => first.actor = Some(actor),
            None => evidences.push(Evidence {
                actor: Some(actor),
                ..Default::default()
            }),
        }
    }
    changes.list("evidences", &mut evidences);
    let mut observables = observables(&resources, &evidences);
    changes.list("observables", &mut observables);

    let mut guardduty = residue(&finding.raw, &mapped);
    cap_residue(&mut guardduty, "unmapped.guardduty", &mut changes);
    context.details.clear();
    let mut common = Unmapped::new(context);
    common.input = changes.input;

    DetectionFinding {
        activity_id: activity as u8,
        activity_name: activity.name(),
        category_uid: crate::ocsf::CATEGORY_UID,
        category_name: "Findings",
        class_uid: super::ocsf::CLASS_UID,
        class_name: super::ocsf::CLASS_NAME,
        type_uid: super::ocsf::CLASS_UID * 100 + activity as u32,
        type_name: format!("{}: {}", super::ocsf::CLASS_NAME, activity.name()),
        severity_id: severity.id,
        severity: severity.caption,
        status_id,
        status,
        time: seen.updated,
        time_dt: millis_to_rfc3339(seen.updated),
        count,
        start_time: seen.first,
        start_time_dt: seen.first.map(millis_to_rfc3339),
        end_time: seen.last,
        end_time_dt: seen.last.map(millis_to_rfc3339),
        is_alert: status_id != ARCHIVED,
        metadata,
        cloud,
        finding_info,
        resources,
        device,
        evidences,
        observables,
        unmapped: DetectionUnmapped { common, guardduty },
    }
}

/// OCSF `status_id` of an archived finding.
const ARCHIVED: u8 = 5;

/// `status_id`, `status` and the activity: archived is Archived and Close;
/// else New, and Create for the first version (`createdAt` = `updatedAt`),
/// Update for the later ones.
fn state(event: &GuardDutyEvent, mapped: &mut Mapped) -> (u8, &'static str, Activity) {
    let archived = event.finding.service.archived;
    if archived.is_some() {
        mapped.take("/service/archived");
    }
    if archived == Some(true) {
        (ARCHIVED, "Archived", Activity::Close)
    } else if event.created_at == event.updated_at {
        (1, "New", Activity::Create)
    } else {
        (1, "New", Activity::Update)
    }
}

/// The finding's times in epoch milliseconds, each believable or absent.
struct Seen {
    created: Option<i64>,
    updated: i64,
    first: Option<i64>,
    last: Option<i64>,
}

impl Seen {
    fn of(event: &GuardDutyEvent, mapped: &mut Mapped, changes: &mut Changes) -> Self {
        let service = &event.finding.service;
        // Decoding made sure `createdAt` is a time; a believable one is mapped.
        let created = changes.time("createdAt", &event.finding.created_at);
        if created.is_some() {
            mapped.take("/createdAt");
        }
        let mut seen = |name: &str, raw: &Option<Value>| {
            let pointer = format!("/service/{name}");
            let time = changes.time(&source_field(&pointer), raw.as_ref()?)?;
            mapped.take(pointer);
            Some(time)
        };
        Self {
            created,
            updated: event.updated_at.timestamp_millis(),
            first: seen("eventFirstSeen", &service.event_first_seen),
            last: seen("eventLastSeen", &service.event_last_seen),
        }
    }
}

/// `metadata`: the product (and its feature), the version's uid.
fn metadata(
    finding: &Finding,
    uid: String,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Metadata {
    let feature = finding.service.feature_name.as_deref().map(|name| {
        mapped.take("/service/featureName");
        Feature {
            name: changes.name("metadata.product.feature.name", name),
            uid: None,
        }
    });
    Metadata {
        version: crate::ocsf::OCSF_VERSION,
        product: Product {
            name: "GuardDuty",
            vendor_name: "AWS",
            feature,
        },
        uid,
        profiles: vec!["cloud", "datetime"],
        original_time: None,
    }
}

/// `finding_info`: the ARN, title, description, type and times.
fn finding_info(finding: &Finding, seen: &Seen, changes: &mut Changes) -> FindingInfo {
    let (created_time, created_time_dt) = time_pair(seen.created);
    let (first_seen_time, first_seen_time_dt) = time_pair(seen.first);
    let (last_seen_time, last_seen_time_dt) = time_pair(seen.last);
    let (modified_time, modified_time_dt) = time_pair(Some(seen.updated));
    let title = finding.title.as_deref().unwrap_or(&finding.finding_type);
    FindingInfo {
        uid: finding.arn.clone(),
        title: changes.text("finding_info.title", title, TITLE_BYTES),
        desc: finding
            .description
            .as_deref()
            .map(|desc| changes.text("finding_info.desc", desc, DESCRIPTION_BYTES)),
        types: vec![changes.name("finding_info.types[0]", &finding.finding_type)],
        created_time,
        created_time_dt,
        first_seen_time,
        first_seen_time_dt,
        last_seen_time,
        last_seen_time_dt,
        modified_time,
        modified_time_dt,
        src_url: None,
    }
}

/// `key=value` labels from GuardDuty tags (`key=` for a tag without value).
fn labels(tags: &[Tag], field: &str, changes: &mut Changes) -> Vec<String> {
    let mut labels: Vec<String> = tags
        .iter()
        .filter_map(|tag| {
            let label = format!(
                "{}={}",
                tag.key.as_deref()?,
                tag.value.as_deref().unwrap_or("")
            );
            Some(changes.name(field, &label))
        })
        .collect();
    changes.list(field, &mut labels);
    labels
}

/// A resource the finding names by an identifier (an ARN, else a name),
/// with where its attributes are in the finding.
struct Named<'a> {
    /// JSON pointer of the object that describes it.
    base: String,
    resource_type: &'static str,
    /// `(key, value)` of the identifier, e.g. `("arn", …)`.
    uid: (&'static str, Option<&'a String>),
    /// `(key, value)` of the name: the uid when there is no identifier.
    name: (&'static str, Option<&'a String>),
    created: Option<&'a Value>,
    tags: &'a [Tag],
}

/// Every resource of the finding other than the instance, as [`Named`].
fn named_resources(finding: &Finding) -> Vec<Named<'_>> {
    let resource = &finding.resource;
    let mut named = Vec::new();
    for (i, bucket) in resource.s3_bucket_details.iter().enumerate() {
        named.push(Named {
            base: format!("/resource/s3BucketDetails/{i}"),
            resource_type: "AwsS3Bucket",
            uid: ("arn", bucket.arn.as_ref()),
            name: ("name", bucket.name.as_ref()),
            created: bucket.created_at.as_ref(),
            tags: &bucket.tags,
        });
    }
    for (key, cluster, resource_type) in [
        (
            "eksClusterDetails",
            &resource.eks_cluster_details,
            "AwsEksCluster",
        ),
        (
            "ecsClusterDetails",
            &resource.ecs_cluster_details,
            "AwsEcsCluster",
        ),
    ] {
        if let Some(cluster) = cluster {
            named.push(Named {
                base: format!("/resource/{key}"),
                resource_type,
                uid: ("arn", cluster.arn.as_ref()),
                name: ("name", cluster.name.as_ref()),
                created: cluster.created_at.as_ref(),
                tags: &cluster.tags,
            });
        }
    }
    if let Some(lambda) = &resource.lambda_details {
        named.push(Named {
            base: "/resource/lambdaDetails".into(),
            resource_type: "AwsLambdaFunction",
            uid: ("functionArn", lambda.function_arn.as_ref()),
            name: ("functionName", lambda.function_name.as_ref()),
            created: None,
            tags: &[],
        });
    }
    if let Some(rds) = &resource.rds_db_instance_details {
        named.push(Named {
            base: "/resource/rdsDbInstanceDetails".into(),
            resource_type: "AwsRdsDbInstance",
            uid: ("dbInstanceArn", rds.db_instance_arn.as_ref()),
            name: ("dbInstanceIdentifier", rds.db_instance_identifier.as_ref()),
            created: None,
            tags: &[],
        });
    }
    named
}

/// Builds `resources[]`: every entry in the finding's region and the
/// collector's partition.
struct Resources<'a> {
    region: &'a str,
    partition: &'a Partition,
    list: Vec<ResourceDetails>,
}

impl Resources<'_> {
    fn push(
        &mut self,
        uid: String,
        name: Option<String>,
        resource_type: &'static str,
        created: Option<i64>,
        labels: Vec<String>,
        ip: Option<String>,
    ) {
        let (created_time, created_time_dt) = time_pair(created);
        self.list.push(ResourceDetails {
            uid,
            name,
            resource_type,
            region: self.region.to_owned(),
            cloud_partition: self.partition.to_string(),
            ip,
            created_time,
            created_time_dt,
            labels,
        });
    }

    /// A [`Named`] resource, when it has an identifier or a name.
    fn push_named(&mut self, named: &Named, mapped: &mut Mapped, changes: &mut Changes) {
        let Some(uid) = named.uid.1.or(named.name.1) else {
            return;
        };
        for (key, value) in [named.uid, named.name] {
            if value.is_some() {
                mapped.take(format!("{}/{key}", named.base));
            }
        }
        let created = named.created.and_then(|raw| {
            let pointer = format!("{}/createdAt", named.base);
            let time = changes.time(&source_field(&pointer), raw)?;
            mapped.take(pointer);
            Some(time)
        });
        if !named.tags.is_empty() {
            mapped.take(format!("{}/tags", named.base));
        }
        let labels = labels(named.tags, "resources.labels", changes);
        let name = named.name.1.map(|n| changes.name("resources.name", n));
        let uid = changes.text("resources.uid", uid, REFERENCE_BYTES);
        self.push(uid, name, named.resource_type, created, labels, None);
    }
}

/// The finding's resources (`resources[]`) and, when it names an EC2
/// instance, the `device` with fanin's network context and the instance id.
fn resources_and_device(
    finding: &Finding,
    region: &str,
    partition: &Partition,
    network: Option<&NetworkContext>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> (Vec<ResourceDetails>, Option<Device>, Option<String>) {
    let mut resources = Resources {
        region,
        partition,
        list: Vec::new(),
    };
    let device = instance_and_device(finding, &mut resources, network, mapped, changes);
    let instance_uid = device.as_ref().map(|device| device.uid.clone());
    if let Some(key) = &finding.resource.access_key_details
        && let Some(id) = &key.access_key_id
    {
        mapped.take("/resource/accessKeyDetails/accessKeyId");
        let name = key
            .user_name
            .as_deref()
            .map(|n| changes.name("resources.name", n));
        let uid = changes.name("resources.uid", id);
        resources.push(uid, name, "AwsIamAccessKey", None, Vec::new(), None);
    }
    for named in named_resources(finding) {
        resources.push_named(&named, mapped, changes);
    }
    let mut list = resources.list;
    changes.list("resources", &mut list);
    (list, device, instance_uid)
}

/// The EC2 instance of `instanceDetails`: pushed as a resource, returned as
/// the `device`.
fn instance_and_device(
    finding: &Finding,
    resources: &mut Resources,
    network: Option<&NetworkContext>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Option<Device> {
    let details = finding.resource.instance_details.as_ref()?;
    let id = details.instance_id.as_ref()?;
    let base = "/resource/instanceDetails";
    mapped.take(format!("{base}/instanceId"));
    let uid = changes.text("resources.uid", id, REFERENCE_BYTES);
    let created = details.launch_time.as_ref().and_then(|raw| {
        let time = changes.time("resource.instanceDetails.launchTime", raw)?;
        mapped.take(format!("{base}/launchTime"));
        Some(time)
    });
    if !details.tags.is_empty() {
        mapped.take(format!("{base}/tags"));
    }
    let labels = labels(&details.tags, "resources.labels", changes);
    let image = details.image_id.as_deref().map(|image| {
        mapped.take(format!("{base}/imageId"));
        Image {
            uid: changes.name("device.image.uid", image),
        }
    });
    let primary_ip = network.and_then(|n| n.private_ips.first().cloned());
    let device = Device {
        uid: uid.clone(),
        instance_uid: uid.clone(),
        type_id: 99,
        device_type: "Virtual",
        region: resources.region.to_owned(),
        hostname: None,
        ip: primary_ip.clone(),
        vpc_uid: network.and_then(|n| n.vpc_id.clone()),
        subnet_uid: network.and_then(|n| n.subnet_id.clone()),
        image,
        network_interfaces: network.map(ocsf_interfaces).unwrap_or_default(),
    };
    resources.push(uid, None, "AwsEc2Instance", created, labels, primary_ip);
    Some(device)
}

/// `device.network_interfaces[]` from the network context.
fn ocsf_interfaces(network: &NetworkContext) -> Vec<NetworkInterface> {
    network
        .interfaces
        .iter()
        .filter(|i| !i.interface_id.is_empty())
        .map(|i| NetworkInterface {
            uid: i.interface_id.clone(),
            ip: i.private_ips.first().cloned(),
            mac: i.mac_address.clone(),
            hostname: None,
            type_id: 1,
            interface_type: "Wired",
        })
        .collect()
}

/// The identity of `accessKeyDetails`, as the actor of the activity.
fn actor(finding: &Finding, mapped: &mut Mapped, changes: &mut Changes) -> Option<Actor> {
    let key = finding.resource.access_key_details.as_ref()?;
    let base = "/resource/accessKeyDetails";
    let mut field = |name: &str, value: &Option<String>, path: &str| {
        let value = value.as_deref()?;
        mapped.take(format!("{base}/{name}"));
        Some(changes.name(path, value))
    };
    let name = field("userName", &key.user_name, "actor.user.name");
    let uid = field("principalId", &key.principal_id, "actor.user.uid");
    let user_type = field("userType", &key.user_type, "actor.user.type");
    let credential_uid = key
        .access_key_id
        .as_deref()
        .map(|id| changes.name("actor.user.credential_uid", id));
    let user = User {
        name,
        uid,
        credential_uid,
        type_id: user_type.as_ref().map(|_| 99),
        user_type,
    };
    let empty = user.name.is_none() && user.uid.is_none() && user.credential_uid.is_none();
    (!empty).then_some(Actor { user })
}

const ACTION: &str = "/service/action";

/// What GuardDuty observed (`service.action`), one evidence per activity.
fn evidences(
    finding: &Finding,
    instance_uid: Option<&str>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Vec<Evidence> {
    let Some(action) = &finding.service.action else {
        return Vec::new();
    };
    let mut evidences = Vec::new();
    if let Some(connection) = &action.network_connection_action {
        evidences.push(connection_evidence(
            connection,
            instance_uid,
            mapped,
            changes,
        ));
    }
    if let Some(probe) = &action.port_probe_action {
        evidences.extend(probe_evidences(probe, instance_uid, mapped, changes));
    }
    if let Some(call) = &action.aws_api_call_action {
        evidences.push(api_call_evidence(call, mapped, changes));
    }
    if let Some(dns) = &action.dns_request_action {
        evidences.push(dns_evidence(dns, instance_uid, mapped, changes));
    }
    if let Some(call) = &action.kubernetes_api_call_action {
        evidences.push(kubernetes_evidence(call, mapped, changes));
    }
    if let Some(login) = &action.rds_login_attempt_action {
        let base = format!("{ACTION}/rdsLoginAttemptAction");
        let remote = login.remote_ip_details.as_ref();
        evidences.push(Evidence {
            src_endpoint: remote_endpoint(&base, remote, None, mapped, changes),
            ..Default::default()
        });
    }
    evidences
}

/// `networkConnectionAction`: the side that opened the connection is the
/// source.
fn connection_evidence(
    connection: &NetworkConnectionAction,
    instance_uid: Option<&str>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Evidence {
    let base = format!("{ACTION}/networkConnectionAction");
    let direction = connection
        .connection_direction
        .as_deref()
        .map(str::to_ascii_uppercase);
    let (direction_id, direction) = match direction.as_deref() {
        Some("INBOUND") => (1, "Inbound"),
        Some("OUTBOUND") => (2, "Outbound"),
        _ => (0, "Unknown"),
    };
    if direction_id != 0 {
        mapped.take(format!("{base}/connectionDirection"));
    }
    let protocol_name = connection.protocol.as_deref().map(|protocol| {
        mapped.take(format!("{base}/protocol"));
        changes.name(
            "connection_info.protocol_name",
            &protocol.to_ascii_lowercase(),
        )
    });
    let local = local_endpoint(
        &base,
        connection.local_ip_details.as_ref(),
        connection.local_port_details.as_ref(),
        instance_uid,
        mapped,
        changes,
    );
    let remote = remote_endpoint(
        &base,
        connection.remote_ip_details.as_ref(),
        connection.remote_port_details.as_ref(),
        mapped,
        changes,
    );
    let (src_endpoint, dst_endpoint) = if direction_id == 2 {
        (local, remote)
    } else {
        (remote, local)
    };
    Evidence {
        connection_info: Some(ConnectionInfo {
            direction_id,
            direction,
            protocol_name,
        }),
        src_endpoint,
        dst_endpoint,
        ..Default::default()
    }
}

/// `portProbeAction`: one inbound evidence per probe (at most
/// `LIST_ITEMS`), the prober as source, the probed port as destination.
fn probe_evidences(
    probe: &PortProbeAction,
    instance_uid: Option<&str>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Vec<Evidence> {
    let details = probe.port_probe_details.iter().take(LIST_ITEMS);
    details
        .enumerate()
        .map(|(i, detail)| {
            let base = format!("{ACTION}/portProbeAction/portProbeDetails/{i}");
            let local = local_endpoint(
                &base,
                detail.local_ip_details.as_ref(),
                detail.local_port_details.as_ref(),
                instance_uid,
                mapped,
                changes,
            );
            let remote = remote_endpoint(
                &base,
                detail.remote_ip_details.as_ref(),
                None,
                mapped,
                changes,
            );
            Evidence {
                connection_info: Some(ConnectionInfo {
                    direction_id: 1,
                    direction: "Inbound",
                    protocol_name: None,
                }),
                src_endpoint: remote,
                dst_endpoint: local,
                ..Default::default()
            }
        })
        .collect()
}

/// `awsApiCallAction`: the call and its caller.
fn api_call_evidence(
    call: &AwsApiCallAction,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Evidence {
    let base = format!("{ACTION}/awsApiCallAction");
    let mut text = |name: &str, value: &Option<String>, path: &str| {
        let value = value.as_deref()?;
        mapped.take(format!("{base}/{name}"));
        Some(changes.name(path, value))
    };
    let api = text("api", &call.api, "api.operation").map(|operation| Api {
        operation,
        service: text("serviceName", &call.service_name, "api.service.name")
            .map(|name| ApiService { name }),
        response: text("errorCode", &call.error_code, "api.response.error")
            .map(|error| ApiResponse { error }),
    });
    let mut src_endpoint = remote_endpoint(
        &base,
        call.remote_ip_details.as_ref(),
        None,
        mapped,
        changes,
    );
    if let Some(domain) = call
        .domain_details
        .as_ref()
        .and_then(|d| d.domain.as_deref())
    {
        mapped.take(format!("{base}/domainDetails/domain"));
        src_endpoint.get_or_insert_with(Endpoint::default).domain =
            Some(changes.name("src_endpoint.domain", domain));
    }
    Evidence {
        api,
        src_endpoint,
        ..Default::default()
    }
}

/// `dnsRequestAction`: the name the instance asked for.
fn dns_evidence(
    dns: &DnsRequestAction,
    instance_uid: Option<&str>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Evidence {
    let query = dns.domain.as_deref().map(|domain| {
        mapped.take(format!("{ACTION}/dnsRequestAction/domain"));
        DnsQuery {
            hostname: changes.name("query.hostname", domain),
        }
    });
    Evidence {
        query,
        src_endpoint: instance_uid.map(|uid| Endpoint {
            instance_uid: Some(uid.to_owned()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// `kubernetesApiCallAction`: the verb and its caller.
fn kubernetes_evidence(
    call: &KubernetesApiCallAction,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Evidence {
    let base = format!("{ACTION}/kubernetesApiCallAction");
    let api = call.verb.as_deref().map(|verb| {
        mapped.take(format!("{base}/verb"));
        Api {
            operation: changes.name("api.operation", verb),
            service: None,
            response: None,
        }
    });
    let src_endpoint = remote_endpoint(
        &base,
        call.remote_ip_details.as_ref(),
        None,
        mapped,
        changes,
    );
    Evidence {
        api,
        src_endpoint,
        ..Default::default()
    }
}

/// Port and port name of `localPortDetails` / `remotePortDetails`.
fn port_into(
    endpoint: &mut Endpoint,
    pointer: &str,
    details: Option<&PortDetails>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) {
    let Some(details) = details else { return };
    if let Some(raw) = details.port
        && let Some(port) = changes.port(&source_field(&format!("{pointer}/port")), raw)
    {
        mapped.take(format!("{pointer}/port"));
        endpoint.port = Some(port);
    }
    if let Some(name) = &details.port_name {
        mapped.take(format!("{pointer}/portName"));
        endpoint.svc_name = Some(changes.name("svc_name", name));
    }
}

/// An address of `ipAddressV4` / `ipAddressV6` (the first present).
fn ip_of(
    pointer: &str,
    v4: &Option<String>,
    v6: &Option<String>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Option<String> {
    let (key, raw) = match (v4, v6) {
        (Some(raw), _) => ("ipAddressV4", raw),
        (None, Some(raw)) => ("ipAddressV6", raw),
        (None, None) => return None,
    };
    let path = format!("{pointer}/{key}");
    let ip = changes.ip(&source_field(&path), raw)?;
    mapped.take(path);
    Some(ip)
}

/// The instance's side of a connection or probe.
fn local_endpoint(
    base: &str,
    ip: Option<&IpDetails>,
    port: Option<&PortDetails>,
    instance_uid: Option<&str>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Option<Endpoint> {
    let mut endpoint = Endpoint {
        instance_uid: instance_uid.map(str::to_owned),
        ..Default::default()
    };
    if let Some(ip) = ip {
        endpoint.ip = ip_of(
            &format!("{base}/localIpDetails"),
            &ip.ip_address_v4,
            &ip.ip_address_v6,
            mapped,
            changes,
        );
    }
    port_into(
        &mut endpoint,
        &format!("{base}/localPortDetails"),
        port,
        mapped,
        changes,
    );
    (endpoint != Endpoint::default()).then_some(endpoint)
}

/// The other side: address, port, network owner and place.
fn remote_endpoint(
    base: &str,
    remote: Option<&RemoteIpDetails>,
    port: Option<&PortDetails>,
    mapped: &mut Mapped,
    changes: &mut Changes,
) -> Option<Endpoint> {
    let mut endpoint = Endpoint::default();
    if let Some(remote) = remote {
        let base = format!("{base}/remoteIpDetails");
        endpoint.ip = ip_of(
            &base,
            &remote.ip_address_v4,
            &remote.ip_address_v6,
            mapped,
            changes,
        );
        if let Some(organization) = &remote.organization {
            let base = format!("{base}/organization");
            // Only a real AS number: the sample findings say -1 or 0.
            let number = organization
                .asn
                .as_ref()
                .and_then(|asn| match asn {
                    Value::Number(n) => n.as_i64(),
                    Value::String(s) => s.trim().parse().ok(),
                    _ => None,
                })
                .filter(|n| (1..=i64::from(u32::MAX)).contains(n));
            if number.is_some() {
                mapped.take(format!("{base}/asn"));
            }
            let mut text = |name: &str, value: &Option<String>, path: &str| {
                let value = value.as_deref()?;
                mapped.take(format!("{base}/{name}"));
                Some(changes.name(path, value))
            };
            let name = text("asnOrg", &organization.asn_org, "autonomous_system.name");
            endpoint.isp = text("isp", &organization.isp, "isp");
            endpoint.isp_org = text("org", &organization.org, "isp_org");
            if number.is_some() || name.is_some() {
                endpoint.autonomous_system = Some(AutonomousSystem { number, name });
            }
        }
        let mut location = Location::default();
        if let Some(city) = remote.city.as_ref().and_then(|c| c.city_name.as_deref()) {
            mapped.take(format!("{base}/city/cityName"));
            location.city = Some(changes.name("location.city", city));
        }
        if let Some(code) = remote
            .country
            .as_ref()
            .and_then(|c| c.country_code.as_deref())
        {
            mapped.take(format!("{base}/country/countryCode"));
            location.country = Some(changes.name("location.country", code));
        }
        if let Some(geo) = &remote.geo_location
            && let (Some(lat), Some(lon)) = (geo.lat, geo.lon)
            && (-90.0..=90.0).contains(&lat)
            && (-180.0..=180.0).contains(&lon)
        {
            mapped.take(format!("{base}/geoLocation/lat"));
            mapped.take(format!("{base}/geoLocation/lon"));
            location.lat = Some(lat);
            location.long = Some(lon);
        }
        if location != Location::default() {
            endpoint.location = Some(location);
        }
    }
    let remote_port = format!("{base}/remotePortDetails");
    port_into(&mut endpoint, &remote_port, port, mapped, changes);
    (endpoint != Endpoint::default()).then_some(endpoint)
}

/// The values an analyst pivots on, each named by where it is in the record.
fn observables(resources: &[ResourceDetails], evidences: &[Evidence]) -> Vec<Observable> {
    let mut observables = Vec::new();
    for (i, resource) in resources.iter().enumerate() {
        observables.push(Observable::new(
            format!("resources[{i}].uid"),
            Observable::RESOURCE_UID,
            &resource.uid,
        ));
    }
    for (i, evidence) in evidences.iter().enumerate() {
        for (side, endpoint) in [
            ("src_endpoint", &evidence.src_endpoint),
            ("dst_endpoint", &evidence.dst_endpoint),
        ] {
            let Some(endpoint) = endpoint else { continue };
            if let Some(ip) = &endpoint.ip {
                observables.push(Observable::new(
                    format!("evidences[{i}].{side}.ip"),
                    Observable::IP_ADDRESS,
                    ip,
                ));
            }
            if let Some(port) = endpoint.port {
                observables.push(Observable::new(
                    format!("evidences[{i}].{side}.port"),
                    Observable::PORT,
                    port.to_string(),
                ));
            }
            if let Some(domain) = &endpoint.domain {
                observables.push(Observable::new(
                    format!("evidences[{i}].{side}.domain"),
                    Observable::HOSTNAME,
                    domain,
                ));
            }
        }
        if let Some(query) = &evidence.query {
            observables.push(Observable::new(
                format!("evidences[{i}].query.hostname"),
                Observable::HOSTNAME,
                &query.hostname,
            ));
        }
        if let Some(actor) = &evidence.actor {
            if let Some(name) = &actor.user.name {
                observables.push(Observable::new(
                    format!("evidences[{i}].actor.user.name"),
                    Observable::USER_NAME,
                    name,
                ));
            }
            if let Some(key) = &actor.user.credential_uid {
                observables.push(Observable::new(
                    format!("evidences[{i}].actor.user.credential_uid"),
                    Observable::USER_CREDENTIAL_ID,
                    key,
                ));
            }
        }
    }
    observables
}

/// The finding minus the attributes at `mapped` (JSON pointers). Then
/// `null`, empty objects and lists of nothing are left out (they say
/// nothing), except inside a list that keeps other entries: there an
/// emptied entry stays, so the others keep their positions.
fn residue(raw: &Value, mapped: &Mapped) -> Value {
    let mut out = raw.clone();
    for pointer in &mapped.0 {
        let Some((parent, key)) = pointer.rsplit_once('/') else {
            continue;
        };
        match out.pointer_mut(parent) {
            Some(Value::Object(map)) => {
                map.remove(key);
            }
            Some(Value::Array(items)) => {
                if let Some(item) = key.parse::<usize>().ok().and_then(|i| items.get_mut(i)) {
                    *item = Value::Null;
                }
            }
            _ => {}
        }
    }
    if prune(&mut out) {
        return Value::Object(Default::default());
    }
    out
}

/// Leaves out what says nothing; true when `value` itself says nothing.
fn prune(value: &mut Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(map) => {
            map.retain(|_, v| !prune(v));
            map.is_empty()
        }
        Value::Array(items) => {
            let mut all_empty = true;
            for item in items.iter_mut() {
                all_empty &= prune(item);
            }
            all_empty
        }
        _ => false,
    }
}

/// The limits every record keeps, on the residue: strings at
/// `DETAIL_STRING_BYTES`, lists at `LIST_ITEMS`.
fn cap_residue(value: &mut Value, path: &str, changes: &mut Changes) {
    match value {
        Value::String(text) => {
            if let Some(original) = cap_string(text, DETAIL_STRING_BYTES) {
                changes.input.truncated.push(Truncation {
                    field: crate::ids::truncate_for_message(path),
                    original_bytes: Some(original),
                    original_items: None,
                });
            }
        }
        Value::Array(items) => {
            changes.list(&crate::ids::truncate_for_message(path), items);
            for (i, item) in items.iter_mut().enumerate() {
                cap_residue(item, &format!("{path}[{i}]"), changes);
            }
        }
        Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                cap_residue(item, &format!("{path}.{key}"), changes);
            }
        }
        _ => {}
    }
}

fn dedup_in_order(values: &mut Vec<String>) {
    let mut seen = std::collections::BTreeSet::new();
    values.retain(|v| seen.insert(v.clone()));
}

/// Values that should have had a type and did not parse, found before the
/// mapping (the mapping adds the ones it meets): the instance's addresses.
pub fn unparsed_addresses(finding: &Finding) -> Vec<UnparsedValue> {
    let mut found = Vec::new();
    let Some(details) = &finding.resource.instance_details else {
        return found;
    };
    for (i, ni) in details.network_interfaces.iter().enumerate() {
        let field = |name: &str| format!("resource.instanceDetails.networkInterfaces[{i}].{name}");
        for (name, value) in [
            ("privateIpAddress", &ni.private_ip_address),
            ("publicIp", &ni.public_ip),
        ] {
            if let Some(raw) = value
                && parse_ip(raw).is_none()
            {
                found.push(unparsed(field(name), raw));
            }
        }
        for raw in ni.ipv6_addresses.iter().filter(|ip| parse_ip(ip).is_none()) {
            found.push(unparsed(field("ipv6Addresses"), raw));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_residue_is_what_was_not_mapped() {
        let raw = json!({
            "id": "a",
            "empty": {},
            "nothing": null,
            "list": [{"x": 1, "y": 2}, {"x": 3}],
            "kept": {"deep": {"x": 4, "y": ""}},
        });
        let mut mapped = Mapped::default();
        for pointer in ["/id", "/list/1/x", "/list/0/y", "/kept/deep/x", "/absent/x"] {
            mapped.take(pointer);
        }
        assert_eq!(
            residue(&raw, &mapped),
            // The emptied entry stays, so every entry keeps its position;
            // an empty string is a value, kept.
            json!({"list": [{"x": 1}, {}], "kept": {"deep": {"y": ""}}})
        );
        let mut all = Mapped::default();
        all.take("/id");
        assert_eq!(residue(&json!({"id": 1}), &all), json!({}));
    }

    #[test]
    fn source_fields_read_like_record_paths() {
        assert_eq!(
            source_field(
                "/service/action/portProbeAction/portProbeDetails/3/localPortDetails/port"
            ),
            "service.action.portProbeAction.portProbeDetails[3].localPortDetails.port"
        );
        assert_eq!(source_field("/createdAt"), "createdAt");
    }
}
