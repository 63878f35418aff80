"""Renderers. ``mesh_preview`` is a small z-buffered triangle rasteriser for looking at meshes."""
