"""A real ML backend built on `label-studio-ml` 1.0.9, driven by labelhook's webhooks.

The backend is the package's own Flask app (`label_studio_ml.api.init_app`) serving a minimal
model. Its `/webhook` runs `model.process_event()` in a background subprocess
(multiprocessing), which calls `fit()` for the events in `TRAIN_EVENTS`; `fit()` appends one
JSON line per call to a log file in the model dir, and the tests wait (with a deadline) for
the lines they expect:

- an ML backend attached with `ls.ml.create` gets a project webhook to `<url>/webhook`;
- a new annotation (ANNOTATION_CREATED) makes the backend train;
- `ls.ml.train(id)` (POST /api/ml/{id}/train) sends START_TRAINING, which trains too;
- with `min_annotations_to_start_training: 2`, START_TRAINING is sent automatically once two
  non-skipped annotations have accumulated (not after one, not for a skip).

Each fit line carries the project id and the label config the model was built with (taken by
label-studio-ml from `project.label_config` of the payload), checked against the project.
"""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import pathlib
import sys
import threading
import typing
import warnings

import pytest
import requests
from werkzeug.serving import make_server

with warnings.catch_warnings():
    # Flask 1.1.2 (pinned by label-studio-ml 1.0.9) imports the deprecated itsdangerous.json
    warnings.simplefilter("ignore", DeprecationWarning)
    from label_studio_ml import api as ml_api
    from label_studio_ml import model as ml_model
    from label_studio_ml.model import LabelStudioMLBase

from compat_helpers import LABEL_CONFIG, choice, wait_for

pytestmark = pytest.mark.filterwarnings("ignore:Importing 'itsdangerous.json':DeprecationWarning")

# How the fit log's path reaches the job subprocess: label-studio-ml calls
# fit(workdir=<model_dir>/<job_id>), and model_dir travels with the job itself (its
# SimpleJobManager is part of what the child runs), so fit() writes to
# <model_dir>/FIT_LOG_NAME under any start method. Neither a module global (re-imported,
# hence reset, by a spawned or forkserver child) nor the environment (a forkserver child has
# the server's, from whenever the forkserver started) is needed.
FIT_LOG_NAME = "fit-log.jsonl"  # not all digits: label-studio-ml's job-dir scan skips it
# Seconds for a webhook to reach the backend and its job subprocess to log its fit.
DEADLINE = 30.0
# label-studio-ml starts its jobs with `mp.Process` of the default context, 'fork' on Linux
# (Python < 3.14). Forking the threaded Flask server while another of its threads holds
# stderr's buffer lock (werkzeug logs each request there) deadlocks the child in its first
# log call, flushing stderr before fit() (label-studio-ml warns about job dirs without a
# result there): seen here in about 1 run of 10. The fixture hands the package a
# 'forkserver' context instead: jobs fork from a single-threaded server process that has
# this module preloaded.
JOB_START_METHOD = "forkserver"

# A second label config, so that a fit line shows which project's config the model got.
OTHER_LABEL_CONFIG = LABEL_CONFIG.replace(
    '<Choice value="neg"/>', '<Choice value="neg"/><Choice value="neutral"/>')


class FitLogModel(LabelStudioMLBase):
    """Predicts nothing; every fit() appends {event, project_id, label_config, ...} to the log."""

    # label-studio-ml 1.0.9 does not train on START_TRAINING by itself.
    TRAIN_EVENTS = LabelStudioMLBase.TRAIN_EVENTS + ("START_TRAINING",)

    def predict(self, tasks, **kwargs):
        return []

    def fit(self, tasks, workdir=None, event=None, data=None, job_id=None, **kwargs):
        if not workdir:
            raise RuntimeError("label-studio-ml called fit() without a workdir (no model_dir?)")
        path = os.path.join(os.path.dirname(os.path.normpath(workdir)), FIT_LOG_NAME)
        project = (data or {}).get("project")
        line = json.dumps({
            "event": event,
            "project_id": project.get("id") if isinstance(project, dict) else project,
            "label_config": self.label_config,
            "job_id": job_id,
            "pid": os.getpid(),
        })
        # One write() on an O_APPEND descriptor: concurrent jobs do not interleave lines.
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, (line + "\n").encode())
        finally:
            os.close(fd)
        return None  # nothing to keep (no job_result.json between jobs)


@dataclasses.dataclass
class LiveBackend:
    url: str
    fit_log: pathlib.Path

    def fits(self) -> list[dict]:
        """Every complete line of the fit log so far."""
        if not self.fit_log.exists():
            return []
        out = []
        for raw in self.fit_log.read_text().splitlines(keepends=True):
            if raw.endswith("\n"):  # a line being written has no newline yet
                out.append(json.loads(raw))
        return out

    def fits_for(self, project_id: int, event: str) -> list[dict]:
        return [f for f in self.fits() if f["project_id"] == project_id and f["event"] == event]

    def wait_fit(self, project_id: int, event: str, count: int = 1) -> list[dict]:
        return wait_for(
            lambda: (lambda got: got if len(got) >= count else None)(
                self.fits_for(project_id, event)),
            timeout=DEADLINE,
            message=lambda: (f"{count} fit(s) for {event} of project {project_id} in the ML "
                             f"backend; fit log (event, project): "
                             f"{[(f['event'], f['project_id']) for f in self.fits()]}"),
        )


@pytest.fixture(scope="module")
def ml_backend(tmp_path_factory) -> typing.Iterator[LiveBackend]:
    """label-studio-ml's Flask app with FitLogModel, served on 127.0.0.1 in a thread."""
    # A job reaches its child pickled, FitLogModel by reference to this module, which the
    # child imports by name from sys.path (pytest's default 'prepend' import mode).
    assert sys.modules.get(FitLogModel.__module__) is sys.modules[__name__]
    model_dir = tmp_path_factory.mktemp("ml-backend") / "models"
    context = multiprocessing.get_context(JOB_START_METHOD)
    # Takes effect if the forkserver is not running yet; otherwise children import on demand.
    context.set_forkserver_preload([FitLogModel.__module__])
    previous_mp = ml_model.mp
    ml_model.mp = context  # SimpleJobManager.run_job calls `mp.Process(...)`
    httpd = thread = None
    try:
        app = ml_api.init_app(FitLogModel, model_dir=str(model_dir))
        httpd = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=httpd.serve_forever, name="ml-backend", daemon=True)
        thread.start()
        backend = LiveBackend(url=f"http://127.0.0.1:{httpd.server_port}",
                              fit_log=model_dir / FIT_LOG_NAME)
        health = requests.get(backend.url + "/health", timeout=10)
        assert health.status_code == 200 and health.json()["status"] == "UP", health.text
        yield backend
    finally:
        if httpd is not None:
            httpd.shutdown()
            httpd.server_close()
        if thread is not None:
            thread.join(timeout=10)
        # reap the job subprocesses (each ends right after its event)
        for child in multiprocessing.active_children():
            child.join(timeout=10)
        ml_model.mp = previous_mp


def _attach(ls, project_id: int, backend: LiveBackend, title: str):
    """ls.ml.create, then check the project webhook to <url>/webhook that it must add."""
    ml = ls.ml.create(project=project_id, url=backend.url, title=title)
    assert ml.project == project_id and ml.url == backend.url
    hooks = [h for h in ls.webhooks.list(project=str(project_id))
             if h.url == backend.url + "/webhook"]
    assert len(hooks) == 1, (f"expected one project webhook to {backend.url}/webhook, got "
                             f"{[h.url for h in ls.webhooks.list(project=str(project_id))]}")
    hook = hooks[0]
    assert hook.project == project_id
    assert hook.send_payload is True and hook.send_for_all_actions is True
    assert hook.is_active is not False
    return ml, hook


def _start_trainings_queued(server, webhook_id: int) -> int:
    """START_TRAINING deliveries in labelhook's log for the webhook. The event commits in the
    same transaction as the change that causes it, so this is exact as soon as the API
    call that made the change has answered."""
    r = server.api("GET", f"/api/webhooks/{webhook_id}/deliveries",
                   params={"action": "START_TRAINING"})
    assert r.status_code == 200, r.text
    return r.json()["count"]


def _assert_fit(fit: dict, project, label_config: str) -> None:
    assert fit["project_id"] == project.id, fit
    assert fit["label_config"] == label_config, (
        f"{fit['event']}: the ML backend built its model with label_config "
        f"{fit['label_config']!r}, the project has {label_config!r}")


def test_annotation_and_train_call_reach_a_label_studio_ml_backend(
        ls, server, make_project, ml_backend):
    project = make_project("ml-live")
    label_config = ls.projects.get(project.id).label_config
    assert label_config == LABEL_CONFIG
    ml, hook = _attach(ls, project.id, ml_backend, "live model")

    # ANNOTATION_CREATED is one of label-studio-ml's TRAIN_EVENTS: the backend fits.
    task = ls.tasks.create(project=project.id, data={"text": "good"})
    annotation = ls.annotations.create(task.id, result=choice("pos"))
    assert annotation.id is not None
    fits = ml_backend.wait_fit(project.id, "ANNOTATION_CREATED")
    assert len(fits) == 1, fits
    _assert_fit(fits[0], project, label_config)

    # No threshold set (min_annotations_to_start_training 0): nothing automatic.
    assert _start_trainings_queued(server, hook.id) == 0
    assert ml_backend.fits_for(project.id, "START_TRAINING") == []

    # POST /api/ml/{id}/train queues START_TRAINING to <url>/webhook.
    ls.ml.train(ml.id)
    assert _start_trainings_queued(server, hook.id) == 1
    fits = ml_backend.wait_fit(project.id, "START_TRAINING")
    assert len(fits) == 1, fits
    _assert_fit(fits[0], project, label_config)


def test_min_annotations_to_start_training_triggers_the_backend(
        ls, server, make_project, ml_backend):
    project = make_project("ml-threshold", label_config=OTHER_LABEL_CONFIG)
    _, hook = _attach(ls, project.id, ml_backend, "threshold model")
    updated = ls.projects.update(project.id, min_annotations_to_start_training=2)
    assert updated.min_annotations_to_start_training == 2
    label_config = ls.projects.get(project.id).label_config
    assert label_config == OTHER_LABEL_CONFIG

    tasks = [ls.tasks.create(project=project.id, data={"text": t}) for t in ("a", "b", "c")]

    # First annotation: below the threshold.
    ls.annotations.create(tasks[0].id, result=choice("pos"))
    assert _start_trainings_queued(server, hook.id) == 0, \
        "START_TRAINING queued after 1 annotation with min_annotations_to_start_training=2"
    # A skip does not count.
    ls.annotations.create(tasks[1].id, result=[], was_cancelled=True)
    assert _start_trainings_queued(server, hook.id) == 0, \
        "a skipped annotation counted towards min_annotations_to_start_training"
    # Second non-skipped annotation: START_TRAINING, once.
    ls.annotations.create(tasks[2].id, result=choice("neg"))
    assert _start_trainings_queued(server, hook.id) == 1, \
        "2 annotations with min_annotations_to_start_training=2 queued no START_TRAINING"

    fits = ml_backend.wait_fit(project.id, "START_TRAINING")
    assert len(fits) == 1, fits
    _assert_fit(fits[0], project, label_config)
    # the three annotations (the skip included) reached the backend as ANNOTATION_CREATED
    for fit in ml_backend.wait_fit(project.id, "ANNOTATION_CREATED", count=3):
        _assert_fit(fit, project, label_config)
    # every fit of this project (PROJECT_UPDATED included) got this project's config
    for fit in ml_backend.fits():
        if fit["project_id"] == project.id:
            _assert_fit(fit, project, label_config)
