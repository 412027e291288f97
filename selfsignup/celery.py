"""The Celery application: configured from Django settings (CELERY_ namespace)."""

import os

from celery import Celery
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "selfsignup.settings")

app = Celery("selfsignup")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
def _bind_request_id(task_id=None, task=None, **kwargs) -> None:
    from selfsignup.logs import bind_task_request_id

    bind_task_request_id(task_id=task_id, task=task)
    if task is not None and not task.request.is_eager:
        from django.db import close_old_connections

        # Connections are reused between tasks: drop those past CONN_MAX_AGE or broken.
        close_old_connections()


@task_postrun.connect
def _unbind_request_id(task_id=None, **kwargs) -> None:
    from selfsignup.logs import unbind_task_request_id

    unbind_task_request_id(task_id=task_id)
