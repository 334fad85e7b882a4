"""REST routers under ``/api``. Handlers publish events through the broker; they never touch sockets."""
