"""TensorFlow's start-up lines out of the suite's output, unless asked for.

Loading TensorFlow's libraries prints lines through absl before its logging is initialised
(the oneDNN notice, once per library, and absl's own "All log messages before
absl::InitializeLog()"), whatever `TF_CPP_MIN_LOG_LEVEL` says. `install()` (called by
`benchmarks/__init__.py`) makes the first `import tensorflow` of a process run with file
descriptor 2 sent to a temporary file, so those lines vanish; if the import fails, they are
written back to stderr before the error. Set `HYPERENS_TF_LOGS=1` to see them, and
`TF_CPP_MIN_LOG_LEVEL=0` for TensorFlow's later messages (the suite's default is 2).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import tempfile

VERBOSE_ENV = "HYPERENS_TF_LOGS"


class _QuietLoader(importlib.abc.Loader):
    def __init__(self, loader: importlib.abc.Loader, finder: _QuietFinder):
        self.loader, self.finder = loader, finder

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module) -> None:
        with tempfile.TemporaryFile() as buf:
            sys.stderr.flush()
            saved = os.dup(2)
            os.dup2(buf.fileno(), 2)
            try:
                self.loader.exec_module(module)
            except BaseException:
                os.dup2(saved, 2)
                buf.seek(0)
                sys.stderr.write(buf.read().decode(errors="replace"))
                raise
            finally:
                os.dup2(saved, 2)
                os.close(saved)
                if self.finder in sys.meta_path:  # once loaded, imports need no finder
                    sys.meta_path.remove(self.finder)


class _QuietFinder(importlib.abc.MetaPathFinder):
    """Wraps the loader of the top-level `tensorflow` package until it has been executed (a
    bare `importlib.util.find_spec('tensorflow')` asks too, and loads nothing)."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow" or "tensorflow" in sys.modules:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _QuietLoader(spec.loader, self)
        return spec


def install() -> None:
    """Quiets the first `import tensorflow` of this process (no-op if TensorFlow is already
    imported, or `HYPERENS_TF_LOGS` is set)."""
    if "tensorflow" in sys.modules or os.environ.get(VERBOSE_ENV):
        return
    if not any(isinstance(f, _QuietFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietFinder())
