"""The applied revision as a typed model (project, queues, tasks): parsed once, then passed as that.

Each derived rule is computed here and only here: a task's queue, a schedule's queue,
a queue's dead-letter queue, the queues a worker consumes, the routes of the tasks.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from .spec import ProjectSpec, QueueSpec, ScheduleSpec, TaskSpec


class AppliedConfig(BaseModel):
    """What a revision records beside its schedule rows: the project's defaults, its queues and tasks."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    project: ProjectSpec = Field(default_factory=ProjectSpec)
    queues: dict[str, QueueSpec] = Field(default_factory=dict)
    tasks: dict[str, TaskSpec] = Field(default_factory=dict)

    @classmethod
    def from_text(cls, text: str) -> AppliedConfig:
        """From a revision's stored JSON (written by `as_json`)."""
        return cls.model_validate_json(text)

    def as_json(self) -> dict[str, Any]:
        """The canonical JSON data a revision records (and plan compares)."""
        return {
            "project": self.project.model_dump(mode="json"),
            "queues": {name: queue.model_dump(mode="json") for name, queue in sorted(self.queues.items())},
            "tasks": {name: task.model_dump(mode="json") for name, task in sorted(self.tasks.items())},
        }

    def as_text(self) -> str:
        return json.dumps(self.as_json(), sort_keys=True)

    @property
    def default_queue(self) -> str:
        return self.project.default_queue

    def task_queue(self, name: str) -> str:
        """The queue a task is sent to: its own, else the project's default queue."""
        task = self.tasks.get(name)
        return (task.queue if task is not None else None) or self.default_queue

    def schedule_queue(self, schedule: ScheduleSpec) -> str:
        """The queue a schedule's runs go to: the schedule's, else its task's."""
        return schedule.queue or self.task_queue(schedule.task)

    def schedule_options(self, schedule: ScheduleSpec) -> dict[str, Any]:
        """How a schedule's run is sent (send_task's options): the schedule's own, else its task's."""
        task = self.tasks.get(schedule.task)
        options: dict[str, Any] = {"queue": self.schedule_queue(schedule)}
        if schedule.routing_key:
            options["routing_key"] = schedule.routing_key
        priority = schedule.priority if schedule.priority is not None else (task.priority if task else None)
        if priority is not None:
            options["priority"] = priority
        expires = schedule.expires or (task.expires if task else None)
        if expires:
            options["expires"] = expires
        return options

    def dead_letter_of(self, queue: str) -> str | None:
        """The dead-letter queue of `queue`, if it has one."""
        spec = self.queues.get(queue)
        return spec.dead_letter_queue(queue) if spec is not None else None

    def dead_letter_queues(self) -> set[str]:
        return {dead for name in self.queues if (dead := self.dead_letter_of(name))}

    def consumed_queues(self) -> list[str]:
        """The queues a worker consumes by default: every declared one and the default, never a dead-letter queue."""
        names = set(self.queues) | {self.default_queue} | {self.task_queue(name) for name in self.tasks}
        return sorted(names - self.dead_letter_queues())

    def routes(self) -> dict[str, dict[str, Any]]:
        """Celery's task_routes: each task's queue and priority.

        Priority is a route option: the task attribute goes in Celery 6.
        """
        routes: dict[str, dict[str, Any]] = {}
        for name, task in self.tasks.items():
            routes[name] = {"queue": self.task_queue(name)}
            if task.priority is not None:
                routes[name]["priority"] = task.priority
        return routes
