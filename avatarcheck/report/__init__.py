"""HTML report of a gate run: ``write_report`` plus the colour helpers the gate uses for its PNGs."""

from avatarcheck.report.html import render_html, update_latest, write_report
from avatarcheck.render.colormaps import heatmap_image, ratio_colors

__all__ = ["write_report", "render_html", "update_latest", "heatmap_image", "ratio_colors"]
