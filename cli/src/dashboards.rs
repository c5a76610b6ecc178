//! The OpenSearch Dashboards saved objects fanin ships: index patterns and
//! the dashboards an analyst opens first (open findings, internet exposure
//! with the unused-exposure findings, pipeline health, network traffic from
//! the VPC Flow Log aggregates, least privilege from CloudTrail), built for
//! an index prefix.
//!
//! The format is Kibana 7.10's, which OpenSearch Dashboards 1.x, 2.x and 3.x
//! import unchanged: `cli/saved-objects/fanin.ndjson` is [`saved_objects`] for
//! the default prefix, for import by hand; `fanin install` imports the
//! objects for the deployment's prefix.
//!
//! Every panel restricts its data with filters written as query DSL (not
//! KQL), so the query behind a panel is exactly the filters plus the
//! aggregations of its `visState`: the tests run that query against the
//! index and compare it with the archive.
//!
//! Latest-state patterns have no time field: a finding opened a year ago and
//! still open belongs on the overview whatever the time picker says. The
//! history and quarantine patterns are time-based (`time`), the flows
//! pattern by the aggregate's hour (`hour`). Flow panels sum bytes or flows
//! over the hourly aggregates of each bucket. The CloudTrail usage pattern
//! (`<prefix>-iam-usage*`, one document per principal, action and trail
//! object) has no time field: its denied attempts are summed over
//! everything kept.

use anyhow::{Context, bail};
use fanin::search::transport::{Method, SearchTransport};
use http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use serde_json::{Value, json};

use crate::findings::CLOSED_STATUS_IDS;

/// Kibana 7.10 migration versions of each type: objects at these versions
/// import into OpenSearch Dashboards without migration surprises.
const MIGRATION_VERSIONS: [(&str, &str); 3] = [
    ("index-pattern", "7.6.0"),
    ("visualization", "7.10.0"),
    ("dashboard", "7.9.3"),
];

/// The index patterns, by saved-object id: (id, title suffix after the
/// prefix, time field).
const PATTERNS: [(&str, &str, Option<&str>); 8] = [
    ("fanin-findings", "findings", None),
    ("fanin-all-findings", "findings,{prefix}-detections", None),
    ("fanin-detections", "detections", None),
    ("fanin-findings-history", "findings-history*", Some("time")),
    ("fanin-quarantine", "quarantine", Some("time")),
    ("fanin-compliance", "compliance", None),
    ("fanin-flows", "flows*", Some("hour")),
    ("fanin-iam-usage", "iam-usage*", None),
];

/// How a visualization draws its buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chart {
    Metric,
    Pie,
    Bar,
    Line,
    Table,
}

/// One bucket aggregation of a panel, in order: the first splits the x axis
/// (or the slices, or the rows), the next ones split series or rows further.
#[derive(Debug, Clone, Copy)]
enum Bucket {
    Terms {
        field: &'static str,
        size: u32,
        label: &'static str,
    },
    Daily {
        field: &'static str,
    },
}

/// A filter every document of a panel passes, as query DSL.
#[derive(Debug, Clone)]
struct Filter {
    alias: &'static str,
    query: Value,
}

#[derive(Debug, Clone)]
struct Panel {
    id: &'static str,
    title: &'static str,
    pattern: &'static str,
    chart: Chart,
    filters: Vec<Filter>,
    buckets: Vec<Bucket>,
    /// The field each bucket sums (`None`: the bucket counts documents).
    sum: Option<&'static str>,
}

fn open() -> Filter {
    Filter {
        alias: "open (not suppressed, resolved, archived or deleted)",
        query: json!({"bool": {"must_not": [{"terms": {"status_id": CLOSED_STATUS_IDS}}]}}),
    }
}

fn critical_or_high() -> Filter {
    Filter {
        alias: "critical or high",
        query: json!({"terms": {"severity_id": [4, 5]}}),
    }
}

fn internet_exposed() -> Filter {
    Filter {
        alias: "reachable from the internet",
        query: json!({"term": {"unmapped.fanin.network.internet_exposed": true}}),
    }
}

fn fix_available() -> Filter {
    Filter {
        alias: "fix available",
        query: json!({"terms": {"vulnerabilities.fix_coverage_id": [1, 2]}}),
    }
}

fn internet_open_port() -> Filter {
    Filter {
        alias: "a security group opens a port to the internet",
        query: json!({"exists": {"field": "unmapped.fanin.network.internet_open_ports.from_port"}}),
    }
}

fn traffic() -> Filter {
    Filter {
        alias: "traffic aggregates (not coverage)",
        query: json!({"term": {"kind": "traffic"}}),
    }
}

fn inbound() -> Filter {
    Filter {
        alias: "inbound",
        query: json!({"term": {"direction": "ingress"}}),
    }
}

fn rejected() -> Filter {
    Filter {
        alias: "rejected",
        query: json!({"term": {"action": "REJECT"}}),
    }
}

fn unused_exposure() -> Filter {
    Filter {
        alias: "an internet-open rule judged against the flow logs",
        query: json!({"exists": {"field": "unmapped.exposure.state"}}),
    }
}

fn least_privilege() -> Filter {
    Filter {
        alias: "a principal's grants judged against its CloudTrail usage",
        query: json!({"exists": {"field": "unmapped.privileges.state"}}),
    }
}

fn roles() -> Filter {
    Filter {
        alias: "IAM roles",
        query: json!({"term": {"unmapped.privileges.principal_kind": "role"}}),
    }
}

fn denied() -> Filter {
    Filter {
        alias: "denied at least once",
        query: json!({"bool": {"must_not": [{"term": {"denied": 0}}]}}),
    }
}

const fn terms(field: &'static str, size: u32, label: &'static str) -> Bucket {
    Bucket::Terms { field, size, label }
}

fn panels() -> Vec<Panel> {
    use Chart::*;
    let panel = |id, title, pattern, chart, filters, buckets| Panel {
        id,
        title,
        pattern,
        chart,
        filters,
        buckets,
        sum: None,
    };
    let mut panels = vec![
        panel(
            "fanin-open-total",
            "Open findings",
            "fanin-all-findings",
            Metric,
            vec![open()],
            vec![],
        ),
        panel(
            "fanin-open-by-severity",
            "Open findings by severity",
            "fanin-all-findings",
            Pie,
            vec![open()],
            vec![terms("severity", 10, "Severity")],
        ),
        panel(
            "fanin-open-by-source",
            "Open findings by source",
            "fanin-all-findings",
            Pie,
            vec![open()],
            vec![terms("unmapped.fanin.source", 10, "Source")],
        ),
        panel(
            "fanin-open-by-account",
            "Open findings by account and severity",
            "fanin-all-findings",
            Bar,
            vec![open()],
            vec![
                terms("cloud.account.uid", 50, "Account"),
                terms("severity", 10, "Severity"),
            ],
        ),
        panel(
            "fanin-open-by-region",
            "Open findings by region",
            "fanin-all-findings",
            Table,
            vec![open()],
            vec![terms("cloud.region", 50, "Region")],
        ),
        panel(
            "fanin-trend",
            "Finding updates per day by severity (history)",
            "fanin-findings-history",
            Line,
            vec![],
            vec![
                Bucket::Daily { field: "time" },
                terms("severity", 10, "Severity"),
            ],
        ),
        panel(
            "fanin-top-cves",
            "Top CVEs with a fix available",
            "fanin-findings",
            Table,
            vec![open(), fix_available()],
            vec![terms("vulnerabilities.cve.uid", 20, "CVE")],
        ),
        panel(
            "fanin-top-packages",
            "Top packages with a fix available",
            "fanin-findings",
            Table,
            vec![open(), fix_available()],
            vec![terms(
                "vulnerabilities.affected_packages.name",
                20,
                "Package",
            )],
        ),
        panel(
            "fanin-attention",
            "Instances needing attention: critical or high, reachable from the internet",
            "fanin-findings",
            Table,
            vec![open(), critical_or_high(), internet_exposed()],
            vec![
                terms("unmapped.fanin.instance.id", 50, "Instance"),
                terms(
                    "unmapped.fanin.network.internet_open_ports.from_port",
                    20,
                    "Open port (from)",
                ),
            ],
        ),
        panel(
            "fanin-open-ports",
            "Internet-open ports by account and VPC",
            "fanin-findings",
            Table,
            vec![open(), internet_open_port()],
            vec![
                terms("cloud.account.uid", 50, "Account"),
                terms("unmapped.fanin.network.vpc_id", 50, "VPC"),
                terms(
                    "unmapped.fanin.network.internet_open_ports.from_port",
                    50,
                    "Open port (from)",
                ),
            ],
        ),
        panel(
            "fanin-enrichment-status",
            "Enrichment status",
            "fanin-all-findings",
            Pie,
            vec![],
            vec![terms("unmapped.fanin.enrichment.status", 10, "Enrichment")],
        ),
        panel(
            "fanin-quarantine-by-reason",
            "Quarantined messages by reason",
            "fanin-quarantine",
            Table,
            vec![],
            vec![terms("reason", 30, "Reason"), terms("source", 10, "Source")],
        ),
        panel(
            "fanin-quarantine-per-day",
            "Quarantined messages per day",
            "fanin-quarantine",
            Bar,
            vec![],
            vec![
                Bucket::Daily { field: "time" },
                terms("reason", 10, "Reason"),
            ],
        ),
        panel(
            "fanin-exposure-findings",
            "Internet-open rules measured against flow logs, by state and severity",
            "fanin-compliance",
            Table,
            vec![open(), unused_exposure()],
            vec![
                terms("unmapped.exposure.state", 10, "Usage"),
                terms("severity", 10, "Severity"),
                terms("unmapped.exposure.group_id", 50, "Security group"),
            ],
        ),
    ];
    // Flow-log aggregates: each bucket sums the bytes (or flows) of the
    // hourly aggregates in it.
    let flows = |id, title, chart, filters, buckets, sum| Panel {
        id,
        title,
        pattern: "fanin-flows",
        chart,
        filters,
        buckets,
        sum: Some(sum),
    };
    panels.extend([
        flows(
            "fanin-flows-by-interface",
            "Bytes by network interface",
            Table,
            vec![traffic()],
            vec![
                terms("interface_id", 50, "Interface"),
                terms("direction", 2, "Direction"),
            ],
            "bytes",
        ),
        flows(
            "fanin-flows-by-port",
            "Inbound flows by destination port",
            Bar,
            vec![traffic(), inbound()],
            vec![
                terms("dst_port", 30, "Destination port"),
                terms("action", 2, "Action"),
            ],
            "flows",
        ),
        flows(
            "fanin-flows-by-source-class",
            "Bytes by source (internet, same VPC, peered, private)",
            Pie,
            vec![traffic()],
            vec![terms("source_class", 4, "Source")],
            "bytes",
        ),
        flows(
            "fanin-flows-accepted-rejected",
            "Flows accepted and rejected per day",
            Bar,
            vec![traffic()],
            vec![
                Bucket::Daily { field: "hour" },
                terms("action", 2, "Action"),
            ],
            "flows",
        ),
        flows(
            "fanin-flows-rejected-ports",
            "Rejected inbound flows by port (scanning)",
            Table,
            vec![traffic(), inbound(), rejected()],
            vec![
                terms("dst_port", 30, "Destination port"),
                terms("protocol", 5, "Protocol"),
            ],
            "flows",
        ),
    ]);
    // Least privilege: the 2003 findings of each judged principal (open:
    // granted actions unused), and the usage documents of the trail.
    panels.extend([
        Panel {
            id: "fanin-privileges-by-unused",
            title: "Principals by unused permissions (granted, not used in the window)",
            pattern: "fanin-compliance",
            chart: Table,
            filters: vec![open(), least_privilege()],
            buckets: vec![
                terms("unmapped.privileges.principal_arn", 50, "Principal"),
                terms("severity", 6, "Severity"),
            ],
            sum: Some("unmapped.privileges.unused_count"),
        },
        Panel {
            id: "fanin-privileges-roles-by-account",
            title: "Most over-privileged roles per account (unused actions)",
            pattern: "fanin-compliance",
            chart: Table,
            filters: vec![open(), least_privilege(), roles()],
            buckets: vec![
                terms("cloud.account.uid", 20, "Account"),
                terms("unmapped.privileges.principal_name", 10, "Role"),
            ],
            sum: Some("unmapped.privileges.unused_count"),
        },
        Panel {
            id: "fanin-privileges-denied",
            title: "Denied attempts by principal and action (CloudTrail)",
            pattern: "fanin-iam-usage",
            chart: Table,
            filters: vec![denied()],
            buckets: vec![
                terms("principal_arn", 30, "Principal"),
                terms("action", 30, "Action"),
            ],
            sum: Some("denied"),
        },
    ]);
    panels
}

/// A dashboard: its panels, and the time range it restores (`now-...` to
/// `now`) when its panels read a time-based pattern.
struct Board {
    id: &'static str,
    title: &'static str,
    description: &'static str,
    panels: &'static [&'static str],
    time_from: Option<&'static str>,
}

const DASHBOARDS: [Board; 5] = [
    Board {
        id: "fanin-overview",
        title: "fanin: open findings",
        description: "Open findings by severity, source, account and region; the trend from the history index; \
         the CVEs and packages with a fix available.",
        panels: &[
            "fanin-open-total",
            "fanin-open-by-severity",
            "fanin-open-by-source",
            "fanin-open-by-account",
            "fanin-open-by-region",
            "fanin-trend",
            "fanin-top-cves",
            "fanin-top-packages",
        ],
        time_from: Some("now-30d"),
    },
    Board {
        id: "fanin-exposure",
        title: "fanin: internet exposure",
        description: "Instances with critical or high findings reachable from the internet through a security \
         group, and the ports security groups open to the internet, by account and VPC.",
        panels: &[
            "fanin-attention",
            "fanin-open-ports",
            "fanin-exposure-findings",
        ],
        time_from: None,
    },
    Board {
        id: "fanin-pipeline-health",
        title: "fanin: pipeline health",
        description: "How enrichment went for each stored finding, and the messages set aside in quarantine/ \
         by reason (replay them with `fanin redrive`).",
        panels: &[
            "fanin-enrichment-status",
            "fanin-quarantine-by-reason",
            "fanin-quarantine-per-day",
        ],
        time_from: Some("now-7d"),
    },
    Board {
        id: "fanin-network-traffic",
        title: "fanin — network traffic (VPC Flow Logs)",
        description: "Hourly VPC Flow Log aggregates: traffic by interface, destination port and source, \
         accepted against rejected, and the rejected ports being scanned.",
        panels: &[
            "fanin-flows-by-interface",
            "fanin-flows-by-port",
            "fanin-flows-by-source-class",
            "fanin-flows-accepted-rejected",
            "fanin-flows-rejected-ports",
        ],
        time_from: Some("now-14d"),
    },
    Board {
        id: "fanin-least-privilege",
        title: "fanin — least privilege (CloudTrail)",
        description: "Users and roles by the actions they are granted and did not use in the window (OCSF 2003 \
         findings; roles assumable from outside the organization rank first), the most over-privileged roles \
         of each account, and the calls CloudTrail recorded as denied. `fanin privileges --principal <arn>` \
         prints one principal's report and suggested policy.",
        panels: &[
            "fanin-privileges-by-unused",
            "fanin-privileges-roles-by-account",
            "fanin-privileges-denied",
        ],
        time_from: None,
    },
];

/// Every saved object for indices named `<prefix>-...`: index patterns
/// first, then visualizations, then dashboards (an import resolves
/// references in any order, a reader of the file reads top down).
pub fn saved_objects(prefix: &str) -> Vec<Value> {
    let mut objects: Vec<Value> = PATTERNS
        .iter()
        .map(|(id, suffix, time_field)| {
            let mut attributes = json!({
                "title": format!("{prefix}-{}", suffix.replace("{prefix}", prefix)),
            });
            if let Some(field) = time_field {
                attributes["timeFieldName"] = json!(field);
            }
            object("index-pattern", id, attributes, vec![])
        })
        .collect();
    let panels = panels();
    objects.extend(panels.iter().map(visualization));
    objects.extend(DASHBOARDS.iter().map(|board| dashboard(board, &panels)));
    objects
}

/// One object per line, as the import API and the Dashboards UI take them.
pub fn ndjson(objects: &[Value]) -> String {
    objects.iter().map(|object| format!("{object}\n")).collect()
}

fn object(kind: &str, id: &str, attributes: Value, references: Vec<Value>) -> Value {
    let version = MIGRATION_VERSIONS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, v)| *v)
        .expect("every type has a migration version");
    json!({
        "id": id,
        "type": kind,
        "attributes": attributes,
        "references": references,
        "migrationVersion": {kind: version},
    })
}

fn reference(name: &str, kind: &str, id: &str) -> Value {
    json!({"name": name, "type": kind, "id": id})
}

fn visualization(panel: &Panel) -> Value {
    let mut aggs = vec![match panel.sum {
        None => json!({
            "id": "1", "enabled": true, "type": "count", "schema": "metric", "params": {},
        }),
        Some(field) => json!({
            "id": "1", "enabled": true, "type": "sum", "schema": "metric",
            "params": {"field": field},
        }),
    }];
    for (position, bucket) in panel.buckets.iter().enumerate() {
        let schema = match (panel.chart, position) {
            (Chart::Table, _) => "bucket",
            (Chart::Pie, 0) | (Chart::Bar | Chart::Line, 0) => "segment",
            (Chart::Pie, _) => "split",
            _ => "group",
        };
        let (kind, params) = match *bucket {
            Bucket::Terms { field, size, label } => (
                "terms",
                json!({
                    "field": field, "size": size, "order": "desc", "orderBy": "1",
                    "otherBucket": false, "missingBucket": false, "customLabel": label,
                }),
            ),
            Bucket::Daily { field } => (
                "date_histogram",
                json!({
                    "field": field, "interval": "d", "min_doc_count": 1,
                    "extended_bounds": {}, "customLabel": "Day",
                }),
            ),
        };
        aggs.push(json!({
            "id": (position + 2).to_string(), "enabled": true, "type": kind,
            "schema": schema, "params": params,
        }));
    }
    let params = match panel.chart {
        Chart::Metric => json!({"type": "metric", "addTooltip": true, "addLegend": false}),
        Chart::Pie => json!({
            "type": "pie", "addTooltip": true, "addLegend": true, "legendPosition": "right",
            "isDonut": true, "labels": {"show": true, "values": true, "last_level": true, "truncate": 100},
        }),
        Chart::Bar => {
            json!({"type": "histogram", "addTooltip": true, "addLegend": true, "legendPosition": "right"})
        }
        Chart::Line => {
            json!({"type": "line", "addTooltip": true, "addLegend": true, "legendPosition": "right"})
        }
        Chart::Table => json!({
            "perPage": 20, "showPartialRows": false, "showMetricsAtAllLevels": false,
            "showTotal": false, "totalFunc": "sum", "percentageCol": "",
        }),
    };
    let kind = match panel.chart {
        Chart::Metric => "metric",
        Chart::Pie => "pie",
        Chart::Bar => "histogram",
        Chart::Line => "line",
        Chart::Table => "table",
    };
    let vis_state = json!({"title": panel.title, "type": kind, "params": params, "aggs": aggs});
    let mut references = vec![reference(
        "kibanaSavedObjectMeta.searchSourceJSON.index",
        "index-pattern",
        panel.pattern,
    )];
    let filters: Vec<Value> = panel
        .filters
        .iter()
        .enumerate()
        .map(|(position, filter)| {
            let name =
                format!("kibanaSavedObjectMeta.searchSourceJSON.filter[{position}].meta.index");
            references.push(reference(&name, "index-pattern", panel.pattern));
            json!({
                "meta": {
                    "alias": filter.alias, "negate": false, "disabled": false, "type": "custom",
                    "key": "query", "value": filter.query.to_string(), "indexRefName": name,
                },
                "query": filter.query,
                "$state": {"store": "appState"},
            })
        })
        .collect();
    let search_source = json!({
        "query": {"query": "", "language": "kuery"},
        "filter": filters,
        "indexRefName": "kibanaSavedObjectMeta.searchSourceJSON.index",
    });
    object(
        "visualization",
        panel.id,
        json!({
            "title": panel.title,
            "description": "",
            "version": 1,
            "visState": vis_state.to_string(),
            "uiStateJSON": "{}",
            "kibanaSavedObjectMeta": {"searchSourceJSON": search_source.to_string()},
        }),
        references,
    )
}

fn dashboard(board: &Board, panels: &[Panel]) -> Value {
    let Board {
        id,
        title,
        description,
        panels: ids,
        time_from,
    } = *board;
    // A 48-column grid, two panels a row; metrics and pies are half width.
    let mut grid = Vec::new();
    let mut references = Vec::new();
    for (position, panel_id) in ids.iter().enumerate() {
        let panel = panels
            .iter()
            .find(|p| p.id == *panel_id)
            .expect("a dashboard lists only defined panels");
        let wide = matches!(panel.chart, Chart::Line) || panel.buckets.len() > 1;
        let (x, w) = if wide {
            (0, 48)
        } else {
            ((position % 2) * 24, 24)
        };
        let name = format!("panel_{position}");
        grid.push(json!({
            "version": "7.10.2",
            "gridData": {"x": x, "y": position * 15, "w": w, "h": 15, "i": (position + 1).to_string()},
            "panelIndex": (position + 1).to_string(),
            "embeddableConfig": {},
            "panelRefName": name,
        }));
        references.push(reference(&name, "visualization", panel_id));
    }
    let mut attributes = json!({
        "title": title,
        "description": description,
        "version": 1,
        "panelsJSON": Value::Array(grid).to_string(),
        "optionsJSON": json!({"useMargins": true, "hidePanelTitles": false}).to_string(),
        "timeRestore": time_from.is_some(),
        "kibanaSavedObjectMeta": {
            "searchSourceJSON": json!({"query": {"query": "", "language": "kuery"}, "filter": []}).to_string(),
        },
    });
    if let Some(from) = time_from {
        attributes["timeFrom"] = json!(from);
        attributes["timeTo"] = json!("now");
        attributes["refreshInterval"] = json!({"pause": true, "value": 0});
    }
    object("dashboard", id, attributes, references)
}

/// What an import did: the objects Dashboards accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Imported {
    pub objects: usize,
}

/// Imports `objects` through the Dashboards saved-objects API of `client`
/// (a client whose base URL is the Dashboards endpoint, e.g.
/// `https://<domain>/_dashboards/`), overwriting objects of the same ids:
/// importing twice leaves the same objects. Fails, naming each refused
/// object and why, unless Dashboards accepted every one.
pub async fn import(transport: &SearchTransport, objects: &[Value]) -> anyhow::Result<Imported> {
    let boundary = format!("fanin-{}", uuid::Uuid::new_v4().simple());
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"fanin.ndjson\"\r\n\
         Content-Type: application/ndjson\r\n\r\n"
    );
    body.push_str(&ndjson(objects));
    body.push_str(&format!("\r\n--{boundary}--\r\n"));
    let headers = [
        (
            CONTENT_TYPE,
            HeaderValue::from_str(&format!("multipart/form-data; boundary={boundary}"))?,
        ),
        // OpenSearch Dashboards' XSRF header; Kibana 7.10 reads kbn-xsrf.
        (
            HeaderName::from_static("osd-xsrf"),
            HeaderValue::from_static("true"),
        ),
        (
            HeaderName::from_static("kbn-xsrf"),
            HeaderValue::from_static("true"),
        ),
    ];
    let response = transport
        .send(
            "ImportSavedObjects",
            Method::POST,
            "api/saved_objects/_import?overwrite=true",
            &headers,
            body.into_bytes(),
        )
        .await
        .context("calling the Dashboards saved-objects API: check --dashboards-url and that the endpoint is reachable")?;
    let status = response.status;
    let answer: Value = serde_json::from_str(&response.body)
        .with_context(|| format!("the saved-objects import answered {status} with no JSON"))?;
    if !status.is_success() {
        bail!(
            "the saved-objects import answered {status}: {}",
            answer["message"].as_str().unwrap_or("no message")
        );
    }
    if answer["success"] != json!(true) {
        let refused: Vec<String> = answer["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| format!("{} {} ({})", e["type"], e["id"], e["error"]["type"]))
            .collect();
        bail!("Dashboards refused saved objects: {}", refused.join(", "));
    }
    let accepted = answer["successCount"].as_u64().unwrap_or(0) as usize;
    if accepted != objects.len() {
        bail!(
            "Dashboards accepted {accepted} of {} saved objects",
            objects.len()
        );
    }
    Ok(Imported { objects: accepted })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_file_is_the_default_prefix_output() {
        let shipped = include_str!("../saved-objects/fanin.ndjson");
        let built = ndjson(&saved_objects("fanin"));
        if std::env::var_os("FANIN_REGENERATE_GOLDEN").is_some() {
            let path = concat!(env!("CARGO_MANIFEST_DIR"), "/saved-objects/fanin.ndjson");
            std::fs::write(path, &built).unwrap();
            return;
        }
        assert_eq!(
            shipped, built,
            "cli/saved-objects/fanin.ndjson is out of date: run FANIN_REGENERATE_GOLDEN=1 cargo test --workspace --lib"
        );
    }

    #[test]
    fn another_prefix_renames_every_index_pattern_and_nothing_else() {
        let objects = saved_objects("acme");
        let titles: Vec<&str> = objects
            .iter()
            .filter(|o| o["type"] == "index-pattern")
            .map(|o| o["attributes"]["title"].as_str().unwrap())
            .collect();
        assert_eq!(
            titles,
            [
                "acme-findings",
                "acme-findings,acme-detections",
                "acme-detections",
                "acme-findings-history*",
                "acme-quarantine",
                "acme-compliance",
                "acme-flows*",
                "acme-iam-usage*"
            ]
        );
        let default = saved_objects("fanin");
        let ids = |objects: &[Value]| -> Vec<String> {
            objects.iter().map(|o| o["id"].to_string()).collect()
        };
        assert_eq!(
            ids(&objects),
            ids(&default),
            "ids do not depend on the prefix"
        );
    }
}
