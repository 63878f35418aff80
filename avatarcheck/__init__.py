"""avatarcheck: verification harness for mesh-anchored Gaussian-splat head avatars.

Stages are pure functions over arrays; see README.md for the data flow.
"""

__version__ = "0.1.0"
