//! The latest state of each finding, as `summary` and `report` read it,
//! from the archive (the newest version of each finding) or from the
//! latest-state index, and the counts both commands show.
//!
//! Open means someone still has to act: OCSF `status_id` is not 3
//! Suppressed (an Inspector2 finding a suppression rule hides: the risk was
//! accepted), 4 Resolved (an Inspector2 finding CLOSED), 5 Archived (a
//! GuardDuty finding archived) or 6 Deleted. New (1), In Progress (2),
//! Unknown (0) and Other (99) are open (docs/schema.md, Status). The
//! dashboards filter on the same list.

use std::collections::{BTreeMap, HashMap};

use fanin::normalize::FindingClass;
use serde::Serialize;
use serde_json::{Value, json};

use crate::archive::ArchivedVersion;
use crate::search::{Search, latest_index};

/// `status_id`s of a finding that is not open.
pub const CLOSED_STATUS_IDS: [u64; 4] = [3, 4, 5, 6];

/// What the commands show of one finding.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub class_uid: u32,
    pub finding_uid: String,
    pub account: String,
    pub region: String,
    pub severity_id: u64,
    /// `metadata.product.name` (`Inspector`, `Inspector Classic`,
    /// `GuardDuty`), else `unknown`.
    pub source: String,
    pub open: bool,
    pub title: String,
    /// Inspector's score, else the highest CVSS base score, else GuardDuty's
    /// severity number.
    pub score: Option<f64>,
    /// The resource: `device.uid`, else the first `resources[].uid`.
    pub resource: String,
    pub internet_exposed: bool,
    /// `unmapped.fanin.network.internet_open_ports[]` as `tcp 22` or
    /// `tcp 8000-8080`, deduplicated.
    pub open_ports: Vec<String>,
    pub time: i64,
}

impl Finding {
    /// Reads the fields from an OCSF document (pure; absent values are empty).
    pub fn from_document(document: &Value) -> Self {
        let text = |pointer: &str| {
            document
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let number = |pointer: &str| document.pointer(pointer).and_then(Value::as_f64);
        let cvss_max = document
            .get("vulnerabilities")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .flat_map(|v| {
                v.pointer("/cve/cvss")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
            })
            .filter_map(|c| c.get("base_score").and_then(Value::as_f64))
            .reduce(f64::max);
        let score = number("/unmapped/fanin/details/inspector_score")
            .or(cvss_max)
            .or_else(|| number("/unmapped/guardduty/severity"));
        let status_id = document.get("status_id").and_then(Value::as_u64);
        let resource = Some(text("/device/uid"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| text("/resources/0/uid"));
        let network = document.pointer("/unmapped/fanin/network");
        let mut open_ports: Vec<String> = network
            .and_then(|n| n.get("internet_open_ports"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(port_label)
            .collect();
        open_ports.sort();
        open_ports.dedup();
        let source = Some(text("/metadata/product/name"))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "unknown".to_owned());
        Self {
            class_uid: document
                .get("class_uid")
                .and_then(Value::as_u64)
                .unwrap_or(0) as u32,
            finding_uid: text("/finding_info/uid"),
            account: text("/cloud/account/uid"),
            region: text("/cloud/region"),
            severity_id: document
                .get("severity_id")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            source,
            open: !status_id.is_some_and(|s| CLOSED_STATUS_IDS.contains(&s)),
            title: Some(text("/finding_info/title"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| text("/vulnerabilities/0/title")),
            score,
            resource,
            internet_exposed: network
                .and_then(|n| n.get("internet_exposed"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            open_ports,
            time: document.get("time").and_then(Value::as_i64).unwrap_or(0),
        }
    }

    pub fn is_critical_or_high(&self) -> bool {
        matches!(self.severity_id, 4 | 5)
    }
}

fn port_label(port: &Value) -> String {
    let protocol = port.get("protocol").and_then(Value::as_str).unwrap_or("?");
    let from = port.get("from_port").and_then(Value::as_i64);
    let to = port.get("to_port").and_then(Value::as_i64);
    match (from, to) {
        (Some(from), Some(to)) if from == to => format!("{protocol} {from}"),
        (Some(from), Some(to)) => format!("{protocol} {from}-{to}"),
        _ => format!("{protocol} all"),
    }
}

/// The severity's name by `severity_id` (OCSF), never the document's text.
pub fn severity_name(severity_id: u64) -> &'static str {
    match severity_id {
        1 => "Informational",
        2 => "Low",
        3 => "Medium",
        4 => "High",
        5 => "Critical",
        6 => "Fatal",
        99 => "Other",
        _ => "Unknown",
    }
}

/// The newest version of each finding in the archive (pure): the highest
/// external version per (class, finding id), as the index keeps it.
pub fn latest_from_archive(versions: &[ArchivedVersion]) -> Vec<Finding> {
    let mut newest: HashMap<(FindingClass, &str), &ArchivedVersion> = HashMap::new();
    for version in versions {
        newest
            .entry((version.class, version.finding_uid.as_str()))
            .and_modify(|kept| {
                if version.version > kept.version {
                    *kept = version;
                }
            })
            .or_insert(version);
    }
    let mut findings: Vec<Finding> = newest
        .values()
        .map(|v| Finding::from_document(&v.document))
        .collect();
    findings.sort_by(|a, b| a.finding_uid.cmp(&b.finding_uid));
    findings
}

/// Counts of open findings, as both commands show them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// Findings in the latest state, open or not.
    pub findings: u64,
    pub open: u64,
    /// Open findings by severity name, account, region and source.
    pub by_severity: BTreeMap<String, u64>,
    pub by_account: BTreeMap<String, u64>,
    pub by_region: BTreeMap<String, u64>,
    pub by_source: BTreeMap<String, u64>,
}

impl Tally {
    /// Counts findings (pure).
    pub fn of(findings: &[Finding]) -> Self {
        let mut tally = Self {
            findings: findings.len() as u64,
            ..Self::default()
        };
        for finding in findings.iter().filter(|f| f.open) {
            tally.open += 1;
            *tally
                .by_severity
                .entry(severity_name(finding.severity_id).to_owned())
                .or_default() += 1;
            *tally
                .by_account
                .entry(or_unknown(&finding.account))
                .or_default() += 1;
            *tally
                .by_region
                .entry(or_unknown(&finding.region))
                .or_default() += 1;
            *tally.by_source.entry(finding.source.clone()).or_default() += 1;
        }
        tally
    }

    /// Adds another index's counts.
    fn merge(&mut self, other: Tally) {
        self.findings += other.findings;
        self.open += other.open;
        for (mine, theirs) in [
            (&mut self.by_severity, other.by_severity),
            (&mut self.by_account, other.by_account),
            (&mut self.by_region, other.by_region),
            (&mut self.by_source, other.by_source),
        ] {
            for (key, count) in theirs {
                *mine.entry(key).or_default() += count;
            }
        }
    }
}

fn or_unknown(value: &str) -> String {
    if value.is_empty() {
        "unknown".to_owned()
    } else {
        value.to_owned()
    }
}

/// The classes whose latest-state index the commands read.
const CLASSES: [FindingClass; 3] = FindingClass::ALL;

/// The aggregation query of one latest-state index.
pub fn tally_query() -> Value {
    let terms = |field: &str| json!({"terms": {"field": field, "size": 10_000}});
    json!({
        "size": 0,
        "track_total_hits": true,
        "aggs": {
            "open": {
                "filter": {"bool": {"must_not": [{"terms": {"status_id": CLOSED_STATUS_IDS}}]}},
                "aggs": {
                    "severity": terms("severity_id"),
                    "account": terms("cloud.account.uid"),
                    "region": terms("cloud.region"),
                    "source": terms("metadata.product.name"),
                }
            }
        }
    })
}

/// Reads [`tally_query`]'s answer (pure). Documents missing a field are
/// counted as `unknown`, the difference between the open count and the
/// buckets.
pub fn tally_from_answer(answer: &Value) -> anyhow::Result<Tally> {
    let findings = answer
        .pointer("/hits/total/value")
        .or_else(|| answer.pointer("/hits/total"))
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow::anyhow!("the search answer has no hits.total"))?;
    let open = answer
        .pointer("/aggregations/open/doc_count")
        .and_then(Value::as_u64)
        .ok_or_else(|| anyhow::anyhow!("the search answer has no open count"))?;
    let buckets = |name: &str, label: &dyn Fn(&Value) -> String| -> BTreeMap<String, u64> {
        let mut counts = BTreeMap::new();
        let mut seen = 0;
        for bucket in answer
            .pointer(&format!("/aggregations/open/{name}/buckets"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let count = bucket.get("doc_count").and_then(Value::as_u64).unwrap_or(0);
            seen += count;
            *counts
                .entry(label(bucket.get("key").unwrap_or(&Value::Null)))
                .or_default() += count;
        }
        if open > seen {
            *counts.entry("unknown".to_owned()).or_default() += open - seen;
        }
        counts
    };
    let text = |key: &Value| match key {
        Value::String(s) if !s.is_empty() => s.clone(),
        _ => "unknown".to_owned(),
    };
    Ok(Tally {
        findings,
        open,
        by_severity: buckets("severity", &|key| {
            severity_name(key.as_u64().unwrap_or(0)).to_owned()
        }),
        by_account: buckets("account", &text),
        by_region: buckets("region", &text),
        by_source: buckets("source", &text),
    })
}

/// The counts of every latest-state index (aggregations).
pub async fn tally_from_index(search: &Search) -> anyhow::Result<Tally> {
    let mut tally = Tally::default();
    for class in CLASSES {
        let index = latest_index(&search.prefix, class);
        if search.count(&index).await? == 0 {
            continue;
        }
        let answer = search.search(&index, &tally_query()).await?;
        tally.merge(tally_from_answer(&answer)?);
    }
    Ok(tally)
}

/// Every document of every latest-state index, page by page.
pub async fn findings_from_index(search: &Search) -> anyhow::Result<Vec<Finding>> {
    const PAGE: usize = 1_000;
    let mut findings = Vec::new();
    for class in CLASSES {
        let index = latest_index(&search.prefix, class);
        if search.count(&index).await? == 0 {
            continue;
        }
        let mut after: Option<Value> = None;
        loop {
            let mut query = json!({"size": PAGE, "sort": [{"finding_info.uid": "asc"}]});
            if let Some(after) = &after {
                query["search_after"] = after.clone();
            }
            let answer = search.search(&index, &query).await?;
            let hits = answer
                .pointer("/hits/hits")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            for hit in &hits {
                if let Some(source) = hit.get("_source") {
                    findings.push(Finding::from_document(source));
                }
            }
            if hits.len() < PAGE {
                break;
            }
            after = hits.last().and_then(|h| h.get("sort")).cloned();
            if after.is_none() {
                anyhow::bail!("{index} answered a full page without sort values");
            }
        }
    }
    findings.sort_by(|a, b| a.finding_uid.cmp(&b.finding_uid));
    Ok(findings)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document(uid: &str, time: i64, status_id: u64, severity_id: u64) -> Value {
        json!({
            "class_uid": 2002, "time": time, "status_id": status_id, "severity_id": severity_id,
            "finding_info": {"uid": uid, "title": format!("title of {uid}")},
            "metadata": {"uid": format!("{uid}-{time}"), "product": {"name": "Inspector"}},
            "cloud": {"account": {"uid": "111111111111"}, "region": "eu-west-1"},
            "unmapped": {"fanin": {"source": "inspector2", "network": {
                "internet_exposed": true,
                "internet_open_ports": [
                    {"protocol": "tcp", "from_port": 22, "to_port": 22},
                    {"protocol": "tcp", "from_port": 22, "to_port": 22},
                    {"protocol": "tcp", "from_port": 8000, "to_port": 8080}]}}},
            "vulnerabilities": [{"cve": {"cvss": [{"base_score": 7.5}, {"base_score": 9.8}]}}],
        })
    }

    fn archived(document: &Value) -> ArchivedVersion {
        ArchivedVersion::parse(&document.to_string()).unwrap()
    }

    #[test]
    fn the_newest_version_of_each_finding_counts() {
        let versions = [
            archived(&document("arn:a", 2, 4, 5)),
            archived(&document("arn:a", 1, 1, 5)),
            archived(&document("arn:b", 1, 1, 4)),
        ];
        let findings = latest_from_archive(&versions);
        assert_eq!(findings.len(), 2);
        assert!(!findings[0].open, "arn:a was closed by its newest version");
        let tally = Tally::of(&findings);
        assert_eq!((tally.findings, tally.open), (2, 1));
        assert_eq!(tally.by_severity, BTreeMap::from([("High".to_owned(), 1)]));
        assert_eq!(
            tally.by_source,
            BTreeMap::from([("Inspector".to_owned(), 1)])
        );
    }

    #[test]
    fn a_document_reads_into_what_the_report_shows() {
        let finding = Finding::from_document(&document("arn:a", 1, 1, 5));
        assert_eq!(finding.score, Some(9.8));
        assert!(finding.internet_exposed);
        assert_eq!(finding.open_ports, ["tcp 22", "tcp 8000-8080"]);
        assert_eq!(finding.title, "title of arn:a");
    }

    #[test]
    fn aggregations_read_into_the_same_tally() {
        let answer = json!({
            "hits": {"total": {"value": 3}},
            "aggregations": {"open": {"doc_count": 2,
                "severity": {"buckets": [{"key": 5, "doc_count": 2}]},
                "account": {"buckets": [{"key": "111111111111", "doc_count": 2}]},
                "region": {"buckets": [{"key": "eu-west-1", "doc_count": 1}]},
                "source": {"buckets": [{"key": "Inspector", "doc_count": 2}]}}}
        });
        let tally = tally_from_answer(&answer).unwrap();
        assert_eq!((tally.findings, tally.open), (3, 2));
        assert_eq!(
            tally.by_severity,
            BTreeMap::from([("Critical".to_owned(), 2)])
        );
        assert_eq!(
            tally.by_region,
            BTreeMap::from([("eu-west-1".to_owned(), 1), ("unknown".to_owned(), 1)])
        );
        assert!(tally_from_answer(&json!({})).is_err());
    }
}
