"""Alembic revisions, one file each, named ``NNNN_<slug>.py``."""
