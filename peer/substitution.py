"""Put an S3 storage where a test configures a manifest storage.

Two ways, as a user switching would:

- ``rebase``: the user's subclass of ``ManifestStaticFilesStorage`` with its
  base class switched (``class SimpleStorage(ManifestSyncS3Storage)`` with
  the same body);
- ``local_storage_class``: ``ManifestSyncS3Storage`` with the user's class
  named as the local hashing storage.

Only settings and class objects are replaced; test code and assertions run
as published.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from typing import Any

from django.conf import STATICFILES_STORAGE_ALIAS
from django.contrib.staticfiles.storage import (
    ManifestFilesMixin,
    ManifestStaticFilesStorage,
)
from django.utils.module_loading import import_string

SYNC_BACKEND = "django_s3_manifest_storage.ManifestSyncS3Storage"
STOCK_BACKEND = "storages.backends.s3.S3ManifestStaticStorage"
MANIFEST_STATIC = "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"

# Rebased classes live here so that STORAGES can name them.
REBASED_MODULE = "peer.rebased"


def rebase(cls: type, base: type) -> type:
    """``cls`` with ``ManifestStaticFilesStorage`` in its ancestry replaced by
    ``base``: the class body is kept, the base switched."""
    if cls is ManifestStaticFilesStorage:
        return base
    if len(cls.__bases__) != 1:
        raise TypeError(f"cannot rebase {cls!r}: it has several bases")
    parent = rebase(cls.__bases__[0], base)
    namespace = {
        name: value
        for name, value in vars(cls).items()
        if name not in ("__dict__", "__weakref__")
    }
    namespace["__module__"] = REBASED_MODULE
    rebased = type(cls.__name__, (parent,), namespace)
    for name, value in namespace.items():
        rebound = _rebound(value, rebased)
        if rebound is not value:
            setattr(rebased, name, rebound)
    return rebased


def _rebound(value: Any, owner: type) -> Any:
    """A method whose zero-argument ``super()`` refers to ``owner``."""
    if isinstance(value, (classmethod, staticmethod)):
        inner = _rebound(value.__func__, owner)
        return value if inner is value.__func__ else type(value)(inner)
    if not isinstance(value, types.FunctionType):
        return value
    code = value.__code__
    if "__class__" not in code.co_freevars:
        return value
    assert value.__closure__ is not None
    cells = tuple(
        types.CellType(owner) if name == "__class__" else cell
        for name, cell in zip(code.co_freevars, value.__closure__, strict=True)
    )
    copy = types.FunctionType(
        code, value.__globals__, value.__name__, value.__defaults__, cells
    )
    copy.__kwdefaults__ = value.__kwdefaults__
    copy.__qualname__ = value.__qualname__
    copy.__dict__.update(value.__dict__)
    return copy


def rebased_module() -> types.ModuleType:
    module = sys.modules.get(REBASED_MODULE)
    if module is None:
        module = types.ModuleType(REBASED_MODULE, "Rebased test storages.")
        sys.modules[REBASED_MODULE] = module
    return module


def register_rebased(cls: type, base: type) -> str:
    """Rebase ``cls`` onto ``base``; return the dotted path STORAGES can use."""
    rebased = rebase(cls, base)
    if rebased is base:
        return f"{base.__module__}.{base.__qualname__}"
    setattr(rebased_module(), rebased.__name__, rebased)
    return f"{REBASED_MODULE}.{rebased.__name__}"


def is_manifest_backend(path: str) -> bool:
    try:
        backend = import_string(path)
    except ImportError:
        return False
    return isinstance(backend, type) and issubclass(backend, ManifestFilesMixin)


StorageConfig = dict[str, Any]
Substitute = Callable[[StorageConfig], StorageConfig]


def by_rebasing(base_path: str) -> Substitute:
    """STORAGES entries whose backend is rebased onto ``base_path``."""
    base = import_string(base_path)

    def substitute(config: StorageConfig) -> StorageConfig:
        backend = register_rebased(import_string(config["BACKEND"]), base)
        return {**config, "BACKEND": backend}

    return substitute


def by_local_storage_class(config: StorageConfig) -> StorageConfig:
    """ManifestSyncS3Storage hashing with the configured class."""
    if config["BACKEND"] == MANIFEST_STATIC and not config.get("OPTIONS"):
        return {"BACKEND": SYNC_BACKEND}
    return {
        "BACKEND": SYNC_BACKEND,
        "OPTIONS": {
            "local_storage_class": config["BACKEND"],
            "local_storage_options": dict(config.get("OPTIONS", {})),
        },
    }


def substitute_class_settings(
    test_classes: list[type], substitute: Substitute
) -> dict[str, str]:
    """Replace manifest backends in the classes' ``override_settings``
    (``_overridden_settings``, applied in setUpClass). Returns what was
    replaced, class name -> new backend, for the report."""
    replaced: dict[str, str] = {}
    for cls in test_classes:
        overridden = cls.__dict__.get("_overridden_settings")
        if not overridden or "STORAGES" not in overridden:
            continue
        storages = overridden["STORAGES"]
        config = storages.get(STATICFILES_STORAGE_ALIAS)
        if not config or not is_manifest_backend(config["BACKEND"]):
            continue
        new_config = substitute(config)
        cls._overridden_settings = {  # type: ignore[attr-defined]
            **overridden,
            "STORAGES": {**storages, STATICFILES_STORAGE_ALIAS: new_config},
        }
        options = new_config.get("OPTIONS", {})
        local = options.get("local_storage_class")
        replaced[cls.__name__] = new_config["BACKEND"] + (
            f" (local_storage_class={local})" if local else ""
        )
    return replaced


def substitute_module_classes(
    module: types.ModuleType, base: type, keep: set[str]
) -> dict[str, str]:
    """Rebase the manifest storage classes a test module defines and
    instantiates itself (names in ``keep`` are left alone)."""
    replaced: dict[str, str] = {}
    for name, value in list(vars(module).items()):
        if (
            isinstance(value, type)
            and issubclass(value, ManifestFilesMixin)
            and value.__module__ == module.__name__
            and name not in keep
        ):
            rebased = rebase(value, base)
            setattr(module, name, rebased)
            replaced[f"{module.__name__}.{name}"] = (
                f"rebased onto {base.__module__}.{base.__qualname__}"
            )
    return replaced
