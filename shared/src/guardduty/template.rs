//! The index template of OCSF Detection Findings (class 2004).
//!
//! The same conventions as the Vulnerability Finding template
//! (`crate::search::template`): ids are `keyword`, addresses `ip`, times
//! `date`, free text `text` with a `keyword` twin, other strings `keyword`
//! through a dynamic template. `unmapped.guardduty` (the source attributes
//! no typed field holds) is stored whole but indexes only the attributes
//! declared here (`dynamic: false`): its shape is the source's, and a
//! value of another type under an undeclared name must not fail the write.
//! Every declared one has a type the decoder enforces.

use serde_json::{Value, json};

/// The template for indices named `<index_pattern>*` (the integrator picks
/// the per-class name, e.g. `fanin-detection-findings`).
pub fn detection_index_template(index_pattern: &str) -> Value {
    let ip = json!({"type": "ip"});
    let keyword = json!({"type": "keyword", "ignore_above": 1024});
    let text =
        json!({"type": "text", "fields": {"keyword": {"type": "keyword", "ignore_above": 1024}}});
    let epoch = json!({"type": "date", "format": "epoch_millis"});
    let date = json!({"type": "date", "format": "strict_date_optional_time"});
    let integer = json!({"type": "integer"});
    let endpoint = json!({"properties": {
        "ip": ip, "port": integer, "svc_name": keyword, "domain": keyword, "instance_uid": keyword,
        "isp": keyword, "isp_org": keyword,
        "autonomous_system": {"properties": {"number": {"type": "long"}, "name": keyword}},
        "location": {"properties": {
            "city": keyword, "country": keyword, "lat": {"type": "float"}, "long": {"type": "float"},
        }},
    }});
    let interface = json!({"properties": {
        "interface_id": keyword, "subnet_id": keyword, "vpc_id": keyword, "mac_address": keyword,
        "private_ips": ip, "public_ips": ip, "ipv6_addresses": ip, "public_dns_name": keyword,
        "security_groups": {"properties": {"group_id": keyword, "group_name": keyword}},
    }});
    json!({
        "index_patterns": [format!("{index_pattern}*")],
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
                    "start_time": epoch,
                    "end_time": epoch,
                    "count": {"type": "long"},
                    "is_alert": {"type": "boolean"},
                    "class_uid": integer,
                    "severity_id": integer,
                    "severity": keyword,
                    "status_id": integer,
                    "status": keyword,
                    "activity_id": integer,
                    "cloud": {"properties": {"region": keyword, "account": {"properties": {"uid": keyword}}}},
                    "metadata": {"properties": {"uid": keyword, "product": {"properties": {
                        "name": keyword, "feature": {"properties": {"name": keyword}},
                    }}}},
                    "finding_info": {"properties": {
                        "uid": keyword, "title": text, "desc": text, "types": keyword,
                        "created_time": epoch, "first_seen_time": epoch, "last_seen_time": epoch, "modified_time": epoch,
                    }},
                    "resources": {"properties": {
                        "uid": keyword, "name": keyword, "type": keyword, "ip": ip, "labels": keyword,
                        "created_time": epoch,
                    }},
                    "device": {"properties": {
                        "uid": keyword, "instance_uid": keyword, "ip": ip, "vpc_uid": keyword, "subnet_uid": keyword,
                        "image": {"properties": {"uid": keyword}},
                        "network_interfaces": {"properties": {"uid": keyword, "ip": ip}},
                    }},
                    "evidences": {"properties": {
                        "connection_info": {"properties": {
                            "direction_id": integer, "direction": keyword, "protocol_name": keyword,
                        }},
                        "src_endpoint": endpoint,
                        "dst_endpoint": endpoint,
                        "api": {"properties": {
                            "operation": keyword,
                            "service": {"properties": {"name": keyword}},
                            "response": {"properties": {"error": keyword}},
                        }},
                        "query": {"properties": {"hostname": keyword}},
                        "actor": {"properties": {"user": {"properties": {
                            "name": keyword, "uid": keyword, "credential_uid": keyword,
                            "type_id": integer, "type": keyword,
                        }}}},
                    }},
                    "observables": {"properties": {
                        "name": keyword, "type_id": integer, "type": keyword, "value": keyword,
                    }},
                    "unmapped": {"properties": {
                        "guardduty": {"type": "object", "dynamic": false, "properties": {
                            "severity": {"type": "float"},
                            "resource": {"properties": {"resourceType": keyword}},
                            "service": {"properties": {
                                "detectorId": keyword,
                                "resourceRole": keyword,
                                "action": {"properties": {"actionType": keyword}},
                            }},
                        }},
                        "fanin": {"properties": {
                            "source": keyword,
                            "enrichment": {"properties": {"status": keyword, "reason": text}},
                            "instance": {"properties": {
                                "id": keyword, "state": keyword, "instance_type": keyword, "image_id": keyword,
                                "tags": {"properties": {"key": keyword, "value": keyword}},
                            }},
                            "details": {"type": "object", "enabled": false},
                            "truncated": {"properties": {
                                "field": keyword, "original_bytes": {"type": "long"}, "original_items": {"type": "long"},
                            }},
                            "unparsed": {"properties": {"field": keyword, "value": keyword}},
                            "network": {"properties": {
                                "observed_from": keyword,
                                "vpc_id": keyword, "subnet_id": keyword,
                                "private_ips": ip, "public_ips": ip, "ipv6_addresses": ip,
                                "interfaces": interface,
                                "internet_exposed": {"type": "boolean"},
                                "internet_open_ports": {"properties": {
                                    "protocol": keyword, "from_port": integer, "to_port": integer,
                                    "group_id": keyword, "source": keyword,
                                }},
                                "security_groups": {"properties": {
                                    "group_id": keyword, "group_name": keyword, "vpc_id": keyword,
                                    "ingress": {"properties": {
                                        "protocol": keyword, "from_port": integer, "to_port": integer,
                                        "cidr_sources": keyword, "open_to_internet": {"type": "boolean"},
                                    }},
                                }},
                            }},
                        }},
                    }},
                },
            },
        },
    })
}
