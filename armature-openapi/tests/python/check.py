"""Independent judges for armature-openapi's tests (PyPI's openapi-spec-validator and
openapi-schema-validator; nothing here is Armature code).

  python check.py spec <openapi.json>
      Validates the document against the OpenAPI 3.0/3.1 specification; exit 1 with the
      validator's message when it is invalid.

  python check.py bodies <openapi.json> <results.json>
      results.json: [{"operation": "getPetById", "schema": <a schema of the document,
      as the document wrote it>, "body": <the JSON the server answered>}, ...]
      Validates every body against its schema with the document's components (OAS 3.0 or
      3.1 semantics, by the document's version); exit 1 listing every failure.
"""

import json
import sys

from openapi_schema_validator import OAS30Validator, OAS31Validator
from openapi_spec_validator import validate


def spec(path):
    with open(path) as f:
        doc = json.load(f)
    validate(doc)
    print(f"{path}: valid OpenAPI {doc.get('openapi')}")


def bodies(doc_path, results_path):
    with open(doc_path) as f:
        doc = json.load(f)
    with open(results_path) as f:
        results = json.load(f)
    cls = OAS31Validator if str(doc.get("openapi", "")).startswith("3.1") else OAS30Validator
    failures = []
    for result in results:
        # The schema with the document's components beside it, so `#/components/...` resolves.
        schema = {"allOf": [result["schema"]], "components": doc.get("components", {})}
        errors = sorted(cls(schema).iter_errors(result["body"]), key=str)
        for error in errors:
            failures.append(f"{result['operation']}: {error.message} at {list(error.absolute_path)}")
    for failure in failures:
        print(failure)
    print(f"{len(results)} bodies checked, {len(failures)} failures")
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "spec":
        spec(sys.argv[2])
    elif len(sys.argv) == 4 and sys.argv[1] == "bodies":
        bodies(sys.argv[2], sys.argv[3])
    else:
        print(__doc__)
        sys.exit(2)
