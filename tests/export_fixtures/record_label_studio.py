"""Records what Label Studio exports for the projects of scenario.json.

Run it against a FRESH Label Studio 1.23.2 (a new LABEL_STUDIO_BASE_DATA_DIR), so that its
ids start at 1 like a fresh labelhook's, then commit what it writes:

    LABEL_STUDIO_BASE_DATA_DIR=/tmp/ls-fresh LABEL_STUDIO_ENABLE_LEGACY_API_TOKEN=true \
      label-studio start --no-browser --port 8082 --username a@b.c --password pass1234 \
      --user-token 0123456789abcdef0123456789abcdef01234567 &
    python3 tests/export_fixtures/record_label_studio.py http://localhost:8082 \
      0123456789abcdef0123456789abcdef01234567

Every answer goes to label-studio-1.23.2/<project>/<name>; responses.json lists each
request with its status and the headers that matter (content type, file name).
"""

import json
import pathlib
import sys
import time

import requests

HERE = pathlib.Path(__file__).parent
OUT = HERE / "label-studio-1.23.2"
FORMATS = ["JSON", "JSON_MIN", "CSV", "TSV", "CONLL2003", "COCO", "YOLO"]


class Recorder:
    def __init__(self, base, token):
        self.base = base.rstrip("/")
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"
        self.responses = {}

    def call(self, method, path, **kwargs):
        response = self.session.request(method, self.base + path, **kwargs)
        return response

    def ok(self, method, path, **kwargs):
        response = self.call(method, path, **kwargs)
        assert response.status_code < 300, (method, path, response.status_code, response.text)
        return response.json() if response.content else None

    def save(self, folder, name, method, path, response, body=True):
        """Keeps the answer's body (as file `name`) and its status and headers."""
        folder.mkdir(parents=True, exist_ok=True)
        # Django's HTML error pages (its 404s) are not kept: the status says it all.
        html = (response.headers.get("Content-Type") or "").startswith("text/html")
        if body and not html:
            (folder / name).write_bytes(response.content)
        self.responses.setdefault(folder.name, {})[name] = {
            "request": f"{method} {path}",
            "status": response.status_code,
            "content_type": response.headers.get("Content-Type"),
            "content_disposition": response.headers.get("Content-Disposition"),
            "filename": response.headers.get("filename"),
        }

    def record(self, folder, name, method, path, **kwargs):
        response = self.call(method, path, **kwargs)
        self.save(folder, name, method, path, response)
        return response


def extension(format_name):
    return {"JSON": "json", "JSON_MIN": "json", "CSV": "csv", "TSV": "tsv", "CONLL2003": "conll"}.get(
        format_name, "zip"
    )


def build(rec, project):
    created = rec.ok(
        "POST", "/api/projects/", json={"title": project["title"], "label_config": project["label_config"]}
    )
    pid = created["id"]
    rec.ok("POST", f"/api/projects/{pid}/import", json=[{"data": t["data"]} for t in project["tasks"]])
    tasks = rec.ok("GET", f"/api/projects/{pid}/tasks/?page_size=100")
    task_ids = sorted(t["id"] for t in tasks)
    for task_id, task in zip(task_ids, project["tasks"]):
        for annotation in task.get("annotations", []):
            body = {"result": annotation["result"], "lead_time": annotation.get("lead_time")}
            if annotation.get("was_cancelled"):
                body["was_cancelled"] = True
            rec.ok("POST", f"/api/tasks/{task_id}/annotations/", json=body)
        for prediction in task.get("predictions", []):
            rec.ok("POST", "/api/predictions/", json={"task": task_id, **prediction})
    return pid, task_ids


def wait_until(check, what):
    deadline = time.time() + 60
    while time.time() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def record_project(rec, project):
    folder = OUT / project["slug"]
    pid, task_ids = build(rec, project)
    formats = rec.record(folder, "formats.json", "GET", f"/api/projects/{pid}/export/formats").json()
    enabled = [f["name"] for f in formats if not f.get("disabled") and f["name"] in FORMATS]

    # The direct export: annotated tasks only (the default), all tasks, some ids.
    for name in enabled:
        ext = extension(name)
        rec.record(folder, f"export-{name}.{ext}", "GET", f"/api/projects/{pid}/export?exportType={name}")
        rec.record(
            folder,
            f"export-all-{name}.{ext}",
            "GET",
            f"/api/projects/{pid}/export?exportType={name}&download_all_tasks=true",
        )
    ids = f"ids[]={task_ids[0]}&ids[]={task_ids[2]}"
    rec.record(folder, "export-ids-JSON.json", "GET", f"/api/projects/{pid}/export?export_type=JSON&{ids}")
    rec.record(
        folder,
        "export-ids-all-CSV.csv",
        "GET",
        f"/api/projects/{pid}/export?exportType=CSV&download_all_tasks=true&{ids}",
    )

    # Snapshots: create, read, list, download, convert, download converted, delete.
    path = f"/api/projects/{pid}/exports/"
    response = rec.call("POST", path, json={"title": ""})
    rec.save(folder, "snapshot-create.json", "POST", path, response)
    pk = response.json()["id"]
    wait_until(lambda: rec.ok("GET", f"{path}{pk}")["status"] == "completed", "snapshot")
    rec.record(folder, "snapshot-get.json", "GET", f"{path}{pk}")
    rec.record(folder, "snapshot-download-JSON.json", "GET", f"{path}{pk}/download")
    rec.record(folder, "snapshot-download-exportType-JSON.json", "GET", f"{path}{pk}/download?exportType=JSON")
    for name in enabled:
        if name == "JSON":
            continue
        rec.record(folder, f"snapshot-convert-{name}.json", "POST", f"{path}{pk}/convert", json={"export_type": name})
        wait_until(
            lambda: any(
                c["export_type"] == name and c["status"] in ("completed", "failed")
                for c in rec.ok("GET", f"{path}{pk}")["converted_formats"]
            ),
            f"conversion to {name}",
        )
        rec.record(
            folder, f"snapshot-download-{name}.{extension(name)}", "GET", f"{path}{pk}/download?exportType={name}"
        )
    rec.record(folder, "snapshot-get-converted.json", "GET", f"{path}{pk}")
    rec.record(folder, "snapshot-convert-again.json", "POST", f"{path}{pk}/convert", json={"export_type": "CSV"})
    rec.record(folder, "snapshot-list.json", "GET", path)

    # Snapshots with filters and expanded objects.
    options = {
        "task_filter_options": {"annotated": "only"},
        "annotation_filter_options": {"usual": True, "skipped": False},
        "serialization_options": {
            "predictions": {"only_id": False},
            "annotations__completed_by": {"only_id": False},
        },
    }
    response = rec.call("POST", path, json=options)
    rec.save(folder, "snapshot-create-options.json", "POST", path, response)
    pk2 = response.json()["id"]
    wait_until(lambda: rec.ok("GET", f"{path}{pk2}")["status"] == "completed", "snapshot with options")
    rec.record(folder, "snapshot-options-download.json", "GET", f"{path}{pk2}/download")

    # What goes wrong.
    rec.record(folder, "error-unknown-format.json", "GET", f"/api/projects/{pid}/export?exportType=NOPE")
    rec.record(folder, "error-convert-unknown.json", "POST", f"{path}{pk}/convert", json={"export_type": "NOPE"})
    rec.record(folder, "error-convert-missing.json", "POST", f"{path}{pk}/convert", json={})
    rec.record(folder, "error-download-not-converted.json", "GET", f"{path}{pk}/download?exportType=VOC")
    rec.record(folder, "error-snapshot-missing.json", "GET", f"{path}999999")
    rec.record(folder, "error-project-missing.json", "GET", "/api/projects/999999/export?exportType=JSON")
    if "COCO" not in enabled:
        rec.record(folder, "error-coco.json", "GET", f"/api/projects/{pid}/export?exportType=COCO")
        rec.record(folder, "error-convert-coco.json", "POST", f"{path}{pk}/convert", json={"export_type": "COCO"})
    rec.record(folder, "snapshot-delete.txt", "DELETE", f"{path}{pk2}")
    rec.record(folder, "error-deleted-snapshot.json", "GET", f"{path}{pk2}")


def main():
    base, token = sys.argv[1], sys.argv[2]
    scenario = json.loads((HERE / "scenario.json").read_text())
    rec = Recorder(base, token)
    for project in scenario["projects"]:
        record_project(rec, project)
    (OUT / "responses.json").write_text(json.dumps(rec.responses, indent=2, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
