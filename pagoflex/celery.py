"""The Celery application. Tasks are discovered in each installed app's ``tasks`` module.

Run a worker with ``celery -A pagoflex worker`` and the schedule with ``celery -A pagoflex beat``;
the schedule itself lives in the database (django-celery-beat, created by a migration of the
``webhooks`` app) so staff can see and tune it in the admin.
"""

import os
from pathlib import Path

from celery import Celery, signals

from observability.request_ids import request_id_scope

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pagoflex.settings")

app = Celery("pagoflex")
_task_scopes: dict = {}  # task id -> its request-id scope, entered before the task and left after
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """kombu's filesystem transport needs its folders to exist before the first message."""
    options = app.conf.broker_transport_options or {}
    if str(app.conf.broker_url or "").startswith("filesystem://"):
        for key in ("data_folder_in", "data_folder_out", "control_folder"):
            if options.get(key):
                Path(options[key]).mkdir(parents=True, exist_ok=True)


@app.on_after_configure.connect
def _prepare_broker(sender, **kwargs):
    ensure_broker_folders()


@signals.task_prerun.connect
def _task_request_id(task_id=None, **kwargs):
    """A task's log lines and connector calls carry ``task_<id>``, as a request's carry its id."""
    _task_scopes[task_id] = request_id_scope(f"task_{task_id}")
    _task_scopes[task_id].__enter__()


@signals.task_postrun.connect
def _end_task_request_id(task_id=None, **kwargs):
    scope = _task_scopes.pop(task_id, None)
    if scope is not None:
        scope.__exit__(None, None, None)
