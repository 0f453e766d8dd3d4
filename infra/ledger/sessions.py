"""The guarded session factory every ledger repository queries through.

An outage (no connection, a dropped one, a pool timeout) becomes ``UnavailableError``
(``ledger_unavailable``, 503) and text the database cannot hold becomes ``InputError``
(``invalid_request``, 422), so no query can turn either into a 500.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
from sqlalchemy.orm import Session, sessionmaker

from infra.errors import InputError, UnavailableError

__all__ = ["GuardedSessions", "outage_is_unavailable"]


@contextmanager
def outage_is_unavailable() -> Iterator[None]:
    """A database that cannot be reached, or drops the connection, is a retryable 503.

    Raises:
        UnavailableError: ``ledger_unavailable``.
        InputError: ``invalid_request`` for text the database refuses (PostgreSQL and NUL).
    """
    try:
        yield
    except (OperationalError, PoolTimeoutError) as exc:
        raise UnavailableError("the ledger is unavailable", code="ledger_unavailable") from exc
    except DataError as exc:
        # Text the database cannot hold (PostgreSQL refuses NUL): the input is wrong, not us.
        raise InputError(
            "expected text without NUL or invalid characters", code="invalid_request"
        ) from exc
    except DBAPIError as exc:
        if not exc.connection_invalidated:
            raise
        raise UnavailableError("the ledger is unavailable", code="ledger_unavailable") from exc


class GuardedSessions:
    """The session factory every query goes through, so no query can turn an outage into
    a 500: connecting, each statement and the commit all run inside the outage mapping.
    """

    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions

    @contextmanager
    def __call__(self) -> Iterator[Session]:
        with outage_is_unavailable(), self._sessions() as session:
            yield session

    @contextmanager
    def begin(self) -> Iterator[Session]:
        with outage_is_unavailable(), self._sessions.begin() as session:
            yield session
