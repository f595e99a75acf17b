"""Host side of the kv-cache-compat matrix: pins, verdicts and reports. Never imports torch."""
