"""Process environment for Prefect and Ray, set before either is imported.

`import prefect` already creates PREFECT_HOME, Ray writes usage stats and auth tokens
unless told not to, and Ray workers inherit the driver's environment: so this runs first,
in the CLI and in the flow modules Prefect workers load.
"""

from __future__ import annotations

import os
from pathlib import Path


def corpusforge_home() -> Path:
    return Path(os.environ.get("CORPUSFORGE_HOME", Path.home() / ".corpusforge"))


def configure_environment() -> None:
    """Idempotent; values the user already set win."""
    home = corpusforge_home()
    defaults = {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_LOGGING_EXTRA_LOGGERS": "corpusforge",
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
        "PREFECT_LOGGING_TO_API_WHEN_MISSING_FLOW": "ignore",
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_AUTH_MODE": "disabled",
        "HF_HUB_OFFLINE": "1",
        "HF_DATASETS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)
    # The Prefect server's SQLite database cannot be created in a missing directory.
    Path(os.environ["PREFECT_HOME"]).mkdir(parents=True, exist_ok=True)
