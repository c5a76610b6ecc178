//! Installing what fanin needs in the cluster, idempotently: the index
//! templates (each class's latest-state and history templates, the
//! ledger's, the quarantine index's), the write aliases over the first
//! indices, and the ISM policy that rolls the history indices over and
//! deletes them after the retention.
//!
//! | Name | What it is |
//! |---|---|
//! | `<prefix>-findings`, `-compliance`, `-detections` | latest state of a class: on a new cluster a write alias over `<name>-000001`; a concrete index of that name (clusters installed before the alias) keeps working as is |
//! | `<latest>-history` | write alias over `<latest>-history-000001`, `-000002`...: one document per finding version, rolled over by ISM |
//! | `<prefix>-history-rollover` | the ISM policy of every `<prefix>-*-history-*` index |
//! | `<prefix>-ledger`, `<prefix>-quarantine`, `<prefix>-flows` | concrete indices, created by their first write from their templates |
//!
//! Two callers: the collector at cold start ([`bootstrap_class`], templates
//! written unconditionally, once per process) and the operator's installer
//! ([`install`], which reads everything back first and writes only what
//! differs, and reports what it did). The pure parts (the policy, the
//! comparisons, the settings' validation) are unit-tested here; the
//! installer runs against osmem-server in `tests/e2e/history.rs`.

use std::fmt;

use serde::Serialize;
use serde_json::{Map, Value, json};

use super::template;
use crate::normalize::FindingClass;
use crate::ports::{
    CallError, IndexCreation, PolicyLookup, SearchAdmin, SearchIndexer, StoredPolicy,
};

/// The ISM policy's id: `<prefix>-history-rollover`.
pub fn policy_id(prefix: &str) -> String {
    format!("{prefix}-history-rollover")
}

/// The first concrete index behind a write alias: `<alias>-000001`, the
/// `^.*-\d+$` shape ISM's rollover needs to name the next one.
pub fn first_index(alias: &str) -> String {
    format!("{alias}-000001")
}

/// When the history indices roll over and when they are deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IsmSettings {
    /// Roll over once the primary shards hold this much (`30gb`).
    pub rollover_min_size: String,
    /// ... or once the index is this old (`30d`).
    pub rollover_min_index_age: String,
    /// Delete an index this long after it rolled over (`400d`): every
    /// version is kept at least this long after its index stopped taking
    /// writes.
    pub retention: String,
}

impl Default for IsmSettings {
    fn default() -> Self {
        Self {
            rollover_min_size: "30gb".into(),
            rollover_min_index_age: "30d".into(),
            retention: "400d".into(),
        }
    }
}

/// A setting ISM would refuse, with the value and what it expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{setting} = {value:?}: expected {expected}")]
pub struct IsmSettingError {
    pub setting: &'static str,
    pub value: String,
    pub expected: &'static str,
}

/// OpenSearch byte-size units (`ByteSizeValue`).
const SIZE_UNITS: [&str; 6] = ["b", "kb", "mb", "gb", "tb", "pb"];
/// OpenSearch time units (`TimeValue`), longest first so `ms` is not read as `s`.
const AGE_UNITS: [&str; 6] = ["micros", "ms", "d", "h", "m", "s"];

fn quantity(
    setting: &'static str,
    value: &str,
    units: &[&str],
    expected: &'static str,
) -> Result<String, IsmSettingError> {
    let value = value.trim().to_ascii_lowercase();
    let valid = units.iter().any(|unit| {
        value.strip_suffix(unit).is_some_and(|number| {
            !number.is_empty()
                && number.len() <= 9
                && number.bytes().all(|b| b.is_ascii_digit())
                && number.bytes().any(|b| b != b'0')
        })
    });
    if valid {
        Ok(value)
    } else {
        Err(IsmSettingError {
            setting,
            value: crate::ids::truncate_for_message(&value),
            expected,
        })
    }
}

impl IsmSettings {
    /// Validates the three values (a positive whole number and a unit ISM
    /// reads), in lower case.
    pub fn new(
        rollover_min_size: &str,
        rollover_min_index_age: &str,
        retention: &str,
    ) -> Result<Self, IsmSettingError> {
        const SIZE: &str = "a size such as 30gb (units b, kb, mb, gb, tb, pb)";
        const AGE: &str = "an age such as 30d (units d, h, m, s, ms, micros)";
        Ok(Self {
            rollover_min_size: quantity("rollover min_size", rollover_min_size, &SIZE_UNITS, SIZE)?,
            rollover_min_index_age: quantity(
                "rollover min_index_age",
                rollover_min_index_age,
                &AGE_UNITS,
                AGE,
            )?,
            retention: quantity("retention", retention, &AGE_UNITS, AGE)?,
        })
    }
}

/// The ISM policy body (`{"policy": ...}`) of the history indices: a `hot`
/// state that rolls the index over at the size or the age, then `delete`
/// once the retention has passed since the rollover. Its `ism_template`
/// attaches it to every new `<prefix>-*-history-*` index (the rollover
/// alias comes from the history templates).
pub fn history_policy(prefix: &str, ism: &IsmSettings) -> Value {
    json!({
        "policy": {
            "description": format!(
                "fanin finding history: roll over at {} or {}, delete {} after the rollover",
                ism.rollover_min_size, ism.rollover_min_index_age, ism.retention
            ),
            "default_state": "hot",
            "states": [
                {
                    "name": "hot",
                    "actions": [{"rollover": {
                        "min_size": ism.rollover_min_size,
                        "min_index_age": ism.rollover_min_index_age,
                    }}],
                    "transitions": [{
                        "state_name": "delete",
                        "conditions": {"min_rollover_age": ism.retention},
                    }],
                },
                {
                    "name": "delete",
                    "actions": [{"delete": {}}],
                    "transitions": [],
                },
            ],
            // A list: ISM stores it as one, so a read-back compares.
            "ism_template": [{
                "index_patterns": [format!("{prefix}-*-history-*")],
                "priority": 100,
            }],
        }
    })
}

/// Whether `stored` says everything `wanted` says: objects may hold more
/// (what the cluster adds: defaults, ids, times), lists must have the same
/// length, scalars must be equal.
pub fn covers(stored: &Value, wanted: &Value) -> bool {
    match (stored, wanted) {
        (Value::Object(stored), Value::Object(wanted)) => wanted
            .iter()
            .all(|(key, value)| stored.get(key).is_some_and(|s| covers(s, value))),
        (Value::Array(stored), Value::Array(wanted)) => {
            stored.len() == wanted.len() && stored.iter().zip(wanted).all(|(s, w)| covers(s, w))
        }
        _ => stored == wanted,
    }
}

/// Index settings as flat `name: "value"` pairs without the `index.`
/// prefix: how a template's settings compare, whether written
/// `{"number_of_shards": 1}` or read back `{"index": {"number_of_shards": "1"}}`.
fn flat_settings(settings: &Value) -> Map<String, Value> {
    fn walk(prefix: &str, value: &Value, out: &mut Map<String, Value>) {
        match value {
            Value::Object(map) => {
                for (key, inner) in map {
                    let name = if prefix.is_empty() {
                        key.clone()
                    } else {
                        format!("{prefix}.{key}")
                    };
                    walk(&name, inner, out);
                }
            }
            Value::String(text) => {
                out.insert(prefix.to_owned(), Value::String(text.clone()));
            }
            other => {
                out.insert(prefix.to_owned(), Value::String(other.to_string()));
            }
        }
    }
    let mut flat = Map::new();
    walk("", settings, &mut flat);
    flat.into_iter()
        .map(|(key, value)| match key.strip_prefix("index.") {
            Some(short) => (short.to_owned(), value),
            None => (key, value),
        })
        .collect()
}

/// Whether a stored index template already is the wanted one (settings
/// compared flat, everything else by [`covers`]).
pub fn template_matches(stored: &Value, wanted: &Value) -> bool {
    let normalize = |template: &Value| {
        let mut template = template.clone();
        if let Some(settings) = template.pointer_mut("/template/settings") {
            *settings = Value::Object(flat_settings(settings));
        }
        template
    };
    covers(&normalize(stored), &normalize(wanted))
}

/// What the installer did to one thing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Change {
    Created,
    Updated,
    Unchanged,
    /// The cluster cannot hold it (no ISM plugin).
    NotAvailable,
}

/// One thing the installer looked at.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Installed {
    /// `index template`, `write alias`, `ISM policy`.
    pub kind: &'static str,
    pub name: String,
    pub change: Change,
}

/// What [`install`] did, thing by thing, and what an operator must know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InstallReport {
    pub endpoint: String,
    pub items: Vec<Installed>,
    /// Non-fatal problems, each a sentence for the operator.
    pub warnings: Vec<String>,
}

impl InstallReport {
    /// How many things were created or updated.
    pub fn changed(&self) -> usize {
        self.items
            .iter()
            .filter(|i| matches!(i.change, Change::Created | Change::Updated))
            .count()
    }

    fn record(&mut self, kind: &'static str, name: impl Into<String>, change: Change) {
        self.items.push(Installed {
            kind,
            name: name.into(),
            change,
        });
    }
}

impl fmt::Display for InstallReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for item in &self.items {
            let change = match item.change {
                Change::Created => "created",
                Change::Updated => "updated",
                Change::Unchanged => "unchanged",
                Change::NotAvailable => "not available",
            };
            writeln!(f, "{change:<14} {:<15} {}", item.kind, item.name)?;
        }
        for warning in &self.warnings {
            writeln!(f, "warning: {warning}")?;
        }
        Ok(())
    }
}

/// Makes `alias` a write alias over `<alias>-000001`, unless an index or an
/// alias of that name exists (then it is left as it is: a latest-state
/// index created before aliases keeps working). A concurrent creation of
/// the same first index is success.
pub async fn ensure_write_alias(
    search: &dyn SearchIndexer,
    alias: &str,
) -> Result<Change, CallError> {
    if search.index_exists(alias).await? {
        return Ok(Change::Unchanged);
    }
    let first = first_index(alias);
    let body = json!({"aliases": {alias: {"is_write_index": true}}});
    match search.create_index(&first, &body).await? {
        IndexCreation::Created => Ok(Change::Created),
        // Another process won the race: its index carries the alias.
        IndexCreation::AlreadyExists if search.index_exists(alias).await? => Ok(Change::Unchanged),
        IndexCreation::AlreadyExists => Err(CallError::Rejected {
            operation: "CreateIndex",
            code: "alias_missing".into(),
            message: format!(
                "index {first} exists without the write alias {alias}: add the alias \
                 ({{\"actions\": [{{\"add\": {{\"index\": \"{first}\", \"alias\": \"{alias}\", \"is_write_index\": true}}}}]}} on /_aliases)"
            ),
        }),
    }
}

/// What the collector needs of one finding class before its first write
/// (once per process): the latest-state and history templates (written
/// unconditionally: a newer collector brings its mapping), then the two
/// write aliases.
pub async fn bootstrap_class(
    search: &dyn SearchIndexer,
    prefix: &str,
    class: FindingClass,
) -> Result<(), CallError> {
    let latest = template::latest_name(prefix, class);
    search
        .install_template(&latest, &template::class_template(class, prefix))
        .await?;
    let history = template::history_alias(&latest);
    search
        .install_template(&history, &template::history_template(class, prefix))
        .await?;
    ensure_write_alias(search, &latest).await?;
    ensure_write_alias(search, &history).await?;
    Ok(())
}

/// Every index template fanin installs, by name (the name of the index or
/// alias it is for).
pub fn templates(prefix: &str) -> Vec<(String, Value)> {
    let mut all = Vec::new();
    for class in FindingClass::ALL {
        let latest = template::latest_name(prefix, class);
        all.push((latest.clone(), template::class_template(class, prefix)));
        all.push((
            template::history_alias(&latest),
            template::history_template(class, prefix),
        ));
    }
    all.push((
        format!("{prefix}-ledger"),
        template::ledger_template(prefix),
    ));
    all.push((
        format!("{prefix}-quarantine"),
        template::quarantine_template(prefix),
    ));
    all.push((
        template::flows_name(prefix),
        template::flows_template(prefix),
    ));
    all.push((
        template::usage_name(prefix),
        template::usage_template(prefix),
    ));
    all
}

/// Installs everything, writing only what is missing or differs, and
/// reports each thing. Running it twice changes nothing the second time.
/// A cluster without ISM is a warning in the report, not an error: fanin
/// works, but its history indices do not roll over.
pub async fn install(
    admin: &dyn SearchAdmin,
    prefix: &str,
    ism: &IsmSettings,
) -> Result<InstallReport, CallError> {
    let mut report = InstallReport {
        endpoint: admin.endpoint(),
        items: Vec::new(),
        warnings: Vec::new(),
    };
    for (name, wanted) in templates(prefix) {
        let change = match admin.get_template(&name).await? {
            Some(stored) if template_matches(&stored, &wanted) => Change::Unchanged,
            Some(_) => Change::Updated,
            None => Change::Created,
        };
        if change != Change::Unchanged {
            admin.install_template(&name, &wanted).await?;
        }
        report.record("index template", name, change);
    }
    for class in FindingClass::ALL {
        let latest = template::latest_name(prefix, class);
        for alias in [template::history_alias(&latest), latest] {
            let change = ensure_write_alias(admin, &alias).await?;
            report.record("write alias", alias, change);
        }
    }
    let id = policy_id(prefix);
    let wanted = history_policy(prefix, ism);
    let change = match admin.get_ism_policy(&id).await? {
        PolicyLookup::Unavailable(answer) => {
            report.warnings.push(format!(
                "ISM plugin not available on {}: history indices will not roll over ({answer})",
                report.endpoint
            ));
            Change::NotAvailable
        }
        PolicyLookup::Missing => {
            admin.put_ism_policy(&id, &wanted, None).await?;
            Change::Created
        }
        PolicyLookup::Found(StoredPolicy { policy, .. }) if covers(&policy, &wanted["policy"]) => {
            Change::Unchanged
        }
        PolicyLookup::Found(stored) => {
            admin
                .put_ism_policy(&id, &wanted, Some((stored.seq_no, stored.primary_term)))
                .await?;
            Change::Updated
        }
    };
    report.record("ISM policy", id, change);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::InMemory;

    #[test]
    fn ism_settings_are_validated_and_name_the_setting() {
        let ism = IsmSettings::new("50GB", "7d", "90d").unwrap();
        assert_eq!(ism.rollover_min_size, "50gb");
        assert_eq!(
            IsmSettings::new("30gb", "30d", "400d").unwrap(),
            IsmSettings::default()
        );
        assert!(IsmSettings::new("30gb", "12h", "1500ms").is_ok());
        for (size, age, retention, setting) in [
            ("30", "30d", "400d", "rollover min_size"),
            ("0gb", "30d", "400d", "rollover min_size"),
            ("-1gb", "30d", "400d", "rollover min_size"),
            ("30gb", "30 days", "400d", "rollover min_index_age"),
            ("30gb", "30d", "400gb", "retention"),
            ("30gb", "30d", "", "retention"),
        ] {
            let error = IsmSettings::new(size, age, retention).unwrap_err();
            assert_eq!(error.setting, setting, "{size} {age} {retention}");
            assert!(error.to_string().starts_with(setting), "{error}");
        }
    }

    /// The documented ISM policy shape (OpenSearch "Policies" and "ISM
    /// API"): `policy.description`, `default_state` naming a state, states
    /// with `name`, `actions`, `transitions` whose `state_name` is a state;
    /// a rollover action with its conditions; `ism_template` with
    /// `index_patterns` and `priority`.
    #[test]
    fn the_history_policy_has_the_documented_shape() {
        let ism = IsmSettings::new("20gb", "14d", "365d").unwrap();
        let body = history_policy("fanin", &ism);
        let policy = body["policy"].as_object().unwrap();
        let allowed = [
            "description",
            "default_state",
            "states",
            "ism_template",
            "error_notification",
        ];
        assert!(
            policy.keys().all(|k| allowed.contains(&k.as_str())),
            "{:?}",
            policy.keys()
        );
        assert!(
            policy["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        let states = policy["states"].as_array().unwrap();
        let names: Vec<&str> = states.iter().map(|s| s["name"].as_str().unwrap()).collect();
        assert_eq!(names, ["hot", "delete"]);
        assert!(names.contains(&policy["default_state"].as_str().unwrap()));
        for state in states {
            assert!(state["actions"].is_array() && state["transitions"].is_array());
            for transition in state["transitions"].as_array().unwrap() {
                assert!(names.contains(&transition["state_name"].as_str().unwrap()));
            }
        }
        assert_eq!(
            states[0]["actions"],
            json!([{"rollover": {"min_size": "20gb", "min_index_age": "14d"}}])
        );
        assert_eq!(
            states[0]["transitions"][0]["conditions"],
            json!({"min_rollover_age": "365d"})
        );
        assert_eq!(states[1]["actions"], json!([{"delete": {}}]));
        assert_eq!(
            policy["ism_template"],
            json!([{"index_patterns": ["fanin-*-history-*"], "priority": 100}])
        );
        // The pattern covers each class's history indices, and only them.
        let pattern = "fanin-*-history-*";
        let matches = |name: &str| {
            let parts: Vec<&str> = pattern.split('*').collect();
            name.starts_with(parts[0]) && name.contains(parts[1])
        };
        for class in FindingClass::ALL {
            let latest = template::latest_name("fanin", class);
            assert!(matches(&first_index(&template::history_alias(&latest))));
            assert!(!matches(&first_index(&latest)));
        }
        assert!(!matches("fanin-ledger"));
    }

    #[test]
    fn a_read_back_with_the_cluster_s_additions_still_matches() {
        let wanted = history_policy("fanin", &IsmSettings::default());
        // As ISM answers a GET: its own fields, default retries, the
        // template's update time.
        let mut stored = wanted["policy"].clone();
        stored["policy_id"] = json!("fanin-history-rollover");
        stored["schema_version"] = json!(21);
        stored["error_notification"] = Value::Null;
        stored["states"][0]["actions"][0]["retry"] =
            json!({"count": 3, "backoff": "exponential", "delay": "1m"});
        stored["ism_template"][0]["last_updated_time"] = json!(1_700_000_000_000_i64);
        assert!(covers(&stored, &wanted["policy"]));
        let other = history_policy("fanin", &IsmSettings::new("30gb", "30d", "90d").unwrap());
        assert!(!covers(&stored, &other["policy"]));

        let template = template::history_template(FindingClass::VulnerabilityFinding, "fanin");
        let mut read_back = template.clone();
        read_back["template"]["settings"] = json!({"index": {
            "number_of_shards": "1", "refresh_interval": "5s",
            "plugins": {"index_state_management": {"rollover_alias": "fanin-findings-history"}},
        }});
        read_back["composed_of"] = json!([]);
        assert!(template_matches(&read_back, &template));
        read_back["template"]["settings"]["index"]["number_of_shards"] = json!("2");
        assert!(!template_matches(&read_back, &template));
    }

    #[tokio::test]
    async fn a_second_install_changes_nothing_and_a_changed_policy_is_replaced_conditionally() {
        let mut world = InMemory::default();
        world.ism_available = true;
        let first = install(&world, "fanin", &IsmSettings::default())
            .await
            .unwrap();
        assert!(first.warnings.is_empty(), "{first}");
        assert!(
            first.items.iter().all(|i| i.change == Change::Created),
            "{first}"
        );
        assert_eq!(first.items.len(), 10 + 6 + 1, "{first}");
        assert_eq!(world.index("fanin-findings-history").len(), 0);
        assert!(
            world
                .index_exists("fanin-detections-history")
                .await
                .unwrap()
        );

        world.reset_calls();
        let second = install(&world, "fanin", &IsmSettings::default())
            .await
            .unwrap();
        assert_eq!(second.changed(), 0, "{second}");
        let calls = world.calls();
        for write in ["PutIndexTemplate", "CreateIndex", "PutIsmPolicy"] {
            assert_eq!(calls.get(write), None, "{write}: {calls:?}");
        }

        let shorter = IsmSettings::new("30gb", "30d", "90d").unwrap();
        let third = install(&world, "fanin", &shorter).await.unwrap();
        assert_eq!(third.changed(), 1, "{third}");
        assert_eq!(
            third.items.last().unwrap(),
            &Installed {
                kind: "ISM policy",
                name: "fanin-history-rollover".into(),
                change: Change::Updated,
            }
        );
        let PolicyLookup::Found(stored) = world
            .get_ism_policy("fanin-history-rollover")
            .await
            .unwrap()
        else {
            panic!("the policy is there")
        };
        assert_eq!(
            stored.policy["states"][0]["transitions"][0]["conditions"]["min_rollover_age"],
            "90d"
        );
    }

    #[tokio::test]
    async fn without_ism_the_report_says_so_and_the_rest_is_installed() {
        let world = InMemory::default();
        let report = install(&world, "fanin", &IsmSettings::default())
            .await
            .unwrap();
        assert_eq!(
            report.items.last().unwrap().change,
            Change::NotAvailable,
            "{report}"
        );
        assert_eq!(report.warnings.len(), 1);
        assert!(
            report.warnings[0].starts_with(
                "ISM plugin not available on in-memory: history indices will not roll over"
            ),
            "{}",
            report.warnings[0]
        );
        assert!(
            report
                .to_string()
                .contains("warning: ISM plugin not available")
        );
        assert_eq!(report.changed(), 10 + 6);
    }

    #[tokio::test]
    async fn an_existing_concrete_latest_index_is_kept_and_a_lost_race_is_success() {
        let world = InMemory::default();
        // A cluster from before the aliases: the latest index is concrete.
        world.overwrite("fanin-findings", "doc", json!({"kept": true}));
        assert_eq!(
            ensure_write_alias(&world, "fanin-findings").await.unwrap(),
            Change::Unchanged
        );
        assert!(!world.index_exists("fanin-findings-000001").await.unwrap());
        assert_eq!(world.index("fanin-findings")["doc"].source["kept"], true);

        // Another process created the first index and its alias between
        // this one's check and its creation.
        let other = json!({"aliases": {"fanin-detections": {"is_write_index": true}}});
        world
            .create_index("fanin-detections-000001", &other)
            .await
            .unwrap();
        assert_eq!(
            world
                .create_index("fanin-detections-000001", &other)
                .await
                .unwrap(),
            IndexCreation::AlreadyExists
        );
        // The first index without its alias is an operator's fix, said so.
        world
            .create_index("fanin-compliance-history-000001", &json!({}))
            .await
            .unwrap();
        let error = ensure_write_alias(&world, "fanin-compliance-history")
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("without the write alias"),
            "{error}"
        );
    }
}
