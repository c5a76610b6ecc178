"""Validates OCSF documents with an independent reader (pydantic-ocsf).

Reads one JSON document per line on stdin and checks each against the OCSF
1.7.0 Vulnerability Finding model. Prints one line per invalid document and
a summary; exits 1 if any document is invalid or none was given.
"""
import json
import sys

from ocsf.v1_7_0.events import VulnerabilityFinding

valid = invalid = 0
for number, line in enumerate(sys.stdin, 1):
    if not line.strip():
        continue
    document = json.loads(line)
    try:
        VulnerabilityFinding.model_validate(document)
        valid += 1
    except Exception as error:  # pydantic.ValidationError and friends
        invalid += 1
        print(f"document {number}: {str(error)[:600]}")
print(f"ocsf: {valid} valid, {invalid} invalid")
sys.exit(1 if invalid or not valid else 0)
