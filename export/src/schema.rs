//! The OCSF 1.3.0 attributes an exported row carries, per class, and the
//! Arrow schema built from them.
//!
//! Each list below holds the attributes of fanin's OCSF 1.7.0 records
//! (`shared/src/ocsf.rs`, `shared/src/guardduty/ocsf.rs`) that exist in
//! OCSF 1.3.0 with the same meaning, typed as OCSF 1.3.0 types them
//! (`integer_t` is 32 bits, `long_t` 64; `timestamp_t` and the `datetime`
//! profile's `*_dt` are both timestamps here). An attribute of a record that
//! is not listed goes to `unmapped.ocsf_1_7` (see `translate.rs`); the read-back
//! test (`tests/export_readback.py`) checks every listed path against the
//! OCSF 1.3.0 schema bundled in pydantic-ocsf.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Fields, Schema, TimeUnit};

/// How an attribute is stored.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Text,
    /// OCSF `integer_t` (and `port_t`).
    Int32,
    /// OCSF `long_t`.
    Int64,
    /// OCSF `float_t`.
    Float64,
    Bool,
    /// `timestamp_t` (epoch ms) or `datetime_t` (RFC 3339): timestamp(ms, UTC).
    Timestamp,
    /// OCSF `json_t` / `object`: the JSON text.
    Json,
    Object(&'static [Attr]),
}

/// One attribute: its name, how it is stored, and whether it is an array.
#[derive(Debug, Clone, Copy)]
pub struct Attr {
    pub name: &'static str,
    pub kind: Kind,
    pub list: bool,
}

const fn one(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        list: false,
    }
}

const fn many(name: &'static str, kind: Kind) -> Attr {
    Attr {
        name,
        kind,
        list: true,
    }
}

use Kind::{Bool, Float64, Int32, Int64, Json, Object, Text, Timestamp};

const ACCOUNT: &[Attr] = &[one("type", Text), one("type_id", Int32), one("uid", Text)];
const ORG: &[Attr] = &[one("uid", Text)];
const CLOUD: &[Attr] = &[
    one("provider", Text),
    one("region", Text),
    one("account", Object(ACCOUNT)),
    one("org", Object(ORG)),
];
const FEATURE: &[Attr] = &[one("name", Text), one("uid", Text)];
const PRODUCT: &[Attr] = &[
    one("name", Text),
    one("vendor_name", Text),
    one("feature", Object(FEATURE)),
];
const METADATA: &[Attr] = &[
    one("version", Text),
    one("product", Object(PRODUCT)),
    one("uid", Text),
    many("profiles", Text),
    one("original_time", Text),
];
const FINDING_INFO: &[Attr] = &[
    one("uid", Text),
    one("title", Text),
    one("desc", Text),
    many("types", Text),
    one("created_time", Timestamp),
    one("created_time_dt", Timestamp),
    one("first_seen_time", Timestamp),
    one("first_seen_time_dt", Timestamp),
    one("last_seen_time", Timestamp),
    one("last_seen_time_dt", Timestamp),
    one("modified_time", Timestamp),
    one("modified_time_dt", Timestamp),
    one("src_url", Text),
];
const IMAGE: &[Attr] = &[one("uid", Text)];
const NETWORK_INTERFACE: &[Attr] = &[
    one("uid", Text),
    one("ip", Text),
    one("mac", Text),
    one("hostname", Text),
    one("type", Text),
    one("type_id", Int32),
];
const DEVICE: &[Attr] = &[
    one("uid", Text),
    one("instance_uid", Text),
    one("type", Text),
    one("type_id", Int32),
    one("region", Text),
    one("hostname", Text),
    one("ip", Text),
    one("vpc_uid", Text),
    one("subnet_uid", Text),
    one("image", Object(IMAGE)),
    many("network_interfaces", Object(NETWORK_INTERFACE)),
];
const RESOURCE: &[Attr] = &[
    one("uid", Text),
    one("type", Text),
    one("name", Text),
    one("version", Text),
    one("region", Text),
    one("cloud_partition", Text),
    many("labels", Text),
    one("data", Json),
];
const REMEDIATION: &[Attr] = &[one("desc", Text), many("references", Text)];
const CVSS: &[Attr] = &[
    one("base_score", Float64),
    one("version", Text),
    one("vector_string", Text),
];
const EPSS: &[Attr] = &[one("score", Text)];
const CVE: &[Attr] = &[
    one("uid", Text),
    one("created_time", Timestamp),
    one("created_time_dt", Timestamp),
    one("modified_time", Timestamp),
    one("modified_time_dt", Timestamp),
    many("cvss", Object(CVSS)),
    one("epss", Object(EPSS)),
    many("references", Text),
];
const CWE: &[Attr] = &[one("uid", Text)];
const PACKAGE: &[Attr] = &[
    one("name", Text),
    one("version", Text),
    one("fixed_in_version", Text),
    one("package_manager", Text),
    one("epoch", Int32),
    one("release", Text),
    one("architecture", Text),
    one("path", Text),
    one("remediation", Object(REMEDIATION)),
];
const FILE: &[Attr] = &[
    one("name", Text),
    one("path", Text),
    one("type", Text),
    one("type_id", Int32),
];
const AFFECTED_CODE: &[Attr] = &[
    one("file", Object(FILE)),
    one("start_line", Int32),
    one("end_line", Int32),
];
const VULNERABILITY: &[Attr] = &[
    one("title", Text),
    one("desc", Text),
    one("severity", Text),
    one("cve", Object(CVE)),
    one("cwe", Object(CWE)),
    many("affected_packages", Object(PACKAGE)),
    many("affected_code", Object(AFFECTED_CODE)),
    one("is_fix_available", Bool),
    one("is_exploit_available", Bool),
    many("references", Text),
    many("related_vulnerabilities", Text),
    one("remediation", Object(REMEDIATION)),
    one("vendor_name", Text),
];
const CONNECTION_INFO: &[Attr] = &[
    one("direction", Text),
    one("direction_id", Int32),
    one("protocol_name", Text),
];
const AUTONOMOUS_SYSTEM: &[Attr] = &[one("name", Text), one("number", Int32)];
const LOCATION: &[Attr] = &[
    one("city", Text),
    one("country", Text),
    one("lat", Float64),
    one("long", Float64),
];
const ENDPOINT: &[Attr] = &[
    one("ip", Text),
    one("port", Int32),
    one("svc_name", Text),
    one("domain", Text),
    one("instance_uid", Text),
    one("autonomous_system", Object(AUTONOMOUS_SYSTEM)),
    one("location", Object(LOCATION)),
];
const API_SERVICE: &[Attr] = &[one("name", Text)];
const API_RESPONSE: &[Attr] = &[one("error", Text)];
const API: &[Attr] = &[
    one("operation", Text),
    one("service", Object(API_SERVICE)),
    one("response", Object(API_RESPONSE)),
];
const DNS_QUERY: &[Attr] = &[one("hostname", Text)];
const USER: &[Attr] = &[
    one("name", Text),
    one("uid", Text),
    one("credential_uid", Text),
    one("type", Text),
    one("type_id", Int32),
];
const ACTOR: &[Attr] = &[one("user", Object(USER))];
const EVIDENCE: &[Attr] = &[
    one("connection_info", Object(CONNECTION_INFO)),
    one("src_endpoint", Object(ENDPOINT)),
    one("dst_endpoint", Object(ENDPOINT)),
    one("api", Object(API)),
    one("query", Object(DNS_QUERY)),
    one("actor", Object(ACTOR)),
];
const OBSERVABLE: &[Attr] = &[
    one("name", Text),
    one("type", Text),
    one("type_id", Int32),
    one("value", Text),
];

/// Vulnerability Finding (2002) in OCSF 1.3.0, in the order of the columns.
pub const VULNERABILITY_FINDING: &[Attr] = &[
    one("time", Timestamp),
    one("time_dt", Timestamp),
    one("activity_id", Int32),
    one("activity_name", Text),
    one("category_uid", Int32),
    one("category_name", Text),
    one("class_uid", Int32),
    one("class_name", Text),
    one("type_uid", Int64),
    one("type_name", Text),
    one("severity_id", Int32),
    one("severity", Text),
    one("status_id", Int32),
    one("status", Text),
    one("status_detail", Text),
    one("metadata", Object(METADATA)),
    one("cloud", Object(CLOUD)),
    one("finding_info", Object(FINDING_INFO)),
    many("vulnerabilities", Object(VULNERABILITY)),
    many("resources", Object(RESOURCE)),
    one("device", Object(DEVICE)),
    one("unmapped", Json),
];

/// Detection Finding (2004) in OCSF 1.3.0, in the order of the columns.
pub const DETECTION_FINDING: &[Attr] = &[
    one("time", Timestamp),
    one("time_dt", Timestamp),
    one("activity_id", Int32),
    one("activity_name", Text),
    one("category_uid", Int32),
    one("category_name", Text),
    one("class_uid", Int32),
    one("class_name", Text),
    one("type_uid", Int64),
    one("type_name", Text),
    one("severity_id", Int32),
    one("severity", Text),
    one("status_id", Int32),
    one("status", Text),
    one("count", Int32),
    one("start_time", Timestamp),
    one("start_time_dt", Timestamp),
    one("end_time", Timestamp),
    one("end_time_dt", Timestamp),
    one("metadata", Object(METADATA)),
    one("cloud", Object(CLOUD)),
    one("finding_info", Object(FINDING_INFO)),
    many("resources", Object(RESOURCE)),
    one("device", Object(DEVICE)),
    many("evidences", Object(EVIDENCE)),
    many("observables", Object(OBSERVABLE)),
    one("unmapped", Json),
];

/// The Arrow schema of a class's rows: nested structs, lists with an
/// `element` item (written as the standard 3-level Parquet LIST), every
/// field nullable (OCSF leaves what is unknown out).
pub fn arrow_schema(attrs: &[Attr]) -> Arc<Schema> {
    Arc::new(Schema::new(fields(attrs)))
}

fn fields(attrs: &[Attr]) -> Fields {
    attrs.iter().map(field).collect()
}

fn field(attr: &Attr) -> Field {
    let item = match attr.kind {
        Text | Json => DataType::Utf8,
        Int32 => DataType::Int32,
        Int64 => DataType::Int64,
        Float64 => DataType::Float64,
        Bool => DataType::Boolean,
        // An offset, not a zone name: arrow-json reads zone names only with
        // chrono-tz (a time zone database the export does not need).
        Timestamp => DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into())),
        Object(children) => DataType::Struct(fields(children)),
    };
    let data_type = if attr.list {
        DataType::List(Arc::new(Field::new("element", item, true)))
    } else {
        item
    };
    Field::new(attr.name, data_type, true)
}

/// The columns of the class as Athena / Glue DDL (`docs/export.md` shows
/// them; a test keeps the two equal): one `` `name` type`` per line.
pub fn hive_columns(attrs: &[Attr]) -> String {
    attrs
        .iter()
        .map(|attr| format!("  `{}` {}", attr.name, hive_type(attr)))
        .collect::<Vec<_>>()
        .join(",\n")
}

fn hive_type(attr: &Attr) -> String {
    let item = match attr.kind {
        Text | Json => "string".to_owned(),
        Int32 => "int".to_owned(),
        Int64 => "bigint".to_owned(),
        Float64 => "double".to_owned(),
        Bool => "boolean".to_owned(),
        Timestamp => "timestamp".to_owned(),
        Object(children) => format!(
            "struct<{}>",
            children
                .iter()
                .map(|child| format!("{}:{}", child.name, hive_type(child)))
                .collect::<Vec<_>>()
                .join(",")
        ),
    };
    if attr.list {
        format!("array<{item}>")
    } else {
        item
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_have_standard_element_items_and_times_are_utc_milliseconds() {
        let schema = arrow_schema(VULNERABILITY_FINDING);
        let DataType::List(item) = schema
            .field_with_name("vulnerabilities")
            .unwrap()
            .data_type()
        else {
            panic!("vulnerabilities is a list");
        };
        assert_eq!(item.name(), "element");
        assert!(matches!(item.data_type(), DataType::Struct(_)));
        assert_eq!(
            schema.field_with_name("time").unwrap().data_type(),
            &DataType::Timestamp(TimeUnit::Millisecond, Some("+00:00".into()))
        );
        assert_eq!(
            schema.field_with_name("unmapped").unwrap().data_type(),
            &DataType::Utf8
        );
        assert_eq!(schema.fields()[0].name(), "time");
    }

    #[test]
    fn the_documented_table_definitions_are_the_schema() {
        let docs = include_str!("../../docs/export.md");
        for attrs in [VULNERABILITY_FINDING, DETECTION_FINDING] {
            let columns = hive_columns(attrs);
            assert!(
                docs.contains(&columns),
                "docs/export.md lacks the columns:\n{columns}"
            );
        }
    }
}
