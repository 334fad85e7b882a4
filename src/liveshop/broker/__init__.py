"""How events reach every connected socket: in-process (default) or Redis pub/sub (scale-out)."""
