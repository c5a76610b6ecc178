//! Helpers shared by the property-test files: mutations of JSON documents.

use proptest::sample::Index;
use serde_json::Value;

/// Every path to a value inside `value` (objects and arrays included).
pub fn paths(value: &Value, prefix: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                let path = format!("{prefix}/{}", key.replace('~', "~0").replace('/', "~1"));
                out.push(path.clone());
                paths(item, path, out);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                let path = format!("{prefix}/{i}");
                out.push(path.clone());
                paths(item, path, out);
            }
        }
        _ => {}
    }
}

/// `document` with the values at a few paths replaced by hostile ones.
pub fn mutate(document: &Value, edits: &[(Index, Value)]) -> Value {
    let mut mutated = document.clone();
    for (index, replacement) in edits {
        let mut all = Vec::new();
        paths(&mutated, String::new(), &mut all);
        if all.is_empty() {
            break;
        }
        let path = index.get(&all);
        if let Some(slot) = mutated.pointer_mut(path) {
            *slot = replacement.clone();
        }
    }
    mutated
}
