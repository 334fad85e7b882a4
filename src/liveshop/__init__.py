"""liveshop: self-hosted live video shopping."""

__version__ = "0.1.0"
