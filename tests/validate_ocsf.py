"""Validates OCSF documents with an independent reader (pydantic-ocsf).

Reads one JSON document per line on stdin and checks each against an OCSF
1.7.0 class model: Vulnerability Finding by default, or the class named by
the first argument (`detection_finding` for GuardDuty's and the guard's
Detection Findings, `compliance_finding` for the guard's Compliance Findings).
Prints one line per invalid document and a summary; exits 1 if any document
is invalid or none was given.

One known defect of the reader is worked around, and only that one:
pydantic-ocsf 3.0 builds the `device.type_id` enumeration from `device`'s
own attribute entry, which overrides `type_id` without repeating the
enumeration `device` inherits from `endpoint`, so it accepts only 0 and 99
and refuses 6 ("Virtual"), which OCSF 1.7.0 defines for a virtual machine
and fanin writes for an EC2 instance. For such a document this script first
checks the value and its caption against the enumeration of `endpoint` in the
schema the reader itself ships (`ocsf/schemas/v1_7_0.json`), then validates
the rest of the document with `type_id` set to 99, the one value the reader
takes. Any other `device.type_id` is validated as it is.
"""
import copy
import json
import pathlib
import sys

import ocsf
from ocsf.v1_7_0 import events

# Only the requested class is loaded: pydantic-ocsf 3.0 resolves each class's
# enumerations by name when the class is first loaded, and loading
# ComplianceFinding first makes DetectionFinding take Compliance Finding's
# `status_id` enumeration (0-3, 99), refusing 4 Resolved and 5 Archived.
MODELS = {
    "vulnerability_finding": "VulnerabilityFinding",
    "detection_finding": "DetectionFinding",
    "compliance_finding": "ComplianceFinding",
}
model = getattr(events, MODELS[sys.argv[1] if len(sys.argv) > 1 else "vulnerability_finding"])

SCHEMA = json.loads(
    (pathlib.Path(ocsf.__file__).parent / "schemas" / "v1_7_0.json").read_text()
)
ENDPOINT_TYPES = SCHEMA["objects"]["endpoint"]["attributes"]["type_id"]["enum"]


def readable(document):
    """The document as the reader can take it, or an error message."""
    device = document.get("device")
    if not isinstance(device, dict) or device.get("type_id") != 6:
        return document, None
    caption = ENDPOINT_TYPES.get("6", {}).get("caption")
    if caption != "Virtual" or device.get("type") != caption:
        return None, f"device.type_id 6 with type {device.get('type')!r}, schema says {caption!r}"
    patched = copy.deepcopy(document)
    patched["device"]["type_id"] = 99
    return patched, None


valid = invalid = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    document, problem = readable(json.loads(line))
    try:
        if problem:
            raise ValueError(problem)
        model.model_validate(document)
        valid += 1
    except Exception as error:  # pydantic.ValidationError and friends
        invalid += 1
        print(f"document {number}: {str(error)[:600]}")
print(f"ocsf: {valid} valid, {invalid} invalid")
sys.exit(1 if invalid or not valid else 0)
