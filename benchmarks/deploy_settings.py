"""Django settings for one benchmarked deploy, filled in by the harness.

The harness passes everything that differs between contenders and runs as
JSON in the BENCH_DEPLOY_CONFIG environment variable (see
benchmarks.contenders.DeployConfig), so this module stays the same for all of
them and a deploy can be replayed by hand with the same variable.
"""

from __future__ import annotations

import json
import os
from typing import Any

_config: dict[str, Any] = json.loads(os.environ["BENCH_DEPLOY_CONFIG"])

SECRET_KEY = "benchmark-only-not-secret"
DEBUG = False
USE_TZ = True
ALLOWED_HOSTS: list[str] = []
DATABASES: dict[str, Any] = {}

# Apps that must come before staticfiles (Collectfasta overrides its
# collectstatic command); the asset sources themselves are STATICFILES_DIRS.
INSTALLED_APPS = [*_config["leading_apps"], "django.contrib.staticfiles"]

STATIC_URL = "/static/"
STATIC_ROOT = _config["static_root"]
STATICFILES_DIRS = _config["staticfiles_dirs"]
STORAGES = _config["storages"]

LOGGING_CONFIG = None

globals().update(_config["extra_settings"])
