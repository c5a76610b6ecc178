//! The limits every record keeps, whatever its source sent: strings cut at
//! documented sizes and lists at documented lengths (a 1 MB title is stored
//! as 1 KiB and a marker), and every typed attribute (IP address, time)
//! holding a value of its type. What was cut or set aside is recorded under
//! `unmapped.fanin.truncated` and `unmapped.fanin.unparsed`; docs/schema.md
//! lists the caps.

use std::fmt::{self, Display};
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::ocsf::{Truncation, UnparsedValue, VulnerabilityFinding};
use crate::timestamps;

/// `finding_info.title`, `vulnerabilities[].title`, `advisory.title`.
pub const TITLE_BYTES: usize = 1024;
/// `finding_info.desc`, `vulnerabilities[].desc`.
pub const DESCRIPTION_BYTES: usize = 16 * 1024;
/// `vulnerabilities[].remediation.desc`.
pub const REMEDIATION_BYTES: usize = 8 * 1024;
/// Each URL or ARN: `references[]`, `src_url`, `resources[].uid`.
pub const REFERENCE_BYTES: usize = 2048;
/// Every other string of the record (ids, names, versions, labels).
pub const NAME_BYTES: usize = 1024;
/// Each string inside the untyped objects `unmapped.fanin.details` and
/// `resources[].data`.
pub const DETAIL_STRING_BYTES: usize = 4096;
/// Each value kept under `unmapped.fanin.unparsed`.
pub const UNPARSED_VALUE_BYTES: usize = 256;
/// Entries of every list (references, packages, resources, labels,
/// addresses, CVSS scores, arrays inside the untyped objects).
pub const LIST_ITEMS: usize = 100;
/// The longest field path kept in `truncated` and `unparsed` records (a path
/// can hold a key the source chose).
pub const FIELD_PATH_BYTES: usize = 256;

/// A field path inside a list, `<parent>.<name>[<index>]` (`<name>[<index>]`
/// at the top), written out only when a cut is recorded: the record is
/// checked field by field on every finding, and cut rarely.
struct Path<'a> {
    /// `None` at the top of the record.
    parent: Option<&'a dyn Display>,
    name: &'static str,
    index: usize,
}

impl<'a> Path<'a> {
    fn top(name: &'static str, index: usize) -> Self {
        Self {
            parent: None,
            name,
            index,
        }
    }

    fn item(parent: &'a dyn Display, name: &'static str, index: usize) -> Self {
        Self {
            parent: Some(parent),
            name,
            index,
        }
    }
}

impl Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(parent) = self.parent {
            write!(f, "{parent}.")?;
        }
        write!(f, "{}[{}]", self.name, self.index)
    }
}

/// A field path for a record, capped like any other string.
fn field_path(field: &dyn Display) -> String {
    let mut path = field.to_string();
    cap_string(&mut path, FIELD_PATH_BYTES);
    path
}

/// Cuts `text` to at most `max` bytes (on a character boundary) and appends
/// `…[truncated N bytes]`, N the bytes removed. Returns the original length
/// when it cut.
pub fn cap_string(text: &mut String, max: usize) -> Option<usize> {
    if text.len() <= max {
        return None;
    }
    let original = text.len();
    let cut = text.floor_char_boundary(max);
    text.truncate(cut);
    text.push_str(&format!("…[truncated {} bytes]", original - cut));
    Some(original)
}

/// A source value kept as sent, capped: for `unmapped.fanin.unparsed`.
pub fn unparsed(field: impl Into<String>, value: &str) -> UnparsedValue {
    let mut value = value.to_owned();
    cap_string(&mut value, UNPARSED_VALUE_BYTES);
    UnparsedValue {
        field: field_path(&field.into()),
        value,
    }
}

/// Parses an IP address as OpenSearch's `ip` type reads it; `None` when it
/// is not one. Returns the canonical text.
pub fn parse_ip(raw: &str) -> Option<String> {
    raw.trim().parse::<IpAddr>().ok().map(|ip| ip.to_string())
}

/// Applies every limit to `record`, recording what changed in
/// `record.unmapped.input`.
pub fn enforce(record: &mut VulnerabilityFinding, now: &DateTime<Utc>) {
    let mut changes = std::mem::take(&mut record.unmapped.input);
    check_types(record, now, &mut changes.unparsed);
    let mut caps = Caps {
        truncated: &mut changes.truncated,
    };
    caps.record(record);
    caps.list(&"unmapped.fanin.unparsed", &mut changes.unparsed);
    // The record of cuts is itself a list: its last entry says it was cut.
    let cuts = changes.truncated.len();
    if cuts > LIST_ITEMS {
        changes.truncated.truncate(LIST_ITEMS - 1);
        changes.truncated.push(Truncation {
            field: "unmapped.fanin.truncated".into(),
            original_bytes: None,
            original_items: Some(cuts + 1),
        });
    }
    record.unmapped.input = changes;
}

/// Typed attributes hold values of their type, or nothing.
fn check_types(
    record: &mut VulnerabilityFinding,
    now: &DateTime<Utc>,
    unparsed_values: &mut Vec<UnparsedValue>,
) {
    let mut single_ip = |field: &dyn Display, ip: &mut Option<String>| {
        if let Some(raw) = ip.take() {
            match parse_ip(&raw) {
                Some(valid) => *ip = Some(valid),
                None => unparsed_values.push(unparsed(field.to_string(), &raw)),
            }
        }
    };
    if let Some(device) = &mut record.device {
        single_ip(&"device.ip", &mut device.ip);
        for (i, interface) in device.network_interfaces.iter_mut().enumerate() {
            single_ip(
                &format_args!("device.network_interfaces[{i}].ip"),
                &mut interface.ip,
            );
        }
    }
    for (i, resource) in record.resources.iter_mut().enumerate() {
        single_ip(&format_args!("resources[{i}].ip"), &mut resource.ip);
    }
    let mut ip_list = |field: &dyn Display, ips: &mut Vec<String>| {
        let mut valid = Vec::with_capacity(ips.len());
        for raw in ips.drain(..) {
            match parse_ip(&raw) {
                Some(ip) => valid.push(ip),
                None => unparsed_values.push(unparsed(field.to_string(), &raw)),
            }
        }
        *ips = valid;
    };
    if let Some(network) = &mut record.unmapped.fanin.network {
        let prefix = "unmapped.fanin.network";
        ip_list(
            &format_args!("{prefix}.private_ips"),
            &mut network.private_ips,
        );
        ip_list(
            &format_args!("{prefix}.public_ips"),
            &mut network.public_ips,
        );
        ip_list(
            &format_args!("{prefix}.ipv6_addresses"),
            &mut network.ipv6_addresses,
        );
        for (i, interface) in network.interfaces.iter_mut().enumerate() {
            let prefix = Path::item(&prefix, "interfaces", i);
            ip_list(
                &format_args!("{prefix}.private_ips"),
                &mut interface.private_ips,
            );
            ip_list(
                &format_args!("{prefix}.public_ips"),
                &mut interface.public_ips,
            );
            ip_list(
                &format_args!("{prefix}.ipv6_addresses"),
                &mut interface.ipv6_addresses,
            );
        }
    }

    let mut times: Vec<(usize, &mut Option<i64>, &mut Option<String>)> = Vec::new();
    for (i, vulnerability) in record.vulnerabilities.iter_mut().enumerate() {
        times.push((
            i,
            &mut vulnerability.exploit_last_seen_time,
            &mut vulnerability.exploit_last_seen_time_dt,
        ));
        if let Some(cve) = &mut vulnerability.cve {
            // A CVE may be older than fanin's 2015 floor, never from the future.
            for (name, time, time_dt) in [
                (
                    "created_time",
                    &mut cve.created_time,
                    &mut cve.created_time_dt,
                ),
                (
                    "modified_time",
                    &mut cve.modified_time,
                    &mut cve.modified_time_dt,
                ),
            ] {
                let Some(ms) = *time else { continue };
                let plausible = DateTime::from_timestamp_millis(ms).is_some_and(|t| {
                    t.timestamp() >= 0 && t <= *now + timestamps::FUTURE_TOLERANCE
                });
                if !plausible {
                    unparsed_values.push(unparsed(
                        format!("vulnerabilities[{i}].cve.{name}"),
                        &ms.to_string(),
                    ));
                    *time = None;
                    *time_dt = None;
                }
            }
        }
    }
    for (i, time, time_dt) in times {
        // An exploit may have been seen before 2015, never in the future.
        let Some(ms) = *time else { continue };
        let plausible = DateTime::from_timestamp_millis(ms)
            .is_some_and(|t| t.timestamp() >= 0 && t <= *now + timestamps::FUTURE_TOLERANCE);
        if !plausible {
            unparsed_values.push(unparsed(
                format!("vulnerabilities[{i}].exploit_last_seen_time"),
                &ms.to_string(),
            ));
            *time = None;
            *time_dt = None;
        }
    }
    let info = &mut record.finding_info;
    for (field, time, time_dt) in [
        (
            "finding_info.created_time",
            &mut info.created_time,
            &mut info.created_time_dt,
        ),
        (
            "finding_info.first_seen_time",
            &mut info.first_seen_time,
            &mut info.first_seen_time_dt,
        ),
        (
            "finding_info.last_seen_time",
            &mut info.last_seen_time,
            &mut info.last_seen_time_dt,
        ),
        (
            "finding_info.modified_time",
            &mut info.modified_time,
            &mut info.modified_time_dt,
        ),
    ] {
        let Some(ms) = *time else { continue };
        let believable =
            DateTime::from_timestamp_millis(ms).is_some_and(|t| timestamps::is_believable(&t, now));
        if !believable {
            unparsed_values.push(unparsed(field, &ms.to_string()));
            *time = None;
            *time_dt = None;
        }
    }
}

/// Cuts strings and lists, recording each cut.
struct Caps<'a> {
    truncated: &'a mut Vec<Truncation>,
}

impl Caps<'_> {
    fn text(&mut self, field: &dyn Display, text: &mut String, max: usize) {
        if let Some(original) = cap_string(text, max) {
            self.truncated.push(Truncation {
                field: field_path(field),
                original_bytes: Some(original),
                original_items: None,
            });
        }
    }

    fn optional(&mut self, field: &dyn Display, text: &mut Option<String>, max: usize) {
        if let Some(text) = text {
            self.text(field, text, max);
        }
    }

    fn list<T>(&mut self, field: &dyn Display, items: &mut Vec<T>) {
        if items.len() > LIST_ITEMS {
            self.truncated.push(Truncation {
                field: field_path(field),
                original_bytes: None,
                original_items: Some(items.len()),
            });
            items.truncate(LIST_ITEMS);
        }
    }

    fn texts(&mut self, field: &dyn Display, items: &mut Vec<String>, max: usize) {
        self.list(field, items);
        for (i, item) in items.iter_mut().enumerate() {
            self.text(&format_args!("{field}[{i}]"), item, max);
        }
    }

    /// Strings and arrays anywhere inside an untyped object.
    fn json(&mut self, field: &dyn Display, value: &mut Value) {
        match value {
            Value::String(text) => self.text(field, text, DETAIL_STRING_BYTES),
            Value::Array(items) => {
                self.list(field, items);
                for (i, item) in items.iter_mut().enumerate() {
                    self.json(&format_args!("{field}[{i}]"), item);
                }
            }
            Value::Object(map) => {
                if map.len() > LIST_ITEMS {
                    self.truncated.push(Truncation {
                        field: field_path(field),
                        original_bytes: None,
                        original_items: Some(map.len()),
                    });
                    let keep: Vec<String> = map.keys().take(LIST_ITEMS).cloned().collect();
                    map.retain(|key, _| keep.contains(key));
                }
                if map.keys().any(|key| key.len() > NAME_BYTES) {
                    let entries = std::mem::take(map);
                    for (mut key, item) in entries {
                        self.text(&format_args!("{field}.<key>"), &mut key, NAME_BYTES);
                        map.insert(key, item);
                    }
                }
                for (key, item) in map.iter_mut() {
                    self.json(&format_args!("{field}.{key}"), item);
                }
            }
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }

    fn record(&mut self, record: &mut VulnerabilityFinding) {
        self.optional(&"status_detail", &mut record.status_detail, NAME_BYTES);
        let cloud = &mut record.cloud;
        self.text(&"cloud.provider", &mut cloud.provider, NAME_BYTES);
        self.optional(&"cloud.region", &mut cloud.region, NAME_BYTES);
        if let Some(account) = &mut cloud.account {
            self.text(&"cloud.account.uid", &mut account.uid, NAME_BYTES);
        }
        if let Some(org) = &mut cloud.org {
            self.text(&"cloud.org.uid", &mut org.uid, NAME_BYTES);
        }
        if let Some(feature) = &mut record.metadata.product.feature {
            self.text(
                &"metadata.product.feature.name",
                &mut feature.name,
                NAME_BYTES,
            );
            self.optional(
                &"metadata.product.feature.uid",
                &mut feature.uid,
                REFERENCE_BYTES,
            );
        }
        let info = &mut record.finding_info;
        self.text(&"finding_info.title", &mut info.title, TITLE_BYTES);
        self.optional(&"finding_info.desc", &mut info.desc, DESCRIPTION_BYTES);
        self.optional(&"finding_info.src_url", &mut info.src_url, REFERENCE_BYTES);

        self.list(&"vulnerabilities", &mut record.vulnerabilities);
        for (i, vulnerability) in record.vulnerabilities.iter_mut().enumerate() {
            self.vulnerability(&format_args!("vulnerabilities[{i}]"), vulnerability);
        }

        self.list(&"resources", &mut record.resources);
        for (i, resource) in record.resources.iter_mut().enumerate() {
            let field = Path::top("resources", i);
            self.text(
                &format_args!("{field}.uid"),
                &mut resource.uid,
                REFERENCE_BYTES,
            );
            self.text(
                &format_args!("{field}.type"),
                &mut resource.resource_type,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.region"),
                &mut resource.region,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.name"),
                &mut resource.name,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.version"),
                &mut resource.version,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.hostname"),
                &mut resource.hostname,
                NAME_BYTES,
            );
            self.texts(
                &format_args!("{field}.labels"),
                &mut resource.labels,
                NAME_BYTES,
            );
            if let Some(data) = &mut resource.data {
                self.json(&format_args!("{field}.data"), data);
            }
        }

        if let Some(device) = &mut record.device {
            self.text(&"device.uid", &mut device.uid, NAME_BYTES);
            self.text(&"device.instance_uid", &mut device.instance_uid, NAME_BYTES);
            self.text(&"device.region", &mut device.region, NAME_BYTES);
            self.optional(&"device.hostname", &mut device.hostname, NAME_BYTES);
            self.optional(&"device.vpc_uid", &mut device.vpc_uid, NAME_BYTES);
            self.optional(&"device.subnet_uid", &mut device.subnet_uid, NAME_BYTES);
            if let Some(image) = &mut device.image {
                self.text(&"device.image.uid", &mut image.uid, NAME_BYTES);
            }
            self.list(&"device.network_interfaces", &mut device.network_interfaces);
            for (i, interface) in device.network_interfaces.iter_mut().enumerate() {
                let field = Path::top("device.network_interfaces", i);
                self.text(&format_args!("{field}.uid"), &mut interface.uid, NAME_BYTES);
                self.optional(&format_args!("{field}.mac"), &mut interface.mac, NAME_BYTES);
                self.optional(
                    &format_args!("{field}.hostname"),
                    &mut interface.hostname,
                    NAME_BYTES,
                );
            }
        }

        let fanin = &mut record.unmapped.fanin;
        self.optional(
            &"unmapped.fanin.enrichment.reason",
            &mut fanin.enrichment.reason,
            NAME_BYTES,
        );
        if let Some(network) = &mut fanin.network {
            let field = "unmapped.fanin.network";
            self.optional(
                &format_args!("{field}.vpc_id"),
                &mut network.vpc_id,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.subnet_id"),
                &mut network.subnet_id,
                NAME_BYTES,
            );
            self.list(
                &format_args!("{field}.private_ips"),
                &mut network.private_ips,
            );
            self.list(&format_args!("{field}.public_ips"), &mut network.public_ips);
            self.list(
                &format_args!("{field}.ipv6_addresses"),
                &mut network.ipv6_addresses,
            );
            self.list(&format_args!("{field}.interfaces"), &mut network.interfaces);
            for (i, interface) in network.interfaces.iter_mut().enumerate() {
                let field = Path::item(&field, "interfaces", i);
                self.text(
                    &format_args!("{field}.interface_id"),
                    &mut interface.interface_id,
                    NAME_BYTES,
                );
                self.optional(
                    &format_args!("{field}.subnet_id"),
                    &mut interface.subnet_id,
                    NAME_BYTES,
                );
                self.optional(
                    &format_args!("{field}.vpc_id"),
                    &mut interface.vpc_id,
                    NAME_BYTES,
                );
                self.optional(
                    &format_args!("{field}.public_dns_name"),
                    &mut interface.public_dns_name,
                    NAME_BYTES,
                );
                self.list(
                    &format_args!("{field}.private_ips"),
                    &mut interface.private_ips,
                );
                self.list(
                    &format_args!("{field}.public_ips"),
                    &mut interface.public_ips,
                );
                self.list(
                    &format_args!("{field}.ipv6_addresses"),
                    &mut interface.ipv6_addresses,
                );
                self.list(
                    &format_args!("{field}.security_groups"),
                    &mut interface.security_groups,
                );
                for (g, group) in interface.security_groups.iter_mut().enumerate() {
                    let field = Path::item(&field, "security_groups", g);
                    self.text(&format_args!("{field}.group_id"), &mut group.id, NAME_BYTES);
                    self.optional(
                        &format_args!("{field}.group_name"),
                        &mut group.name,
                        NAME_BYTES,
                    );
                }
            }
            self.list(
                &format_args!("{field}.security_groups"),
                &mut network.security_groups,
            );
            self.list(
                &format_args!("{field}.reachability"),
                &mut network.reachability,
            );
            for (r, reach) in network.reachability.iter_mut().enumerate() {
                let field = Path::item(&field, "reachability", r);
                self.optional(
                    &format_args!("{field}.protocol"),
                    &mut reach.protocol,
                    NAME_BYTES,
                );
                self.list(&format_args!("{field}.path"), &mut reach.path);
                for (s, step) in reach.path.iter_mut().enumerate() {
                    let field = Path::item(&field, "path", s);
                    self.text(
                        &format_args!("{field}.component_id"),
                        &mut step.component_id,
                        REFERENCE_BYTES,
                    );
                    self.text(
                        &format_args!("{field}.component_type"),
                        &mut step.component_type,
                        NAME_BYTES,
                    );
                }
            }
        }
        for (key, value) in fanin.details.iter_mut() {
            self.json(&format_args!("unmapped.fanin.details.{key}"), value);
        }
    }

    fn vulnerability(
        &mut self,
        field: &dyn Display,
        vulnerability: &mut crate::ocsf::Vulnerability,
    ) {
        self.text(
            &format_args!("{field}.title"),
            &mut vulnerability.title,
            TITLE_BYTES,
        );
        self.optional(
            &format_args!("{field}.desc"),
            &mut vulnerability.desc,
            DESCRIPTION_BYTES,
        );
        if let Some(advisory) = &mut vulnerability.advisory {
            self.text(
                &format_args!("{field}.advisory.uid"),
                &mut advisory.uid,
                NAME_BYTES,
            );
            self.optional(
                &format_args!("{field}.advisory.title"),
                &mut advisory.title,
                TITLE_BYTES,
            );
            self.optional(
                &format_args!("{field}.advisory.src_url"),
                &mut advisory.src_url,
                REFERENCE_BYTES,
            );
        }
        if let Some(cve) = &mut vulnerability.cve {
            self.text(&format_args!("{field}.cve.uid"), &mut cve.uid, NAME_BYTES);
            self.list(&format_args!("{field}.cve.cvss"), &mut cve.cvss);
            for (i, cvss) in cve.cvss.iter_mut().enumerate() {
                let field = Path::item(&field, "cve.cvss", i);
                self.text(
                    &format_args!("{field}.version"),
                    &mut cvss.version,
                    NAME_BYTES,
                );
                self.optional(
                    &format_args!("{field}.vector_string"),
                    &mut cvss.vector_string,
                    NAME_BYTES,
                );
                self.optional(
                    &format_args!("{field}.vendor_name"),
                    &mut cvss.vendor_name,
                    NAME_BYTES,
                );
            }
            self.texts(
                &format_args!("{field}.cve.references"),
                &mut cve.references,
                REFERENCE_BYTES,
            );
        }
        if let Some(cwe) = &mut vulnerability.cwe {
            self.text(&format_args!("{field}.cwe.uid"), &mut cwe.uid, NAME_BYTES);
        }
        self.list(
            &format_args!("{field}.affected_packages"),
            &mut vulnerability.affected_packages,
        );
        for (i, package) in vulnerability.affected_packages.iter_mut().enumerate() {
            let field = Path::item(&field, "affected_packages", i);
            self.text(&format_args!("{field}.name"), &mut package.name, NAME_BYTES);
            self.text(
                &format_args!("{field}.version"),
                &mut package.version,
                NAME_BYTES,
            );
            for (name, value) in [
                ("fixed_in_version", &mut package.fixed_in_version),
                ("package_manager", &mut package.package_manager),
                ("release", &mut package.release),
                ("architecture", &mut package.architecture),
            ] {
                self.optional(&format_args!("{field}.{name}"), value, NAME_BYTES);
            }
            self.optional(
                &format_args!("{field}.path"),
                &mut package.path,
                REFERENCE_BYTES,
            );
            if let Some(remediation) = &mut package.remediation {
                self.text(
                    &format_args!("{field}.remediation.desc"),
                    &mut remediation.desc,
                    REMEDIATION_BYTES,
                );
            }
        }
        self.list(
            &format_args!("{field}.affected_code"),
            &mut vulnerability.affected_code,
        );
        for (i, code) in vulnerability.affected_code.iter_mut().enumerate() {
            let field = Path::item(&field, "affected_code", i);
            self.text(
                &format_args!("{field}.file.name"),
                &mut code.file.name,
                REFERENCE_BYTES,
            );
            self.optional(
                &format_args!("{field}.file.path"),
                &mut code.file.path,
                REFERENCE_BYTES,
            );
            if let Some(rule) = &mut code.rule {
                self.optional(&format_args!("{field}.rule.uid"), &mut rule.uid, NAME_BYTES);
                self.optional(
                    &format_args!("{field}.rule.name"),
                    &mut rule.name,
                    NAME_BYTES,
                );
            }
        }
        self.texts(
            &format_args!("{field}.references"),
            &mut vulnerability.references,
            REFERENCE_BYTES,
        );
        self.texts(
            &format_args!("{field}.related_vulnerabilities"),
            &mut vulnerability.related_vulnerabilities,
            NAME_BYTES,
        );
        if let Some(remediation) = &mut vulnerability.remediation {
            self.text(
                &format_args!("{field}.remediation.desc"),
                &mut remediation.desc,
                REMEDIATION_BYTES,
            );
            self.texts(
                &format_args!("{field}.remediation.references"),
                &mut remediation.references,
                REFERENCE_BYTES,
            );
        }
        self.optional(
            &format_args!("{field}.vendor_name"),
            &mut vulnerability.vendor_name,
            NAME_BYTES,
        );
        self.optional(
            &format_args!("{field}.category"),
            &mut vulnerability.category,
            NAME_BYTES,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_name_list_items_as_the_cut_records_do() {
        let resource = Path::top("resources", 0);
        assert_eq!(resource.to_string(), "resources[0]");
        let nested = Path::item(&resource, "cve.cvss", 2);
        assert_eq!(nested.to_string(), "resources[0].cve.cvss[2]");
        assert_eq!(
            format_args!("{nested}.version").to_string(),
            "resources[0].cve.cvss[2].version"
        );
    }

    #[test]
    fn strings_are_cut_on_a_character_boundary_with_a_marker() {
        let mut text = "é".repeat(10); // 20 bytes
        assert_eq!(cap_string(&mut text, 5), Some(20));
        assert_eq!(text, "éé…[truncated 16 bytes]");
        let mut short = "abc".to_owned();
        assert_eq!(cap_string(&mut short, 3), None);
        assert_eq!(short, "abc");
    }

    #[test]
    fn addresses_parse_or_are_refused() {
        assert_eq!(parse_ip("10.0.0.1").as_deref(), Some("10.0.0.1"));
        assert_eq!(parse_ip("2001:DB8::1").as_deref(), Some("2001:db8::1"));
        for bad in ["999.1.1.1", "10.0.0", "", "10.0.0.1/32", "localhost"] {
            assert_eq!(parse_ip(bad), None, "{bad}");
        }
    }
}
