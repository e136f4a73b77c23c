"""The one boundary where SQLAlchemy and driver errors become llmspell errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from ...core.errors import Conflict, LLMSpellError, StorageError, ValidationError

__all__ = ["connection_lost", "map_db_errors"]

_UNIQUE_SQLSTATE = "23505"
_FOREIGN_KEY_SQLSTATE = "23503"


def _sqlstate(error: sa_exc.DBAPIError) -> str | None:
    orig = error.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(code) if code else None


def _kind(error: sa_exc.IntegrityError) -> str:
    state = _sqlstate(error)
    text = str(error.orig).lower()
    if state == _UNIQUE_SQLSTATE or "unique constraint" in text or "duplicate key" in text:
        return "unique"
    if state == _FOREIGN_KEY_SQLSTATE or "foreign key" in text:
        return "foreign_key"
    return "other"


def _from_driver(error: BaseException) -> bool:
    # asyncpg's own errors, raised on the hot paths that bypass SQLAlchemy (Database.fetch).
    return type(error).__module__.startswith("asyncpg")


def connection_lost(error: BaseException) -> bool:
    """True when ``error`` from the driver means its connection is no longer usable."""
    if isinstance(error, OSError | TimeoutError):
        return True
    if not _from_driver(error) or isinstance(error, ValueError):
        return False
    # A server error (it has a SQLSTATE) leaves the connection usable, except class 08.
    state = getattr(error, "sqlstate", None)
    return state is None or str(state).startswith("08")


def _driver_error(error: Exception, where: str) -> LLMSpellError:
    state = str(getattr(error, "sqlstate", None) or "")
    text = _first_line(error)
    if state == _UNIQUE_SQLSTATE:
        return Conflict(f"already exists: {text}")
    if state == _FOREIGN_KEY_SQLSTATE:
        return ValidationError(f"refers to a row that does not exist: {text}")
    if state.startswith(("22", "23")):
        return ValidationError(f"rejected by the database: {text}")
    if isinstance(error, ValueError):  # a value the driver could not encode
        return ValidationError(f"invalid value: {text}")
    if connection_lost(error):
        return StorageError(
            f"database error at {where}: {text}; check that it is reachable "
            "(LLMSPELL_DATABASE_URL or --database-url)"
        )
    return StorageError(f"database error at {where}: {text}")


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "orig", None) or error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def map_db_errors(where: str) -> Iterator[None]:
    """Translate database errors raised inside the block.

    Unique violations become Conflict, foreign-key violations ValidationError, anything
    else from the database or the network StorageError; the cause is kept.

    Args:
        where: the masked database URL, named in connection errors.
    """
    try:
        yield
    except LLMSpellError:
        raise
    except sa_exc.IntegrityError as exc:
        kind = _kind(exc)
        if kind == "unique":
            raise Conflict(f"already exists: {_first_line(exc)}") from exc
        if kind == "foreign_key":
            raise ValidationError(f"refers to a row that does not exist: {_first_line(exc)}") from exc
        raise ValidationError(f"rejected by the database: {_first_line(exc)}") from exc
    except sa_exc.DataError as exc:
        raise ValidationError(f"rejected by the database: {_first_line(exc)}") from exc
    except (sa_exc.OperationalError, sa_exc.InterfaceError) as exc:
        raise StorageError(
            f"database error at {where}: {_first_line(exc)}; check that it is reachable "
            "(LLMSPELL_DATABASE_URL or --database-url)"
        ) from exc
    except sa_exc.DBAPIError as exc:
        if (_sqlstate(exc) or "").startswith("22"):  # data exception: a NUL in text, a bad value
            raise ValidationError(f"rejected by the database: {_first_line(exc)}") from exc
        raise StorageError(f"database error at {where}: {_first_line(exc)}") from exc
    except sa_exc.StatementError as exc:
        if not isinstance(exc, sa_exc.DBAPIError) and isinstance(exc.orig, (ValueError, TypeError)):
            # A bind value the column type refused (naive datetime, non-JSON value).
            raise ValidationError(f"invalid value: {exc.orig}") from exc
        raise StorageError(f"database error at {where}: {_first_line(exc)}") from exc
    except sa_exc.SQLAlchemyError as exc:
        raise StorageError(f"database error at {where}: {_first_line(exc)}") from exc
    except (OSError, TimeoutError) as exc:
        raise StorageError(
            f"cannot reach the database at {where}: {exc}; check LLMSPELL_DATABASE_URL or pass --database-url"
        ) from exc
    except Exception as exc:
        if not _from_driver(exc):
            raise
        raise _driver_error(exc, where) from exc
