//! The OpenAPI description at `/api/schema/`: an OpenAPI 3 document, served without a token,
//! that lists every route of the API with its method, statuses and security.

mod common;

use std::collections::BTreeSet;

use serde_json::Value;

const METHODS: &[&str] = &[
    "get", "post", "put", "patch", "delete", "head", "options", "trace",
];

async fn fetch_schema(server: &common::Server, path: &str) -> Value {
    // No Authorization header: the description is public.
    let response = server.get_public(path).await;
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
async fn schema_is_openapi_3_and_describes_the_api() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    assert_eq!(fetch_schema(&server, "/api/schema").await, schema);

    let version = schema["openapi"].as_str().expect("openapi version");
    assert!(version.starts_with("3."), "openapi: {version}");
    assert!(schema["info"]["title"].is_string());
    assert!(schema["info"]["version"].is_string());
    let described = operations(&schema);
    assert!(
        described.len() > 50,
        "too few operations: {}",
        described.len()
    );
}

/// The description and the router agree, both ways: every described operation is served
/// (a private one asks for a token, a public one answers without), and every other method
/// on a described path is 405. (Both come from one table in `src/api/route.rs`; this
/// checks the table from outside.)
#[tokio::test]
async fn every_described_route_is_served_and_nothing_else_on_its_path() {
    let server = common::Server::start();
    let schema = fetch_schema(&server, "/api/schema/").await;
    let described = operations(&schema);
    for path in schema["paths"].as_object().expect("paths").keys() {
        let concrete = path.replace("{id}", "1").replace("{delivery_id}", "1");
        for method in ["get", "post", "put", "patch", "delete"] {
            let operation = described
                .iter()
                .find(|(m, p, _)| m == method && p == path)
                .map(|(_, _, operation)| *operation);
            let response = server
                .client
                .request(
                    method.to_uppercase().parse().expect("method"),
                    server.url(&concrete),
                )
                .send()
                .await
                .expect("request");
            let status = response.status().as_u16();
            let what = format!("{} {path}", method.to_uppercase());
            match operation {
                None => assert_eq!(status, 405, "{what} is not described, so not served"),
                Some(operation) => {
                    let public = operation
                        .get("security")
                        .and_then(Value::as_array)
                        .is_none_or(|s| s.is_empty());
                    if public {
                        assert!(
                            status != 401 && status != 404 && status != 405,
                            "{what} is public: {status}"
                        );
                    } else {
                        assert_eq!(status, 401, "{what} needs a token");
                    }
                }
            }
        }
    }
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

        let security = operation.get("security").and_then(Value::as_array);
        if security.is_none_or(|s| s.is_empty()) {
            assert!(!codes.contains("401"), "{what} is public: no 401");
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
    let project = server.get_project(id).await;
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
