"""Reads back the exports of tests/interchange.rs with maintained libraries.

Usage: check.py DHIS2_JSON SCHEMA_JSON SDMX_JSON EXPECTED_JSON

- the DHIS2 dataValueSets payload must validate against the JSON Schema written from DHIS2's
  documentation (jsonschema, Draft 2020-12);
- the SDMX-JSON data message is read by sdmx1 (`sdmx.read_sdmx`) and every observation must
  equal the expected value (unit, indicator, measure, as-of day → number), none missing, none
  extra; the header and the data set's provenance attributes must name the snapshot.

Fails loudly (exit 1 with the reason) when a library is missing: CI installs them.
"""

import json
import math
import sys

try:
    import jsonschema
    import sdmx
except ImportError as e:  # fail, never skip
    sys.exit(f"missing Python library ({e}): pip install sdmx1 jsonschema")


def main(dhis2_path, schema_path, sdmx_path, expected_path):
    with open(schema_path, encoding="utf-8") as f:
        schema = json.load(f)
    with open(dhis2_path, encoding="utf-8") as f:
        payload = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    errors = sorted(
        jsonschema.Draft202012Validator(schema).iter_errors(payload), key=lambda e: e.path
    )
    if errors:
        sys.exit("DHIS2 payload invalid: " + "; ".join(
            f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]))

    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    want = {(e["unit"], e["indicator"], e["measure"], e["as_of"]): e["value"]
            for e in expected["observations"]}

    msg = sdmx.read_sdmx(sdmx_path)
    if msg.header.id != expected["header_id"]:
        sys.exit(f"SDMX header id {msg.header.id!r}, expected {expected['header_id']!r}")
    ds = msg.data[0]
    got = {}
    for obs in ds.obs:
        key = obs.key.get_values()
        k = {kv.id: kv.value for kv in obs.key.values.values()}
        got[(k["REF_AREA"], k["INDICATOR"], k["MEASURE"], k["TIME_PERIOD"])] = obs.value
        status = obs.attached_attribute.get("OBS_STATUS")
        if status is None:
            sys.exit(f"observation {key} has no OBS_STATUS")
    missing = sorted(set(want) - set(got))
    extra = sorted(set(got) - set(want))
    if missing or extra:
        sys.exit(f"SDMX observations: missing {missing[:5]}, extra {extra[:5]}")
    wrong = [(k, got[k], v) for k, v in want.items()
             if not math.isclose(float(got[k]), float(v), rel_tol=0, abs_tol=0)]
    if wrong:
        sys.exit(f"SDMX values differ (key, read, expected): {wrong[:5]}")
    attrs = {a.id for a in msg.structure.attributes.components}
    for a in ("SNAPSHOT_ID", "SNAPSHOT_VERSION", "CONTENT_HASH", "SOURCES", "OBS_STATUS"):
        if a not in attrs:
            sys.exit(f"SDMX structure lacks attribute {a}: {sorted(attrs)}")
    print(f"ok: DHIS2 payload of {len(payload['dataValues'])} values valid; "
          f"SDMX read back {len(got)} observations equal to the snapshot")


if __name__ == "__main__":
    main(*sys.argv[1:])
