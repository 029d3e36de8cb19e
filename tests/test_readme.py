"""The README documents every variable `./run.sh` reads, so that a user can find how to change the port."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_run_sh_variable_is_in_the_readme():
    script = (ROOT / "run.sh").read_text()
    readme = (ROOT / "README.md").read_text()
    variables = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*):-", script))
    assert "PORT" in variables
    missing = sorted(v for v in variables if f"`{v}`" not in readme)
    assert missing == []
