"""The IAM actions of every role (and of the permissions boundary) in the
templates must equal the list documented in docs/security.md, exactly: an
action a template grants that the document does not list fails, and so does
a documented action no template grants.

The list is the JSON block between the markers `<!-- iam-actions:begin -->`
and `<!-- iam-actions:end -->` of docs/security.md:
`{"<template path>#<logical id>": ["service:Action", ...]}`, one entry per
AWS::IAM::Role (its inline policies plus every AWS::IAM::ManagedPolicy or
AWS::IAM::Policy of the template attached to it through `Roles`) and one per
managed policy attached to no role (the permissions boundary). Actions given
as `!If` count with every branch. Trust policies are not counted (they say
who may assume a role, not what it may do).

It also checks that every action of a role carrying the fanin permissions
boundary is within the boundary (stacksets/permissions-boundary.yaml): IAM
would deny it at run time, and the local stack does not enforce boundaries.

Usage: check_iam_actions.py [--print] TEMPLATE...   (every template: the list
covers them all)
  --print  prints the list the templates grant, in the document's form.
"""

import fnmatch
import json
import os
import re
import sys

from cfnlint.decode import decode

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOCUMENT = os.path.join(ROOT, "docs", "security.md")
BLOCK = re.compile(
    r"<!-- iam-actions:begin -->\s*```json\s*(.*?)```\s*<!-- iam-actions:end -->", re.S
)


def actions_of(value):
    """Every action string in an Action value, following Fn::If branches."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, list):
        found = set()
        for item in value:
            found |= actions_of(item)
        return found
    if isinstance(value, dict) and "Fn::If" in value:
        branches = value["Fn::If"]
        return actions_of(branches[1]) | actions_of(branches[2])
    return set()


def statements_of(document):
    """The statements of a policy document, both branches of a statement !If."""
    if not isinstance(document, dict):
        return []
    found = []
    statements = document.get("Statement") or []
    if isinstance(statements, dict):
        statements = [statements]
    for statement in statements:
        if isinstance(statement, dict) and "Fn::If" in statement:
            found.extend(s for s in statement["Fn::If"][1:] if isinstance(s, dict))
        elif isinstance(statement, dict):
            found.append(statement)
    return found


def document_actions(document):
    found = set()
    for statement in statements_of(document):
        if statement.get("Effect") == "Allow":
            found |= actions_of(statement.get("Action"))
    return found


BOUNDARY_KEY = "stacksets/permissions-boundary.yaml#PermissionsBoundary"


def granted(paths):
    """{"<path>#<role or policy>": sorted actions} for every template, and
    the keys of the roles that carry a permissions boundary."""
    result = {}
    bounded = set()
    problems = []
    for path in paths:
        template, matches = decode(path)
        if template is None:
            problems.append(f"{path}: cannot be parsed: {matches}")
            continue
        name = os.path.relpath(os.path.abspath(path), ROOT)
        resources = template.get("Resources") or {}
        roles = {}
        for logical_id, resource in resources.items():
            if resource.get("Type") != "AWS::IAM::Role":
                continue
            actions = set()
            for policy in resource.get("Properties", {}).get("Policies") or []:
                actions |= document_actions(policy.get("PolicyDocument"))
            roles[logical_id] = actions
            if resource.get("Properties", {}).get("PermissionsBoundary"):
                bounded.add(f"{name}#{logical_id}")
        for logical_id, resource in resources.items():
            if resource.get("Type") not in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
                continue
            properties = resource.get("Properties", {})
            actions = document_actions(properties.get("PolicyDocument"))
            attached = [
                r["Ref"] for r in properties.get("Roles") or [] if isinstance(r, dict) and "Ref" in r
            ]
            for role in attached:
                if role not in roles:
                    problems.append(f"{name}: {logical_id} is attached to {role}, not a role of the template")
                    continue
                roles[role] |= actions
            if not attached:
                result[f"{name}#{logical_id}"] = sorted(actions)
        for logical_id, actions in roles.items():
            result[f"{name}#{logical_id}"] = sorted(actions)
    return dict(sorted(result.items())), bounded, problems


def documented():
    with open(DOCUMENT, encoding="utf-8") as handle:
        text = handle.read()
    match = BLOCK.search(text)
    if match is None:
        raise SystemExit(f"{DOCUMENT}: no iam-actions block (<!-- iam-actions:begin --> ```json ... ```)")
    return json.loads(match.group(1))


def main(arguments):
    show = "--print" in arguments
    paths = [a for a in arguments if a != "--print"]
    actual, bounded, problems = granted(paths)
    if show:
        print(json.dumps(actual, indent=2))
        return 0
    expected = documented()
    for key in sorted(set(actual) | set(expected)):
        if key not in expected:
            problems.append(f"{key}: a role of the templates that docs/security.md does not list")
            continue
        if key not in actual:
            problems.append(f"{key}: listed in docs/security.md, but no such role or policy")
            continue
        extra = sorted(set(actual[key]) - set(expected[key]))
        missing = sorted(set(expected[key]) - set(actual[key]))
        if extra:
            problems.append(f"{key}: granted but not documented: {', '.join(extra)}")
        if missing:
            problems.append(f"{key}: documented but not granted: {', '.join(missing)}")
    # The boundary as documented: the templates' copy is compared above.
    boundary = expected.get(BOUNDARY_KEY, [])
    for key in sorted(bounded):
        outside = [
            action
            for action in actual[key]
            if not any(fnmatch.fnmatchcase(action.lower(), allowed.lower()) for allowed in boundary)
        ]
        if outside:
            problems.append(f"{key}: outside the permissions boundary: {', '.join(outside)}")
    for problem in problems:
        print(problem)
    total = sum(len(v) for v in actual.values())
    print(f"{len(actual)} roles and policies, {total} actions; {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
