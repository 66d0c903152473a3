"""The slim layer: production dependencies only, pruned of what production never imports, at
most 30 MB zipped. The pruning is checked on a small tree here; the size of the real layer is
measured by tests/functions/test_package.py's slow real build (pip, manylinux wheels, Python
3.10; skipped when pip cannot fetch them), which also checks what the layer holds."""
from __future__ import annotations

from pathlib import Path

from tests.functions.test_package import load_script


def touch(path: Path, size: int = 10) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"x" * size)


def test_pruning_keeps_s3_and_the_library_and_drops_the_rest(tmp_path):
    script = load_script()
    layer = tmp_path
    touch(layer / "botocore" / "data" / "s3" / "2006-03-01" / "service-2.json.gz")
    touch(layer / "botocore" / "data" / "ec2" / "2016-11-15" / "service-2.json.gz", 5000)
    touch(layer / "botocore" / "data" / "endpoints.json")
    touch(layer / "numpy" / "core" / "tests" / "test_multiarray.py", 5000)
    touch(layer / "numpy" / "f2py" / "__init__.py", 5000)
    touch(layer / "numpy" / "core" / "multiarray.py")
    touch(layer / "shared" / "tests" / "keep.py")  # our own library is never pruned
    saved = script.prune_layer(layer)
    assert saved == 15000
    assert (layer / "botocore" / "data" / "s3" / "2006-03-01" / "service-2.json.gz").is_file()
    assert (layer / "botocore" / "data" / "endpoints.json").is_file()
    assert not (layer / "botocore" / "data" / "ec2").exists()
    assert not (layer / "numpy" / "core" / "tests").exists()
    assert not (layer / "numpy" / "f2py").exists()
    assert (layer / "numpy" / "core" / "multiarray.py").is_file()
    assert (layer / "shared" / "tests" / "keep.py").is_file()
