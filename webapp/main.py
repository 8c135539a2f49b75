"""The guide's FastAPI server: enqueue a notification, read a task's state and result.

    GITBEAT_CONFIG=. uvicorn webapp.main:api

The tasks come from gitbeat (`gitbeat.task`), so they route exactly as tasks/*.yaml says
and a wrong call fails here, before anything is sent.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException

from gitbeat import task
from gitbeat.celery import app as celery_app

api = FastAPI(title="gitbeat example application")


@api.post("/notify", status_code=202)
def notify(user_id: int, message: str) -> dict[str, str]:
    """Queue an in-app notification; returns the task id to poll."""
    try:
        result = task("notifications.send").delay(user_id, message)
    except TypeError as error:  # the handler's signature refused the call
        raise HTTPException(status_code=422, detail=str(error)) from None
    return {"task_id": result.id}


@api.get("/tasks/{task_id}")
def task_state(task_id: str) -> dict[str, Any]:
    """A task's state and, once it ended, its result or its error."""
    result = celery_app.AsyncResult(task_id)
    state = result.state
    return {
        "task_id": task_id,
        "state": state,
        "result": result.result if state == "SUCCESS" else None,
        "error": repr(result.result) if state == "FAILURE" else None,
    }
