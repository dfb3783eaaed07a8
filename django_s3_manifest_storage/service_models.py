"""One loader of botocore's service models for the process.

django-storages builds a boto3 session for every connection: the signed one,
the unsigned one behind ``url()``, and one of each per thread. Each session
would parse S3's models again: about 11 MB of Python objects and 80 ms each.
"""

from __future__ import annotations

import functools
from typing import Any

import botocore.session


@functools.cache
def shared_service_models() -> Any:
    """botocore's loader as a default session builds it (``AWS_DATA_PATH``
    applies); it keeps every model it parses."""
    return botocore.session.get_session().get_component("data_loader")
