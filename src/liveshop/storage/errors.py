"""Storage errors the API turns into HTTP answers."""


class Conflict(Exception):
    """A uniqueness rule refused the write (e.g. a second active livestream, a taken e-mail)."""


class NotFound(Exception):
    """The row does not exist (or was deleted)."""
