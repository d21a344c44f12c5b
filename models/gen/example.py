"""Generates models/example/: the model the README's quick start predicts with.

    .venv/bin/python models/gen/example.py

A small binary classifier with named features, trained by the XGBoost pinned in
python/requirements-test.txt, an input CSV (with a missing cell), and the
probabilities XGBoost itself predicts for it (expected.csv).
"""

from pathlib import Path

import numpy as np
import xgboost as xgb

out = Path(__file__).resolve().parents[1] / "example"
out.mkdir(exist_ok=True)
rng = np.random.default_rng(2026)
names = ["tenure_months", "monthly_charges", "support_calls", "contract_years"]
n = 2000
x = np.column_stack(
    [
        rng.integers(0, 72, n),
        rng.uniform(20, 120, n),
        rng.poisson(1.5, n),
        rng.integers(0, 3, n),
    ]
).astype(np.float32)
logit = -0.04 * x[:, 0] + 0.02 * x[:, 1] + 0.5 * x[:, 2] - 0.8 * x[:, 3] - 0.5
y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.float32)
dtrain = xgb.DMatrix(x, label=y, feature_names=names)
params = {"objective": "binary:logistic", "max_depth": 4, "eta": 0.2, "seed": 1}
booster = xgb.train(params, dtrain, num_boost_round=30)
booster.save_model(str(out / "model.json"))

rows = x[:8].copy()
rows[2, 1] = np.nan  # a missing value: an empty CSV cell
with open(out / "input.csv", "w") as f:
    f.write(",".join(names) + "\n")
    for r in rows:
        f.write(",".join("" if np.isnan(v) else repr(float(v)) for v in r) + "\n")
reloaded = xgb.Booster(model_file=str(out / "model.json"))
pred = reloaded.predict(xgb.DMatrix(rows, feature_names=names))
with open(out / "expected.csv", "w") as f:
    f.write("prediction\n")
    for p in pred:
        f.write(f"{str(p)}\n")  # shortest float32 repr, as quercus writes it
print(f"xgboost {xgb.__version__}: wrote {out}")
