"""Pins -> cells: read pins files, resolve selectors against the index, plan CI jobs and tox envs."""
