"""Where the ``janus`` mode's shows and sessions are, shared by every liveshop process.

:mod:`.base` (records and the :class:`~.base.Placement` contract), :mod:`.memory` (one process,
the default), :mod:`.redis` (``LIVESHOP_REDIS_URL``), :mod:`.factory` (picks one). Importing the
package imports none of them.
"""
