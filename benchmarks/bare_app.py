"""A bare FastAPI endpoint: the floor the daemon's /v1/runs/wait is compared with."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

app = FastAPI()


@app.post("/hello")
async def hello(body: dict[str, Any]) -> dict[str, Any]:
    return {"hello": "world", "echo": len(body)}
