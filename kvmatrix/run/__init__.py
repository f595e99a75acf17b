"""Run a cell: its uv environment, the install, the pytest processes in each registration mode, re-runs."""
