"""`gitbeat import` against the real libraries: rows and entries made by each library itself, imported, validated,
applied, and their fire times as gitbeat computes them from the stored rows compared with the source library's own.

django-celery-beat runs its own migrations and models on PostgreSQL (in a subprocess: Django is configured once
per process), sqlalchemy-celery-beat its own models in a schema of its own, RedBeat saves its entries in Redis
under a key prefix of the test's own; a Celery app carries the guide's three schedules and awkward ones. One
short real `gitbeat beat` fires an imported RedBeat entry carried over with its run state.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice
from pathlib import Path
from typing import Any

import pytest
import yaml

from gitbeat.spec import ScheduleSpec
from gitbeat.timing import fire_times
from tests.conftest import CI, PROJECT, gitbeat
from tests.integration.conftest import AMQP, rabbitmq_available, wait_until
from tests.integration.test_beat import Beats, Consumer, settle, wait_for_leader
from tests.integration.test_store import rows

pytestmark = pytest.mark.integration

REDIS = "redis://127.0.0.1:6379/0"
COMPARED = 200  # instants per schedule compared after apply (the import itself proves 1,000)


def make_project(root: Path, tasks: list[str]) -> Path:
    """An empty gitbeat project whose code registers `tasks` (the imported YAML declares them without handlers)."""
    (root / "schedules").mkdir(parents=True)
    (root / "schema").mkdir()
    (root / "schema" / "gitbeat.schema.json").write_text((PROJECT / "schema" / "gitbeat.schema.json").read_text())
    (root / "gitbeat.yaml").write_text("timezone: UTC\ndefault_queue: default\nimports: [jobs]\n")
    (root / "jobs.py").write_text(
        "from celery import shared_task\n\n\ndef noop(*args, **kwargs):\n    return None\n\n\n"
        f"for _name in {tasks!r}:\n    shared_task(name=_name)(noop)\n"
    )
    return root


def import_(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    result = gitbeat("import", *args, "--config", project, cwd=project, timeout=120)
    assert "Traceback" not in result.stderr, result.stderr
    return result


def validate_and_apply(project: Path, url: str) -> None:
    checked = gitbeat("validate", "--config", project, cwd=project)
    assert checked.returncode == 0, checked.stderr + checked.stdout
    applied = gitbeat("apply", "--config", project, "--database", url, cwd=project)
    assert applied.returncode == 0, applied.stderr


def stored(url: str, project: Path) -> dict[str, tuple[ScheduleSpec, datetime, int, datetime | None]]:
    """Each stored schedule: its spec as beat reads it, its anchor, run count and last run."""
    found = rows(url, project, "SELECT name, spec, anchor_at, run_count, last_run_at FROM gitbeat_schedules")
    return {name: (ScheduleSpec.model_validate(spec if isinstance(spec, dict) else json.loads(spec)), anchor, count, last)
            for name, spec, anchor, count, last in found}


def gitbeat_instants(spec: ScheduleSpec, after: datetime, anchor: datetime) -> list[datetime]:
    assert spec.timezone is not None
    return list(islice(fire_times(spec, spec.timezone, after, anchor), COMPARED))


def library_instants(schedule: Any, last: datetime, count: int = COMPARED) -> list[datetime]:
    """The source library's own fire times: its beat fires when remaining_estimate(last run) reaches zero."""
    found = []
    for _ in range(count):
        schedule.nowfun = lambda last=last: last
        remaining = schedule.remaining_estimate(last)
        if remaining is None:
            break
        last = last + remaining
        found.append(last.astimezone(UTC))
    return found


def schedules_of(path: Path) -> dict[str, dict[str, Any]]:
    return yaml.safe_load(path.read_text())["schedules"]


# --- Celery's beat_schedule ------------------------------------------------------------------------------------

APP = '''
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab, solar

app = Celery("proj", timezone="Europe/Berlin")
app.conf.beat_schedule = {
    # The guide's LOCAL_BEAT_SCHEDULE.
    "cleanup-expired-sessions": {"task": "backend.app.task.tasks.tasks.cleanup_sessions",
                                 "schedule": crontab(hour=0, minute=0)},
    "sync-user-stats": {"task": "backend.app.task.tasks.tasks.sync_stats", "schedule": crontab(minute=0)},
    "health-check": {"task": "backend.app.task.tasks.tasks.health_check", "schedule": 300.0},
    # Awkward ones.
    "first-monday": {"task": "reports.monthly", "schedule": crontab(minute=0, hour=9, day_of_week=1,
                     day_of_month="1-7"), "options": {"queue": "reports", "priority": 5, "expires": 600}},
    "sunday-mid-month": {"task": "reports.monthly", "schedule": crontab(minute=30, hour=6, day_of_week="sun,wed",
                         day_of_month="10-20")},
    "second-tuesday": {"task": "reports.monthly", "schedule": crontab(minute=0, hour=9, day_of_week=2,
                       day_of_month="8-14")},
    "every-7": {"task": "reports.tick", "schedule": crontab(minute="*/7"), "args": (1, "a")},
    "quarterly": {"task": "reports.quarterly", "schedule": crontab(minute=15, hour=3, day_of_month=15,
                  month_of_year="1,4,7,10")},
    "half-past-two": {"task": "reports.quarterly", "schedule": crontab(minute=30, hour=2)},
    "sunset": {"task": "lights.on", "schedule": solar("sunset", 52.52, 13.40)},
    "timedelta": {"task": "reports.tick", "schedule": timedelta(minutes=90)},
}
'''


def test_a_celery_apps_beat_schedule_imports_with_its_fire_times_proven(tmp_path: Path, postgres_url: str) -> None:
    from celery.schedules import crontab, solar

    project = make_project(tmp_path / "project", [
        "backend.app.task.tasks.tasks.cleanup_sessions", "backend.app.task.tasks.tasks.sync_stats",
        "backend.app.task.tasks.tasks.health_check", "reports.monthly", "reports.tick", "reports.quarterly",
        "lights.on"])
    (project / "proj.py").write_text(APP)
    result = import_(project, "beat-schedule", "proj:app")
    assert result.returncode == 1, result.stdout + result.stderr  # two are refused
    out = result.stdout
    assert "fire times verified: 9 of 10" in out, out  # half-past-two differs; second-tuesday is never proven
    assert "! second-tuesday: Celery fires only on days matching day-of-month 8-14 AND day-of-week 2" in out
    # 02:30 does not exist on the spring change: Celery fires at 03:30, gitbeat at the end of the gap, 03:00.
    assert "! half-past-two: fire times differ: the source fires 2" in out and "03:30:00 CEST" in out
    assert "~ health-check: every 5m: Celery counts each interval from the last run" in out
    written = project / "schedules" / "imported" / "celery.yaml"
    text = written.read_text()
    assert text.startswith("# yaml-language-server: $schema=../../schema/gitbeat.schema.json\n")
    assert "# beat_schedule['first-monday'] of proj:app\n" in text
    found = schedules_of(written)
    assert set(found) == {"cleanup-expired-sessions", "sync-user-stats", "health-check", "first-monday",
                          "sunday-mid-month", "every-7", "quarterly", "sunset", "timedelta"}
    assert found["first-monday"]["cron"] == "0 9 */31,2-7 * 1"  # starts with *: both day fields must match
    assert found["sunday-mid-month"]["cron"] == "30 6 10-20 * */7,3"
    assert found["first-monday"] | {} == {"task": "reports.monthly", "cron": "0 9 */31,2-7 * 1",
                                           "timezone": "Europe/Berlin", "queue": "reports", "priority": 5,
                                           "expires": "10m"}
    assert yaml.safe_load(text)["queues"] == {"reports": {}}
    # Never over an existing file without --force.
    again = import_(project, "beat-schedule", "proj:app")
    assert again.returncode == 1 and again.stderr.strip() == (
        "gitbeat: error: schedules/imported/celery.yaml exists; pass --force to overwrite it")
    assert import_(project, "beat-schedule", "proj:app", "--force").returncode == 1  # the same two refused
    assert yaml.safe_load(written.read_text()) == yaml.safe_load(text)  # its own tasks are declared again

    validate_and_apply(project, postgres_url)
    rows_now = stored(postgres_url, project)
    from celery import Celery

    app = Celery("check", timezone="Europe/Berlin")
    sources = {
        "cleanup-expired-sessions": crontab(hour=0, minute=0, app=app),
        "sync-user-stats": crontab(minute=0, app=app),
        "first-monday": crontab(minute=0, hour=9, day_of_week=1, day_of_month="1-7", app=app),
        "sunday-mid-month": crontab(minute=30, hour=6, day_of_week="sun,wed", day_of_month="10-20", app=app),
        "every-7": crontab(minute="*/7", app=app),
        "quarterly": crontab(minute=15, hour=3, day_of_month=15, month_of_year="1,4,7,10", app=app),
    }
    # From just before next spring's DST change in Berlin, and from now.
    for after in (datetime.now(UTC), datetime(datetime.now(UTC).year + 1, 3, 28, tzinfo=UTC)):
        for name, schedule in sources.items():
            spec, anchor, _, _ = rows_now[name]
            assert gitbeat_instants(spec, after, anchor) == library_instants(schedule, after), name
    spec, anchor, _, _ = rows_now["health-check"]
    from celery.schedules import schedule as interval

    assert gitbeat_instants(spec, anchor, anchor) == library_instants(interval(300.0, app=app), anchor)
    spec, anchor, _, _ = rows_now["sunset"]
    ours, theirs = gitbeat_instants(spec, anchor, anchor), library_instants(solar("sunset", 52.52, 13.40, app=app),
                                                                           anchor)
    assert len(ours) == len(theirs) and all(abs((a - b).total_seconds()) <= 60 for a, b in zip(ours, theirs))


# --- django-celery-beat --------------------------------------------------------------------------------------

DJANGO = '''
import json, os, sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from gitbeat.importers.django_beat import setup

setup(os.environ["SOURCE_URL"])
from django.core.management import call_command
from django_celery_beat.models import (ClockedSchedule, CrontabSchedule, IntervalSchedule, PeriodicTask,
                                       SolarSchedule)

now = datetime.now(UTC)
if sys.argv[1] == "create":
    call_command("migrate", "django_celery_beat", verbosity=0)
    berlin, new_york = ZoneInfo("Europe/Berlin"), ZoneInfo("America/New_York")
    cron = lambda tz, **f: CrontabSchedule.objects.create(timezone=tz, **f)
    PeriodicTask.objects.create(name="nightly cleanup", task="jobs.cleanup",
                                crontab=cron(berlin, minute="0", hour="0"))
    PeriodicTask.objects.create(name="health", task="jobs.health", args="[1, 2]",
                                interval=IntervalSchedule.objects.create(every=300, period="seconds"),
                                last_run_at=now - timedelta(seconds=100), total_run_count=41)
    PeriodicTask.objects.create(
        name="first-monday", task="jobs.report", kwargs=json.dumps({"kind": "monthly"}),
        crontab=cron(new_york, minute="0", hour="9", day_of_week="1", day_of_month="1-7"),
        queue="reports", exchange="reports-x", routing_key="reports", priority=3, expire_seconds=600,
        headers=json.dumps({"trace": "on"}), description="First Monday of the month")
    PeriodicTask.objects.create(name="second-tuesday", task="jobs.report",
                                crontab=cron(berlin, minute="0", hour="9", day_of_week="2", day_of_month="8-14"))
    PeriodicTask.objects.create(name="sunset", task="jobs.lights",
                                solar=SolarSchedule.objects.create(event="sunset", latitude=52.52, longitude=13.40))
    PeriodicTask.objects.create(name="launch", task="jobs.report", one_off=True,
                                clocked=ClockedSchedule.objects.create(clocked_time=now + timedelta(days=30)))
    PeriodicTask.objects.create(name="once", task="jobs.report", one_off=True,
                                crontab=cron(berlin, minute="15", hour="6"))
    PeriodicTask.objects.create(name="paused", task="jobs.health", enabled=False,
                                interval=IntervalSchedule.objects.create(every=1, period="minutes"))
    start = (now + timedelta(days=10)).astimezone(berlin).replace(hour=9, minute=0, second=0, microsecond=0)
    PeriodicTask.objects.create(name="later", task="jobs.report", crontab=cron(berlin, minute="0", hour="12"),
                                start_time=start, expires=start + timedelta(days=50))
    PeriodicTask.objects.create(name="celery.backend_cleanup", task="celery.backend_cleanup",
                                crontab=cron(ZoneInfo("UTC"), minute="0", hour="4"))
else:  # times AFTER: each row's fire times as its own model's schedule computes them
    after = datetime.fromisoformat(sys.argv[2])
    found = {}
    for row in PeriodicTask.objects.all():
        schedule, last, times = row.schedule, row.last_run_at or after, []
        for _ in range(int(sys.argv[3])):
            schedule.nowfun = lambda last=last: last
            last = last + schedule.remaining_estimate(last)
            times.append(last.astimezone(UTC).isoformat())
        found[row.name] = times
    print(json.dumps(found))
'''


def django_script(url: str, *args: str) -> str:
    result = subprocess.run([sys.executable, "-c", DJANGO, *args], env={**os.environ, "SOURCE_URL": url},
                            capture_output=True, text=True, timeout=120, cwd=PROJECT)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_django_celery_beat_imports_every_schedule_type_with_run_state(tmp_path: Path, postgres_url: str) -> None:
    django_script(postgres_url, "create")
    project = make_project(tmp_path / "project", ["jobs.cleanup", "jobs.health", "jobs.report", "jobs.lights"])
    result = import_(project, "django-celery-beat", "--from-database", postgres_url, "--with-run-state")
    out = result.stdout
    assert result.returncode == 1, out + result.stderr  # second-tuesday is refused
    assert "fire times verified: 8 of 8" in out, out
    assert "! second-tuesday: Celery fires only on days matching day-of-month 8-14 AND day-of-week 2" in out
    assert "- celery.backend_cleanup: Celery's result cleanup: gitbeat's beat runs it itself" in out
    assert "~ nightly-cleanup: renamed from 'nightly cleanup', which is not a valid gitbeat name" in out
    assert "~ first-monday: headers ['trace'] are not sent" in out
    assert "~ later: the source also fires once at its start_time" in out
    written = project / "schedules" / "imported" / "django.yaml"
    found = schedules_of(written)
    assert found["nightly-cleanup"] == {"task": "jobs.cleanup", "cron": "0 0 * * *", "timezone": "Europe/Berlin"}
    assert found["first-monday"] == {
        "task": "jobs.report", "cron": "0 9 */31,2-7 * 1", "timezone": "America/New_York",
        "kwargs": {"kind": "monthly"}, "queue": "reports", "routing_key": "reports", "priority": 3,
        "expires": "10m", "description": "First Monday of the month"}
    assert yaml.safe_load(written.read_text())["queues"] == {"reports": {"exchange": "reports-x"}}
    assert found["health"] == {"task": "jobs.health", "every": "5m", "args": [1, 2]}
    assert found["paused"]["enabled"] is False
    assert set(found["launch"]) == {"task", "at"} and set(found["once"]) == {"task", "at"}
    assert found["later"]["start_at"].endswith("09:00:00+01:00") or found["later"]["start_at"].endswith("+02:00")
    assert found["later.start"]["at"] == found["later"]["start_at"]
    state = json.loads((project / "schedules" / "imported" / "django.state.json").read_text())
    assert set(state["schedules"]) == {"health"} and state["schedules"]["health"]["run_count"] == 41

    validate_and_apply(project, postgres_url)
    rows_now = stored(postgres_url, project)
    spec, anchor, count, last = rows_now["health"]
    assert count == 41 and last == anchor  # carried: anchored at the source's last run
    assert all(rows_now[name][2] == 0 for name in rows_now if name != "health")
    after = datetime.now(UTC)
    theirs = {name: [datetime.fromisoformat(t) for t in times] for name, times in
              json.loads(django_script(postgres_url, "times", after.isoformat(), str(COMPARED))).items()}
    assert gitbeat_instants(spec, last, anchor) == theirs["health"]
    for source, name in (("nightly cleanup", "nightly-cleanup"), ("first-monday", "first-monday")):
        spec, anchor, _, _ = rows_now[name]
        assert gitbeat_instants(spec, after, anchor) == theirs[source], name
    spec, anchor, _, _ = rows_now["sunset"]
    ours = gitbeat_instants(spec, after, anchor)
    assert all(abs((a - b).total_seconds()) <= 60 for a, b in zip(ours, theirs["sunset"], strict=True))
    spec, anchor, _, _ = rows_now["launch"]
    assert gitbeat_instants(spec, after, anchor) == theirs["launch"][:1]


# --- sqlalchemy-celery-beat ----------------------------------------------------------------------------------

def test_sqlalchemy_celery_beat_imports_from_its_schema(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy_celery_beat.models import (
        ClockedSchedule,
        CrontabSchedule,
        IntervalSchedule,
        PeriodicTask,
        SolarSchedule,
    )
    from sqlalchemy_celery_beat.session import SessionManager

    schema = f"beat_{uuid.uuid4().hex[:8]}"
    url = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    manager = SessionManager()
    engine, factory = manager.create_session(url, schema=schema)
    manager.prepare_models(engine, schema=schema)
    now = datetime.now(UTC)
    with factory() as session:
        crontab = CrontabSchedule(minute="0", hour="0", day_of_week="*", day_of_month="*", month_of_year="*",
                                  timezone="America/New_York")
        both = CrontabSchedule(minute="30", hour="8", day_of_week="0", day_of_month="10-20", month_of_year="3,11",
                               timezone="America/New_York")
        interval = IntervalSchedule(every=2, period="seconds")
        sun = SolarSchedule(event="dawn_civil", latitude=40.7, longitude=-74.0)
        clocked = ClockedSchedule(clocked_time=now + timedelta(days=3))
        session.add_all([crontab, both, interval, sun, clocked])
        session.commit()
        session.add_all([
            PeriodicTask(name="midnight-ny", task="jobs.cleanup", schedule_model=crontab),
            PeriodicTask(name="sunday-mid-march", task="jobs.report", schedule_model=both, args="[7]"),
            PeriodicTask(name="tick", task="jobs.health", schedule_model=interval,
                         last_run_at=now - timedelta(seconds=1), total_run_count=5),
            PeriodicTask(name="dawn", task="jobs.lights", schedule_model=sun, priority=9),
            PeriodicTask(name="launch", task="jobs.report", schedule_model=clocked, one_off=True),
        ])
        session.commit()
    engine.dispose()
    project = make_project(tmp_path / "project", ["jobs.cleanup", "jobs.health", "jobs.report", "jobs.lights"])
    result = import_(project, "sqlalchemy-celery-beat", "--from-database", postgres_url, "--schema", schema,
                     "--with-run-state")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fire times verified: 5 of 5" in result.stdout, result.stdout
    found = schedules_of(project / "schedules" / "imported" / "sqlalchemy.yaml")
    assert found["sunday-mid-march"]["cron"] == "30 8 10-20 3,11 */7"
    assert found["tick"]["every"] == "2s" and found["dawn"]["priority"] == 9

    validate_and_apply(project, postgres_url)
    rows_now = stored(postgres_url, project)
    spec, anchor, count, last = rows_now["tick"]
    assert count == 5 and last == anchor
    from zoneinfo import ZoneInfo

    from celery import Celery
    from sqlalchemy_celery_beat.tzcrontab import TzAwareCrontab

    Celery("check", set_as_current=True)
    ny = ZoneInfo("America/New_York")
    for name, schedule in (("midnight-ny", TzAwareCrontab("0", "0", tz=ny)),
                           ("sunday-mid-march", TzAwareCrontab("30", "8", "0", "10-20", "3,11", tz=ny))):
        spec, anchor, _, _ = rows_now[name]
        assert gitbeat_instants(spec, now, anchor) == library_instants(schedule, now), name


# --- RedBeat, and a real beat firing an imported entry ---------------------------------------------------------

@pytest.fixture
def redbeat_prefix() -> Iterator[str]:
    import redis

    client = redis.Redis.from_url(REDIS)
    try:
        client.ping()
    except redis.RedisError as error:
        if CI:
            raise
        pytest.skip(f"no Redis at {REDIS}: {error}")
    prefix = f"gitbeat-test-{uuid.uuid4().hex[:10]}:"
    yield prefix
    for key in client.scan_iter(match=prefix + "*"):
        client.delete(key)
    client.close()


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    """A RabbitMQ queue of the test's own, consumed while the test runs, deleted afterwards."""
    import kombu

    rabbitmq_available()
    name = f"gitbeat-test-{uuid.uuid4().hex[:10]}"
    with kombu.Connection(AMQP) as connection:
        kombu.Queue(name, kombu.Exchange(name, "direct"), name)(connection.channel()).declare()
    started = Consumer(name)
    started.start()
    started.ready.wait(10)
    yield started
    started.stopping.set()
    with kombu.Connection(AMQP) as connection:
        connection.channel().queue_delete(name)


def redbeat_app(prefix: str, timezone: str) -> Any:
    from celery import Celery

    app = Celery("redbeat-source", set_as_current=False, timezone=timezone)
    app.conf.update(redbeat_redis_url=REDIS, redbeat_key_prefix=prefix)
    return app


def test_redbeat_entries_import_and_an_imported_one_fires_under_gitbeat_beat(
    tmp_path: Path, postgres_url: str, redbeat_prefix: str, consumer: Consumer
) -> None:
    from celery.schedules import crontab, schedule
    from redbeat.schedulers import RedBeatSchedulerEntry
    from redbeat.schedules import rrule

    app = redbeat_app(redbeat_prefix, "Asia/Kolkata")
    last = datetime.now(UTC) - timedelta(milliseconds=300)
    tick = RedBeatSchedulerEntry("tick", "jobs.ping", schedule(timedelta(seconds=1)), args=[7],
                                 options={"queue": consumer.queue}, app=app)
    tick.save()
    tick.reschedule(last_run_at=last)
    RedBeatSchedulerEntry("both-days", "jobs.report", crontab(minute=45, hour=5, day_of_month="1,15",
                          day_of_week="mon-fri"), app=app).save()
    RedBeatSchedulerEntry("weekly", "jobs.report", rrule("WEEKLY", dtstart=datetime(2026, 1, 5, 8, tzinfo=UTC)),
                          app=app).save()
    RedBeatSchedulerEntry("off", "jobs.report", crontab(minute=0), enabled=False, app=app).save()
    project = make_project(tmp_path / "project", ["jobs.ping", "jobs.report"])
    result = import_(project, "redbeat", "--from-redis", REDIS, "--key-prefix", redbeat_prefix,
                     "--timezone", "Asia/Kolkata", "--with-run-state")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "fire times verified: 4 of 4" in result.stdout, result.stdout
    found = schedules_of(project / "schedules" / "imported" / "redbeat.yaml")
    assert found["both-days"] == {"task": "jobs.report", "cron": "45 5 */31,15 * 1-5", "timezone": "Asia/Kolkata"}
    assert found["weekly"]["every"] == "7d" and found["off"]["enabled"] is False
    assert found["tick"] == {"task": "jobs.ping", "every": "1s", "args": [7], "queue": consumer.queue}

    validate_and_apply(project, postgres_url)
    _, anchor, count, carried = stored(postgres_url, project)["tick"]
    assert anchor == carried and abs((carried - last).total_seconds()) < 1e-3 and count == 0
    beats = Beats(project, postgres_url)
    try:
        beats.start()
        wait_for_leader(beats)
        consumer.wait_for(lambda m: len([x for x in m if x.schedule == "tick"]) >= 3, 15, beats.logs,
                          "3 runs of the imported entry")
        settle(beats)
    finally:
        beats.close()
    sent = [m for m in consumer.stop() if m.schedule == "tick"]
    dues = [m.due for m in sent]
    # No run at or before RedBeat's last one, each on its lattice (last run + k seconds), none twice.
    assert all(due > carried for due in dues) and len(set(dues)) == len(dues)
    assert all(((due - carried) / timedelta(seconds=1)).is_integer() for due in dues), dues
    assert all(m.args == [7] for m in sent)
    ran = wait_until(lambda: stored(postgres_url, project)["tick"][2], 5, "run_count never moved")
    assert ran >= len(sent)


def test_import_needs_its_sources_options_in_one_line(tmp_path: Path) -> None:
    project = make_project(tmp_path / "project", [])
    result = import_(project, "redbeat")
    assert (result.returncode, result.stderr) == (1, "gitbeat: error: gitbeat import redbeat needs --from-redis URL\n")
    result = import_(project, "django-celery-beat", "--from-database", "postgresql://root@127.0.0.1:5432/nonexistent_db")
    assert result.returncode == 1
    assert result.stderr.startswith("gitbeat: error: cannot read django-celery-beat's tables at "), result.stderr
    assert result.stderr.count("\n") == 1
