"""Run store: atomic run directories, provenance and the tidy results table."""

from benchmarks.store.atomic import (
    clean_temp_files,
    read_json,
    read_npz,
    write_bytes_atomic,
    write_json_atomic,
    write_npz_atomic,
    write_text_atomic,
)
from benchmarks.store.provenance import collect_provenance, git_commit, library_versions
from benchmarks.store.results import (
    format_results,
    gather_results,
    read_results,
    status_counts,
    write_results,
)
from benchmarks.store.runs import (
    PREDICTION_KEYS,
    STATUSES,
    RunRecord,
    RunStore,
    config_hash,
    run_id,
)

__all__ = [
    "PREDICTION_KEYS",
    "STATUSES",
    "RunRecord",
    "RunStore",
    "clean_temp_files",
    "collect_provenance",
    "config_hash",
    "format_results",
    "gather_results",
    "git_commit",
    "library_versions",
    "read_json",
    "read_npz",
    "read_results",
    "run_id",
    "status_counts",
    "write_bytes_atomic",
    "write_json_atomic",
    "write_npz_atomic",
    "write_results",
    "write_text_atomic",
]
