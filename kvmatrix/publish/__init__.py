"""Publish a run: merge cell results into reports/, history and what changed."""
