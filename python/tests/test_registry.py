"""`quercus.registry` and `quercus.load("registry://...")`: the Vertex
alias/version rules from Python, content hashes checked against hashlib,
tampered artifacts refused, and eight processes uploading at once.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import quercus

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "models" / "example" / "model.json"
EXPORT = ROOT / "models" / "bqml" / "boosted_tree_classifier_model"


@pytest.fixture
def reg(tmp_path, monkeypatch):
    """A fresh registry, also the default one (QUERCUS_REGISTRY)."""
    root = tmp_path / "registry"
    monkeypatch.setenv("QUERCUS_REGISTRY", str(root))
    return root


def test_upload_aliases_load_delete(reg):
    v1 = quercus.registry.upload(MODEL, "churn", labels={"env": "dev"}, version_description="first")
    assert v1["versionId"] == "1" and v1["versionAliases"] == ["default"]
    assert v1["labels"]["env"] == "dev" and v1["versionDescription"] == "first"
    assert v1["name"] == "projects/local/locations/local/models/churn"
    v2 = quercus.registry.upload(MODEL, "churn", aliases=["champion", "canary"], display_name="Churn v2")
    assert v2["versionId"] == "2" and v2["displayName"] == "Churn v2"
    assert sorted(v2["versionAliases"]) == ["canary", "champion"]

    assert [m["versionId"] for m in quercus.registry.list("churn")] == ["1", "2"]
    assert [m["versionId"] for m in quercus.registry.list()] == ["1"]  # the default version
    assert quercus.registry.describe("churn@champion")["versionId"] == "2"
    assert quercus.registry.default_root() == str(reg)

    # Loading through the registry predicts what the file predicts.
    x = np.array([[61.0, 100.35, 0.0, 0.0], [3.0, 20.0, 5.0, 1.0]], dtype=np.float32)
    direct = quercus.load(MODEL).predict(x)
    for ref in ("registry://churn@champion", "registry://churn@2", "registry://churn"):
        m = quercus.load(ref)
        np.testing.assert_array_equal(m.predict(x), direct)
    m = quercus.load("registry://churn@champion")
    assert m.metadata == quercus.registry.describe("churn@2")
    assert quercus.registry.load("churn@1", root=reg).metadata["versionId"] == "1"

    # Aliases move; a leading `-` removes; `default` cannot be removed.
    r = quercus.registry.merge_aliases("churn@1", ["champion"])
    assert r["versionAliases"] == ["default", "champion"]
    assert quercus.registry.describe("churn@2")["versionAliases"] == ["canary"]
    with pytest.raises(quercus.RegistryError, match="cannot be removed") as e:
        quercus.registry.merge_aliases("churn@1", ["-default"])
    assert e.value.kind == "registry"
    r = quercus.registry.merge_aliases("churn@2", ["default", "-canary"])
    assert r["versionAliases"] == ["default"]
    assert quercus.registry.describe("churn")["versionId"] == "2"

    # Deleting: aliases need force; the default moves to the newest remaining.
    with pytest.raises(quercus.RegistryError, match="champion"):
        quercus.registry.delete("churn@1")
    quercus.registry.delete("churn@1", force=True)
    quercus.registry.upload(MODEL, "churn")
    quercus.registry.delete("churn@2")
    d = quercus.registry.describe("churn")
    assert d["versionId"] == "3" and d["versionAliases"] == ["default"]
    quercus.registry.delete("churn@3")
    with pytest.raises(quercus.RegistryError, match="no model `churn`"):
        quercus.registry.describe("churn")
    assert quercus.registry.list() == []


def test_bad_names_and_references(reg):
    for kwargs, what in [
        (dict(model_id="Churn"), "model id"),
        (dict(model_id="churn", aliases=["42"]), "version alias"),
        (dict(model_id="churn", aliases=["Prod"]), "version alias"),
        (dict(model_id="churn", labels={"env": "Prod"}), "label value"),
        (dict(model_id="churn", display_name=""), "display name"),
    ]:
        with pytest.raises(quercus.OptionError, match=what):
            quercus.registry.upload(MODEL, **kwargs)
    assert quercus.registry.list() == []
    quercus.registry.upload(MODEL, "churn")
    with pytest.raises(quercus.OptionError, match="needs a version id"):
        quercus.registry.delete("churn")
    with pytest.raises(quercus.RegistryError, match="no version 7"):
        quercus.registry.describe("churn@7")
    with pytest.raises(quercus.RegistryError, match="alias `prod`"):
        quercus.load("registry://churn@prod")
    with pytest.raises(quercus.ModelFormatError):
        quercus.registry.upload(ROOT / "models" / "example" / "input.csv", "churn")
    assert len(quercus.registry.list("churn")) == 1


def test_recorded_hashes_match_hashlib(reg):
    quercus.registry.upload(MODEL, "xgb")
    quercus.registry.upload(EXPORT, "bq")
    rec = json.loads((reg / "models" / "xgb" / "versions" / "1" / "version.json").read_text())
    want = hashlib.sha256(MODEL.read_bytes()).hexdigest()
    assert rec["artifact"]["sha256"] == want
    assert rec["artifact"]["files"] == [{"path": "model.json", "size": MODEL.stat().st_size, "sha256": want}]

    rec = json.loads((reg / "models" / "bq" / "versions" / "1" / "version.json").read_text())
    files = sorted(p for p in EXPORT.rglob("*") if p.is_file())
    rel = sorted((p.relative_to(EXPORT).as_posix(), p) for p in files)
    assert [f["path"] for f in rec["artifact"]["files"]] == [r for r, _ in rel]
    lines = b""
    for (r, p), f in zip(rel, rec["artifact"]["files"]):
        data = p.read_bytes()
        assert f["sha256"] == hashlib.sha256(data).hexdigest() and f["size"] == len(data)
        lines += f"{r}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\n".encode()
    assert rec["artifact"]["sha256"] == hashlib.sha256(lines).hexdigest()


def test_tampered_artifacts_are_refused(reg):
    quercus.registry.upload(MODEL, "xgb")
    quercus.registry.upload(EXPORT, "bq")
    quercus.registry.upload(EXPORT, "bq")
    f = reg / "models" / "xgb" / "versions" / "1" / "artifact" / "model.json"
    data = bytearray(f.read_bytes())
    i = max(j for j, b in enumerate(data) if chr(b).isdigit())
    data[i] = ord("8") if data[i] == ord("9") else data[i] + 1
    f.write_bytes(bytes(data))
    with pytest.raises(quercus.IntegrityError) as e:
        quercus.load("registry://xgb")
    assert e.value.kind == "integrity"
    assert e.value.path == str(f)
    assert "model.json" in str(e.value) and "modified" in str(e.value)
    assert isinstance(e.value, quercus.QuercusError)
    with pytest.raises(quercus.IntegrityError):
        quercus.registry.verify("xgb@1")

    vocab = reg / "models" / "bq" / "versions" / "1" / "artifact" / "assets" / "0.txt"
    vocab.write_text(vocab.read_text() + "zz\n")
    with pytest.raises(quercus.IntegrityError, match="assets/0.txt"):
        quercus.registry.load("bq@1")
    (reg / "models" / "bq" / "versions" / "2" / "artifact" / "model.bst").unlink()
    with pytest.raises(quercus.IntegrityError, match="model.bst is missing"):
        quercus.load("registry://bq@2")


UPLOADER = """
import json, sys, quercus
v = quercus.registry.upload(sys.argv[1], "same", root=sys.argv[2])
print(json.dumps(v))
"""


def test_eight_processes_upload_at_once(tmp_path):
    """Eight Python processes upload to one model id while this test holds
    the registry lock: each stages its copy, then waits (none finishes, no
    version appears); released, they take the lock in turn and get 1..8."""
    import fcntl

    root = tmp_path / "registry"
    quercus.registry.list(root=root)  # creates the registry
    with open(root / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        procs = [
            subprocess.Popen(
                [sys.executable, "-c", UPLOADER, str(MODEL if i % 2 else EXPORT), str(root)],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            )
            for i in range(8)
        ]
        # An upload writes prediction.yaml just before it asks for the lock.
        deadline = time.monotonic() + 120
        while sum((d / "prediction.yaml").exists() for d in (root / "tmp").iterdir()) < 8:
            assert time.monotonic() < deadline
            assert all(p.poll() is None for p in procs), "finished while locked"
            time.sleep(0.02)
        time.sleep(0.3)
        assert all(p.poll() is None for p in procs), "finished while locked"
        assert not (root / "models" / "same").exists()
        fcntl.flock(lock, fcntl.LOCK_UN)
    outs = [p.communicate(timeout=120) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    versions = sorted(int(json.loads(out)["versionId"]) for out, _ in outs)
    assert versions == list(range(1, 9))
    listed = quercus.registry.list("same", root=root)
    assert [m["versionId"] for m in listed] == [str(v) for v in range(1, 9)]
    assert sum("default" in m["versionAliases"] for m in listed) == 1
    for v in range(1, 9):
        quercus.registry.verify(f"same@{v}", root=root)
        m = quercus.registry.load(f"same@{v}", root=root)
        assert m.metadata["versionId"] == str(v)
        rec = json.loads((root / "models" / "same" / "versions" / str(v) / "version.json").read_text())
        if rec["artifact"]["kind"] == "file":
            stored = root / "models" / "same" / "versions" / str(v) / "artifact" / "model.json"
            assert rec["artifact"]["sha256"] == hashlib.sha256(stored.read_bytes()).hexdigest()
    assert list((root / "tmp").iterdir()) == []


def test_cli_and_python_share_a_registry(reg):
    from pyhelpers import quercus_bin

    quercus.registry.upload(MODEL, "churn", aliases=["champion"])
    r = subprocess.run([quercus_bin(), "registry", "describe", "churn@champion"],
                       capture_output=True, text=True, check=True)
    assert json.loads(r.stdout) == quercus.registry.describe("churn@champion")
    r = subprocess.run([quercus_bin(), "registry", "merge-aliases", "churn@1", "prod", "-champion"],
                       capture_output=True, text=True, check=True)
    assert quercus.registry.describe("churn@prod")["versionAliases"] == ["default", "prod"]
