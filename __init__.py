"""tokenmill: data curation for LLM pretraining on Apache Beam.

Subpackages, arrows pointing down only: `tokenmill.jobs` (what a user runs) → `tokenmill.pipeline`
(config, stages, ledger, graph assembly) → `tokenmill.transforms` (Beam) → `tokenmill.filters`
(pure Python, no Beam).
"""
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tokenmill")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"
