"""The real-time hub behind ``/ws``: rooms per show, fan-out, presence, signalling."""
