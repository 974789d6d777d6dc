//! The OpenAPI description at `/api/schema/`: an OpenAPI 3 document, served without a token,
//! that lists every route of the API with its method, statuses and security.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

/// Every route of the API (`src/api/`), as the router spells it. A new route must be added
/// here and described with `#[utoipa::path]` (the test below also reads the router's
/// `.route(...)` calls, so a route missing from this list fails it).
const EXPECTED: &[(&str, &str)] = &[
    ("get", "/api/schema"),
    ("get", "/health"),
    ("get", "/api/version"),
    ("get", "/api/current-user/whoami"),
    ("get", "/metrics"),
    ("get", "/api/projects"),
    ("post", "/api/projects"),
    ("get", "/api/projects/{id}"),
    ("patch", "/api/projects/{id}"),
    ("put", "/api/projects/{id}"),
    ("delete", "/api/projects/{id}"),
    ("post", "/api/projects/{id}/import"),
    ("get", "/api/projects/{id}/tasks"),
    ("delete", "/api/projects/{id}/tasks"),
    ("get", "/api/tasks"),
    ("post", "/api/tasks"),
    ("get", "/api/tasks/{id}"),
    ("patch", "/api/tasks/{id}"),
    ("put", "/api/tasks/{id}"),
    ("delete", "/api/tasks/{id}"),
    ("get", "/api/tasks/{id}/annotations"),
    ("post", "/api/tasks/{id}/annotations"),
    ("get", "/api/annotations/{id}"),
    ("patch", "/api/annotations/{id}"),
    ("put", "/api/annotations/{id}"),
    ("delete", "/api/annotations/{id}"),
    ("get", "/api/predictions"),
    ("post", "/api/predictions"),
    ("get", "/api/predictions/{id}"),
    ("patch", "/api/predictions/{id}"),
    ("put", "/api/predictions/{id}"),
    ("delete", "/api/predictions/{id}"),
    ("get", "/api/dm/actions"),
    ("post", "/api/dm/actions"),
    ("get", "/api/ml"),
    ("post", "/api/ml"),
    ("get", "/api/ml/{id}"),
    ("patch", "/api/ml/{id}"),
    ("put", "/api/ml/{id}"),
    ("delete", "/api/ml/{id}"),
    ("post", "/api/ml/{id}/train"),
    ("get", "/api/webhooks/info"),
    ("get", "/api/webhooks"),
    ("post", "/api/webhooks"),
    ("get", "/api/webhooks/{id}"),
    ("patch", "/api/webhooks/{id}"),
    ("put", "/api/webhooks/{id}"),
    ("delete", "/api/webhooks/{id}"),
    ("get", "/api/webhooks/{id}/secret"),
    ("post", "/api/webhooks/{id}/secret/rotate"),
    ("post", "/api/webhooks/{id}/test"),
    ("post", "/api/webhooks/{id}/recover"),
    ("get", "/api/webhooks/{id}/deliveries"),
    ("get", "/api/webhooks/{id}/deliveries/{delivery_id}"),
    (
        "post",
        "/api/webhooks/{id}/deliveries/{delivery_id}/redeliver",
    ),
];

/// Routes that answer without a token.
const PUBLIC: &[&str] = &[
    "/api/schema",
    "/health",
    "/api/version",
    "/metrics",
    "/api/webhooks/info",
];

const METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

async fn fetch_schema(server: &common::Server, path: &str) -> Value {
    // No Authorization header: the description is public.
    let response = server
        .client
        .get(server.url(path))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200, "GET {path}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    assert!(
        content_type.starts_with("application/json"),
        "GET {path}: content type {content_type}"
    );
    response.json().await.expect("JSON")
}

fn operations(schema: &Value) -> Vec<(String, String, &Value)> {
    let mut found = Vec::new();
    for (path, item) in schema["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            if METHODS.contains(&method.as_str()) {
                found.push((method.clone(), path.clone(), operation));
            }
        }
    }
    found
}

fn statuses(operation: &Value) -> BTreeSet<String> {
    operation["responses"]
        .as_object()
        .expect("responses")
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn schema_is_openapi_3_and_lists_every_route() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    assert_eq!(fetch_schema(&server, "/api/schema").await, schema);

    let version = schema["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "openapi: {version}");
    assert!(schema["info"]["title"].is_string());
    assert!(schema["info"]["version"].is_string());

    let described: BTreeSet<(String, String)> = operations(&schema)
        .into_iter()
        .map(|(m, p, _)| (m, p))
        .collect();
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    let missing: Vec<_> = expected.difference(&described).collect();
    let extra: Vec<_> = described.difference(&expected).collect();
    assert!(missing.is_empty(), "routes not described: {missing:?}");
    assert!(extra.is_empty(), "described but not expected: {extra:?}");
}

/// The router's own `.route("...", get(..).post(..))` calls in `src/api/`, so a route added
/// there without a description (and without a line in EXPECTED) fails this test.
#[test]
fn expected_list_matches_the_router_source() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/api");
    let mut routed = BTreeSet::new();
    for entry in std::fs::read_dir(&dir).expect("src/api") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("read source");
        let mut rest = text.as_str();
        while let Some(at) = rest.find(".route(") {
            rest = &rest[at + ".route(".len()..];
            let Some(open) = rest.find('"') else { break };
            let after = &rest[open + 1..];
            let Some(close) = after.find('"') else { break };
            let route = &after[..close];
            // The handlers: up to the parenthesis that closes `.route(`.
            let mut depth = 1;
            let mut end = 0;
            for (i, c) in rest.char_indices() {
                match c {
                    '(' => depth += 1,
                    ')' => {
                        depth -= 1;
                        if depth == 0 {
                            end = i;
                            break;
                        }
                    }
                    _ => {}
                }
            }
            let handlers = &rest[..end];
            for method in ["get", "post", "put", "patch", "delete"] {
                let called = handlers
                    .match_indices(&format!("{method}("))
                    .any(|(i, _)| i == 0 || !handlers.as_bytes()[i - 1].is_ascii_alphanumeric());
                if called {
                    routed.insert((method.to_string(), route.to_string()));
                }
            }
        }
    }
    let expected: BTreeSet<(String, String)> = EXPECTED
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert!(
        routed.len() > 40,
        "found too few routes in src/api: {routed:?}"
    );
    let undocumented: Vec<_> = routed.difference(&expected).collect();
    let stale: Vec<_> = expected.difference(&routed).collect();
    assert!(
        undocumented.is_empty(),
        "routes in src/api missing from EXPECTED: {undocumented:?}"
    );
    assert!(
        stale.is_empty(),
        "EXPECTED routes not in src/api: {stale:?}"
    );
}

#[tokio::test]
async fn operations_have_ids_statuses_errors_and_security() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    let schemes = &schema["components"]["securitySchemes"]["token"];
    assert_eq!(schemes["type"], "apiKey");
    assert_eq!(schemes["in"], "header");
    assert_eq!(schemes["name"], "Authorization");

    let mut ids = BTreeSet::new();
    for (method, path, operation) in operations(&schema) {
        let what = format!("{} {path}", method.to_uppercase());
        let id = operation["operationId"].as_str().unwrap_or_default();
        assert!(!id.is_empty(), "{what}: no operationId");
        assert!(
            ids.insert(id.to_string()),
            "{what}: duplicate operationId {id}"
        );
        let codes = statuses(operation);

        let public = PUBLIC.contains(&path.as_str());
        let security = operation.get("security").and_then(Value::as_array);
        if public {
            assert!(security.is_none_or(|s| s.is_empty()), "{what} is public");
        } else {
            let names: Vec<&str> = security
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
                .flat_map(|o| o.keys().map(String::as_str))
                .collect();
            assert_eq!(names, ["token"], "{what}: security");
            assert!(codes.contains("401"), "{what}: no 401");
        }
        if path.contains('{') {
            assert!(codes.contains("404"), "{what}: no 404");
        }
        if operation.get("requestBody").is_some() {
            assert!(codes.contains("400"), "{what}: no 400");
            assert!(codes.contains("413"), "{what}: no 413");
        }
        let success: Vec<&String> = codes.iter().filter(|c| c.starts_with('2')).collect();
        assert_eq!(success.len(), 1, "{what}: success statuses {success:?}");
        if method == "delete" {
            assert_eq!(success[0], "204", "{what}");
        }
        if id.ends_with("_create") || id == "projects_import" {
            assert_eq!(success[0], "201", "{what}");
        }
        // Every error status is described with Label Studio's error shape.
        for code in codes.iter().filter(|c| c.starts_with('4')) {
            let response = &operation["responses"][code];
            let reference = response["$ref"].as_str().unwrap_or_default();
            assert!(
                reference.starts_with("#/components/responses/"),
                "{what} {code}: {response}"
            );
            let name = reference.rsplit('/').next().unwrap_or_default();
            assert_eq!(
                schema["components"]["responses"][name]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/Error",
                "{what} {code}"
            );
        }
    }
}

/// Every `$ref` points at something the document defines.
#[tokio::test]
async fn every_reference_resolves() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    let mut references = Vec::new();
    collect_refs(&schema, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference
            .strip_prefix('#')
            .unwrap_or_else(|| panic!("external reference {reference}"));
        assert!(
            schema.pointer(pointer).is_some(),
            "unresolved reference {reference}"
        );
    }
    // The main objects have real schemas.
    for name in [
        "Project",
        "ProjectPage",
        "Task",
        "TaskDetail",
        "TaskList",
        "Annotation",
        "Prediction",
        "MlBackend",
        "Webhook",
        "WebhookCreated",
        "Delivery",
        "DeliveryDetail",
        "DeliveryPage",
        "ActionCatalogue",
        "Error",
    ] {
        assert!(
            schema["components"]["schemas"][name].is_object(),
            "no schema {name}"
        );
    }
}

fn collect_refs(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, item) in map {
                match (key.as_str(), item) {
                    ("$ref", Value::String(reference)) => found.push(reference.clone()),
                    _ => collect_refs(item, found),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|item| collect_refs(item, found)),
        _ => {}
    }
}

/// What the schema says about a live object holds: the project the API returns has every
/// property the schema requires.
#[tokio::test]
async fn a_live_project_has_the_required_properties() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    let id = server.project("described").await;
    let project = server.get(&format!("/api/projects/{id}/")).await;
    let required = schema["components"]["schemas"]["Project"]["required"]
        .as_array()
        .expect("required");
    for key in required {
        let key = key.as_str().expect("key");
        assert!(project.get(key).is_some(), "project has no {key}");
    }
    let properties = schema["components"]["schemas"]["Project"]["properties"]
        .as_object()
        .expect("properties");
    for key in project.as_object().expect("object").keys() {
        assert!(properties.contains_key(key), "{key} is not described");
    }
}
