"""Mesh edits (chibi field) and the assets and corrections that follow a neural-renderer override."""
