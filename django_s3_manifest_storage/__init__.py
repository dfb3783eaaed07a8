"""Fast, correct ``collectstatic`` to S3: hash locally, upload only the delta."""

from .storage import ManifestSyncS3Storage

__all__ = ["ManifestSyncS3Storage"]
__version__ = "0.1.0"
