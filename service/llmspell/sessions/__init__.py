"""Sessions, their artifacts (content-addressed, streamed) and the replay of their runs.

Importing this package does not import SQLAlchemy.
"""

from __future__ import annotations

from .abc import BlobStore, BlobWriter
from .artifacts import ArtifactManager, artifact_view
from .blobs import FileBlobStore
from .manager import Persistence, SessionManager, open_persistence, session_view

__all__ = [
    "ArtifactManager",
    "BlobStore",
    "BlobWriter",
    "FileBlobStore",
    "Persistence",
    "SessionManager",
    "artifact_view",
    "open_persistence",
    "session_view",
]
