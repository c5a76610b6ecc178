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

use std::cell::RefCell;
use std::io::Write;

use chrono::NaiveDate;
use flate2::write::DeflateEncoder;
use flate2::{Compression, Crc};
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
    let body = gzip_with(size, |gzip| {
        for line in lines {
            gzip.write(line.document.as_bytes());
            gzip.write(b"\n");
        }
    });
    ArchiveObject { key, body }
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
    gzip_with(bytes.len(), |gzip| gzip.write(bytes))
}

thread_local! {
    /// This thread's deflate state, reset for each object: a new one
    /// allocates and clears about 300 KiB, as much CPU as compressing a
    /// small batch (issue 13), where a reset clears its hash table only.
    static DEFLATE: RefCell<Option<DeflateEncoder<Vec<u8>>>> = const { RefCell::new(None) };
}

/// The gzip member header: no name, no time (equal content, equal bytes),
/// operating system unknown; as `flate2::write::GzEncoder` writes it at
/// this level.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// What [`gzip_with`] hands its writer: uncompressed bytes in.
struct GzipWriter<'a> {
    deflate: &'a mut DeflateEncoder<Vec<u8>>,
    crc: Crc,
}

impl GzipWriter<'_> {
    fn write(&mut self, bytes: &[u8]) {
        self.deflate
            .write_all(bytes)
            .expect("writing to a Vec cannot fail");
        self.crc.update(bytes);
    }
}

/// One gzip member of what `write` writes (about `size` bytes, which
/// compress to about a tenth; the buffer grows if not), with this thread's
/// deflate state.
fn gzip_with(size: usize, write: impl FnOnce(&mut GzipWriter)) -> Vec<u8> {
    DEFLATE.with_borrow_mut(|cached| {
        let mut out = Vec::with_capacity(size / 8 + 64);
        out.extend_from_slice(&HEADER);
        let deflate = match cached {
            Some(deflate) => {
                deflate.reset(out).expect("writing to a Vec cannot fail");
                deflate
            }
            None => cached.insert(DeflateEncoder::new(out, Compression::new(GZIP_LEVEL))),
        };
        let mut writer = GzipWriter {
            deflate,
            crc: Crc::new(),
        };
        write(&mut writer);
        let GzipWriter { deflate, crc } = writer;
        deflate.try_finish().expect("writing to a Vec cannot fail");
        let mut body = std::mem::take(deflate.get_mut());
        body.extend_from_slice(&crc.sum().to_le_bytes());
        body.extend_from_slice(&crc.amount().to_le_bytes());
        body
    })
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

    #[test]
    fn a_reused_deflate_state_writes_what_a_new_gzip_encoder_writes() {
        let fresh = |bytes: &[u8]| {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), Compression::new(GZIP_LEVEL));
            encoder.write_all(bytes).unwrap();
            encoder.finish().unwrap()
        };
        // One after the other on this thread: empty, small, larger than
        // the deflate window, small again.
        let large: String = (0..40_000).map(|i| format!("{{\"n\":{i}}}\n")).collect();
        for text in ["", "{\"a\":1}\n", &large, "{\"b\":2}\n"] {
            assert_eq!(
                gzip(text.as_bytes()),
                fresh(text.as_bytes()),
                "{} bytes",
                text.len()
            );
        }
    }
}
