"""Template conventions no linter checks: region completeness of the
region mappings, and parameters that say what they are and what they accept.

A mapping whose top-level keys are region names must list every region of
the partitions fanin serves (aws, aws-cn, aws-us-gov, aws-eusc), as the
installed botocore's endpoint data knows them, and nothing else: a region
missing from a mapping would fail that region's stack instance (FindInMap),
and a typo would silently never match. The Inspector Classic data must also
agree across templates: each rules package ARN names its own region and
that region's Inspector service account.

Every parameter needs a Description and at least one constraint
(AllowedPattern, AllowedValues, Min/MaxValue or Min/MaxLength), so a typo
in a parameter file fails at deployment instead of reaching a resource.

Usage: python check_conventions.py TEMPLATE... (prints one line per problem,
exits 1 if there is any).
"""

import json
import os
import re
import sys

import botocore
import yaml

PARTITIONS = ("aws", "aws-cn", "aws-us-gov", "aws-eusc")
CONSTRAINTS = ("AllowedPattern", "AllowedValues", "MinValue", "MaxValue", "MinLength", "MaxLength")
REGION = re.compile(r"^[a-z]{2,4}(-[a-z]+)+-\d+$")


class TemplateLoader(yaml.SafeLoader):
    """Reads CloudFormation YAML, keeping intrinsic function tags as plain values."""


def _any_tag(loader, _suffix, node):
    if isinstance(node, yaml.ScalarNode):
        return loader.construct_scalar(node)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node)
    return loader.construct_mapping(node)


TemplateLoader.add_multi_constructor("!", _any_tag)


def known_regions():
    path = os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints.json")
    with open(path, encoding="utf-8") as file:
        endpoints = json.load(file)
    regions = set()
    for partition in endpoints["partitions"]:
        if partition["partition"] in PARTITIONS:
            regions.update(partition["regions"])
    return regions


def main(paths):
    expected = known_regions()
    problems = []
    service_accounts = {}
    rules_packages = {}
    for path in paths:
        with open(path, encoding="utf-8") as file:
            template = yaml.load(file, Loader=TemplateLoader) or {}
        for name, parameter in (template.get("Parameters") or {}).items():
            if not str(parameter.get("Description") or "").strip():
                problems.append(f"{path}: parameter {name} has no Description")
            if not any(key in parameter for key in CONSTRAINTS):
                problems.append(f"{path}: parameter {name} has no constraint ({', '.join(CONSTRAINTS)})")
        for name, mapping in (template.get("Mappings") or {}).items():
            keys = set(mapping)
            if not any(REGION.match(key) for key in keys):
                continue
            for region in sorted(expected - keys):
                problems.append(f"{path}: mapping {name} has no entry for region {region}")
            for region in sorted(keys - expected):
                problems.append(f"{path}: mapping {name} names unknown region {region}")
            for region, values in mapping.items():
                if "ServiceAccount" in values:
                    service_accounts[region] = values["ServiceAccount"]
                if "RulesPackages" in values:
                    rules_packages[region] = values["RulesPackages"]
    if service_accounts and rules_packages:
        for region in sorted(set(service_accounts) | set(rules_packages)):
            account = service_accounts.get(region)
            packages = rules_packages.get(region)
            if (account == "none") != (packages == "none"):
                problems.append(
                    f"region {region}: Inspector Classic service account {account} "
                    f"but rules packages {packages}"
                )
                continue
            if packages in (None, "none"):
                continue
            for arn in packages.split(","):
                parts = arn.split(":")
                if len(parts) != 6 or parts[3] != region or parts[4] != account:
                    problems.append(
                        f"region {region}: rules package {arn} does not belong to "
                        f"region {region} and service account {account}"
                    )
    for problem in problems:
        print(problem)
    print(
        f"{len(paths)} templates, {len(expected)} regions of {', '.join(PARTITIONS)} "
        f"(botocore {botocore.__version__}); {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
