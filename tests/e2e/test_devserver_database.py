"""``make run`` against a MongoDB that does not answer: one clear line, no traceback."""
from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT


def test_the_dev_gateway_refuses_to_start_with_one_line_when_mongodb_is_unreachable():
    env = {**os.environ, "SHOP_ENV": "dev", "PORT": "0",
           "MONGODB_URI": "mongodb://shop:s3cretpw@127.0.0.1:9/?serverSelectionTimeoutMS=200"}
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "devserver"), "--no-timers"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)

    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot reach MongoDB at mongodb://127.0.0.1:9/" in lines[0]
    assert "s3cretpw" not in done.stderr
