"""How the S3 client retries failed requests: botocore's standard retry mode,
unless the user chose a mode."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from botocore.config import Config

if TYPE_CHECKING:
    from botocore.config import _RetryDict

# Standard mode retries 500/502/503/504, dropped connections and timeouts
# with a short backoff (tens of milliseconds), and throttling (503 SlowDown)
# with a random backoff of up to 1 s, doubling each time. Its default of 3
# attempts gives a throttled request up to 3 s to recover; 5 attempts give it
# up to 15 s. A retry budget shared by the client stops a retry storm against
# an endpoint that is down. (``max_attempts`` would not count the first try.)
DEFAULT_RETRIES: _RetryDict = {"mode": "standard", "total_max_attempts": 5}

# botocore reads these when the client config sets no retries.
RETRY_ENVIRONMENT_VARIABLES = ("AWS_RETRY_MODE", "AWS_MAX_ATTEMPTS")


def with_default_retries(config: Config) -> Config:
    """``config`` with the standard retry mode, unless retries are already
    configured (``client_config`` / ``AWS_S3_CLIENT_CONFIG``, or botocore's
    environment variables)."""
    if getattr(config, "retries", None) is not None or any(
        os.environ.get(name) for name in RETRY_ENVIRONMENT_VARIABLES
    ):
        return config
    return config.merge(Config(retries=DEFAULT_RETRIES.copy()))
