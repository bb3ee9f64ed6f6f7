"""Tests in network namespaces."""
