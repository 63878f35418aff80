"""File formats and atomic writes."""
