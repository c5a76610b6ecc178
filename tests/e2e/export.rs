//! `fanin export` (the real binary) against moto's S3: archive objects in,
//! one Parquet object per partition out at its Security Lake key, a day
//! outside the range left alone, a version archived twice written once, and
//! a second run writing the same keys with the same bytes.

use std::collections::BTreeMap;
use std::process::Command;

use chrono::{DateTime, NaiveDate};
use fanin::ids::{AccountId, Region};
use fanin::normalize::FindingClass;
use fanin_devstack::procs::MotoServer;
use fanin_devstack::scenario::{PRIMARY_REGION, sdk_config};
use fanin_export::{ExportClass, Partition, Prefix, export_partition};
use serde_json::Value;

const BUCKET: &str = "fanin-export-central";
const LAKE_BUCKET: &str = "aws-security-data-lake-us-east-1-example";

fn goldens(folder: &str) -> Vec<Value> {
    let dir = fanin_devstack::lambda_host::workspace_root().join(folder);
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".ocsf.json"))
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect()
}

fn day_of(record: &Value) -> NaiveDate {
    DateTime::from_timestamp_millis(record["time"].as_i64().unwrap())
        .unwrap()
        .date_naive()
}

/// An archive object as the collector writes it: named from the version
/// ids (`metadata.uid`) of its lines.
fn archive_object(
    class: FindingClass,
    account: &AccountId,
    region: &Region,
    day: NaiveDate,
    lines: &[String],
) -> fanin::archive::ArchiveObject {
    let uids: Vec<String> = lines
        .iter()
        .map(|line| {
            let record: Value = serde_json::from_str(line).unwrap();
            record["metadata"]["uid"].as_str().unwrap().to_owned()
        })
        .collect();
    let lines: Vec<fanin::archive::ArchiveLine> = uids
        .iter()
        .zip(lines)
        .map(|(version_uid, document)| fanin::archive::ArchiveLine {
            version_uid,
            document,
        })
        .collect();
    fanin::archive::encode(class, account, region, day, &lines)
}

fn fanin_export(endpoint: &str, args: &[&str]) -> std::process::Output {
    Command::new(fanin_devstack::lambda_host::workspace_binary("fanin"))
        .arg("export")
        .args(args)
        .env("AWS_ENDPOINT_URL", endpoint)
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing")
        .env("AWS_REGION", PRIMARY_REGION)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .output()
        .expect("cargo build --workspace --bins built fanin")
}

async fn objects(s3: &aws_sdk_s3::Client, bucket: &str, prefix: &str) -> BTreeMap<String, Vec<u8>> {
    let listed = s3
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .send()
        .await
        .unwrap();
    let mut out = BTreeMap::new();
    for object in listed.contents() {
        let key = object.key().unwrap().to_owned();
        let body = s3
            .get_object()
            .bucket(bucket)
            .key(&key)
            .send()
            .await
            .unwrap();
        out.insert(key, body.body.collect().await.unwrap().to_vec());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fanin_export_writes_the_lake_layout_once_per_partition_and_again_the_same() {
    let moto = MotoServer::start().await.unwrap();
    let config = sdk_config(&moto.url, PRIMARY_REGION, None);
    let s3 = aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    );
    for bucket in [BUCKET, LAKE_BUCKET] {
        s3.create_bucket().bucket(bucket).send().await.unwrap();
    }
    let origins = [
        (
            FindingClass::VulnerabilityFinding,
            ExportClass::Vulnerability,
            "111111111111",
            "eu-central-1",
            goldens("tests/fixtures/published"),
        ),
        (
            FindingClass::DetectionFinding,
            ExportClass::Detection,
            "222222222222",
            "us-east-2",
            goldens("tests/fixtures/published/guardduty/golden"),
        ),
    ];
    // The archive as the collector writes it: one object per partition,
    // plus a version archived twice and a day before the range.
    let mut expected: BTreeMap<Partition, Vec<(String, String)>> = BTreeMap::new();
    let mut put = Vec::new();
    for (finding_class, class, account, region, records) in &origins {
        let (account, region) = (
            AccountId::parse(account).unwrap(),
            Region::parse(region).unwrap(),
        );
        let mut by_day: BTreeMap<NaiveDate, Vec<String>> = BTreeMap::new();
        for record in records {
            by_day
                .entry(day_of(record))
                .or_default()
                .push(record.to_string());
        }
        let first_day = *by_day.keys().next().unwrap();
        // The first version again, twice, in an object of its own.
        let twice = vec![by_day[&first_day][0].clone(); 2];
        for (day, lines) in by_day.iter().chain([(&first_day, &twice)]) {
            let object = archive_object(*finding_class, &account, &region, *day, lines);
            let partition = Partition::from_archive_key(&object.key).unwrap().unwrap();
            assert_eq!(partition.class, *class);
            expected
                .entry(partition)
                .or_default()
                .push((object.key.clone(), lines.join("\n")));
            put.push(object);
        }
        let before = NaiveDate::from_ymd_opt(2014, 12, 31).unwrap();
        put.push(archive_object(
            *finding_class,
            &account,
            &region,
            before,
            &twice,
        ));
    }
    for object in put {
        s3.put_object()
            .bucket(BUCKET)
            .key(&object.key)
            .body(object.body.into())
            .send()
            .await
            .unwrap();
    }
    let expected_objects: BTreeMap<String, Vec<u8>> = expected
        .iter()
        .map(|(partition, objects)| {
            let export = export_partition(
                partition,
                &Prefix::default(),
                objects.iter().map(|(k, t)| (k.as_str(), t.as_str())),
            )
            .unwrap();
            (export.key, export.body)
        })
        .collect();
    let versions = origins.iter().map(|o| o.4.len()).sum::<usize>();
    let records_read = expected
        .values()
        .flatten()
        .map(|(_, text)| text.lines().count())
        .sum::<usize>();
    assert_eq!(
        records_read,
        versions + 4,
        "each class has one version three times"
    );

    let range = [
        "--bucket",
        BUCKET,
        "--from",
        "2015-01-01",
        "--to",
        "2026-12-31",
    ];
    let first = fanin_export(&moto.url, &range);
    let stdout = String::from_utf8_lossy(&first.stdout);
    assert!(
        first.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        stdout.contains(&format!(
            "exported {versions} finding versions from {} archive objects into {} Parquet objects (4 duplicate records dropped)",
            expected.values().map(Vec::len).sum::<usize>(),
            expected.len()
        )),
        "{stdout}"
    );
    let written = objects(&s3, BUCKET, "ext/").await;
    assert_eq!(
        written.keys().collect::<Vec<_>>(),
        expected_objects.keys().collect::<Vec<_>>()
    );
    assert!(written.keys().any(|k| {
        k.starts_with("ext/fanin-detection/region=us-east-2/accountId=222222222222/eventDay=")
    }));
    assert!(!written.keys().any(|k| k.contains("eventDay=20141231")));
    for (key, body) in &written {
        assert!(
            body.starts_with(b"PAR1") && body.ends_with(b"PAR1"),
            "{key}"
        );
        assert_eq!(Some(body), expected_objects.get(key), "{key}");
    }

    let again = fanin_export(&moto.url, &range);
    assert!(again.status.success());
    assert_eq!(again.stdout, first.stdout);
    assert_eq!(
        objects(&s3, BUCKET, "ext/").await,
        written,
        "a second run writes the same keys and bytes"
    );

    let elsewhere = fanin_export(
        &moto.url,
        &[
            &range[..],
            &["--to-bucket", LAKE_BUCKET, "--prefix", "lake/ext/"],
        ]
        .concat(),
    );
    assert!(elsewhere.status.success());
    let lake = objects(&s3, LAKE_BUCKET, "").await;
    assert_eq!(
        lake.keys().cloned().collect::<Vec<_>>(),
        written
            .keys()
            .map(|k| format!("lake/{k}"))
            .collect::<Vec<_>>()
    );

    let refused = fanin_export(
        &moto.url,
        &[
            "--bucket",
            BUCKET,
            "--from",
            "2026-13-01",
            "--to",
            "2026-12-31",
        ],
    );
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("write it as YYYY-MM-DD"));
}
