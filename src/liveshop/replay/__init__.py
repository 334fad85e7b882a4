"""Kept shows: uploaded recordings (chunks, remux), thumbnails, and the files on disk."""
