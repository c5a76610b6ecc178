//! A stand-in for the OpenSearch Dashboards saved-objects API, on loopback.
//!
//! No OpenSearch Dashboards (nor Kibana) installs from the registries these
//! machines reach (`docs/local-stack.md`), so the demo and the tests import
//! fanin's saved objects here. It keeps to what the documented import API
//! does and what an import into a real Dashboards would refuse:
//!
//! - `POST /api/saved_objects/_import[?overwrite=true]`: refuses a request
//!   without an `osd-xsrf` header (400, as Dashboards' XSRF filter does);
//!   takes a `multipart/form-data` body whose `file` part is NDJSON; answers
//!   `{"success", "successCount", "errors"}`: an object that is not JSON
//!   with `id`, `type` and `attributes` is a 400, an object whose reference
//!   names neither an object of the file nor a stored one is a
//!   `missing_references` error, and an existing object without `overwrite`
//!   is a `conflict`;
//! - `GET /api/saved_objects/<type>/<id>`: the stored object, or 404;
//! - `GET /_devstack/saved_objects`: every stored object, and how many import
//!   requests wrote each (what a test checks for idempotence).
//!
//! It renders nothing: whether a panel's query returns the right numbers is
//! checked against the index itself (`tests/e2e/dashboards.rs`).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::task::JoinHandle;

#[derive(Default)]
struct Store {
    /// (type, id) → (object, times written).
    objects: BTreeMap<(String, String), (Value, u32)>,
    imports: u32,
}

type Shared = Arc<Mutex<Store>>;

/// The running stand-in; stopped when dropped.
pub struct LocalDashboards {
    pub url: String,
    task: JoinHandle<()>,
}

impl Drop for LocalDashboards {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub async fn start() -> anyhow::Result<LocalDashboards> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let store: Shared = Arc::default();
    let app = Router::new()
        .route("/api/saved_objects/_import", post(import))
        .route("/api/saved_objects/{kind}/{id}", get(read))
        .route("/_devstack/saved_objects", get(list))
        .with_state(store);
    let task = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(LocalDashboards { url, task })
}

#[derive(Deserialize)]
struct ImportQuery {
    #[serde(default)]
    overwrite: bool,
}

fn bad_request(message: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"statusCode": 400, "error": "Bad Request", "message": message})),
    )
        .into_response()
}

/// The `file` part of a `multipart/form-data` body.
fn file_part(headers: &HeaderMap, body: &[u8]) -> Result<String, String> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let boundary = content_type
        .strip_prefix("multipart/form-data")
        .and_then(|rest| {
            rest.split(';')
                .find_map(|p| p.trim().strip_prefix("boundary="))
        })
        .ok_or("Unsupported Media Type: expected multipart/form-data with a boundary")?
        .trim_matches('"');
    let text = std::str::from_utf8(body).map_err(|_| "the body is not UTF-8")?;
    let delimiter = format!("--{boundary}");
    for part in text.split(delimiter.as_str()) {
        let Some((head, content)) = part.split_once("\r\n\r\n") else {
            continue;
        };
        if head.contains("name=\"file\"") {
            return Ok(content.strip_suffix("\r\n").unwrap_or(content).to_owned());
        }
    }
    Err("[request body.file]: expected value of type [object] but got [undefined]".into())
}

async fn import(
    State(store): State<Shared>,
    Query(query): Query<ImportQuery>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !headers.contains_key("osd-xsrf") {
        return bad_request("Request must contain a osd-xsrf header.");
    }
    let file = match file_part(&headers, &body) {
        Ok(file) => file,
        Err(message) => return bad_request(&message),
    };
    let mut objects = Vec::new();
    for (line, text) in file
        .lines()
        .enumerate()
        .filter(|(_, t)| !t.trim().is_empty())
    {
        let object: Value = match serde_json::from_str(text) {
            Ok(object) => object,
            Err(e) => return bad_request(&format!("line {}: {e}", line + 1)),
        };
        if !(object["id"].is_string()
            && object["type"].is_string()
            && object["attributes"].is_object())
        {
            return bad_request(&format!("line {}: not a saved object", line + 1));
        }
        objects.push(object);
    }
    let mut store = store.lock().expect("store lock");
    store.imports += 1;
    let key = |o: &Value| {
        (
            o["type"].as_str().unwrap().to_owned(),
            o["id"].as_str().unwrap().to_owned(),
        )
    };
    let in_file: Vec<(String, String)> = objects.iter().map(key).collect();
    let mut errors = Vec::new();
    let mut accepted = Vec::new();
    for object in &objects {
        let missing: Vec<Value> = object["references"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| {
                let target = (
                    r["type"].as_str().unwrap_or_default().to_owned(),
                    r["id"].as_str().unwrap_or_default().to_owned(),
                );
                !in_file.contains(&target) && !store.objects.contains_key(&target)
            })
            .map(|r| json!({"type": r["type"], "id": r["id"]}))
            .collect();
        let error = if !missing.is_empty() {
            Some(json!({"type": "missing_references", "references": missing}))
        } else if !query.overwrite && store.objects.contains_key(&key(object)) {
            Some(json!({"type": "conflict"}))
        } else {
            None
        };
        match error {
            Some(error) => errors.push(json!({
                "id": object["id"], "type": object["type"],
                "title": object["attributes"]["title"], "error": error,
            })),
            None => accepted.push(object.clone()),
        }
    }
    let count = accepted.len();
    for object in accepted {
        let entry = store
            .objects
            .entry(key(&object))
            .or_insert((Value::Null, 0));
        *entry = (object, entry.1 + 1);
    }
    let mut answer = json!({"success": errors.is_empty(), "successCount": count});
    if !errors.is_empty() {
        answer["errors"] = Value::Array(errors);
    }
    Json(answer).into_response()
}

async fn read(State(store): State<Shared>, Path((kind, id)): Path<(String, String)>) -> Response {
    let store = store.lock().expect("store lock");
    match store.objects.get(&(kind.clone(), id.clone())) {
        Some((object, _)) => Json(object.clone()).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({"statusCode": 404, "error": "Not Found",
                "message": format!("Saved object [{kind}/{id}] not found")})),
        )
            .into_response(),
    }
}

async fn list(State(store): State<Shared>) -> Json<Value> {
    let store = store.lock().expect("store lock");
    let objects: Vec<Value> = store
        .objects
        .values()
        .map(|(object, writes)| json!({"object": object, "writes": writes}))
        .collect();
    Json(json!({"imports": store.imports, "objects": objects}))
}
