"""Mesh geometry helpers: ray casting, edge statistics, normals, rotations."""
