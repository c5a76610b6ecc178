//! The index templates fanin installs before its first write: one per OCSF
//! finding class (`<prefix>-findings` for 2002, `<prefix>-compliance` for
//! 2003, `<prefix>-detections` for 2004, see
//! [`FindingClass::index_suffix`]), one per class for its history indices
//! (`<latest>-history-*`), one for the ledger and one for the quarantine
//! (pipeline-health) index, and one for the VPC Flow Logs aggregates
//! (`<prefix>-flows`, [`flows_template`]) and one for the CloudTrail usage
//! documents (`<prefix>-iam-usage`, [`usage_template`]).
//!
//! The finding classes share one mapping: their common OCSF attributes
//! (`finding_info`, `cloud`, `resources`, `severity_id`, `unmapped.fanin`)
//! mean the same in each, and an attribute one class lacks costs nothing.
//!
//! Ids are exact (`keyword`), addresses are `ip`, times are `date`, free text
//! is `text` with a `keyword` twin. Strings not listed are `keyword` through a
//! dynamic template, so ids with dashes and dots are never split by an
//! analyzer.

use serde_json::{Value, json};

use crate::normalize::FindingClass;

/// The index template of one finding class: `<prefix>-<suffix>*`, with the
/// class's mapping (2004's is `crate::guardduty::template`; 2003 shares
/// 2002's until a source of it exists).
/// The security-group guard's findings are of classes 2003 and 2004: both
/// templates also map its fields (`crate::guard::ocsf::index_properties`).
/// The unused-exposure findings are 2003: its template also maps theirs
/// (`crate::exposure::ocsf::index_properties`), and so are the
/// least-privilege findings (`crate::privileges::ocsf::index_properties`).
pub fn class_template(class: FindingClass, prefix: &str) -> Value {
    let mut template = match class {
        FindingClass::DetectionFinding => crate::guardduty::template::detection_index_template(
            &format!("{prefix}-{}", class.index_suffix()),
        ),
        FindingClass::VulnerabilityFinding | FindingClass::ComplianceFinding => {
            let mut template = index_template(prefix);
            template["index_patterns"] = json!([format!("{prefix}-{}*", class.index_suffix())]);
            template
        }
    };
    if class != FindingClass::VulnerabilityFinding {
        let properties = &mut template["template"]["mappings"]["properties"];
        // 2002 keeps `resources[].data` unindexed; the guard's is mapped.
        if let Some(resource) = properties["resources"]["properties"].as_object_mut() {
            resource.remove("data");
        }
        crate::guard::ocsf::merge_properties(properties, &crate::guard::ocsf::index_properties());
    }
    if class == FindingClass::ComplianceFinding {
        let properties = &mut template["template"]["mappings"]["properties"];
        crate::guard::ocsf::merge_properties(
            properties,
            &crate::exposure::ocsf::index_properties(),
        );
        crate::guard::ocsf::merge_properties(
            properties,
            &crate::privileges::ocsf::index_properties(),
        );
    }
    template
}

/// The latest-state index (or write alias) of a finding class:
/// `<prefix>-<suffix>`.
pub fn latest_name(prefix: &str, class: FindingClass) -> String {
    format!("{prefix}-{}", class.index_suffix())
}

/// The priority of the history templates: above the latest-state
/// templates, whose pattern (`<prefix>-findings*`) also matches the history
/// indices (OpenSearch refuses two matching templates of one priority).
pub const HISTORY_TEMPLATE_PRIORITY: u32 = 210;

/// The write alias of a class's history indices: `<latest>-history`.
pub fn history_alias(latest: &str) -> String {
    format!("{latest}-history")
}

/// The history template of one finding class: indices
/// `<latest>-history-*` with the class's mapping, rolled over by ISM
/// through their write alias (`plugins.index_state_management.rollover_alias`).
pub fn history_template(class: FindingClass, prefix: &str) -> Value {
    let alias = history_alias(&latest_name(prefix, class));
    let mut template = class_template(class, prefix);
    template["index_patterns"] = json!([format!("{alias}-*")]);
    template["priority"] = json!(HISTORY_TEMPLATE_PRIORITY);
    template["template"]["settings"]["plugins.index_state_management.rollover_alias"] =
        json!(alias);
    template
}

/// The pipeline-health index template (`<prefix>-quarantine`): one small
/// document per quarantined message.
pub fn quarantine_template(prefix: &str) -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    json!({
        "index_patterns": [format!("{prefix}-quarantine*")],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1},
            "mappings": {"dynamic": "strict", "properties": {
                "time": {"type": "date", "format": "epoch_millis"},
                "reason": keyword,
                "source": keyword,
                "account_id": keyword,
                "region": keyword,
                "key": keyword,
            }},
        },
    })
}

/// The Vulnerability Finding (2002) template, the mapping every class shares.
pub fn index_template(prefix: &str) -> Value {
    let ip = json!({"type": "ip"});
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let text =
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}});
    let epoch = json!({"type": "date", "format": "epoch_millis"});
    let date = json!({"type": "date", "format": "strict_date_optional_time"});
    let float = json!({"type": "float"});
    let integer = json!({"type": "integer"});
    let interface = json!({"properties": {
        "interface_id": keyword, "subnet_id": keyword, "vpc_id": keyword, "mac_address": keyword,
        "private_ips": ip, "public_ips": ip, "ipv6_addresses": ip, "public_dns_name": keyword,
        "security_groups": {"properties": {"group_id": keyword, "group_name": keyword}},
    }});
    json!({
        "index_patterns": [format!("{prefix}-findings*")],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "refresh_interval": "5s"},
            "mappings": {
                "dynamic_templates": [
                    {"times": {"match_mapping_type": "long", "match": "*_time", "mapping": epoch}},
                    {"datetimes": {"match_mapping_type": "string", "match": "*_dt", "mapping": date}},
                    {"strings": {"match_mapping_type": "string", "mapping": keyword}},
                ],
                "properties": {
                    "time": epoch,
                    "time_dt": date,
                    "class_uid": {"type": "integer"},
                    "severity_id": {"type": "integer"},
                    "severity": keyword,
                    "status_id": {"type": "integer"},
                    "status": keyword,
                    "activity_id": {"type": "integer"},
                    "metadata": {"properties": {
                        "uid": keyword, "version": keyword,
                        "product": {"properties": {"name": keyword, "vendor_name": keyword}},
                    }},
                    "cloud": {"properties": {
                        "provider": keyword, "region": keyword, "cloud_partition": keyword,
                        "account": {"properties": {"uid": keyword, "type": keyword, "type_id": integer}},
                        "org": {"properties": {"uid": keyword}},
                    }},
                    "finding_info": {"properties": {
                        "uid": keyword, "title": text, "desc": text,
                        "created_time": epoch, "first_seen_time": epoch, "last_seen_time": epoch, "modified_time": epoch,
                    }},
                    "vulnerabilities": {"properties": {
                        "title": text, "desc": text,
                        "cve": {"properties": {
                            "uid": keyword, "cvss": {"properties": {"base_score": float}},
                            "created_time": epoch, "modified_time": epoch,
                        }},
                        "fix_coverage_id": integer, "fix_coverage": keyword,
                        "exploit_last_seen_time": epoch,
                        "affected_packages": {"properties": {
                            "name": keyword, "version": keyword, "fixed_in_version": keyword, "path": keyword,
                            "remediation": {"properties": {"desc": text}},
                        }},
                        "affected_code": {"properties": {
                            "file": {"properties": {"name": keyword, "path": keyword, "type_id": integer}},
                            "start_line": integer, "end_line": integer,
                            "rule": {"properties": {"uid": keyword, "name": keyword}},
                        }},
                        "remediation": {"properties": {"desc": text}},
                    }},
                    "device": {"properties": {
                        "uid": keyword, "instance_uid": keyword, "ip": ip, "vpc_uid": keyword, "subnet_uid": keyword,
                        "network_interfaces": {"properties": {"uid": keyword, "ip": ip}},
                    }},
                    "resources": {"properties": {
                        "uid": keyword, "type": keyword, "name": keyword, "version": keyword, "region": keyword,
                        "ip": ip, "data": {"type": "object", "enabled": false},
                    }},
                    "unmapped": {"properties": {"fanin": {"properties": {
                        "source": keyword,
                        "enrichment": {"properties": {"status": keyword, "reason": text}},
                        "instance": {"properties": {
                            "id": keyword, "state": keyword, "instance_type": keyword, "image_id": keyword,
                            "tags": {"properties": {"key": keyword, "value": keyword}},
                        }},
                        // Source attributes as fanin names them: stored whole,
                        // only the listed keys indexed (dynamic: false), so
                        // arbitrary source shapes never grow the mapping.
                        "details": {"type": "object", "dynamic": false, "properties": {
                            "inspector_score": float,
                            "adjusted_cvss": {"properties": {
                                "score": float, "version": keyword, "scoring_vector": keyword,
                                "cvss_source": keyword, "score_source": keyword,
                            }},
                            "vendor_severity": keyword,
                            "status": keyword,
                            "cwes": keyword,
                            "code_detector": keyword, "code_detector_id": keyword, "code_detector_tags": keyword,
                            "code_rule_id": keyword, "code_layer_arn": keyword,
                            "container_image": {"properties": {
                                "repository_name": keyword, "registry": keyword, "image_tags": keyword,
                                "image_digest": keyword, "architecture": keyword, "platform": keyword,
                                "author": keyword, "pushed_time": epoch, "last_in_use_time": epoch,
                                "in_use_count": {"type": "long"},
                            }},
                            "function": {"properties": {
                                "function_name": keyword, "runtime": keyword, "version": keyword,
                                "layers": keyword, "architectures": keyword, "package_type": keyword,
                                "code_sha256": keyword, "execution_role_arn": keyword,
                                "last_modified_time": epoch,
                            }},
                            "network_reachability": {"properties": {
                                "protocol": keyword,
                                "open_port_range": {"properties": {"begin": integer, "end": integer}},
                            }},
                            "aws_account_id": keyword,
                            "indicator_of_compromise": {"type": "boolean"},
                            "inspector_classic_id": keyword, "rules_package_arn": keyword,
                            "assessment_run_arn": keyword, "numeric_severity": float,
                        }},
                        // What normalization cut or set aside: the raw values are
                        // keywords (capped, and never refused: ignore_above).
                        "truncated": {"properties": {
                            "field": keyword, "original_bytes": {"type": "long"}, "original_items": {"type": "long"},
                        }},
                        "unparsed": {"properties": {"field": keyword, "value": keyword}},
                        "network": {"properties": {
                            "vpc_id": keyword, "subnet_id": keyword,
                            "private_ips": ip, "public_ips": ip, "ipv6_addresses": ip,
                            "interfaces": interface,
                            "internet_exposed": {"type": "boolean"},
                            "reachability": {"properties": {
                                "protocol": keyword, "from_port": integer, "to_port": integer,
                                "from_internet": {"type": "boolean"},
                                "path": {"properties": {"component_id": keyword, "component_type": keyword}},
                            }},
                            "internet_open_ports": {"properties": {
                                "protocol": keyword, "from_port": {"type": "integer"}, "to_port": {"type": "integer"},
                                "group_id": keyword, "source": keyword,
                            }},
                            "security_groups": {"properties": {
                                "group_id": keyword, "group_name": keyword, "vpc_id": keyword,
                                "ingress": {"properties": {
                                    "protocol": keyword, "from_port": {"type": "integer"}, "to_port": {"type": "integer"},
                                    "cidr_sources": keyword, "open_to_internet": {"type": "boolean"},
                                }},
                            }},
                        }},
                    }}}},
                },
            },
        },
    })
}

/// The ledger index template: tiny documents, ids only.
pub fn ledger_template(prefix: &str) -> Value {
    json!({
        "index_patterns": [format!("{prefix}-ledger*")],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1},
            "mappings": {"dynamic": "strict", "properties": {
                "finding_uid": {"type": "keyword"},
                "version": {"type": "long"},
                "archive_key": {"type": "keyword"},
                "state": {"type": "keyword"},
                "claim_expires_at": {"type": "date", "format": "epoch_millis"},
            }},
        },
    })
}

/// The name of the VPC Flow Logs aggregates index: `<prefix>-flows`.
pub fn flows_name(prefix: &str) -> String {
    format!("{prefix}-flows")
}

/// The VPC Flow Logs aggregates template (`<prefix>-flows*`): one document
/// per `fanin::flowlogs::aggregate::AggregateDoc` (an hour of one interface's
/// traffic for one key, or the hour's coverage of the interface), `_id` the
/// aggregate's id.
///
/// Ids and classes are `keyword`; hours and first/last seen are epoch
/// seconds (`date`, `epoch_second`); counters are `long`. Mapping is not
/// dynamic: a field not listed (the HyperLogLog registers `hll` among them)
/// is kept in `_source` but never indexed, so an aggregate never grows the
/// mapping.
pub fn flows_template(prefix: &str) -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 256});
    let epoch_second = json!({"type": "date", "format": "epoch_second"});
    let long = json!({"type": "long"});
    let integer = json!({"type": "integer"});
    json!({
        "index_patterns": [format!("{}*", flows_name(prefix))],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "refresh_interval": "5s"},
            "mappings": {"dynamic": false, "properties": {
                "id": keyword,
                "kind": keyword,
                "account": keyword,
                "region": keyword,
                "interface_id": keyword,
                "object_id": keyword,
                "direction": keyword,
                "initiator": keyword,
                "action": keyword,
                "source_class": keyword,
                "protocol": integer,
                "dst_port": integer,
                "ip_version": integer,
                "hour": epoch_second,
                "first_seen": epoch_second,
                "last_seen": epoch_second,
                "packets": long,
                "bytes": long,
                "flows": long,
                "distinct_sources": long,
                "top_sources": {"properties": {"address": keyword, "flows": long}},
                "records": long,
                "nodata": long,
                "skipdata": long,
            }},
        },
    })
}

/// The name of the CloudTrail usage index: `<prefix>-iam-usage`.
pub fn usage_name(prefix: &str) -> String {
    format!("{prefix}-iam-usage")
}

/// The CloudTrail usage template (`<prefix>-iam-usage*`): one document per
/// `crate::privileges::usage::UsageDoc` (one principal's use of one action
/// in one trail object), `_id` the document's id. Not dynamic: every field
/// is listed.
pub fn usage_template(prefix: &str) -> Value {
    let keyword = json!({"type": "keyword", "ignore_above": 512});
    let epoch_second = json!({"type": "date", "format": "epoch_second"});
    let long = json!({"type": "long"});
    json!({
        "index_patterns": [format!("{}*", usage_name(prefix))],
        "priority": 200,
        "template": {
            "settings": {"number_of_shards": 1, "refresh_interval": "5s"},
            "mappings": {"dynamic": false, "properties": {
                "id": keyword,
                "object_id": keyword,
                "account": keyword,
                "principal_arn": keyword,
                "principal_kind": keyword,
                "action": keyword,
                "mapping": keyword,
                "event_names": keyword,
                "recipient_account": keyword,
                "region": keyword,
                "day": {"type": "date", "format": "strict_date"},
                "first_seen": epoch_second,
                "last_seen": epoch_second,
                "count": long,
                "denied": long,
            }},
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_usage_template_maps_every_field_of_a_usage_doc() {
        use crate::privileges::principal::PrincipalKind;
        use crate::privileges::usage::{Mapping, UsageDoc};
        let document = UsageDoc {
            id: "ab".repeat(16),
            object_id: "cd".repeat(16),
            account: "111122223333".into(),
            principal_arn: "arn:aws:iam::111122223333:role/app".into(),
            principal_kind: PrincipalKind::Role,
            action: "s3:GetObject".into(),
            mapping: Mapping::Mapped,
            event_names: vec!["HeadObject".into()],
            recipient_account: "111122223333".into(),
            region: "eu-west-1".into(),
            day: "2026-11-30".into(),
            first_seen: 1_764_460_800,
            last_seen: 1_764_460_900,
            count: 2,
            denied: 1,
        };
        let template = usage_template("acme");
        assert_eq!(template["index_patterns"], json!(["acme-iam-usage*"]));
        let mappings = &template["template"]["mappings"];
        assert_eq!(mappings["dynamic"], false);
        let Value::Object(fields) = serde_json::to_value(&document).unwrap() else {
            panic!("an object");
        };
        for (field, value) in &fields {
            let expected = match (field.as_str(), value) {
                ("first_seen" | "last_seen" | "day", _) => "date",
                (_, Value::Number(_)) => "long",
                _ => "keyword",
            };
            assert_eq!(mappings["properties"][field]["type"], expected, "{field}");
        }
        assert_eq!(
            mappings["properties"].as_object().unwrap().len(),
            fields.len()
        );
        for class in FindingClass::ALL {
            let pattern = class_template(class, "acme")["index_patterns"][0]
                .as_str()
                .unwrap()
                .trim_end_matches('*')
                .to_owned();
            assert!(!"acme-iam-usage".starts_with(&pattern), "{pattern}");
        }
    }

    #[test]
    fn the_flows_template_maps_aggregates_without_dynamic_fields() {
        let template = flows_template("acme");
        assert_eq!(template["index_patterns"], json!(["acme-flows*"]));
        let mappings = &template["template"]["mappings"];
        assert_eq!(mappings["dynamic"], false);
        let properties = &mappings["properties"];
        for field in ["hour", "first_seen", "last_seen"] {
            assert_eq!(properties[field]["type"], "date", "{field}");
            assert_eq!(properties[field]["format"], "epoch_second", "{field}");
        }
        for field in [
            "id",
            "account",
            "region",
            "interface_id",
            "direction",
            "initiator",
            "action",
            "source_class",
        ] {
            assert_eq!(properties[field]["type"], "keyword", "{field}");
        }
        for field in [
            "packets",
            "bytes",
            "flows",
            "distinct_sources",
            "records",
            "nodata",
            "skipdata",
        ] {
            assert_eq!(properties[field]["type"], "long", "{field}");
        }
        assert!(
            properties.get("hll").is_none(),
            "the registers are not indexed"
        );
        // No finding template's pattern takes the flows index.
        for class in FindingClass::ALL {
            let pattern = class_template(class, "acme")["index_patterns"][0]
                .as_str()
                .unwrap()
                .trim_end_matches('*')
                .to_owned();
            assert!(!"acme-flows".starts_with(&pattern), "{pattern}");
        }
    }

    /// The type a serialized aggregate's value needs: every field of
    /// [`AggregateDoc`] (traffic and coverage) is mapped, with that type, and
    /// nothing else is (`hll`, the registers, stays unindexed).
    fn mapped_types(value: &Value, path: &str, into: &mut Vec<(String, &'static str)>) {
        match value {
            Value::Object(fields) => {
                for (name, value) in fields {
                    let path = if path.is_empty() {
                        name.clone()
                    } else {
                        format!("{path}.{name}")
                    };
                    mapped_types(value, &path, into);
                }
            }
            Value::Array(items) => {
                for item in items {
                    mapped_types(item, path, into);
                }
            }
            Value::Number(_) => into.push((path.to_owned(), "number")),
            Value::String(_) => into.push((path.to_owned(), "string")),
            other => panic!("{path}: unexpected {other}"),
        }
    }

    fn mapping_of<'a>(properties: &'a Value, path: &str) -> &'a Value {
        let mut at = properties;
        let mut segments = path.split('.').peekable();
        while let Some(segment) = segments.next() {
            at = &at[segment];
            if segments.peek().is_some() {
                at = &at["properties"];
            }
        }
        at
    }

    #[test]
    fn the_flows_template_maps_every_field_of_an_aggregate_doc() {
        use crate::flowlogs::aggregate::{AggregateDoc, Coverage, DocBody, TopSource, TrafficDoc};
        use crate::flowlogs::classify::{Direction, Initiator, SourceClass};
        use crate::flowlogs::parse::Action;
        let traffic = AggregateDoc {
            id: "ab".repeat(32),
            account: "111122223333".into(),
            region: "eu-west-1".into(),
            interface_id: "eni-0123456789abcdef0".into(),
            hour: 1_764_460_800,
            object_id: "cd".repeat(16),
            body: DocBody::Traffic(TrafficDoc {
                direction: Direction::Ingress,
                initiator: Initiator::Remote,
                protocol: 6,
                dst_port: 22,
                action: Action::Reject,
                source_class: SourceClass::Internet,
                ip_version: 4,
                packets: 3,
                bytes: 180,
                flows: 1,
                distinct_sources: 1,
                hll: "AAAA".into(),
                top_sources: vec![TopSource {
                    address: "203.0.113.7".parse().unwrap(),
                    flows: 1,
                }],
                first_seen: 1_764_460_810,
                last_seen: 1_764_460_870,
            }),
        };
        let coverage = AggregateDoc {
            body: DocBody::Coverage(Coverage {
                records: 10,
                nodata: 1,
                skipdata: 0,
            }),
            ..traffic.clone()
        };
        let template = flows_template("acme");
        let properties = &template["template"]["mappings"]["properties"];
        let mut fields = Vec::new();
        for doc in [&traffic, &coverage] {
            mapped_types(&serde_json::to_value(doc).unwrap(), "", &mut fields);
        }
        let mut seen = std::collections::BTreeSet::new();
        for (path, kind) in &fields {
            seen.insert(path.split('.').next().unwrap().to_owned());
            let mapping = mapping_of(properties, path);
            if path == "hll" {
                assert!(mapping.is_null(), "the registers are not indexed");
                continue;
            }
            let expected: &[&str] = match (path.as_str(), *kind) {
                ("hour" | "first_seen" | "last_seen", _) => &["date"],
                (_, "number") => &["long", "integer"],
                (_, _) => &["keyword"],
            };
            assert!(
                expected.contains(&mapping["type"].as_str().unwrap_or("")),
                "{path}: {kind} mapped as {mapping}"
            );
            if expected == ["date"] {
                assert_eq!(mapping["format"], "epoch_second", "{path}");
            }
        }
        assert_eq!(properties["kind"]["type"], "keyword");
        assert_eq!(properties["dst_port"]["type"], "integer");
        // Nothing mapped that no document has.
        for name in properties.as_object().unwrap().keys() {
            assert!(
                seen.contains(name),
                "{name} is mapped but no aggregate has it"
            );
        }
    }

    #[test]
    fn each_class_has_its_own_index_pattern_and_mapping() {
        let findings = class_template(FindingClass::VulnerabilityFinding, "fanin");
        assert_eq!(findings, index_template("fanin"));
        assert_eq!(findings["index_patterns"], json!(["fanin-findings*"]));
        let detections = class_template(FindingClass::DetectionFinding, "fanin");
        assert_eq!(detections["index_patterns"], json!(["fanin-detections*"]));
        assert_eq!(
            detections["template"]["mappings"]["properties"]["class_uid"]["type"],
            "integer"
        );
        assert!(
            detections["template"]["mappings"]["properties"]["evidences"].is_object(),
            "detections map their evidences"
        );
        assert_ne!(detections["template"], findings["template"]);
        assert_eq!(
            class_template(FindingClass::ComplianceFinding, "x")["index_patterns"],
            json!(["x-compliance*"])
        );
    }

    #[test]
    fn guard_fields_are_mapped_in_2003_and_2004_only() {
        for class in [
            FindingClass::ComplianceFinding,
            FindingClass::DetectionFinding,
        ] {
            let template = class_template(class, "fanin");
            let properties = &template["template"]["mappings"]["properties"];
            let guard = &properties["unmapped"]["properties"]["guard"]["properties"];
            assert_eq!(guard["time_to_revert_ms"]["type"], "long", "{class:?}");
            assert_eq!(guard["revoked_at"]["type"], "date", "{class:?}");
            let data = &properties["resources"]["properties"]["data"];
            assert!(data.get("enabled").is_none(), "{class:?}: data is indexed");
            let rules = &data["properties"]["rules"]["properties"];
            assert_eq!(
                rules["before"]["properties"]["from_port"]["type"],
                "integer"
            );
            assert_eq!(
                rules["before"]["properties"]["cidr_ipv6"]["type"],
                "keyword"
            );
            assert_eq!(data["properties"]["public_ips"]["type"], "ip");
            let evidence = &properties["evidences"]["properties"];
            assert_eq!(evidence["src_endpoint"]["properties"]["ip"]["type"], "ip");
            assert_eq!(
                evidence["http_request"]["properties"]["user_agent"]["type"],
                "keyword"
            );
        }
        let compliance = class_template(FindingClass::ComplianceFinding, "fanin");
        assert_eq!(
            compliance["template"]["mappings"]["properties"]["compliance"]["properties"]["control"]
                ["type"],
            "keyword"
        );
        // GuardDuty's evidence endpoints keep their own fields.
        let detections = class_template(FindingClass::DetectionFinding, "fanin");
        let endpoint = &detections["template"]["mappings"]["properties"]["evidences"]["properties"]
            ["src_endpoint"]["properties"];
        assert_eq!(endpoint["port"]["type"], "integer");
        let findings = class_template(FindingClass::VulnerabilityFinding, "fanin");
        assert!(
            findings["template"]["mappings"]["properties"]["unmapped"]["properties"]
                .get("guard")
                .is_none()
        );
    }

    #[test]
    fn history_templates_share_the_mapping_and_win_over_the_latest_pattern() {
        for class in FindingClass::ALL {
            let latest = class_template(class, "fanin");
            let history = history_template(class, "fanin");
            let name = format!("fanin-{}", class.index_suffix());
            assert_eq!(
                history["index_patterns"],
                json!([format!("{name}-history-*")])
            );
            assert_eq!(
                history["template"]["mappings"], latest["template"]["mappings"],
                "history documents are the latest index's documents"
            );
            assert!(
                history["priority"].as_u64() > latest["priority"].as_u64(),
                "the latest pattern {} also matches the history indices",
                latest["index_patterns"]
            );
            assert_eq!(
                history["template"]["settings"]["plugins.index_state_management.rollover_alias"],
                format!("{name}-history")
            );
        }
    }

    #[test]
    fn the_quarantine_template_maps_the_contract_fields() {
        let template = quarantine_template("fanin");
        assert_eq!(template["index_patterns"], json!(["fanin-quarantine*"]));
        let properties = &template["template"]["mappings"]["properties"];
        assert_eq!(properties["time"]["type"], "date");
        for field in ["reason", "source", "account_id", "region", "key"] {
            assert_eq!(properties[field]["type"], "keyword", "{field}");
        }
    }
}
