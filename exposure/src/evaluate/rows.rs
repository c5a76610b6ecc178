//! Reading the archive's aggregate objects (gzip NDJSON, one aggregate
//! document a line) into the judge's [`Traffic`].
//!
//! The documents are ingest's `fanin::flowlogs::aggregate::AggregateDoc`
//! (`docs/exposure.md`, "Aggregation"): a traffic aggregate carries the
//! contract's key fields (`interface_id`, `direction`, `initiator`,
//! `protocol`, `dst_port`, `action`, `source_class`, `ip_version`, `hour`)
//! and values (`packets`, `bytes`, `flows`, `distinct_sources`,
//! `top_sources`, `first_seen`, `last_seen`); a coverage entry has
//! `interface_id`, `hour` and the `records` / `nodata` / `skipdata` counts.
//! [`read_line`] is the one place that knows the document's shape, so
//! wiring it to `AggregateDoc` is a change here only.

use std::io::{BufRead, BufReader, Read};

use fanin::exposure::evaluate::{
    FlowAction, FlowDirection, Initiator, SourceClass, SourceCount, Traffic, TrafficRow,
};
use serde::Deserialize;
use serde_json::Value;

/// One line of an aggregate object.
#[derive(Debug, Clone, PartialEq)]
pub enum AggregateLine {
    Traffic(TrafficRow),
    /// An interface was flow-logged in this hour (epoch seconds).
    Coverage {
        interface_id: String,
        hour: i64,
    },
}

#[derive(Deserialize)]
struct TrafficDoc {
    interface_id: String,
    direction: FlowDirection,
    initiator: Initiator,
    protocol: u8,
    #[serde(default)]
    dst_port: u16,
    action: FlowAction,
    source_class: SourceClass,
    ip_version: u8,
    hour: i64,
    #[serde(default)]
    packets: u64,
    #[serde(default)]
    bytes: u64,
    #[serde(default)]
    flows: u64,
    #[serde(default)]
    distinct_sources: Value,
    /// The HyperLogLog sketch, base64.
    #[serde(default)]
    hll: Option<String>,
    #[serde(default)]
    top_sources: Vec<TopSource>,
    first_seen: i64,
    last_seen: i64,
}

#[derive(Deserialize)]
struct TopSource {
    #[serde(alias = "ip", alias = "source")]
    address: String,
    #[serde(alias = "count")]
    flows: u64,
}

#[derive(Deserialize)]
struct CoverageDoc {
    interface_id: String,
    hour: i64,
}

/// One document, or why it does not read.
pub fn read_line(line: &str) -> Result<AggregateLine, String> {
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let is_traffic = value.get("action").is_some();
    if !is_traffic {
        let coverage: CoverageDoc = serde_json::from_value(value).map_err(|e| e.to_string())?;
        if !fanin::ids::is_ec2_id("eni", &coverage.interface_id) {
            return Err("interface_id is not an interface id".into());
        }
        return Ok(AggregateLine::Coverage {
            interface_id: coverage.interface_id,
            hour: coverage.hour,
        });
    }
    let doc: TrafficDoc = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if !fanin::ids::is_ec2_id("eni", &doc.interface_id) {
        return Err("interface_id is not an interface id".into());
    }
    // A number, or the sketch's object with its estimate.
    let distinct_sources = match &doc.distinct_sources {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        Value::Object(sketch) => sketch.get("estimate").and_then(Value::as_u64).unwrap_or(0),
        _ => 0,
    };
    Ok(AggregateLine::Traffic(TrafficRow {
        interface_id: doc.interface_id,
        direction: doc.direction,
        initiator: doc.initiator,
        protocol: doc.protocol,
        dst_port: doc.dst_port,
        action: doc.action,
        source_class: doc.source_class,
        ip_version: doc.ip_version,
        hour: doc.hour,
        packets: doc.packets,
        bytes: doc.bytes,
        flows: doc.flows,
        distinct_sources,
        sketch: doc.hll,
        top_sources: doc
            .top_sources
            .into_iter()
            .filter(|s| s.address.parse::<std::net::IpAddr>().is_ok())
            .map(|s| SourceCount {
                address: s.address,
                flows: s.flows,
            })
            .collect(),
        first_seen: doc.first_seen,
        last_seen: doc.last_seen,
    }))
}

/// Adds one gzip NDJSON object to `traffic`; answers how many lines did not
/// read (the rest are kept).
pub fn add_object(traffic: &mut Traffic, gzip: impl Read) -> std::io::Result<usize> {
    let reader = BufReader::new(flate2::read::MultiGzDecoder::new(gzip));
    let mut unreadable = 0;
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match read_line(&line) {
            Ok(AggregateLine::Traffic(row)) => traffic.rows.push(row),
            Ok(AggregateLine::Coverage { interface_id, hour }) => {
                let first = traffic.coverage.entry(interface_id).or_insert(hour);
                *first = (*first).min(hour);
            }
            Err(_) => unreadable += 1,
        }
    }
    Ok(unreadable)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    fn gzip(text: &str) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(text.as_bytes()).unwrap();
        encoder.finish().unwrap()
    }

    #[test]
    fn traffic_and_coverage_lines_read_and_bad_lines_are_counted() {
        let text = concat!(
            r#"{"interface_id":"eni-0a1b2c3d4e5f60719","direction":"ingress","initiator":"remote","protocol":6,"dst_port":22,"action":"REJECT","source_class":"internet","ip_version":4,"hour":1795946400,"packets":3,"bytes":180,"flows":3,"distinct_sources":{"estimate":2,"registers":"AAEC"},"top_sources":[{"address":"192.0.2.44","count":2},{"address":"not an ip","count":1}],"first_seen":1795946410,"last_seen":1795946470}"#,
            "\n",
            r#"{"interface_id":"eni-0a1b2c3d4e5f60719","hour":1795942800,"records":10,"nodata":0,"skipdata":0}"#,
            "\n",
            r#"{"interface_id":"eni-0a1b2c3d4e5f60719","hour":1795946400,"records":4,"nodata":0,"skipdata":0}"#,
            "\n\n",
            r#"{"interface_id":"../x","hour":1}"#,
            "\n",
            "not json\n",
        );
        let mut traffic = Traffic::default();
        let unreadable = add_object(&mut traffic, gzip(text).as_slice()).unwrap();
        assert_eq!(unreadable, 2);
        assert_eq!(traffic.rows.len(), 1);
        let row = &traffic.rows[0];
        assert_eq!(row.action, FlowAction::Reject);
        assert_eq!(row.distinct_sources, 2);
        assert_eq!(
            row.top_sources.len(),
            1,
            "an address that does not parse is dropped"
        );
        assert_eq!(traffic.coverage["eni-0a1b2c3d4e5f60719"], 1795942800);
    }
}
