"""Bisect: find the release where a test's verdict changes, and the changes table built from it."""
