"""How a tokenmill command logs: its own lines and progress at INFO on stderr, libraries' chatter held back."""
from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(name)s %(message)s"
# Kept to warnings: Beam's per-stage INFO lines, presidio's "Loaded recognizer: …" and NLP-engine lines,
# logged again for every PII filter built (one per source), and the Flink and Spark job servers' output,
# which Beam relays line by line at INFO (some 10,000 lines for the sample; a failed job's cause reaches
# the command's error all the same).
QUIET_LOGGERS = ("apache_beam", "presidio-analyzer", "FlinkJarJobServer", "SparkJarJobServer")


class _WithoutApitoolsWarning(logging.Filter):
    """Beam warns on the root logger, at import, that the BigQuery client (apitools) is missing;
    tokenmill never calls BigQuery."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("apitools not found")


def configure_logging() -> None:
    """INFO lines on stderr as `time logger message`; call before Beam is imported."""
    logging.basicConfig(level=logging.INFO, format=FORMAT, stream=sys.stderr, force=True)
    root = logging.getLogger()
    if not any(isinstance(f, _WithoutApitoolsWarning) for f in root.filters):
        root.addFilter(_WithoutApitoolsWarning())
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
