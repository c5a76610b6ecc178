"""Reads fanin's Parquet export back with pyarrow, independently of fanin.

Usage: export_readback.py <dir>, where <dir> holds the export objects at
their keys (ext/...) and the records that went in, as NDJSON, under input/.

Checks, for Amazon Security Lake's custom source rules:
- the key layout ext/<source>/region=<r>/accountId=<a>/eventDay=<YYYYMMDD>/
  with one OCSF class per source;
- Parquet format version 1.0, zstd on every column chunk, every page (read
  from the page headers in the file) at most 1 MB uncompressed, every row
  group at most 256 MB compressed, lists in the standard 3-level encoding,
  rows sorted by time;
- every column is an attribute of the class in OCSF 1.3.0 (the schema bundled
  in pydantic-ocsf) with a matching type;
- every row equals its NDJSON record translated here, from the OCSF 1.3.0
  schema and the rules of docs/export.md: an attribute 1.3.0 has is kept,
  anything else is under unmapped.ocsf_1_7 at its 1.7.0 path; one row per
  metadata.uid.
Prints a summary; exits 1 with the first failures.
"""

import datetime
import json
import os
import re
import sys

import ocsf
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = json.load(
    open(os.path.join(os.path.dirname(ocsf.__file__), "schemas", "v1_3_0.json"))
)
# The bundled schema leaves its include files out; these are their
# attributes at ocsf-schema tag 1.3.0 (includes/*.json, profiles/*.json).
INCLUDES = {
    "includes/classification.json": ["activity_name", "activity_id", "category_name", "category_uid", "class_name", "class_uid", "type_name", "type_uid"],
    "includes/occurrence.json": ["count", "duration", "end_time", "start_time", "time", "timezone_offset"],
    "profiles/cloud.json": ["cloud", "api"],
    "profiles/datetime.json": [],
    "profiles/osint.json": ["osint"],
    "profiles/host.json": ["device", "actor"],
    "profiles/security_control.json": ["action", "action_id", "attacks", "authorizations", "disposition", "disposition_id", "firewall_rule", "malware"],
    "profiles/data_classification.json": ["data_classification"],
    "profiles/container.json": ["container", "namespace_pid"],
}
DICTIONARY = SCHEMA["dictionary"]["attributes"]
CLASSES = {2002: ("vulnerability_finding", "fanin-vulnerability"), 2004: ("detection_finding", "fanin-detection")}
MB = 1024 * 1024
failures = []


def fail(message):
    failures.append(message)


def attributes(table, name):
    chain = []
    while name:
        chain.append(table[name])
        name = table[name].get("extends")
    out = {}
    for entry in reversed(chain):
        for key, value in entry.get("attributes", {}).items():
            if key == "$include":
                for include in value:
                    for attribute in INCLUDES[include]:
                        out.setdefault(attribute, {})
            else:
                out[key] = {**out.get(key, {}), **value}
    return out


def describe(name, local):
    """(type, object name, is_array, enum ids or None) of an attribute."""
    entry = {**DICTIONARY.get(name, {}), **{k: v for k, v in local.items() if k in ("type", "is_array")}}
    enum = {**DICTIONARY.get(name, {}).get("enum", {}), **local.get("enum", {})}
    kind = entry.get("type")
    if kind == "object":
        return ("json_t", None, entry.get("is_array", False), None)
    if kind and not kind.endswith("_t"):
        return ("object_t", kind, entry.get("is_array", False), None)
    ids = {int(k) for k in enum}
    # Enums the bundled schema only partly carries (0 and 99 alone) are not checked.
    return (kind, None, entry.get("is_array", False), ids if ids - {0, 99} else None)


def lookup(scope, name):
    """The description of attribute `name` in `scope` (attributes), or None."""
    if name.endswith("_dt") and name[:-3] in scope and describe(name[:-3], scope[name[:-3]])[0] == "timestamp_t":
        return ("datetime_t", None, False, None)
    if name not in scope:
        return None
    return describe(name, scope[name])


def epoch_ms(text):
    return int(datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000 + 0.5)


def expected_value(kind, value):
    """The value as the 1.3.0 row holds it, or KeyError if it does not fit."""
    if kind == "json_t":
        return json.loads(json.dumps(value))
    if kind in ("integer_t", "port_t"):
        if isinstance(value, int) and not isinstance(value, bool) and -(2**31) <= value < 2**31:
            return value
    elif kind in ("long_t", "timestamp_t"):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    elif kind == "float_t":
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
    elif kind == "boolean_t":
        if isinstance(value, bool):
            return value
    elif kind == "datetime_t":
        if isinstance(value, str):
            return epoch_ms(value)
    elif isinstance(value, str):
        return value
    raise KeyError(kind)


def translate(scope, record, path, moved):
    out = {}
    for name, value in record.items():
        here = f"{path}.{name}" if path else name
        found = lookup(scope, name)
        if found is None:
            moved[here] = value
            continue
        kind, object_name, is_array, enum = found
        if value is None:
            continue
        values = value if is_array else [value]
        if is_array and not isinstance(value, list):
            moved[here] = value
            continue
        converted = []
        for index, item in enumerate(values):
            at = f"{here}[{index}]" if is_array else here
            if kind == "object_t":
                if isinstance(item, dict):
                    converted.append(translate(attributes(SCHEMA["objects"], object_name), item, at, moved))
                else:
                    moved[at] = item
                continue
            if enum is not None and isinstance(item, int) and item not in enum:
                moved[at] = item
                item = 99
            try:
                converted.append(expected_value(kind, item))
            except KeyError:
                moved[at] = item
        out[name] = converted if is_array else (converted[0] if converted else None)
        if out[name] is None:
            del out[name]
    return out


def expected_row(class_uid, record):
    record = json.loads(json.dumps(record))
    unmapped = record.pop("unmapped", {})
    moved = {"metadata.version": record["metadata"]["version"]}
    record["metadata"]["version"] = "1.3.0"
    row = translate(attributes(SCHEMA["events"], CLASSES[class_uid][0]), record, "", moved)
    unmapped["ocsf_1_7"] = moved
    row["unmapped"] = unmapped
    return row


def actual_row(value, path=""):
    """A pyarrow row as plain JSON: nulls left out, times in epoch ms, JSON text parsed."""
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if item is None:
                continue
            here = f"{path}.{key}" if path else key
            if key in ("unmapped", "data") and isinstance(item, str):
                out[key] = json.loads(item)
            else:
                out[key] = actual_row(item, here)
        return out
    if isinstance(value, list):
        return [actual_row(item, path) for item in value]
    if isinstance(value, datetime.datetime):
        return int(value.timestamp() * 1000 + 0.5)
    return value


ARROW_TYPES = {
    "string_t": pa.string(), "integer_t": pa.int32(), "port_t": pa.int32(), "long_t": pa.int64(),
    "float_t": pa.float64(), "boolean_t": pa.bool_(), "json_t": pa.string(),
    "timestamp_t": pa.timestamp("ms", tz="UTC"), "datetime_t": pa.timestamp("ms", tz="UTC"),
}


def check_schema(scope, arrow_type, path):
    """Every field of the Arrow struct is a 1.3.0 attribute with a matching type."""
    for field in arrow_type:
        here = f"{path}.{field.name}" if path else field.name
        found = lookup(scope, field.name)
        if found is None:
            fail(f"column {here} is not an OCSF 1.3.0 attribute")
            continue
        kind, object_name, is_array, _ = found
        data_type = field.type
        if is_array != pa.types.is_list(data_type):
            fail(f"column {here}: array in OCSF 1.3.0 is {is_array}, in Parquet {data_type}")
            continue
        if is_array:
            if data_type.value_field.name != "element":
                fail(f"column {here}: list item named {data_type.value_field.name}")
            data_type = data_type.value_type
        if kind == "object_t":
            if not pa.types.is_struct(data_type):
                fail(f"column {here}: object in OCSF 1.3.0, {data_type} in Parquet")
            else:
                check_schema(attributes(SCHEMA["objects"], object_name), data_type, here)
            continue
        base = kind if kind in ARROW_TYPES else "string_t"
        if pa.types.is_timestamp(ARROW_TYPES[base]):
            if not (pa.types.is_timestamp(data_type) and data_type.unit == "ms" and data_type.tz in ("UTC", "+00:00")):
                fail(f"column {here}: {kind} in OCSF 1.3.0 wants a UTC timestamp in ms, Parquet has {data_type}")
        elif data_type != ARROW_TYPES[base]:
            fail(f"column {here}: {kind} in OCSF 1.3.0 wants {ARROW_TYPES[base]}, Parquet has {data_type}")


def varint(data, at):
    shift = value = 0
    while True:
        byte = data[at]
        at += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, at


def skip(data, at, kind):
    """Skips one Thrift compact protocol value of `kind`; returns the next offset."""
    if kind in (1, 2):
        return at
    if kind == 3:
        return at + 1
    if kind in (4, 5, 6):
        return varint(data, at)[1]
    if kind == 7:
        return at + 8
    if kind == 8:
        size, at = varint(data, at)
        return at + size
    if kind in (9, 10):
        header = data[at]
        at += 1
        size, element = header >> 4, header & 0x0F
        if size == 15:
            size, at = varint(data, at)
        for _ in range(size):
            at = skip(data, at, element)
        return at
    if kind == 12:
        while True:
            header = data[at]
            at += 1
            if header == 0:
                return at
            if header >> 4 == 0:
                at = varint(data, at)[1]
            at = skip(data, at, header & 0x0F)
    raise ValueError(f"thrift type {kind}")


def page_headers(data, start, length):
    """(page type, uncompressed size, compressed size) of each page of a column chunk."""
    at, end, pages = start, start + length, []
    while at < end:
        fields, field_id = {}, 0
        while True:
            header = data[at]
            at += 1
            if header == 0:
                break
            delta, kind = header >> 4, header & 0x0F
            if delta:
                field_id += delta
            else:
                raw, at = varint(data, at)
                field_id = (raw >> 1) ^ -(raw & 1)
            if field_id in (1, 2, 3) and kind == 5:
                raw, at = varint(data, at)
                fields[field_id] = (raw >> 1) ^ -(raw & 1)
            else:
                at = skip(data, at, kind)
        pages.append((fields[1], fields[2], fields[3]))
        at += fields[3]
    return pages


KEY = re.compile(
    r"^ext/(?P<source>fanin-[a-z]+)/region=(?P<region>[a-z]{2,4}(-[a-z]+)+-\d+)/accountId=(?P<account>\d{12})"
    r"/eventDay=(?P<day>\d{8})/fanin-(?P<class>\d{4})-(?P=region)-(?P=account)-(?P=day)\.parquet$"
)


def main(root):
    records = {}
    for name in sorted(os.listdir(os.path.join(root, "input"))):
        for line in open(os.path.join(root, "input", name)):
            if line.strip():
                record = json.loads(line)
                records[record["metadata"]["uid"]] = record
    seen, objects, pages_checked, row_groups, largest_page = set(), 0, 0, 0, 0
    for folder, _, files in os.walk(os.path.join(root, "ext")):
        for name in files:
            path = os.path.join(folder, name)
            key = os.path.relpath(path, root)
            match = KEY.match(key)
            if not match:
                fail(f"{key}: not in the Security Lake layout")
                continue
            class_uid = int(match["class"])
            if class_uid not in CLASSES or CLASSES[class_uid][1] != match["source"]:
                fail(f"{key}: class {class_uid} under source {match['source']}")
                continue
            objects += 1
            data = open(path, "rb").read()
            parquet = pq.ParquetFile(path)
            meta = parquet.metadata
            if meta.format_version != "1.0":
                fail(f"{key}: Parquet format {meta.format_version}")
            for group_index in range(meta.num_row_groups):
                group = meta.row_group(group_index)
                row_groups += 1
                compressed = sum(group.column(i).total_compressed_size for i in range(group.num_columns))
                if compressed > 256 * MB:
                    fail(f"{key}: row group {group_index} is {compressed} bytes compressed")
                for column_index in range(group.num_columns):
                    column = group.column(column_index)
                    if column.compression != "ZSTD":
                        fail(f"{key}: {column.path_in_schema} compressed with {column.compression}")
                    start = column.dictionary_page_offset if column.has_dictionary_page else column.data_page_offset
                    for page_type, uncompressed, _ in page_headers(data, start, column.total_compressed_size):
                        pages_checked += 1
                        largest_page = max(largest_page, uncompressed)
                        if uncompressed > MB:
                            fail(f"{key}: {column.path_in_schema}: a page of {uncompressed} bytes")
            # The standard 3-level LIST: <list> (List) { repeated group list { <element> } }.
            lines = [line.strip() for line in str(parquet.schema).splitlines()]
            repeated_list = re.compile(r"^repeated group (field_id=-?\d+ )?list \{$")
            element = re.compile(r"^(optional|required) \S+ (field_id=-?\d+ )?element\b")
            for index, line in enumerate(lines):
                if line.startswith("repeated") and not (
                    repeated_list.match(line) and "(List)" in lines[index - 1] and element.match(lines[index + 1])
                ):
                    fail(f"{key}: not a 3-level LIST: {lines[index - 1]} / {line} / {lines[index + 1]}")
                if "(List)" in line and not repeated_list.match(lines[index + 1]):
                    fail(f"{key}: not a 3-level LIST: {line}")
            lists = sum("(List)" in line for line in lines)
            if lists == 0:
                fail(f"{key}: no list column")
            table = parquet.read()
            check_schema(attributes(SCHEMA["events"], CLASSES[class_uid][0]), table.schema, "")
            times = table.column("time").to_pylist()
            if times != sorted(times):
                fail(f"{key}: rows not sorted by time")
            for row in table.to_pylist():
                actual = actual_row(row)
                uid = actual["metadata"]["uid"]
                if uid in seen:
                    fail(f"{key}: version {uid} twice")
                seen.add(uid)
                if uid not in records:
                    fail(f"{key}: version {uid} is in no input record")
                    continue
                expected = expected_row(class_uid, records[uid])
                if actual != expected:
                    for field in sorted(set(actual) | set(expected)):
                        if actual.get(field) != expected.get(field):
                            fail(f"{key}: {uid}: {field}: parquet {json.dumps(actual.get(field))[:400]} != expected {json.dumps(expected.get(field))[:400]}")
    missing = set(records) - seen
    if missing:
        fail(f"versions not exported: {sorted(missing)}")
    if failures:
        print("\n".join(failures[:40]))
        sys.exit(1)
    print(
        f"{objects} objects, {len(seen)} rows, {row_groups} row groups, {pages_checked} pages"
        f" (largest {largest_page} bytes uncompressed): all checks passed"
    )


if __name__ == "__main__":
    main(sys.argv[1])
