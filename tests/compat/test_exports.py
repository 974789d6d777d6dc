"""The SDK's `projects.exports` calls against labelhook: the direct export (and the
`as_json` / `as_pandas` helpers built on it), the format list, and snapshots (create, list,
get, convert, download, delete). Every response is also checked against the SDK's models.
"""

from __future__ import annotations

import csv
import io
import json
import typing
import zipfile

import pytest
from label_studio_sdk import types as T
from label_studio_sdk.core.api_error import ApiError
from label_studio_sdk.projects.exports.types import ConvertExportsResponse

from compat_helpers import assert_sdk_strict, choice, wait_for

IMAGE_CONFIG = (
    '<View><Image name="image" value="$image"/>'
    '<RectangleLabels name="box" toName="image"><Label value="cat"/><Label value="dog"/></RectangleLabels>'
    "</View>"
)


def annotated_project(ls, make_project):
    """Three tasks: one annotated, one skipped, one untouched."""
    project = make_project("exports")
    ls.projects.import_tasks(project.id, request=[{"text": "a"}, {"text": "b"}, {"text": "c"}])
    tasks = sorted(ls.tasks.list(project=project.id), key=lambda t: t.id)
    ls.annotations.create(tasks[0].id, result=choice("pos"), lead_time=2.5)
    ls.annotations.create(tasks[1].id, result=[], was_cancelled=True)
    return project, tasks


def test_list_formats(ls, recorder, make_project):
    project = make_project("formats")
    formats = ls.projects.exports.list_formats(project.id)
    body = recorder.last_json()
    names = [f["name"] for f in body]
    assert names[:4] == ["JSON", "JSON_MIN", "CSV", "TSV"], names
    by_name = {f["name"]: f for f in body}
    assert "disabled" not in by_name["JSON"]
    assert by_name["COCO"]["disabled"] is True and by_name["COCO"]["disabled_reason"]
    assert len(formats) == len(body)


def test_download_sync_and_the_helpers_built_on_it(ls, recorder, make_project):
    project, tasks = annotated_project(ls, make_project)

    # The SDK sends export_type and download_all_tasks=true.
    data = b"".join(ls.projects.exports.download_sync(project.id, export_type="JSON", download_all_tasks=True))
    exported = json.loads(data)
    assert [t["id"] for t in exported] == [t.id for t in tasks]
    assert exported[0]["annotations"][0]["result"] == choice("pos")
    assert exported[1]["annotations"][0]["was_cancelled"] is True
    response = recorder.last()
    assert response.headers["content-type"] == "application/.json"
    assert response.headers["content-disposition"].startswith(f'attachment; filename="project-{project.id}-at-')

    # Only annotated tasks by default (a skip counts).
    data = b"".join(ls.projects.exports.download_sync(project.id))
    assert [t["id"] for t in json.loads(data)] == [tasks[0].id, tasks[1].id]

    # Only some tasks.
    data = b"".join(ls.projects.exports.download_sync(project.id, download_all_tasks=True, ids=[str(tasks[2].id)]))
    assert [t["id"] for t in json.loads(data)] == [tasks[2].id]

    # The helpers (community edition: the direct export with every task).
    as_json = ls.projects.exports.as_json(project.id)
    assert [t["id"] for t in as_json] == [t.id for t in tasks]
    frame = ls.projects.exports.as_pandas(project.id)
    assert list(frame["id"]) == [tasks[0].id, tasks[2].id]
    assert list(frame["label"].fillna("")) == ["pos", ""]
    binary = ls.projects.exports.as_binary(project.id, export_type="TSV")
    rows = list(csv.reader(io.StringIO(binary.decode()), delimiter="\t"))
    assert rows[0][0] == "annotation_id" and len(rows) == 3


def test_direct_export_errors(ls, make_project):
    project, _ = annotated_project(ls, make_project)
    with pytest.raises(ApiError) as info:
        b"".join(ls.projects.exports.download_sync(project.id, export_type="NOPE"))
    assert info.value.status_code == 400
    assert "export_type" in info.value.body["validation_errors"]
    with pytest.raises(ApiError) as info:
        b"".join(ls.projects.exports.download_sync(project.id, export_type="YOLO"))
    assert info.value.status_code == 400
    assert "Image" in info.value.body["validation_errors"]["export_type"][0]
    with pytest.raises(ApiError) as info:
        b"".join(ls.projects.exports.download_sync(999999))
    assert info.value.status_code == 404


def test_snapshots(ls, recorder, make_project):
    project, tasks = annotated_project(ls, make_project)
    exports = ls.projects.exports

    created = exports.create(project.id, title="nightly")
    assert recorder.last_status() == 201
    assert_sdk_strict(T.LseExportCreate, recorder.last_json(), "exports.create")
    assert created.title == "nightly"
    assert created.status in ("created", "in_progress", "completed")

    done = wait_for(lambda: (s := exports.get(project.id, created.id)).status == "completed" and s, 30)
    assert_sdk_strict(T.Export, recorder.last_json(), "exports.get")
    assert done.counters == {"task_number": 3}
    assert len(done.md5) == 32
    assert done.created_by.email

    listed = exports.list(project.id)
    assert_sdk_strict(typing.List[T.Export], recorder.last_json(), "exports.list")
    assert [s.id for s in listed] == [created.id]

    snapshot = json.loads(b"".join(exports.download(project.id, created.id)))
    assert [t["id"] for t in snapshot] == [t.id for t in tasks]

    converted = exports.convert(project.id, created.id, export_type="CSV")
    assert_sdk_strict(ConvertExportsResponse, recorder.last_json(), "exports.convert")
    assert converted.export_type == "CSV" and converted.converted_format

    def conversion_done():
        snapshot = exports.get(project.id, created.id)
        formats = {c.export_type: c.status for c in snapshot.converted_formats}
        return formats.get("CSV") == "completed"

    wait_for(conversion_done, 30)
    table = b"".join(exports.download(project.id, created.id, export_type="CSV")).decode()
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["id"] for r in rows] == [str(tasks[0].id), str(tasks[2].id)]
    assert recorder.last().headers["content-type"] == "application/csv"

    with pytest.raises(ApiError) as info:
        exports.convert(project.id, created.id, export_type="CSV")
    assert info.value.status_code == 400

    exports.delete(project.id, created.id)
    assert recorder.last_status() == 204
    with pytest.raises(ApiError) as info:
        exports.get(project.id, created.id)
    assert info.value.status_code == 404


def test_snapshot_with_options_and_image_formats(ls, make_project):
    project = make_project("export-images", label_config=IMAGE_CONFIG)
    ls.projects.import_tasks(project.id, request=[{"image": "https://example.com/a.jpg"}])
    task = next(iter(ls.tasks.list(project=project.id)))
    box = [{"from_name": "box", "to_name": "image", "type": "rectanglelabels", "original_width": 100,
            "original_height": 50, "value": {"x": 10, "y": 20, "width": 30, "height": 40, "rotation": 0,
                                              "rectanglelabels": ["dog"]}}]
    ls.annotations.create(task.id, result=box)
    exports = ls.projects.exports
    created = exports.create(project.id, task_filter_options={"annotated": "only"},
                             serialization_options={"annotations__completed_by": {"only_id": False}})
    wait_for(lambda: exports.get(project.id, created.id).status == "completed", 30)
    snapshot = json.loads(b"".join(exports.download(project.id, created.id)))
    assert isinstance(snapshot[0]["annotations"][0]["completed_by"], dict)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(exports.download(project.id, created.id, export_type="YOLO"))))
    names = archive.namelist()
    assert "classes.txt" in names and "notes.json" in names
    labels = [n for n in names if n.startswith("labels/") and n.endswith(".txt")]
    assert len(labels) == 1 and archive.read(labels[0]).decode() == "1 0.25 0.4 0.3 0.4\n"
    coco = zipfile.ZipFile(io.BytesIO(b"".join(exports.download(project.id, created.id, export_type="COCO"))))
    result = json.loads(coco.read("result.json"))
    assert result["annotations"][0]["bbox"] == [10.0, 10.0, 30.0, 20.0]
