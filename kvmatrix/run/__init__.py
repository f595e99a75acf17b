"""Run a cell: `env/` makes its environments, `process/` runs pytest in them, and this folder puts the two
together (a cell, its clients, its inputs key, reuse and the CLIs)."""
