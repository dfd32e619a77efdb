"""Parses OpenMetrics text (stdin) with the reference Python client's strict parser and prints
every sample as JSON: [{"family", "type", "name", "labels", "value"}]. The Rust test decides
what is right; this script only parses (a malformed exposition makes it fail).
"""
import json
import sys

from prometheus_client.openmetrics.parser import text_string_to_metric_families

samples = []
for family in text_string_to_metric_families(sys.stdin.read()):
    for s in family.samples:
        samples.append({
            "family": family.name,
            "type": family.type,
            "unit": family.unit,
            "name": s.name,
            "labels": s.labels,
            "value": s.value,
        })
json.dump(samples, sys.stdout)
