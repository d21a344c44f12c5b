"""A missing optional dependency names the package and the extra that
installs it (newcomer issue, item 3)."""

from __future__ import annotations

import subprocess
import sys

import pytest

import quercus
from pyhelpers import ROOT


def test_python_m_quercus_parity_without_xgboost_names_the_extra(tmp_path):
    # A site directory whose `xgboost` cannot be imported, first on the path.
    blocker = tmp_path / "xgboost"
    blocker.mkdir()
    (blocker / "__init__.py").write_text("raise ImportError('No module named xgboost (blocked by the test)')\n")
    example = ROOT / "models" / "example"
    r = subprocess.run(
        [sys.executable, "-m", "quercus.parity", str(example / "model.json"),
         "--input", str(example / "input.csv"), "--reference", str(example / "model.json")],
        capture_output=True, text=True, env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert r.returncode == 2, r.stderr
    assert "'xgboost'" in r.stderr and "pip install 'quercus[parity]'" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr


def test_missing_dependency_error_is_a_quercus_error_and_an_import_error():
    from quercus._optional import require

    with pytest.raises(quercus.MissingDependencyError, match=r"quercus\[arrow\]") as e:
        require("pyarrow.definitely_not_a_module", "a test")
    assert isinstance(e.value, ImportError) and isinstance(e.value, quercus.QuercusError)
