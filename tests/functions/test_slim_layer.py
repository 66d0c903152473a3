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


def test_jieba_keeps_its_dictionary_and_word_cutting_only(tmp_path):
    script = load_script()
    layer = tmp_path
    touch(layer / "jieba" / "__init__.py")
    touch(layer / "jieba" / "finalseg" / "prob_emit.py")
    touch(layer / "jieba" / "finalseg" / "prob_emit.p", 100)
    touch(layer / "jieba" / "posseg" / "prob_emit.py", 100)
    touch(layer / "jieba" / "analyse" / "idf.txt", 100)
    touch(layer / "jieba" / "lac_small" / "model_baseline" / "word_emb", 100)
    (layer / "jieba" / "dict.txt").write_text("保温杯 30 n\n罕见词 3 n\n的 318825 uj\n",
                                               encoding="utf-8")
    script.prune_layer(layer)
    assert "HMM=False" in (layer / "jieba" / "finalseg" / "prob_emit.py").read_text()
    for gone in ("finalseg/prob_emit.p", "posseg", "analyse", "lac_small"):
        assert not (layer / "jieba" / gone).exists(), gone
    assert (layer / "jieba" / "dict.txt").read_text(encoding="utf-8") == "保温杯 30\n的 318825\n"


def test_jieba_cuts_with_the_slim_dictionary(tmp_path):
    import jieba
    script = load_script()
    full = Path(jieba.__file__).parent / "dict.txt"
    slim = tmp_path / "dict.txt"
    slim.write_bytes(full.read_bytes())
    kept = script.slim_jieba_dictionary(slim)
    assert 50_000 < kept < 120_000
    tokenizer = jieba.Tokenizer(str(slim))
    tokenizer.tmp_dir = str(tmp_path)
    assert tokenizer.lcut("我的订单到哪了", HMM=False)[:3] == ["我", "的", "订单"]


def test_an_sdist_only_dependency_is_built_into_a_wheel_first():
    script = load_script()
    assert script.SDIST_ONLY == {"jieba"}
    assert "jieba>=0.42,<0.43" in script.runtime_dependencies(script.ROOT / "pyproject.toml")
