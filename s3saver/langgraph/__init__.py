"""LangGraph checkpointers on S3: ``graph.compile(checkpointer=AsyncS3Saver(...))``.

Needs the extra: ``pip install 's3saver[langgraph]'``.
"""

try:
    import langgraph.checkpoint.base  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised without the extra installed
    raise ImportError(
        "s3saver.langgraph needs LangGraph: pip install 's3saver[langgraph]'"
    ) from exc

from .savers import AsyncS3Saver, S3Saver

__all__ = ["AsyncS3Saver", "S3Saver"]
