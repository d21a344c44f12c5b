"""Write cases.jsonl for a BigQuery ML export: random instances and the outputs of
Google's exported predictor (bigquery-ml-utils 1.5.0 run with xgboost 3.0.1 and
numpy 1.26.4), one instance at a time. Lines are {"instance": ..., "expected": ...}
or {"instance": ..., "error": "Type: message"} for instances it rejects.

usage (the oracle environment of scripts/test.sh):
    PYTHONPATH=.venv/bqml-oracle .venv/bin/python models/gen/bqml_cases.py EXPORT_DIR N_PLAIN N_RICH SEED

Instances come from python/tests/bqml_random.py: N_PLAIN ordinary ones (vocabulary
values, unseen categories, empty strings for numbers, empty arrays, ARRAY<STRUCT>
pairs), N_RICH with Python-typed values whose handling is specific to the predictor,
then the instances it should reject (missing/extra columns, bad arrays, ...).
"""
import json
import os
import random
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "python", "tests"))

import bqml_oracle  # noqa: E402
import bqml_random  # noqa: E402


def main():
    export, n_plain, n_rich, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    rng = random.Random(seed)
    meta, schema = bqml_random.load_schema(export)
    instances = [bqml_random.random_instance(rng, meta, schema) for _ in range(n_plain)]
    instances += [bqml_random.random_instance(rng, meta, schema, rich=True) for _ in range(n_rich)]
    instances += bqml_random.error_instances(rng, meta, schema)
    predictor = bqml_oracle.open_export(export)
    results = bqml_oracle.predict_each(predictor, instances)
    with open(os.path.join(export, "cases.jsonl"), "w") as fh:
        for inst, res in zip(instances, results):
            if "ok" in res:
                fh.write(json.dumps({"instance": inst, "expected": res["ok"]}) + "\n")
            else:
                fh.write(json.dumps({"instance": inst, "error": res["error"]}) + "\n")
    n_err = sum("error" in r for r in results)
    print(f"{export}: {len(results) - n_err} predictions, {n_err} rejected")


if __name__ == "__main__":
    main()
