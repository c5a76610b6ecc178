//! OCSF 1.7.0 record → OCSF 1.3.0 row: pure and total over valid records.
//!
//! The row keeps every attribute the class's OCSF 1.3.0 list
//! (`schema.rs`) has, with the same value (times as epoch milliseconds).
//! Everything else is moved, never dropped: `unmapped.ocsf_1_7` is an
//! object from the attribute's 1.7.0 path (`vulnerabilities[0].fix_coverage`)
//! to its value, and the row's `unmapped` column is the record's own
//! `unmapped` object with `ocsf_1_7` added, as JSON text. Moved are:
//! attributes OCSF 1.3.0 does not have, values that do not fit their 1.3.0
//! type (a `count` above 2^31 - 1), enum ids 1.3.0 does not define (then set
//! to 99 Other, their caption kept), and `metadata.version` (which becomes
//! `1.3.0`). `docs/export.md` lists them.

use chrono::DateTime;
use serde_json::{Map, Value};

use crate::ExportClass;
use crate::schema::{Attr, Kind};

/// The OCSF version of the rows.
pub const OCSF_VERSION: &str = "1.3.0";

/// The key under `unmapped` that holds what the 1.3.0 row cannot carry.
pub const MOVED_KEY: &str = "ocsf_1_7";

/// Enum ids whose 1.3.0 enumeration is smaller than 1.7.0's: a value outside
/// these becomes 99 (Other), the caption attribute keeps the 1.7.0 caption.
const ENUMS_1_3: &[(&str, &[i64])] = &[
    // Finding: New, In Progress, Suppressed, Resolved (1.7.0 adds 5 Archived).
    ("status_id", &[0, 1, 2, 3, 4, 99]),
    // Account: up to 10 AWS Account (1.7.0 adds 13 Azure Subscription...).
    (
        "cloud.account.type_id",
        &[0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 99],
    ),
];

/// One record as a 1.3.0 row.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    /// `time` in epoch ms (the sort key).
    pub time: i64,
    /// `metadata.uid`: the version id.
    pub uid: String,
    /// The row as JSON in the class's Arrow schema (objects, arrays, times as
    /// epoch ms, JSON attributes as text).
    pub value: Value,
}

/// Why a record cannot be exported. Permanent: the same record fails again.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TranslateError {
    #[error("the record is not a JSON object")]
    NotAnObject,
    #[error("the record has no {0} (every fanin record has it)")]
    Missing(&'static str),
    #[error("the record is of class {found}, not {expected}")]
    WrongClass { found: i64, expected: u32 },
}

/// Translates one OCSF 1.7.0 record of `class` into its 1.3.0 row.
pub fn translate(class: ExportClass, record: &Value) -> Result<Row, TranslateError> {
    let record = record.as_object().ok_or(TranslateError::NotAnObject)?;
    let found = record
        .get("class_uid")
        .and_then(Value::as_i64)
        .ok_or(TranslateError::Missing("class_uid"))?;
    if found != i64::from(class.class_uid()) {
        return Err(TranslateError::WrongClass {
            found,
            expected: class.class_uid(),
        });
    }
    let time = record
        .get("time")
        .and_then(Value::as_i64)
        .ok_or(TranslateError::Missing("time"))?;
    let uid = record
        .get("metadata")
        .and_then(|m| m.get("uid"))
        .and_then(Value::as_str)
        .ok_or(TranslateError::Missing("metadata.uid"))?
        .to_owned();

    let mut moved = Map::new();
    let mut record = record.clone();
    let unmapped = record.remove("unmapped");
    downgrade_enums(&mut record, &mut moved);
    if let Some(metadata) = record.get_mut("metadata").and_then(Value::as_object_mut)
        && let Some(version) = metadata.insert("version".into(), OCSF_VERSION.into())
    {
        moved.insert("metadata.version".into(), version);
    }
    let mut row = project(class.attributes(), &record, "", &mut moved);

    let mut unmapped = match unmapped {
        Some(Value::Object(map)) => map,
        Some(other) => Map::from_iter([("value".to_owned(), other)]),
        None => Map::new(),
    };
    unmapped.insert(MOVED_KEY.into(), Value::Object(moved));
    row.insert(
        "unmapped".into(),
        Value::String(Value::Object(unmapped).to_string()),
    );
    Ok(Row {
        time,
        uid,
        value: Value::Object(row),
    })
}

fn downgrade_enums(record: &mut Map<String, Value>, moved: &mut Map<String, Value>) {
    for (path, known) in ENUMS_1_3 {
        let mut parts = path.split('.').peekable();
        let mut object = &mut *record;
        while let Some(part) = parts.next() {
            if parts.peek().is_none() {
                if let Some(id) = object.get(part).and_then(Value::as_i64)
                    && !known.contains(&id)
                {
                    moved.insert((*path).to_owned(), id.into());
                    object.insert(part.to_owned(), 99.into());
                }
                break;
            }
            match object.get_mut(part).and_then(Value::as_object_mut) {
                Some(inner) => object = inner,
                None => break,
            }
        }
    }
}

/// Keeps the attributes of `attrs`; moves the others (with their path) to `moved`.
fn project(
    attrs: &[Attr],
    object: &Map<String, Value>,
    path: &str,
    moved: &mut Map<String, Value>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in object {
        let here = if path.is_empty() {
            name.clone()
        } else {
            format!("{path}.{name}")
        };
        let Some(attr) = attrs.iter().find(|a| a.name == name) else {
            moved.insert(here, value.clone());
            continue;
        };
        if value.is_null() {
            continue;
        }
        let converted = if attr.list {
            match value.as_array() {
                Some(items) => Some(Value::Array(
                    items
                        .iter()
                        .enumerate()
                        .filter_map(|(i, item)| {
                            convert(attr.kind, item, &format!("{here}[{i}]"), moved)
                        })
                        .collect(),
                )),
                None => {
                    moved.insert(here, value.clone());
                    None
                }
            }
        } else {
            convert(attr.kind, value, &here, moved)
        };
        if let Some(converted) = converted {
            out.insert(name.clone(), converted);
        }
    }
    out
}

/// The value in its 1.3.0 column type, or `None` after moving it.
fn convert(kind: Kind, value: &Value, path: &str, moved: &mut Map<String, Value>) -> Option<Value> {
    let fits = match kind {
        Kind::Text => value.as_str().map(|_| value.clone()),
        Kind::Int32 => value
            .as_i64()
            .and_then(|n| i32::try_from(n).ok())
            .map(Value::from),
        Kind::Int64 => value.as_i64().map(Value::from),
        Kind::Float64 => value.as_f64().map(Value::from),
        Kind::Bool => value.as_bool().map(Value::from),
        Kind::Timestamp => match value {
            Value::Number(n) => n.as_i64().map(Value::from),
            Value::String(text) => DateTime::parse_from_rfc3339(text)
                .ok()
                .map(|t| Value::from(t.timestamp_millis())),
            _ => None,
        },
        Kind::Json => Some(Value::String(value.to_string())),
        Kind::Object(children) => value
            .as_object()
            .map(|object| Value::Object(project(children, object, path, moved))),
    };
    if fits.is_none() {
        moved.insert(path.to_owned(), value.clone());
    }
    fits
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn unmapped(row: &Row) -> Value {
        serde_json::from_str(row.value["unmapped"].as_str().unwrap()).unwrap()
    }

    #[test]
    fn keeps_1_3_attributes_and_moves_the_others_with_their_path() {
        let record = json!({
            "class_uid": 2002, "time": 1725469236951_i64, "time_dt": "2024-09-04T17:00:36.951Z",
            "metadata": {"uid": "v1", "version": "1.7.0", "profiles": ["cloud", "datetime"]},
            "cloud": {"provider": "AWS", "cloud_partition": "aws", "account": {"uid": "123456789012", "type_id": 13, "type": "Azure Subscription"}},
            "vulnerabilities": [{"title": "t", "fix_coverage_id": 1, "advisory": {"uid": "a"}, "cve": {"uid": "CVE-2024-1", "cvss": [{"base_score": 4.8, "version": "3.1", "vendor_name": "NVD"}]}}],
            "resources": [{"uid": "i-1", "ip": "10.0.0.1", "data": {"a": [1, null]}}],
            "unmapped": {"fanin": {"source": "inspector2"}}
        });
        let row = translate(ExportClass::Vulnerability, &record).unwrap();
        assert_eq!((row.time, row.uid.as_str()), (1725469236951, "v1"));
        let v = &row.value;
        assert_eq!(v["time_dt"], json!(1725469236951_i64));
        assert_eq!(v["metadata"]["version"], "1.3.0");
        assert_eq!(v["cloud"]["account"]["type_id"], 99);
        assert_eq!(v["cloud"]["account"]["type"], "Azure Subscription");
        assert!(v["cloud"].get("cloud_partition").is_none());
        assert_eq!(
            v["vulnerabilities"][0]["cve"]["cvss"][0],
            json!({"base_score": 4.8, "version": "3.1"})
        );
        assert_eq!(v["resources"][0]["data"], json!("{\"a\":[1,null]}"));
        assert_eq!(
            unmapped(&row),
            json!({
                "fanin": {"source": "inspector2"},
                "ocsf_1_7": {
                    "metadata.version": "1.7.0",
                    "cloud.account.type_id": 13,
                    "cloud.cloud_partition": "aws",
                    "vulnerabilities[0].fix_coverage_id": 1,
                    "vulnerabilities[0].advisory": {"uid": "a"},
                    "vulnerabilities[0].cve.cvss[0].vendor_name": "NVD",
                    "resources[0].ip": "10.0.0.1"
                }
            })
        );
    }

    #[test]
    fn archived_detections_become_other_and_oversized_counts_move() {
        let record = json!({
            "class_uid": 2004, "time": 1, "status_id": 5, "status": "Archived",
            "is_alert": false, "count": 4_294_967_296_i64,
            "metadata": {"uid": "v2", "version": "1.7.0"}
        });
        let row = translate(ExportClass::Detection, &record).unwrap();
        assert_eq!(row.value["status_id"], 99);
        assert_eq!(row.value["status"], "Archived");
        assert!(row.value.get("count").is_none());
        assert_eq!(
            unmapped(&row)["ocsf_1_7"],
            json!({"status_id": 5, "is_alert": false, "count": 4_294_967_296_i64, "metadata.version": "1.7.0"})
        );
    }

    #[test]
    fn refuses_records_of_another_class_or_without_identity() {
        let detection = json!({"class_uid": 2004, "time": 1, "metadata": {"uid": "v"}});
        assert_eq!(
            translate(ExportClass::Vulnerability, &detection),
            Err(TranslateError::WrongClass {
                found: 2004,
                expected: 2002
            })
        );
        assert_eq!(
            translate(
                ExportClass::Detection,
                &json!({"class_uid": 2004, "time": 1})
            ),
            Err(TranslateError::Missing("metadata.uid"))
        );
        assert_eq!(
            translate(ExportClass::Detection, &json!([])),
            Err(TranslateError::NotAnObject)
        );
    }
}
