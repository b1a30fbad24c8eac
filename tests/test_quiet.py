"""TensorFlow's start-up lines are kept out of the suite's output, and come back on request or
when the import fails."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _run(code: str, env: dict, path: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HYPERENS_TF_LOGS"} | env
    if path:
        env["PYTHONPATH"] = os.pathsep.join([path, str(REPO)])
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip


def test_fake_tensorflow_lines_are_hidden_then_shown_on_request_or_failure(tmp_path):
    """A stand-in `tensorflow` package that writes to file descriptor 2 as TF's libraries do."""
    pkg = tmp_path / "tensorflow"
    pkg.mkdir()
    (pkg / "__init__.py").write_text(
        "import os\nos.write(2, b'I0000 port.cc] oneDNN custom operations are on\\n')\n"
        "if os.environ.get('FAIL'):\n    raise ImportError('broken install')\n"
    )
    code = "import benchmarks, tensorflow, sys; print('ok'); sys.stderr.write('after\\n')"
    quiet = _run(code, {}, str(tmp_path))
    assert quiet.returncode == 0 and quiet.stdout == "ok\n"
    assert quiet.stderr == "after\n"  # stderr works again after the import
    shown = _run(code, {"HYPERENS_TF_LOGS": "1"}, str(tmp_path))
    assert "oneDNN custom operations" in shown.stderr
    # a bare find_spec first (as `hyperens` checks that TensorFlow is installed) loads nothing
    probe = "import benchmarks, importlib.util; importlib.util.find_spec('tensorflow'); " + code
    assert _run(probe, {}, str(tmp_path)).stderr == "after\n"
    failed = _run(code, {"FAIL": "1"}, str(tmp_path))
    assert failed.returncode != 0
    assert "oneDNN custom operations" in failed.stderr and "broken install" in failed.stderr


def test_real_tensorflow_import_prints_nothing():
    out = _run("import benchmarks, tensorflow as tf; print(int(tf.constant(1) + 1))", {})
    assert out.returncode == 0 and out.stdout == "2\n"
    assert out.stderr == "", out.stderr
