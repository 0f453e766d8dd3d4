"""Station errors and the exit statuses a script or a packing-line supervisor reads.

``orderseal station`` exits with one status per outcome, so "queued" is never read as
"sealed" (docs/capture.md, *Exit statuses*):

====  =====================================================================================
0     done: every capture of the command is sealed, the session is open or closed, ...
1     refused by the service (a capture moved to ``queue/rejected``, or a 4xx answer)
2     queued, not sealed yet: the service is unreachable or busy, the captures wait in the
      queue (``flush`` or ``watch`` seals them later; ``close`` prints no label yet)
3     the station is not ready or the command line is wrong (not enrolled, no session)
4     unexpected error
5     the service is unreachable and nothing was queued (``open``, ``label``, ``renew``)
6     a station check refused the command: read the warning; repeat with ``--force``
      (or ``--abandon`` for ``open``) if it is really meant
====  =====================================================================================
"""

from __future__ import annotations

from wire.errors import OrderSealError

__all__ = [
    "EXIT_NEEDS_FORCE",
    "EXIT_OK",
    "EXIT_QUEUED",
    "EXIT_REFUSED",
    "EXIT_STATION",
    "EXIT_UNREACHABLE",
    "NeedsForceError",
    "QueuedError",
    "ServiceRefusedError",
    "ServiceUnreachableError",
    "StationError",
]

EXIT_OK = 0
EXIT_REFUSED = 1
EXIT_QUEUED = 2
EXIT_STATION = 3
EXIT_UNREACHABLE = 5
EXIT_NEEDS_FORCE = 6


class StationError(OrderSealError):
    """The station is not set up for the command (not enrolled, no open session, ...)."""

    code = "station_not_ready"
    http_status = 400
    #: Read by ``clients.commands.run_command``.
    exit_code = EXIT_STATION


class ServiceRefusedError(StationError):
    """The service refused the command (its code and message), or a station check that
    mirrors a rule the service enforces anyway refused it first."""

    exit_code = EXIT_REFUSED


class ServiceUnreachableError(StationError):
    """The service cannot be reached (or is busy) and nothing was queued."""

    code = "service_unreachable"
    exit_code = EXIT_UNREACHABLE


class QueuedError(StationError):
    """Captures are queued, not sealed: the command cannot finish until they are."""

    code = "queue_not_empty"
    exit_code = EXIT_QUEUED


class NeedsForceError(StationError):
    """A station check refused the command; ``--force`` (or ``--abandon``) overrides it."""

    exit_code = EXIT_NEEDS_FORCE
