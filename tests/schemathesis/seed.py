"""Creates one object of each kind on a fresh labelhook, so that the schema's examples
(`id = 1`, `project = 1`, `task = 1`) name objects that exist and schemathesis reaches past
the 404s into the handlers.

    python seed.py BASE_URL TOKEN
"""

import sys

import requests

LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/>'
    '<Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>'
)
RESULT = [{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]


def main() -> None:
    base, token = sys.argv[1].rstrip("/"), sys.argv[2]
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"

    def call(method: str, path: str, body=None, expect: int = 201) -> dict:
        response = session.request(method, base + path, json=body, timeout=30)
        if response.status_code != expect:
            sys.exit(f"seed: {method} {path} answered {response.status_code}: {response.text}")
        return response.json() if response.content else {}

    project = call("POST", "/api/projects/", {"title": "schemathesis", "label_config": LABEL_CONFIG})
    pid = project["id"]
    call("POST", f"/api/projects/{pid}/import", [{"text": "great"}, {"text": "awful"}, {"text": "fine"}])
    tasks = call("GET", f"/api/tasks/?project={pid}", expect=200)["tasks"]
    tid = tasks[0]["id"]
    call("POST", f"/api/tasks/{tid}/annotations/", {"result": RESULT, "lead_time": 1.5})
    call("POST", "/api/predictions/", {"task": tid, "result": RESULT, "score": 0.9, "model_version": "v1"})
    # Public-looking hosts: with SSRF protection on and a dead delivery proxy, nothing leaves
    # the machine; the attempts fail and fill the delivery log.
    call("POST", "/api/ml/", {"project": pid, "url": "https://ml.example.com", "title": "model"})
    hook = call(
        "POST",
        "/api/webhooks/",
        {"url": "https://hooks.example.com/labeling", "project": pid, "send_for_all_actions": True},
    )
    call("POST", f"/api/webhooks/{hook['id']}/test")
    print(f"seed: project {pid}, tasks {[t['id'] for t in tasks]}, webhook {hook['id']}")


if __name__ == "__main__":
    main()
