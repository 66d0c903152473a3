"""Memory of a serving function at 10,000 products (issue 16: under 100 MB): a fresh
interpreter imports the serving module, loads a 10k-product artefact and scores with it; its
peak resident size is measured (VmHWM), interpreter, numpy and pydantic included."""
from __future__ import annotations

import random
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from shared.reco.content import content_neighbours
from shared.reco.model import NEIGHBOURS, Purchase, train
from tests.conftest import ROOT

PRODUCTS = 10_000

# VmHWM, not ru_maxrss: Linux carries ru_maxrss over an exec from the forking test process
SERVE = """
import sys
import shared.reco.serving  # the function's imports: catalog, pydantic, numpy
from shared.reco.model import RecoModel
model = RecoModel.from_bytes(open(sys.argv[1], "rb").read())
history = {model.items[n]: 1.0 for n in range(0, len(model.items), 997)}
for _ in range(20):
    model.recommend(history, 50)
    model.similar(model.items[0], 20, content=True)
peak = [line for line in open("/proc/self/status") if line.startswith("VmHWM:")][0]
print(len(model.items), int(peak.split()[1]) // 1024)
"""


def test_a_serving_function_with_a_10k_product_model_stays_under_100_mb(tmp_path: Path) -> None:
    rng = random.Random(16)
    now = datetime(2026, 1, 1)
    items = [f"prd_{n:05d}" for n in range(PRODUCTS)]
    purchases = [Purchase(f"u{rng.randrange(30_000)}", rng.choice(items),
                          now - timedelta(days=rng.randrange(300))) for _ in range(80_000)]
    model = train(purchases, now, version="mem", extra_items=items)
    model.content, model.content_weights = content_neighbours(
        [f"c{n % 50}" for n in range(PRODUCTS)],
        [[f"w{n % 97}", f"w{n % 89}", f"w{n % 13}"] for n in range(PRODUCTS)], model.popularity)
    assert (model.neighbours >= 0).sum() > PRODUCTS * NEIGHBOURS // 2   # rows mostly full
    artefact = tmp_path / "model.npz"
    artefact.write_bytes(model.to_bytes())

    proc = subprocess.run([sys.executable, "-c", SERVE, str(artefact)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120)

    assert proc.returncode == 0, proc.stderr
    count, peak_mb = map(int, proc.stdout.split())
    assert count == PRODUCTS
    assert peak_mb < 100, f"peak resident {peak_mb} MB"
    print(f"serving at {PRODUCTS} products: peak {peak_mb} MB, artefact "
          f"{artefact.stat().st_size // 1024} KB")
