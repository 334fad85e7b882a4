"""Fixtures shared by the media tests (the Janus processes live in janus_fixture.py)."""

from tests.media.janus_fixture import janus_pair as janus_pair
