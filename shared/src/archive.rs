//! The S3 archive: gzip NDJSON objects under Hive-style partitions.
//!
//! `findings/classUid=<OCSF class>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/<name>.json.gz`
//!
//! The OCSF class comes first, so a SIEM selects a class by prefix
//! (`findings/classUid=2002/` for Vulnerability Findings). Keys are built
//! only from validated ids, classes and dates. The name is the hex SHA-256
//! of the object's version ids (`metadata.uid`), sorted: the same versions
//! give the same key whatever their order, so writing them again (a retry,
//! a redelivery) overwrites the same object. Hashing the few bytes of the
//! ids instead of the whole NDJSON keeps the name cheap (issue 13). The gzip
//! header carries no time or name, so equal content gives equal bytes.

use std::io::Write;

use chrono::NaiveDate;
use flate2::Compression;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::ids::{AccountId, Region};
use crate::normalize::FindingClass;

/// The gzip level of every object: chosen by size against CPU on the
/// collector's own NDJSON (docs/design.md, "Archive compression").
pub const GZIP_LEVEL: u32 = 3;

/// One object to write.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveObject {
    pub key: String,
    pub body: Vec<u8>,
}

/// One finding version of an object: its version id (`metadata.uid`) and
/// its OCSF document (JSON text, no newline), one NDJSON line.
#[derive(Debug, Clone, Copy)]
pub struct ArchiveLine<'a> {
    pub version_uid: &'a str,
    pub document: &'a str,
}

/// Encodes the lines, in their order, into one gzip NDJSON object named
/// from their version ids.
pub fn encode(
    class: FindingClass,
    account: &AccountId,
    region: &Region,
    day: NaiveDate,
    lines: &[ArchiveLine],
) -> ArchiveObject {
    let key = format!(
        "findings/classUid={}/region={region}/accountId={account}/eventDay={}/{}.json.gz",
        class.uid(),
        day.format("%Y%m%d"),
        object_name(lines.iter().map(|line| line.version_uid)),
    );
    let size: usize = lines.iter().map(|line| line.document.len() + 1).sum();
    let mut encoder = encoder(size);
    for line in lines {
        encoder
            .write_all(line.document.as_bytes())
            .and_then(|()| encoder.write_all(b"\n"))
            .expect("writing to a Vec cannot fail");
    }
    ArchiveObject {
        key,
        body: encoder.finish().expect("writing to a Vec cannot fail"),
    }
}

/// The object name of a set of versions: hex SHA-256 of the sorted version
/// ids, each followed by a newline.
pub fn object_name<'a>(version_uids: impl IntoIterator<Item = &'a str>) -> String {
    let mut sorted: Vec<&str> = version_uids.into_iter().collect();
    sorted.sort_unstable();
    let mut hasher = Sha256::new();
    for uid in sorted {
        hasher.update(uid.as_bytes());
        hasher.update(b"\n");
    }
    hex::encode(hasher.finalize())
}

/// Gzip at the archive's level.
pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = encoder(bytes.len());
    encoder
        .write_all(bytes)
        .expect("writing to a Vec cannot fail");
    encoder.finish().expect("writing to a Vec cannot fail")
}

/// An encoder for about `size` bytes of NDJSON (it compresses to about a
/// tenth; the buffer grows if not).
fn encoder(size: usize) -> GzEncoder<Vec<u8>> {
    GzEncoder::new(
        Vec::with_capacity(size / 8 + 64),
        Compression::new(GZIP_LEVEL),
    )
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;

    fn line<'a>(version_uid: &'a str, document: &'a str) -> ArchiveLine<'a> {
        ArchiveLine {
            version_uid,
            document,
        }
    }

    #[test]
    fn same_content_same_key_and_bytes() {
        let account = AccountId::parse("111111111111").unwrap();
        let region = Region::parse("eu-west-1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let lines = vec![line("v1", r#"{"a":1}"#), line("v2", r#"{"b":2}"#)];
        let class = FindingClass::VulnerabilityFinding;
        let first = encode(class, &account, &region, day, &lines);
        let again = encode(class, &account, &region, day, &lines);
        assert_eq!(first, again);
        assert_eq!(
            first.key,
            format!(
                "findings/classUid=2002/region=eu-west-1/accountId=111111111111/eventDay=20261123/{}.json.gz",
                hex::encode(Sha256::digest(b"v1\nv2\n"))
            ),
            "named from the sorted version ids"
        );
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

    #[test]
    fn the_same_versions_name_the_same_object_whatever_their_order_or_content() {
        let account = AccountId::parse("111111111111").unwrap();
        let region = Region::parse("eu-west-1").unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let class = FindingClass::VulnerabilityFinding;
        let first = encode(
            class,
            &account,
            &region,
            day,
            &[line("v1", "{}"), line("v2", "[]")],
        );
        let reordered = encode(
            class,
            &account,
            &region,
            day,
            &[line("v2", "[]"), line("v1", "{}")],
        );
        let rewritten = encode(
            class,
            &account,
            &region,
            day,
            &[line("v1", "{\"x\":1}"), line("v2", "[]")],
        );
        assert_eq!(reordered.key, first.key);
        assert_eq!(rewritten.key, first.key, "a retry overwrites its object");
        assert_ne!(reordered.body, first.body, "the lines keep their order");
        let more = encode(
            class,
            &account,
            &region,
            day,
            &[line("v1", "{}"), line("v2", "[]"), line("v3", "{}")],
        );
        assert_ne!(more.key, first.key);
        // Concatenating ids cannot collide: each ends with a newline.
        assert_ne!(object_name(["ab", "c"]), object_name(["a", "bc"]));
        assert_eq!(object_name(["v1", "v2"]).len(), 64);
    }

    #[test]
    fn gzip_round_trips_at_the_archive_level() {
        let ndjson = "{\"a\":1}\n".repeat(1000);
        let mut text = String::new();
        flate2::read::GzDecoder::new(&gzip(ndjson.as_bytes())[..])
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, ndjson);
    }
}
