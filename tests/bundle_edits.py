"""Test helpers: edited copies of a bundle.

`disagreeing_copy`: golden.json disagrees with what the backends compute. That is what a backend
that miscomputes on some CPU looks like from the outside; every hash in manifest.json stays right,
so only the self-check (or doctor) can notice. `trimmed_copy`: fewer formats, for quicker runs.
`with_vectors`: a committed tiny bundle with the preprocessing vectors the exporter would write.
"""
from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path


def disagreeing_copy(bundle: Path, target: Path, formats: tuple[str, ...] | None = None, shift: float = 5.0) -> Path:
    """Copy `bundle` to `target`, moving golden logits of `formats` (default: all) by `shift` (far over golden_atol)."""
    if not target.exists():
        shutil.copytree(bundle, target)
    golden_path = target / "golden.json"
    golden = json.loads(golden_path.read_text())
    for name, out in golden["outputs"].items():
        if formats is None or name in formats:
            out["logits"][0] = [v + (shift if i == 0 else 0.0) for i, v in enumerate(out["logits"][0])]
    golden_path.write_text(json.dumps(golden))
    data = golden_path.read_bytes()
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    for asset in manifest["assets"]:
        if asset["file"] == "golden.json":
            asset["bytes"], asset["sha256"] = len(data), hashlib.sha256(data).hexdigest()
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return target


def trimmed_copy(bundle: Path, target: Path, formats: tuple[str, ...]) -> Path:
    """Copy `bundle` to `target` keeping only `formats` in the manifest (fewer pairs for doctor to try)."""
    shutil.copytree(bundle, target)
    manifest_path = target / "manifest.json"
    manifest = json.loads(manifest_path.read_text())
    manifest["formats"] = {k: v for k, v in manifest["formats"].items() if k in formats}
    manifest_path.write_text(json.dumps(manifest, indent=1))
    return target


def with_vectors(bundle: Path, into: Path) -> Path:
    """A copy of `bundle` with the preprocessing vectors the exporter writes for its recipe and contract."""
    from fashion_edge.export import vectors
    from fashion_edge.runtime.bundle import Bundle, sha256_bytes

    copy = Path(shutil.copytree(bundle, into))
    loaded = Bundle.load(copy)
    built = vectors.build(loaded.manifest.input, loaded.golden().images)
    for path, data in built.files.items():
        (copy / path).parent.mkdir(exist_ok=True)
        (copy / path).write_bytes(data)
    golden = json.loads((copy / "golden.json").read_text())
    golden["preprocessing_vectors"] = built.vectors.to_json()
    (copy / "golden.json").write_text(json.dumps(golden))
    manifest = json.loads((copy / "manifest.json").read_text())
    files = {**{p: d for p, d in built.files.items()}, "golden.json": (copy / "golden.json").read_bytes()}
    manifest["assets"] = [a for a in manifest.get("assets", []) if a["file"] not in files] + [
        {"file": p, "bytes": len(d), "sha256": sha256_bytes(d)} for p, d in files.items()]
    (copy / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
    return copy
