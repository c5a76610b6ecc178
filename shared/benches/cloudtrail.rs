//! CloudTrail benchmark: parse + aggregate in process beside a floor.
//!
//! The object: 200,000 records of realistic size (1 to 2 KB each, as AWS
//! writes them: request parameters, response elements, TLS details, user
//! agents), from 40 principals (users, role sessions, a service-linked
//! role, AWS services acting for them) over 12 services, 5 % denied.
//!
//! The floor: `serde_json` reading the same bytes as `{"Records": [..]}`
//! with every record read into `serde::de::IgnoredAny` (each byte looked
//! at, nothing kept): the least any JSON reader of these objects must do.
//! Then parse + aggregate, as the ingest does it, from the bytes in memory
//! (`trail::read_slice`, strings borrowed) and from a reader
//! (`trail::read_reader` through its bounded window: the Lambda's path,
//! which reads the gzip stream so). Rounds alternate
//! the three on one core; the best round of each is reported as records per
//! second per core (thread CPU time), with the ratio to the floor.
//!
//! See docs/privileges.md, "Throughput", for the command.

use std::time::Duration;

use fanin::privileges::trail::{read_reader, read_slice};
use fanin::privileges::usage::Aggregator;
use serde::Deserialize;
use serde::de::IgnoredAny;

const RECORDS: usize = 200_000;
const ROUNDS: usize = 5;

/// xorshift64*: reproducible records without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const CALLS: &[(&str, &str)] = &[
    ("s3.amazonaws.com", "GetObject"),
    ("s3.amazonaws.com", "PutObject"),
    ("s3.amazonaws.com", "ListObjectsV2"),
    ("s3.amazonaws.com", "HeadObject"),
    ("kms.amazonaws.com", "Decrypt"),
    ("kms.amazonaws.com", "GenerateDataKey"),
    ("sts.amazonaws.com", "AssumeRole"),
    ("ec2.amazonaws.com", "DescribeInstances"),
    ("ec2.amazonaws.com", "DescribeSecurityGroups"),
    ("dynamodb.amazonaws.com", "GetItem"),
    ("dynamodb.amazonaws.com", "PutItem"),
    ("lambda.amazonaws.com", "Invoke"),
    ("lambda.amazonaws.com", "GetFunction20150331v2"),
    ("sqs.amazonaws.com", "SendMessage"),
    ("sqs.amazonaws.com", "ReceiveMessage"),
    ("logs.amazonaws.com", "PutLogEvents"),
    ("monitoring.amazonaws.com", "PutMetricData"),
    ("iam.amazonaws.com", "GetRole"),
    ("ssm.amazonaws.com", "GetParameter"),
    ("secretsmanager.amazonaws.com", "GetSecretValue"),
];

fn identity(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let account = "111122223333";
    match rng.below(100) {
        0..30 => {
            let user = rng.below(10);
            let _ = write!(
                out,
                r#"{{"type":"IAMUser","principalId":"AIDAEXAMPLE{user:08}","arn":"arn:aws:iam::{account}:user/dev/user-{user}","accountId":"{account}","accessKeyId":"AKIAEXAMPLE{user:09}","userName":"user-{user}"}}"#
            );
        }
        30..90 => {
            let role = rng.below(25);
            let session = rng.next() % 100_000;
            let _ = write!(
                out,
                r#"{{"type":"AssumedRole","principalId":"AROAEXAMPLE{role:09}:session-{session}","arn":"arn:aws:sts::{account}:assumed-role/app-{role}/session-{session}","accountId":"{account}","accessKeyId":"ASIAEXAMPLE{session:09}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLE{role:09}","arn":"arn:aws:iam::{account}:role/service/app-{role}","accountId":"{account}","userName":"app-{role}"}},"webIdFederationData":{{}},"attributes":{{"creationDate":"2026-11-30T09:58:12Z","mfaAuthenticated":"false"}}}}}}"#
            );
        }
        90..95 => {
            let _ = write!(
                out,
                r#"{{"type":"AssumedRole","principalId":"AROAEXAMPLELINKED:AutoScaling","arn":"arn:aws:sts::{account}:assumed-role/AWSServiceRoleForAutoScaling/AutoScaling","accountId":"{account}","sessionContext":{{"sessionIssuer":{{"type":"Role","principalId":"AROAEXAMPLELINKED","arn":"arn:aws:iam::{account}:role/aws-service-role/autoscaling.amazonaws.com/AWSServiceRoleForAutoScaling","accountId":"{account}","userName":"AWSServiceRoleForAutoScaling"}},"attributes":{{"creationDate":"2026-11-30T09:00:00Z","mfaAuthenticated":"false"}}}},"invokedBy":"autoscaling.amazonaws.com"}}"#
            );
        }
        _ => {
            let _ = write!(
                out,
                r#"{{"type":"AWSService","invokedBy":"cloudformation.amazonaws.com"}}"#
            );
        }
    }
}

fn record(rng: &mut Rng, out: &mut String) {
    use std::fmt::Write;
    let (source, name) = CALLS[rng.below(CALLS.len() as u64) as usize];
    let second = rng.below(300);
    let id = rng.next();
    out.push_str(r#"{"eventVersion":"1.09","userIdentity":"#);
    identity(rng, out);
    let _ = write!(
        out,
        r#","eventTime":"2026-11-30T10:{:02}:{:02}Z","eventSource":"{source}","eventName":"{name}","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.{}","userAgent":"aws-sdk-java/2.25.{} Linux/5.10.219-208.866.amzn2.x86_64 OpenJDK_64-Bit_Server_VM/17.0.11+9-LTS Java/17.0.11 vendor/Amazon.com_Inc. exec-env/AWS_ECS_FARGATE io/sync http/Apache cfg/retry-mode/standard""#,
        second / 60,
        second % 60,
        rng.below(254) + 1,
        rng.below(30)
    );
    if rng.below(100) < 5 {
        out.push_str(r#","errorCode":"AccessDenied","errorMessage":"User is not authorized to perform this operation because no identity-based policy allows the action""#);
    }
    let _ = write!(
        out,
        r#","requestParameters":{{"bucketName":"app-data-{}","key":"tenants/{}/reports/2026/11/30/report-{id:016x}.json.gz","Host":"app-data.s3.eu-west-1.amazonaws.com","x-amz-expected-bucket-owner":"111122223333","filter":[{{"name":"tag:team","values":["payments","ledger"]}}],"maxResults":100}},"responseElements":{{"x-amz-server-side-encryption":"aws:kms","x-amz-server-side-encryption-aws-kms-key-id":"arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab","requestId":"{:016X}"}},"additionalEventData":{{"SignatureVersion":"SigV4","CipherSuite":"TLS_AES_128_GCM_SHA256","bytesTransferredIn":0,"AuthenticationMethod":"AuthHeader","x-amz-id-2":"Ew7XQ1Uy0dO0rF3+q5Xk6e0zFvLUKoJ4bA9uT7mJQ2lP8tHrR0sD1wY5cZ3nV6gK4jB2xM9pE=","bytesTransferredOut":{}}},"requestID":"{:016X}","eventID":"{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}","readOnly":{},"resources":[{{"type":"AWS::S3::Object","ARN":"arn:aws:s3:::app-data/tenants/{}/report.json.gz"}},{{"accountId":"111122223333","type":"AWS::S3::Bucket","ARN":"arn:aws:s3:::app-data"}}],"eventType":"AwsApiCall","managementEvent":{},"recipientAccountId":"111122223333","eventCategory":"{}","tlsDetails":{{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"{}"}}}}"#,
        rng.below(8),
        rng.below(500),
        id.rotate_left(7),
        rng.below(2_000_000),
        id.rotate_left(13),
        id as u32,
        (id >> 32) as u16,
        (id >> 48) as u16 & 0xfff,
        (id >> 20) as u16 & 0xfff,
        id & 0xffff_ffff_ffff,
        rng.below(2) == 0,
        rng.below(500),
        !source.starts_with("s3") && source != "lambda.amazonaws.com",
        if source.starts_with("s3") {
            "Data"
        } else {
            "Management"
        },
        source.replace("amazonaws.com", "eu-west-1.amazonaws.com"),
    );
}

fn object(records: usize) -> Vec<u8> {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut out = String::with_capacity(records * 1700);
    out.push_str(r#"{"Records":["#);
    for at in 0..records {
        if at > 0 {
            out.push(',');
        }
        record(&mut rng, &mut out);
    }
    out.push_str("]}");
    out.into_bytes()
}

#[derive(Deserialize)]
struct Floor {
    #[serde(rename = "Records")]
    records: Vec<IgnoredAny>,
}

fn floor(bytes: &[u8]) -> usize {
    let floor: Floor = serde_json::from_slice(bytes).unwrap();
    floor.records.len()
}

/// Whether the catalogue has an action: a set lookup, as the embedded
/// catalogue's is.
fn catalogue() -> impl Fn(&str) -> bool {
    let actions: std::collections::HashSet<String> = CALLS
        .iter()
        .filter(|(_, name)| !name.contains("2015") && *name != "Invoke")
        .map(|(source, name)| {
            format!(
                "{}:{name}",
                fanin::privileges::actions::service_prefix(source)
            )
        })
        .chain([
            "lambda:GetFunction".to_owned(),
            "lambda:InvokeFunction".to_owned(),
        ])
        .collect();
    move |action| actions.contains(action)
}

fn from_slice(bytes: &[u8], is_action: &dyn Fn(&str) -> bool) -> (u64, usize) {
    let mut aggregator = Aggregator::new(is_action);
    read_slice(bytes, |index, record| aggregator.add(index, record)).unwrap();
    (aggregator.stats().calls, aggregator.key_count())
}

fn from_reader(bytes: &[u8], is_action: &dyn Fn(&str) -> bool) -> (u64, usize) {
    let mut aggregator = Aggregator::new(is_action);
    read_reader(bytes, |index, record| aggregator.add(index, record)).unwrap();
    (aggregator.stats().calls, aggregator.key_count())
}

/// This thread's CPU time (user + system, from `/proc/thread-self/stat`,
/// in clock ticks of 10 ms), as `benches/flowlogs.rs` measures.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default();
    let after_name = stat.rsplit(')').next().unwrap_or("");
    let fields: Vec<u64> = after_name
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    let ticks = fields.get(11).copied().unwrap_or(0) + fields.get(12).copied().unwrap_or(0);
    Duration::from_millis(ticks * 10)
}

mod section;

fn rate(records: usize, time: Duration) -> f64 {
    records as f64 / time.as_secs_f64()
}

fn main() {
    let bytes = object(RECORDS);
    let is_action = catalogue();
    println!(
        "cloudtrail: {RECORDS} records, {:.1} MB ({:.0} bytes/record), {ROUNDS} interleaved rounds on one core, CPU time",
        bytes.len() as f64 / 1e6,
        bytes.len() as f64 / RECORDS as f64
    );
    let mut best = [Duration::MAX; 3];
    let (mut calls, mut keys) = (0, 0);
    for _ in 0..ROUNDS {
        let started = cpu_time();
        assert_eq!(floor(&bytes), RECORDS);
        best[0] = best[0].min(cpu_time() - started);
        let started = cpu_time();
        (calls, keys) = from_slice(&bytes, &is_action);
        best[1] = best[1].min(cpu_time() - started);
        let started = cpu_time();
        assert_eq!(from_reader(&bytes, &is_action), (calls, keys));
        best[2] = best[2].min(cpu_time() - started);
    }
    let floor_rate = rate(RECORDS, best[0]);
    for (label, time) in [
        ("floor (serde_json, IgnoredAny per record)", best[0]),
        ("parse + aggregate, from the bytes", best[1]),
        ("parse + aggregate, from a reader", best[2]),
    ] {
        let per_second = rate(RECORDS, time);
        println!(
            "{label:<44} {per_second:>10.0} records/s/core  {:>6.2} M/min  {:>6.0} ns/record  {:>4.0}% of the floor",
            per_second * 60.0 / 1e6,
            1e9 / per_second,
            100.0 * per_second / floor_rate
        );
    }
    println!(
        "{calls} calls aggregated into {keys} (principal, action) keys; goal: >= 10 M records/min/core (166,667/s) and >= 50% of the floor"
    );
    let rates = best.map(|time| rate(RECORDS, time));
    let row = |label: &str, per_second: f64| {
        format!(
            "| {label} | {} | {:.1} | {:.0} | {:.0} % |\n",
            section::thousands(per_second),
            per_second * 60.0 / 1e6,
            1e9 / per_second,
            100.0 * per_second / floor_rate
        )
    };
    let markdown = format!(
        "{} records of {:.0} bytes, {keys} (principal, action) keys, CPU time of one thread, best of {ROUNDS} interleaved rounds.\n\n\
         | what | records/s/core | M records/min/core | ns/record | of the floor |\n| --- | --- | --- | --- | --- |\n{}{}{}",
        section::thousands(RECORDS as f64),
        bytes.len() as f64 / RECORDS as f64,
        row(
            "floor: serde_json reads each record into `IgnoredAny`",
            rates[0]
        ),
        row("parse + aggregate, from the bytes", rates[1]),
        row(
            "**parse + aggregate, from a reader** (the Lambda's path: gzip → `read_reader`)",
            rates[2]
        ),
    );
    let per_minute = rates.map(|rate| rate * 60.0);
    let ratio = rates.map(|rate| rate / floor_rate);
    section::write(
        "parser-cloudtrail",
        section::Section {
            title: "CloudTrail: parse + aggregate (issue 12)",
            command: "cargo bench -p fanin --bench cloudtrail",
            markdown,
            goals: vec![
                section::Goal {
                    name: "CloudTrail, parse + aggregate from a reader (the Lambda's path)",
                    target: "≥ 10 M records/min/core",
                    measured: format!("{:.1} M", per_minute[2] / 1e6),
                    met: per_minute[2] >= 10e6,
                },
                section::Goal {
                    name: "CloudTrail, parse + aggregate from a reader, against its floor",
                    target: "≥ 50 %",
                    measured: format!("{:.0} %", 100.0 * ratio[2]),
                    met: ratio[2] >= 0.5,
                },
                section::Goal {
                    name: "CloudTrail, parse + aggregate from the bytes",
                    target: "≥ 10 M records/min/core",
                    measured: format!("{:.1} M", per_minute[1] / 1e6),
                    met: per_minute[1] >= 10e6,
                },
                section::Goal {
                    name: "CloudTrail, parse + aggregate from the bytes, against its floor",
                    target: "≥ 50 %",
                    measured: format!("{:.0} %", 100.0 * ratio[1]),
                    met: ratio[1] >= 0.5,
                },
            ],
            data: serde_json::json!({
                "records": RECORDS, "bytes": bytes.len(), "calls": calls, "keys": keys,
                "floor_records_per_second": rates[0],
                "from_slice_records_per_second": rates[1],
                "from_reader_records_per_second": rates[2],
            }),
        },
    );
}
