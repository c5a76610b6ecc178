//! The published-sample corpus (`tests/fixtures/published/`): its golden
//! OCSF documents, which `shared/tests/suite/published.rs` asserts fanin produces,
//! are valid for the independent validator, and the fields fanin adds for
//! them are searchable in an index made from fanin's template.

use fanin_devstack::procs::OsmemServer;
use serde_json::{Value, json};

fn goldens() -> Vec<(String, Value)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/published");
    let mut found: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.to_string_lossy().ends_with(".ocsf.json"))
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, serde_json::from_str(&text).unwrap())
        })
        .collect();
    found.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(found.len(), 9, "one golden document per published sample");
    found
}

#[test]
fn the_published_corpus_is_valid_ocsf() {
    let documents: Vec<Value> = goldens().into_iter().map(|(_, d)| d).collect();
    let report = fanin_tests::validate_ocsf(&documents).unwrap();
    assert!(report.contains("ocsf: 9 valid, 0 invalid"), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_new_fields_are_searchable() {
    let osmem = OsmemServer::start().await.unwrap();
    let http = reqwest::Client::new();
    let url = |path: &str| format!("{}/{path}", osmem.url.trim_end_matches('/'));
    let put = http
        .put(url("_index_template/fanin-findings"))
        .json(&fanin::search::template::index_template("fanin"))
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.text().await.unwrap());
    for (i, (name, document)) in goldens().into_iter().enumerate() {
        let answer = http
            .put(url(&format!("fanin-findings/_doc/{i}?refresh=true")))
            .json(&document)
            .send()
            .await
            .unwrap();
        assert!(
            answer.status().is_success(),
            "{name}: {}",
            answer.text().await.unwrap()
        );
    }
    let search = |query: Value| {
        let http = http.clone();
        let target = url("fanin-findings/_search");
        async move {
            let answer: Value = http
                .post(target)
                .json(&query)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            let hits = answer["hits"]["hits"].as_array().cloned();
            hits.unwrap_or_else(|| panic!("no hits in {answer}"))
        }
    };
    let count = |field: &str, value: Value| {
        let query = json!({"query": {"term": {field: value}}});
        let search = &search;
        async move { search(query).await.len() }
    };
    assert_eq!(
        count(
            "vulnerabilities.affected_code.file.path",
            json!("lambda_function.py")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            "vulnerabilities.affected_code.rule.uid",
            json!("python-detect-hardcoded-aws-credentials")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            "unmapped.fanin.details.container_image.repository_name",
            json!("inspector2")
        )
        .await,
        1
    );
    assert_eq!(
        count(
            "unmapped.fanin.details.function.runtime",
            json!("PYTHON_3_11")
        )
        .await,
        2
    );
    assert_eq!(
        count("resources.name", json!("VulnerableFunction")).await,
        2
    );
    assert_eq!(
        count(
            "unmapped.fanin.network.reachability.from_internet",
            json!(true)
        )
        .await,
        1
    );
    assert_eq!(
        count("unmapped.fanin.network.internet_exposed", json!(true)).await,
        1
    );
    assert_eq!(count("cloud.provider", json!("Azure")).await, 1);
    assert_eq!(count("vulnerabilities.fix_coverage_id", json!(1)).await, 6);
    assert_eq!(
        count(
            "unmapped.fanin.details.indicator_of_compromise",
            json!(false)
        )
        .await,
        1
    );

    // Scores are numbers: a range finds them and a sort orders them.
    let scored = search(json!({
        "query": {"range": {"unmapped.fanin.details.inspector_score": {"gte": 7.0}}},
        "sort": [{"unmapped.fanin.details.inspector_score": "desc"}],
    }))
    .await;
    let scores: Vec<f64> = scored
        .iter()
        .map(|hit| {
            hit["_source"]["unmapped"]["fanin"]["details"]["inspector_score"]
                .as_f64()
                .unwrap()
        })
        .collect();
    assert_eq!(scores, vec![7.5, 7.5]);
    let adjusted = search(json!({
        "query": {"range": {"unmapped.fanin.details.adjusted_cvss.score": {"lt": 5.0}}},
    }))
    .await;
    assert_eq!(adjusted.len(), 1);

    // What is mapped is what the template says.
    let mapping: Value = http
        .get(url("fanin-findings/_mapping"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let details = &mapping["fanin-findings"]["mappings"]["properties"]["unmapped"]["properties"]["fanin"]
        ["properties"]["details"];
    assert_eq!(details["properties"]["inspector_score"]["type"], "float");
    assert_eq!(
        details["properties"]["container_image"]["properties"]["pushed_time"]["type"],
        "date"
    );
}
