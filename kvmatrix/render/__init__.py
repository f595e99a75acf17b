"""Render a matrix for readers: Markdown, the static page, badges."""
