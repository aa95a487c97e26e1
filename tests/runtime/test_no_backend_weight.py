"""The gateway ships without the reference backends' weight (numpy, scikit-learn).

They are the ``backends`` extra, not runtime dependencies: the wheel's metadata says so,
and a gateway process that builds its app, starts it (lifespan included) and serves a page
has imported neither. (``test_wheel_as_non_root`` serves from a venv where they are not
installed at all.)
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

from tests.live import ROOT

HEAVY = ("numpy", "sklearn", "scipy")

SERVE_ONE_PAGE = """
import sys
from fastapi.testclient import TestClient
import gateway.cli, gateway.serve
from gateway.app import create_app
from gateway.settings import Settings

QUERY = "{ discovery(location: {lat: 60.17, lon: 24.94}) { degraded } }"
state = sys.argv[1]
settings = Settings(
    environment="test",
    reference_refresh_s=None,
    decision_log_path=f"{state}/decisions.jsonl",
    events_outbox_path=f"{state}/outbox.sqlite3",
)
with TestClient(create_app(settings)) as client:
    page = client.post("/graphql", json={"query": QUERY})
    assert page.status_code == 200, page.text
loaded = {name.split(".")[0] for name in sys.modules} & set(sys.argv[2:])
print("heavy modules:", ",".join(sorted(loaded)))
"""


def test_numpy_and_sklearn_are_only_the_backends_extra() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = " ".join(project["dependencies"])
    assert "numpy" not in runtime
    assert "scikit-learn" not in runtime
    extra = " ".join(project["optional-dependencies"]["backends"])
    assert "numpy" in extra
    assert "scikit-learn" in extra


def test_serving_the_gateway_loads_neither(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", SERVE_ONE_PAGE, str(tmp_path), *HEAVY],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (loaded,) = [line for line in proc.stdout.splitlines() if line.startswith("heavy modules:")]
    assert loaded.strip() == "heavy modules:", loaded
