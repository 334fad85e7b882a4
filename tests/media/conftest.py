"""Fixtures shared by the media tests (the Janus processes live in janus_fixture.py)."""

from janus_fixture import janus_pair as janus_pair
