"""File formats and I/O safety: atomic writes and output checks (atomic), bounded input files
(inputs), header-checked .npy/.npz (npz), the allowlisting unpickler (safe_pickle), OBJ, PNG, bounded
binary glTF skin meshes with sparse morph targets (glb), and zip bundles read safely into memory (zipped)."""
