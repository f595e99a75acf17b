"""The cell record and the matrix schema: verdicts, causes, columns, metrics, detail files."""
