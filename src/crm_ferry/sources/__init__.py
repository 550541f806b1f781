"""The Practice export bundle: reading it (streaming, typed, honest) and generating it."""

from crm_ferry.sources.bundle import Bundle, BundleFile, ObjectCounts, open_bundle

__all__ = ["Bundle", "BundleFile", "ObjectCounts", "open_bundle"]
