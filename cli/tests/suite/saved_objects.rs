//! The shipped saved objects (`cli/saved-objects/fanin.ndjson`), read as
//! OpenSearch Dashboards reads them: every line an object, every reference
//! resolving to an object of the file, and every field a panel aggregates or
//! filters on mapped by the index templates fanin installs, with a type that
//! aggregates. (That each panel's query returns the archive's numbers is
//! `tests/e2e/dashboards.rs`.)

use std::collections::{BTreeMap, BTreeSet};

use fanin::search::install;
use serde_json::Value;

const SHIPPED: &str = include_str!("../../saved-objects/fanin.ndjson");

fn objects() -> Vec<Value> {
    SHIPPED
        .lines()
        .enumerate()
        .map(|(line, text)| {
            serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("line {} is not a JSON object: {e}", line + 1))
        })
        .collect()
}

/// The JSON kept as text inside an attribute (`visState`, `panelsJSON`, ...).
fn embedded(object: &Value, pointer: &str) -> Value {
    let text = object
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{} has no {pointer}", object["id"]));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{} {pointer}: {e}", object["id"]))
}

#[test]
fn every_object_is_well_formed_and_unique() {
    let objects = objects();
    let mut seen = BTreeSet::new();
    for object in &objects {
        let id = object["id"].as_str().expect("an id");
        let kind = object["type"].as_str().expect("a type");
        assert!(
            ["index-pattern", "visualization", "dashboard"].contains(&kind),
            "{id}: unexpected type {kind}"
        );
        assert!(seen.insert((kind, id)), "{kind} {id} appears twice");
        assert!(
            object["attributes"]["title"]
                .as_str()
                .is_some_and(|t| !t.is_empty()),
            "{id}: a title"
        );
        assert!(
            object["migrationVersion"][kind].is_string(),
            "{id}: migrationVersion"
        );
        match kind {
            "visualization" => {
                let vis = embedded(object, "/attributes/visState");
                assert_eq!(vis["title"], object["attributes"]["title"], "{id}");
                assert!(
                    vis["aggs"].as_array().is_some_and(|a| !a.is_empty()),
                    "{id}: aggs"
                );
                embedded(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
                embedded(object, "/attributes/uiStateJSON");
            }
            "dashboard" => {
                let panels = embedded(object, "/attributes/panelsJSON");
                assert!(
                    panels.as_array().is_some_and(|p| !p.is_empty()),
                    "{id}: panels"
                );
                embedded(object, "/attributes/optionsJSON");
                embedded(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
            }
            _ => {}
        }
    }
    let dashboards = objects.iter().filter(|o| o["type"] == "dashboard").count();
    assert_eq!(
        dashboards, 5,
        "overview, exposure, pipeline health, network traffic and least privilege"
    );
}

#[test]
fn every_reference_resolves_and_every_ref_name_is_referenced() {
    let objects = objects();
    let ids: BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| {
            (
                o["type"].as_str().unwrap().to_owned(),
                o["id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for object in &objects {
        let id = &object["id"];
        let references = object["references"].as_array().expect("references");
        let names: BTreeSet<&str> = references
            .iter()
            .map(|r| {
                let target = (
                    r["type"].as_str().unwrap().to_owned(),
                    r["id"].as_str().unwrap().to_owned(),
                );
                assert!(ids.contains(&target), "{id} refers to missing {target:?}");
                r["name"].as_str().unwrap()
            })
            .collect();
        // Every *RefName in the embedded JSON names one of the references.
        let mut wanted = Vec::new();
        if object["type"] == "visualization" {
            let source = embedded(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
            wanted.push(
                source["indexRefName"]
                    .as_str()
                    .expect("indexRefName")
                    .to_owned(),
            );
            for filter in source["filter"].as_array().unwrap() {
                wanted.push(filter["meta"]["indexRefName"].as_str().unwrap().to_owned());
            }
        }
        if object["type"] == "dashboard" {
            for panel in embedded(object, "/attributes/panelsJSON")
                .as_array()
                .unwrap()
            {
                wanted.push(panel["panelRefName"].as_str().unwrap().to_owned());
            }
        }
        for name in &wanted {
            assert!(
                names.contains(name.as_str()),
                "{id}: {name} is not a reference"
            );
        }
        assert_eq!(
            names.len(),
            references.len(),
            "{id}: reference names are unique"
        );
    }
}

/// Field → mapping type, flattened from a template's properties.
fn flatten(properties: &Value, prefix: &str, out: &mut BTreeMap<String, String>) {
    for (name, mapping) in properties.as_object().into_iter().flatten() {
        let path = format!("{prefix}{name}");
        if let Some(kind) = mapping["type"].as_str() {
            out.insert(path.clone(), kind.to_owned());
        }
        if mapping["properties"].is_object() {
            flatten(&mapping["properties"], &format!("{path}."), out);
        }
        for (sub, sub_mapping) in mapping["fields"].as_object().into_iter().flatten() {
            if let Some(kind) = sub_mapping["type"].as_str() {
                out.insert(format!("{path}.{sub}"), kind.to_owned());
            }
        }
    }
}

/// Whether an index template's patterns cover an index name (`*` only).
fn covers(patterns: &Value, index: &str) -> bool {
    patterns.as_array().unwrap().iter().any(|pattern| {
        let pattern = pattern.as_str().unwrap();
        match pattern.strip_suffix('*') {
            Some(stem) => index.starts_with(stem),
            None => index == pattern,
        }
    })
}

/// The mapping an index of this name gets: that of the highest-priority
/// template of the ones fanin installs that covers it.
fn mapping_of(index: &str) -> BTreeMap<String, String> {
    let template = install::templates("fanin")
        .into_iter()
        .map(|(_, template)| template)
        .filter(|t| covers(&t["index_patterns"], index))
        .max_by_key(|t| t["priority"].as_i64().unwrap_or(0))
        .unwrap_or_else(|| panic!("no template covers {index}"));
    let mut fields = BTreeMap::new();
    flatten(
        &template["template"]["mappings"]["properties"],
        "",
        &mut fields,
    );
    fields
}

/// The indices an index pattern title reads, as concrete names a template
/// must cover (`x*` stands for its first rolled-over index).
fn indices_of(title: &str) -> Vec<String> {
    title
        .split(',')
        .map(|part| match part.strip_suffix('*') {
            Some(stem) => format!("{stem}-000001"),
            None => part.to_owned(),
        })
        .collect()
}

const AGGREGATABLE: [&str; 8] = [
    "keyword", "integer", "long", "float", "double", "date", "boolean", "ip",
];

/// Every field an object aggregates or filters on.
fn fields_used(vis: &Value, source: &Value) -> BTreeSet<String> {
    fn walk(query: &Value, out: &mut BTreeSet<String>) {
        match query {
            Value::Object(map) => {
                for (key, value) in map {
                    match key.as_str() {
                        "term" | "terms" => out.extend(value.as_object().unwrap().keys().cloned()),
                        "exists" => {
                            out.insert(value["field"].as_str().unwrap().to_owned());
                        }
                        _ => walk(value, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|item| walk(item, out)),
            _ => {}
        }
    }
    let mut fields: BTreeSet<String> = vis["aggs"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|agg| agg["params"]["field"].as_str().map(str::to_owned))
        .collect();
    for filter in source["filter"].as_array().unwrap() {
        walk(&filter["query"], &mut fields);
    }
    fields
}

#[test]
fn every_field_a_panel_uses_is_mapped_with_a_type_that_aggregates() {
    let objects = objects();
    let patterns: BTreeMap<&str, &str> = objects
        .iter()
        .filter(|o| o["type"] == "index-pattern")
        .map(|o| {
            (
                o["id"].as_str().unwrap(),
                o["attributes"]["title"].as_str().unwrap(),
            )
        })
        .collect();
    for (id, title) in &patterns {
        let pattern = objects.iter().find(|o| o["id"] == *id).unwrap();
        if let Some(time) = pattern["attributes"]["timeFieldName"].as_str() {
            for index in indices_of(title) {
                assert_eq!(
                    mapping_of(&index).get(time).map(String::as_str),
                    Some("date"),
                    "{id}: time field {time} of {index}"
                );
            }
        }
    }
    let mut checked = 0;
    for object in objects.iter().filter(|o| o["type"] == "visualization") {
        let id = &object["id"];
        let vis = embedded(object, "/attributes/visState");
        let source = embedded(object, "/attributes/kibanaSavedObjectMeta/searchSourceJSON");
        let pattern_id = object["references"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == source["indexRefName"])
            .and_then(|r| r["id"].as_str())
            .unwrap();
        for index in indices_of(patterns[pattern_id]) {
            let mapping = mapping_of(&index);
            for field in fields_used(&vis, &source) {
                let kind = mapping
                    .get(&field)
                    .unwrap_or_else(|| panic!("{id}: {field} is not mapped in {index}"));
                assert!(
                    AGGREGATABLE.contains(&kind.as_str()),
                    "{id}: {field} is {kind} in {index}, which does not aggregate"
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 20, "the panels use fields ({checked} checked)");
}
