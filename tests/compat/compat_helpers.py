"""Helpers shared by the compatibility suite (no pytest fixtures here; see conftest.py).

- `wait_for`: poll a predicate inside a deadline (never a bare fixed sleep).
- `Recorder`: an httpx response hook, so every SDK call's raw JSON can be checked too.
- `assert_sdk_strict`: validate a raw response body against the SDK's pydantic model in
  validating mode. The SDK itself parses leniently (see SDK_NOTES.md), so this is what
  tells the server author that a required field is missing or has the wrong type.
- `assert_keys_like`: every key of the recorded Label Studio 1.23.2 body must be present,
  with the same JSON kind where both values are non-null.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import time
import typing

import httpx
import pydantic
import pytest

LABEL_CONFIG = (
    '<View><Text name="text" value="$text"/><Choices name="label" toName="text">'
    '<Choice value="pos"/><Choice value="neg"/></Choices></View>'
)


def choice(value: str) -> list:
    return [
        {
            "from_name": "label",
            "to_name": "text",
            "type": "choices",
            "value": {"choices": [value]},
        }
    ]


# --------------------------------------------------------------------------- polling


def wait_for(predicate: typing.Callable[[], typing.Any], timeout: float = 10.0,
             interval: float = 0.05,
             message: typing.Union[str, typing.Callable[[], str]] = "condition") -> typing.Any:
    """Call `predicate` until it returns something truthy; return that value.

    Raises AssertionError after `timeout` seconds, naming `message` (a string, or a callable
    evaluated at that moment, to describe what had happened by then).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            text = message() if callable(message) else message
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {text}")
        time.sleep(interval)


# --------------------------------------------------------------------------- raw responses


class Recorder:
    """httpx `response` event hook keeping every response the SDK received."""

    def __init__(self) -> None:
        self.responses: list[httpx.Response] = []

    def hook(self, response: httpx.Response) -> None:
        response.read()
        self.responses.append(response)

    def last(self) -> httpx.Response:
        assert self.responses, "no HTTP response recorded"
        return self.responses[-1]

    def last_json(self) -> typing.Any:
        response = self.last()
        try:
            return response.json()
        except ValueError:
            raise AssertionError(
                f"{response.request.method} {response.request.url} answered "
                f"{response.status_code} with a body that is not JSON: {response.text[:500]!r}"
            )

    def last_status(self) -> int:
        return self.last().status_code


def make_client(base_url: str, api_key: str, recorder: typing.Optional[Recorder] = None):
    """A label-studio-sdk 2.x client; with a recorder, every raw response is kept."""
    from label_studio_sdk import LabelStudio

    hooks = {"response": [recorder.hook]} if recorder else {}
    # max_retries=0: the SDK retries 5xx/408/409/429 by default, which would hide failures
    # and repeat POSTs.
    return LabelStudio(
        base_url=base_url, api_key=api_key, max_retries=0,
        httpx_client=httpx.Client(timeout=30, event_hooks=hooks),
    )


# --------------------------------------------------------------------------- SDK model checks

# Validation errors that the real Label Studio 1.23.2 responses produce too (the SDK's models
# describe the Enterprise edition): tolerated, because the SDK parses without validating.
# (location suffix, pydantic error type)
TOLERATED_ERRORS = {
    ("assignment_settings", "missing"),  # LseProjectResponse / AllRolesProjectList (Enterprise)
    ("review_settings", "missing"),      # same
    ("created_by.username", "missing"),  # UserSimple.username; LS 1.23.2 omits it in created_by
}


def _norm_loc(loc: tuple) -> str:
    return ".".join("N" if isinstance(part, int) else str(part) for part in loc)


def sdk_strict_errors(model: typing.Any, body: typing.Any) -> list[str]:
    """Validation errors of `body` against `model` that real Label Studio does not have."""
    try:
        pydantic.TypeAdapter(model).validate_python(body)
        return []
    except pydantic.ValidationError as exc:
        errors = exc.errors()
    # For unions (RoleBasedTask) pydantic reports the errors of every member; they are all
    # listed, prefixed with the member's name.
    out = []
    for err in errors:
        loc = _norm_loc(err["loc"])
        if any(loc == suffix or loc.endswith("." + suffix)
               for suffix, kind in TOLERATED_ERRORS if kind == err["type"]):
            continue
        out.append(f"{loc}: {err['type']} ({err['msg']}; got {str(err.get('input'))[:120]!r})")
    return out


def assert_sdk_strict(model: typing.Any, body: typing.Any, what: str) -> None:
    errors = sdk_strict_errors(model, body)
    if errors:
        name = getattr(model, "__name__", None) or repr(model)
        raise AssertionError(
            f"{what}: response does not validate against the SDK model {name} "
            f"(the SDK would leave these fields unset or mistyped):\n  "
            + "\n  ".join(errors[:40])
            + f"\nbody: {json.dumps(body)[:1500]}"
        )


# --------------------------------------------------------------------------- reference bodies


def _reference_dir() -> pathlib.Path | None:
    env = os.environ.get("LABELHOOK_REFERENCE_DIR")
    candidates = [pathlib.Path(env)] if env else []
    here = pathlib.Path(__file__).resolve()
    # a clone of main with shared/ beside it (CI), or the usual /work layout
    for parent in here.parents:
        candidates.append(parent / "shared" / "reference" / "label-studio-1.23.2")
    candidates.append(pathlib.Path("/work/shared/reference/label-studio-1.23.2"))
    for candidate in candidates:
        if (candidate / "api").is_dir():
            return candidate
    return None


REFERENCE_DIR = _reference_dir()


def reference(name: str) -> typing.Any:
    """Body of a recorded Label Studio response (`api/<name>.json`) or webhook (`<name>.json`)."""
    if REFERENCE_DIR is None:
        pytest.skip("Label Studio 1.23.2 reference files not found "
                    "(set LABELHOOK_REFERENCE_DIR to shared/reference/label-studio-1.23.2)")
    path = REFERENCE_DIR / f"{name}.json"
    return json.loads(path.read_text())["body"]


# Values whose inner keys are free-form data, not schema: not compared key by key.
FREE_FORM = {"data", "meta", "result", "parsed_label_config", "control_weights", "headers",
             "value", "labels_attrs", "prediction", "data_types"}


def _kind(value: typing.Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def key_problems(actual: typing.Any, ref: typing.Any, where: str = "$") -> list[str]:
    problems: list[str] = []
    if isinstance(ref, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected an object, got {_kind(actual)}"]
        for key, ref_value in ref.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing (Label Studio sends {_kind(ref_value)})")
                continue
            value = actual[key]
            if ref_value is None or value is None:
                continue
            if _kind(value) != _kind(ref_value):
                problems.append(f"{where}.{key}: {_kind(value)}, Label Studio sends "
                                f"{_kind(ref_value)}")
                continue
            if key in FREE_FORM:
                continue
            problems.extend(key_problems(value, ref_value, f"{where}.{key}"))
    elif isinstance(ref, list):
        if not isinstance(actual, list):
            return [f"{where}: expected an array, got {_kind(actual)}"]
        if ref and actual and isinstance(ref[0], dict):
            problems.extend(key_problems(actual[0], ref[0], f"{where}[0]"))
    return problems


def assert_keys_like(actual: typing.Any, ref: typing.Any, what: str) -> None:
    problems = key_problems(actual, ref)
    if problems:
        raise AssertionError(
            f"{what}: keys/types differ from Label Studio 1.23.2:\n  " + "\n  ".join(problems[:60])
            + f"\nbody: {json.dumps(actual)[:1500]}"
        )


def strip_ansi(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)
