"""Validates OCSF documents with an independent reader (pydantic-ocsf).

Reads one JSON document per line on stdin and checks each against an OCSF
1.7.0 class model: Vulnerability Finding by default, or the class named by
the first argument (`detection_finding` for GuardDuty's Detection Findings).
Prints one line per invalid document and a summary; exits 1 if any document
is invalid or none was given.
"""
import json
import sys

from ocsf.v1_7_0.events import DetectionFinding, VulnerabilityFinding

MODELS = {
    "vulnerability_finding": VulnerabilityFinding,
    "detection_finding": DetectionFinding,
}
model = MODELS[sys.argv[1] if len(sys.argv) > 1 else "vulnerability_finding"]

valid = invalid = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    document = json.loads(line)
    try:
        model.model_validate(document)
        valid += 1
    except Exception as error:  # pydantic.ValidationError and friends
        invalid += 1
        print(f"document {number}: {str(error)[:600]}")
print(f"ocsf: {valid} valid, {invalid} invalid")
sys.exit(1 if invalid or not valid else 0)
