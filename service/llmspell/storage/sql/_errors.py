"""The one boundary where SQLAlchemy and driver errors become llmspell errors."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import exc as sa_exc

from ...core.errors import Conflict, LLMSpellError, StorageError, ValidationError

__all__ = ["map_db_errors"]

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
