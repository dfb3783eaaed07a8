"""Django's and django-storages' own storage tests, run with
``ManifestSyncS3Storage`` in place of the manifest storages they configure.
See peer/README.md."""
