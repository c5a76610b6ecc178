//! The S3 archive: gzip NDJSON objects under Hive-style partitions.
//!
//! `findings/classUid=<OCSF class>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<sha256>.json.gz`
//!
//! The OCSF class comes first, so a SIEM selects a class by prefix
//! (`findings/classUid=2002/` for Vulnerability Findings). Keys are built
//! only from validated ids, classes and dates; the name is the hash of
//! the uncompressed content, so writing the same records again overwrites the
//! same object. The gzip header carries no time or name, so equal content
//! gives equal bytes.

use std::io::Write;

use chrono::NaiveDate;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, Region};
use crate::normalize::FindingClass;

/// One object to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveObject {
    pub key: String,
    pub body: Vec<u8>,
}

/// Encodes NDJSON lines (each a JSON document, no newline) into one object.
pub fn encode<S: AsRef<str>>(
    class: FindingClass,
    account: &AccountId,
    region: &Region,
    day: NaiveDate,
    lines: &[S],
) -> ArchiveObject {
    let mut ndjson = String::with_capacity(lines.iter().map(|l| l.as_ref().len() + 1).sum());
    for line in lines {
        ndjson.push_str(line.as_ref());
        ndjson.push('\n');
    }
    let digest = hex::encode(Sha256::digest(ndjson.as_bytes()));
    let key = format!(
        "findings/classUid={}/region={region}/accountId={account}/eventDay={}/{digest}.json.gz",
        class.uid(),
        day.format("%Y%m%d")
    );
    ArchiveObject {
        key,
        body: gzip(ndjson.as_bytes()),
    }
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(
        Vec::with_capacity(bytes.len() / 4 + 64),
        Compression::default(),
    );
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    #[test]
    fn same_content_same_key_and_bytes() {
        let account = AccountId::parse("111111111111").unwrap();
        let region = Region::parse("eu-west-1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let lines = vec![r#"{"a":1}"#.to_string(), r#"{"b":2}"#.to_string()];
        let class = FindingClass::VulnerabilityFinding;
        let first = encode(class, &account, &region, day, &lines);
        let again = encode(class, &account, &region, day, &lines);
        assert_eq!(first, again);
        assert!(first.key.starts_with(
            "findings/classUid=2002/region=eu-west-1/accountId=111111111111/eventDay=20261123/"
        ));
        assert!(first.key.ends_with(".json.gz"));
        let mut text = String::new();
        flate2::read::GzDecoder::new(&first.body[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "{\"a\":1}\n{\"b\":2}\n");
        let other = encode(class, &account, &region, day, &lines[..1]);
        assert_ne!(other.key, first.key);
        let detections = encode(
            FindingClass::DetectionFinding,
            &account,
            &region,
            day,
            &lines,
        );
        assert!(
            detections
                .key
                .starts_with("findings/classUid=2004/region=eu-west-1/")
        );
        assert_eq!(
            detections.body, first.body,
            "the class names the object, not its content"
        );
    }
}
