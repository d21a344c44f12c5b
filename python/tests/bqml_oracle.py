"""Google's exported BigQuery ML predictor as an oracle.

Runs in its own environment (bigquery-ml-utils 1.5.0, xgboost 3.0.1, numpy
1.26.4, installed with --target by scripts/test.sh into .venv/bqml-oracle; see
python/requirements-bqml-oracle.txt), never in the main .venv, whose numpy 2 and
XGBoost 3.2 cannot read model.bst. The predictor module is loaded by file path:
importing the bigquery_ml_utils package pulls in TensorFlow, which boosted trees
do not need.

As a script (PYTHONPATH=.venv/bqml-oracle python bqml_oracle.py): reads
{"export": DIR, "instances": [...]} on stdin, predicts each instance on its own
(one `predict([instance])` call, as Vertex would for a one-instance request) and
writes a JSON list with {"ok": prediction} or {"error": "Type: message"} per
instance on stdout.
"""
import importlib.util
import json
import os
import sys
import warnings


def load_predictor_class():
    spec = importlib.util.find_spec("bigquery_ml_utils")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("bigquery_ml_utils is not on PYTHONPATH")
    path = os.path.join(spec.submodule_search_locations[0], "inference", "xgboost_predictor",
                        "predictor.py")
    mspec = importlib.util.spec_from_file_location("bqml_xgboost_predictor", path)
    mod = importlib.util.module_from_spec(mspec)
    mspec.loader.exec_module(mod)
    return mod.Predictor


def open_export(export_dir):
    warnings.filterwarnings("ignore")
    return load_predictor_class().from_path(export_dir)


def predict_each(predictor, instances):
    out = []
    for inst in instances:
        try:
            out.append({"ok": predictor.predict([inst])[0]})
        except Exception as e:  # the reference rejects it
            out.append({"error": f"{type(e).__name__}: {e}"})
    return out


def main():
    req = json.load(sys.stdin)
    predictor = open_export(req["export"])
    json.dump(predict_each(predictor, req["instances"]), sys.stdout)


if __name__ == "__main__":
    main()
