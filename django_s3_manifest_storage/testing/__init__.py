"""Helpers for testing against a local S3 endpoint (needs the ``testing`` extra)."""
