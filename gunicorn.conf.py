"""gunicorn's own settings, read from the working directory: its log lines are JSON lines like
the app's, and each access line carries the request id the app answered with."""

import json
import os
import traceback
from datetime import UTC, datetime

from gunicorn.glogging import Logger

from selfsignup.logs import redact_links

# The access line's fields and the gunicorn atoms they come from.
ACCESS_FIELDS = {
    "request_id": "{x-request-id}o",
    "method": "m",
    "path": "U",
    "status": "s",
    "bytes": "B",
    "duration_ms": "M",
    "client": "h",
}


class JsonAccessLogger(Logger):
    """Access lines built with json.dumps: a path or header can't break out of its string."""

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        # Header atoms are keyed in lower case; a missing one is "-", as in gunicorn's own lines.
        atoms = self.atoms(resp, req, environ, request_time)
        # The time and the status as the app's own lines write them (ISO 8601, a number).
        entry = {
            "time": datetime.now(UTC).isoformat(),
            "level": "INFO",
            "logger": "gunicorn.access",
        }
        entry |= {name: atoms.get(atom, "-") for name, atom in ACCESS_FIELDS.items()}
        if str(entry["status"]).isdigit():
            entry["status"] = int(entry["status"])
        entry["path"] = redact_links(entry["path"])
        try:
            self.access_log.info("%s", json.dumps(entry, ensure_ascii=False))
        except Exception:
            self.error(traceback.format_exc())


logger_class = JsonAccessLogger
# No control socket: its default path is per user, shared by every gunicorn that user runs.
control_socket_disable = True

# gunicorn's own lines follow LOG_LEVEL like the app's (Django's settings check its value).
LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO").strip().upper() or "INFO"

logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"link_tokens": {"()": "selfsignup.logs.LinkTokenFilter"}},
    "formatters": {
        "json": {"()": "selfsignup.logs.JsonFormatter"},
        "access": {"format": "%(message)s"},
    },
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["link_tokens"],
            "stream": "ext://sys.stderr",
        },
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "access",
            "stream": "ext://sys.stdout",
        },
    },
    "root": {"handlers": ["error"], "level": LOG_LEVEL},
    "loggers": {
        "gunicorn.error": {"handlers": ["error"], "level": LOG_LEVEL, "propagate": False},
        "gunicorn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}
