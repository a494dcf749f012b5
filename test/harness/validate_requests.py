"""Validates planned AWS requests against botocore's service models: the request contract.

moto accepts requests that AWS rejects, so the dry-run plans (the exact inputs mlops sends) are
checked here against the API models AWS's own SDKs are generated from: required members present, no
unknown members, types, string lengths and patterns (full match), enums, numeric ranges, list and map
sizes.

Input (stdin): JSON ``[{"label": str, "service": str, "operation": str, "input": {...}}, ...]``.
Output (stdout): JSON ``{"checked": n, "operations": ["service:Operation", ...], "violations": [...]}``,
each violation ``{"label", "service", "operation", "path", "message"}``.

Values only AWS knows appear in plans as placeholders (``<account-id>``); they are replaced with
realistic values of the right shape before checking. An unknown placeholder is itself a violation,
so a new one gets a realistic stand-in here instead of slipping through unchecked.
"""
from __future__ import annotations

import json
import sys

import botocore.session
import regex  # Java-style patterns use \p{...} classes, which the re module lacks

# Plan service prefixes (IAM-style) -> botocore service names.
SERVICES = {
    "s3": "s3",
    "sagemaker": "sagemaker",
    "sagemaker-runtime": "sagemaker-runtime",
    "iam": "iam",
    "lambda": "lambda",
    "ec2": "ec2",
    "ssm": "ssm",
    "logs": "logs",
    "sts": "sts",
    "application-autoscaling": "application-autoscaling",
    "cloudwatch": "cloudwatch",
    "sns": "sns",
    "events": "events",
    "pricing": "pricing",
}

PLACEHOLDERS = {
    "<account-id>": "123456789012",
    "<instance-id>": "i-0123456789abcdef0",
    "<command-id>": "0b7f4e6c-1a2b-4c3d-8e9f-0123456789ab",
    "<version>": "3",
    "<security-group-id>": "sg-0123456789abcdef0",
    "<ami-id-from-ssm>": "ami-0123456789abcdef0",
    "<default-vpc-id>": "vpc-0123456789abcdef0",
    "<root-device-of-ami>": "/dev/xvda",
    "<sha256-of-repacked-model>": "a" * 64,
    "<function-url>": "https://abcdefghijklmnopqrstuvwxyz012345.lambda-url.us-east-1.on.aws/",
    "<best-training-job>": "dogs-261122-1000-003-1a2b3c4d",
}
PLACEHOLDER = regex.compile(r"<[a-z0-9]+(?:-[a-z0-9]+)*>")
# A whole value in words ("<each older config>", "<same>") stands for one request per item found at
# run time: its presence and type are checked, its text cannot be.
RUNTIME_VALUE = regex.compile(r"<[^<>]*[ ][^<>]*>|<same>")


class Opaque(str):
    """A string member whose value only exists at run time."""


def substitute(value, unknown: set):
    if isinstance(value, str):
        if RUNTIME_VALUE.fullmatch(value):
            return Opaque(value)
        def repl(m):
            if m.group(0) in PLACEHOLDERS:
                return PLACEHOLDERS[m.group(0)]
            unknown.add(m.group(0))
            return m.group(0)
        return PLACEHOLDER.sub(repl, value)
    if isinstance(value, list):
        return [substitute(v, unknown) for v in value]
    if isinstance(value, dict):
        return {k: substitute(v, unknown) for k, v in value.items()}
    return value


class Checker:
    def __init__(self):
        self.session = botocore.session.get_session()
        self.models = {}
        self.patterns = {}

    def model(self, service):
        if service not in self.models:
            self.models[service] = self.session.get_service_model(service)
        return self.models[service]

    def pattern(self, text):
        if text not in self.patterns:
            # Java writes supplementary characters as UTF-16 surrogate pairs; Python wants code points.
            python = text.replace("\\uD800\\uDC00-\\uDBFF\\uDFFF", "\\U00010000-\\U0010FFFF")
            self.patterns[text] = regex.compile(python)
        return self.patterns[text]

    def check(self, shape, value, path, out):
        t = shape.type_name
        meta = shape.metadata
        if t == "structure":
            if not isinstance(value, dict):
                return out.append((path, "expected an object ({}), got {}".format(shape.name, type(value).__name__)))
            members = shape.members
            for name in shape.required_members:
                if name not in value or value[name] is None:
                    out.append((path + "." + name, "required member is missing"))
            for name, v in value.items():
                if name not in members:
                    out.append((path + "." + name, "unknown member of {} (known: {})".format(shape.name, ", ".join(sorted(members)))))
                elif v is not None:
                    self.check(members[name], v, path + "." + name, out)
        elif t == "list":
            if not isinstance(value, list):
                return out.append((path, "expected a list, got {}".format(type(value).__name__)))
            self.size(meta, len(value), path, "items", out)
            for i, v in enumerate(value):
                self.check(shape.member, v, "{}[{}]".format(path, i), out)
        elif t == "map":
            if not isinstance(value, dict):
                return out.append((path, "expected a map, got {}".format(type(value).__name__)))
            self.size(meta, len(value), path, "entries", out)
            for k, v in value.items():
                self.check(shape.key, k, "{}.<key {}>".format(path, k), out)
                self.check(shape.value, v, "{}.{}".format(path, k), out)
        elif t == "string":
            if not isinstance(value, str):
                return out.append((path, "expected a string, got {}".format(type(value).__name__)))
            if isinstance(value, Opaque):
                return
            self.size(meta, len(value), path, "characters", out)
            if shape.enum and value not in shape.enum:
                out.append((path, "{!r} is not one of {}".format(value, ", ".join(shape.enum))))
            pat = meta.get("pattern")
            if pat and not self.pattern(pat).fullmatch(value):
                out.append((path, "{!r} does not match the pattern {}".format(value[:120], pat)))
        elif t in ("integer", "long"):
            if isinstance(value, bool) or not isinstance(value, int):
                return out.append((path, "expected an integer, got {!r}".format(value)))
            self.range(meta, value, path, out)
        elif t in ("float", "double"):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                return out.append((path, "expected a number, got {!r}".format(value)))
            self.range(meta, value, path, out)
        elif t == "boolean":
            if not isinstance(value, bool):
                out.append((path, "expected true or false, got {!r}".format(value)))
        elif t == "blob":
            # Plans show bodies as a description or base64 text; the SDK takes bytes, strings or streams.
            if not isinstance(value, (str, dict)):
                out.append((path, "expected bytes (shown as text), got {}".format(type(value).__name__)))
        elif t == "timestamp":
            if not isinstance(value, (str, int, float)):
                out.append((path, "expected a timestamp, got {}".format(type(value).__name__)))

    @staticmethod
    def size(meta, n, path, unit, out):
        if "min" in meta and n < meta["min"]:
            out.append((path, "{} {} is fewer than the minimum {}".format(n, unit, meta["min"])))
        if "max" in meta and n > meta["max"]:
            out.append((path, "{} {} is more than the maximum {}".format(n, unit, meta["max"])))

    @staticmethod
    def range(meta, v, path, out):
        if "min" in meta and v < meta["min"]:
            out.append((path, "{} is below the minimum {}".format(v, meta["min"])))
        if "max" in meta and v > meta["max"]:
            out.append((path, "{} is above the maximum {}".format(v, meta["max"])))


def main() -> int:
    requests = json.load(sys.stdin)
    checker = Checker()
    violations = []
    seen = set()
    for r in requests:
        label, service, operation = r["label"], r["service"], r["operation"]

        def fail(path, message):
            violations.append({"label": label, "service": service, "operation": operation, "path": path, "message": message})

        name = SERVICES.get(service)
        if name is None:
            fail("", "unknown service prefix {!r}: add it to SERVICES".format(service))
            continue
        model = checker.model(name)
        if operation not in model.operation_names:
            fail("", "{} has no operation {}".format(name, operation))
            continue
        seen.add("{}:{}".format(service, operation))
        unknown = set()
        value = substitute(r["input"], unknown)
        for u in sorted(unknown):
            fail("", "unknown placeholder {}: give it a realistic stand-in in PLACEHOLDERS".format(u))
        shape = model.operation_model(operation).input_shape
        found = []
        if shape is None:
            if value not in ({}, None):
                found.append(("input", "the operation takes no input"))
        else:
            checker.check(shape, value, "input", found)
        for path, message in found:
            fail(path, message)
    json.dump({"checked": len(requests), "operations": sorted(seen), "violations": violations}, sys.stdout, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
