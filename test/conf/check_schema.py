#!/usr/bin/python3
"""Checks conf/hoplite.schema.json against the validator's contract.

Every shipped config must satisfy the schema, and each broken config that a schema can catch
(everything but cross references such as an unknown upstream) must fail it. Exits 77 (CTest's
skip code here) when python3-jsonschema is not installed: the schema is an editor aid, and the
C++ validator is tested on its own.

Usage: check_schema.py SCHEMA --good FILE... --bad FILE...
"""
import json
import sys


def main(argv):
    try:
        import jsonschema
    except ImportError:
        print("python3-jsonschema is not installed; skipping")
        return 77
    schema_path = argv[1]
    good, bad, mode = [], [], None
    for arg in argv[2:]:
        if arg in ("--good", "--bad"):
            mode = arg
        elif mode == "--good":
            good.append(arg)
        elif mode == "--bad":
            bad.append(arg)
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    failures = 0
    for path in good:
        with open(path, encoding="utf-8") as f:
            errors = list(validator.iter_errors(json.load(f)))
        for error in errors:
            print(f"{path}: schema refuses a valid config: /{'/'.join(map(str, error.path))}: "
                  f"{error.message}")
            failures += 1
    for path in bad:
        with open(path, encoding="utf-8") as f:
            document = json.load(f)
        if not list(validator.iter_errors(document)):
            print(f"{path}: schema accepts a config that hoplite --check refuses")
            failures += 1
    print(f"{len(good)} valid and {len(bad)} invalid configs checked, {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
