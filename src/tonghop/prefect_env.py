"""Prefect settings for a quiet, quick embedded run (set before Prefect is imported).

Measured here with Prefect 3.9: the temporary local server takes ~9 s to start, logs
"Failed to send telemetry" errors on a closed network and sqlite "database is locked" errors
from background services it does not need for a single local run. Operators who point
PREFECT_API_URL at a server keep their own settings: only unset variables get these defaults.
"""

from __future__ import annotations

import os

EMBEDDED_DEFAULTS = {
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_UI_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_SCHEDULER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_LATE_RUNS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_FOREMAN_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_CANCELLATION_CLEANUP_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PAUSE_EXPIRATIONS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_REPOSSESSOR_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_PROACTIVE_TRIGGERS_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_EVENT_LOGGER_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_DB_VACUUM_ENABLED": "false",
    "PREFECT_SERVER_SERVICES_TELEMETRY_ENABLED": "false",
    "PREFECT_CLI_PROMPT": "false",
    "DO_NOT_TRACK": "1",
    "GX_ANALYTICS_ENABLED": "false",
}


def apply_embedded_defaults() -> None:
    """Set each default that the environment does not already set."""
    for name, value in EMBEDDED_DEFAULTS.items():
        os.environ.setdefault(name, value)
