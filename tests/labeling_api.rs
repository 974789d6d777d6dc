//! The labeling server's REST API, black-box: every route, its status codes, its shapes
//! against the recorded Label Studio responses, and bad input.

mod common;

use common::{
    Server, TOKEN, assert_same_shape, choice, ids_of, reference, selected, server_and_project,
};
use serde_json::{Value, json};

const CONFIG: &str = r#"<View><Text name="text" value="$text"/><Choices name="label" toName="text"><Choice value="pos"/><Choice value="neg"/></Choices></View>"#;

#[tokio::test]
async fn auth_is_required_and_errors_have_the_label_studio_shape() {
    let server = Server::start();
    let body = server
        .expect_as("wrong", 401, "GET /api/webhooks/", None)
        .await;
    assert_same_shape(&reference("api/unauthorized.json")["body"], &body);
    assert_eq!(body["detail"], "Invalid token.");

    let response = server.get_public("/api/projects/").await;
    assert_eq!(response.status(), 401);

    // Public routes.
    let health: Value = server.get_public("/health").await.json().await.unwrap();
    assert_eq!(health["status"], "UP");
    let version = server.get_public("/api/version").await;
    assert_eq!(version.status(), 200);
    let info = server.get_public("/api/webhooks/info/").await;
    assert_eq!(info.status(), 200);
}

/// `value` without `keys`.
fn without(value: &Value, keys: &[&str]) -> Value {
    let mut value = value.clone();
    let object = value.as_object_mut().unwrap();
    for key in keys {
        object.remove(*key);
    }
    value
}

/// A project without the keys labelhook adds to Label Studio's (`review_required`, the
/// audit's `updated_by`).
fn without_labelhook_keys(project: &Value) -> Value {
    without(project, &["review_required", "updated_by"])
}

/// A task without the key labelhook adds to Label Studio's (the audit's `created_by`).
fn task_without_labelhook_keys(task: &Value) -> Value {
    without(task, &["created_by"])
}

#[tokio::test]
async fn projects_crud_matches_label_studio() {
    let server = Server::start();
    let created = server
        .create(
            "/api/projects/",
            json!({"title": "Ref", "label_config": CONFIG}),
        )
        .await;
    assert_same_shape(
        &reference("api/project_create.json")["body"],
        &without_labelhook_keys(&created),
    );
    assert_eq!(created["review_required"], false, "labelhook's own key");
    assert_eq!(
        created["parsed_label_config"],
        reference("api/project_create.json")["body"]["parsed_label_config"]
    );
    assert_eq!(
        created["control_weights"],
        reference("api/project_create.json")["body"]["control_weights"]
    );
    let id = created["id"].as_i64().unwrap();

    let got = server.get_project(id).await;
    assert_same_shape(
        &reference("api/project_get.json")["body"],
        &without_labelhook_keys(&got),
    );
    assert_eq!(got["task_number"], 0);
    // Trailing slash or not.
    assert_eq!(server.get(&format!("/api/projects/{id}")).await["id"], id);

    let patched = server
        .patch_project(id, json!({"title": "Renamed", "description": "d"}))
        .await;
    assert_eq!(patched["title"], "Renamed");
    assert_eq!(
        patched["label_config"], CONFIG,
        "PATCH keeps what it does not name"
    );

    let put = server
        .expect(
            200,
            &format!("PUT /api/projects/{id}/"),
            Some(json!({"title": "Put", "maximum_annotations": 2})),
        )
        .await;
    assert_eq!(put["maximum_annotations"], 2);

    server
        .expect(204, &format!("DELETE /api/projects/{id}/"), None)
        .await;
    server
        .expect(404, &format!("GET /api/projects/{id}/"), None)
        .await;
}

#[tokio::test]
async fn projects_list_is_paged_like_label_studio() {
    let server = Server::start();
    for i in 0..3 {
        server.project(&format!("p{i}")).await;
    }
    let mut page = server.get("/api/projects/?page_size=2").await;
    for project in page["results"].as_array_mut().unwrap() {
        *project = without_labelhook_keys(project);
    }
    assert_same_shape(&reference("api/projects_list.json")["body"], &page);
    assert_eq!(page["count"], 3);
    assert_eq!(page["results"].as_array().unwrap().len(), 2);
    assert!(page["next"].as_str().unwrap().contains("page=2"));
    let second = server.get("/api/projects/?page=2&page_size=2").await;
    assert_eq!(second["results"].as_array().unwrap().len(), 1);
    assert!(second["next"].is_null());
    assert!(second["previous"].is_string());
    server
        .expect_field_error("GET /api/projects/?page=zero", None, "page")
        .await;
}

#[tokio::test]
async fn project_input_errors_name_the_field() {
    let server = Server::start();
    let cases = [
        (
            json!({"title": "x", "label_config": "<View><Text name="}),
            "label_config",
        ),
        (
            json!({"title": "x", "label_config": "<View><Choices name=\"c\" toName=\"missing\"><Choice value=\"a\"/></Choices></View>"}),
            "label_config",
        ),
        (json!({"title": "t".repeat(51)}), "title"),
        (json!({"title": 5}), "title"),
        (
            json!({"maximum_annotations": "many"}),
            "maximum_annotations",
        ),
        (json!({"maximum_annotations": 0}), "maximum_annotations"),
        (json!({"show_instruction": "yes"}), "show_instruction"),
        (json!({"skip_queue": "SOMETIMES"}), "skip_queue"),
        (json!({"sampling": "Random"}), "sampling"),
        // A choice of the wrong kind is valid JSON: its field is named, not a parse error.
        (json!({"skip_queue": 5}), "skip_queue"),
        (json!({"sampling": ["Uniform sampling"]}), "sampling"),
    ];
    for (input, field) in cases {
        let body = server
            .expect_field_error("POST /api/projects/", Some(input.clone()), field)
            .await;
        if field == "show_instruction" {
            // Label Studio's words, from the one translation of serde's errors.
            assert_eq!(
                body["validation_errors"][field][0], "Must be a valid boolean.",
                "{body}"
            );
        }
    }
    // Not JSON, not an object, empty.
    for raw in ["{bad", "[1,2]", "", "null"] {
        let response = server
            .client
            .post(server.url("/api/projects/"))
            .header("Authorization", format!("Token {TOKEN}"))
            .header("Content-Type", "application/json")
            .body(raw)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "body {raw:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["status_code"], 400);
        assert!(body["validation_errors"].is_object(), "{body}");
    }
    // Unknown ids and non-numeric ids are 404.
    for path in [
        "/api/projects/999/",
        "/api/projects/abc/",
        "/api/tasks/0/",
        "/api/annotations/-1/",
    ] {
        server.expect(404, &format!("GET {path}"), None).await;
    }
    // Unknown route: 404 in the same shape.
    let body = server.expect(404, "GET /api/nothing-here/", None).await;
    assert_eq!(body["status_code"], 404);
}

#[tokio::test]
async fn oversized_bodies_get_413() {
    let server = Server::start_with(&[("LABELHOOK_MAX_BODY_BYTES", "2000")]);
    let id = server.project("small").await;
    let big: Vec<Value> = (0..200)
        .map(|i| json!({"text": format!("task number {i}")}))
        .collect();
    let body = server
        .expect(
            413,
            &format!("POST /api/projects/{id}/import"),
            Some(json!(big)),
        )
        .await;
    assert_eq!(body["status_code"], 413);
    assert_eq!(server.task_number(id).await, 0, "nothing imported");
}

#[tokio::test]
async fn tasks_crud_and_list_match_label_studio() {
    let (server, project) = server_and_project("tasks").await;
    let imported = server
        .import(project, json!([{"text": "a"}, {"text": "b"}]))
        .await;
    assert_same_shape(&reference("api/import_json.json")["body"], &imported);
    assert_eq!(imported["task_count"], 2);

    let task = server.task(project, "c").await;
    assert_same_shape(
        &reference("api/task_create.json")["body"],
        &task_without_labelhook_keys(&task),
    );
    assert_eq!(task["inner_id"], 3);
    let id = task["id"].as_i64().unwrap();

    let got = server.get(&format!("/api/tasks/{id}/")).await;
    assert_same_shape(
        &reference("api/task_get.json")["body"],
        &task_without_labelhook_keys(&got),
    );

    let mut list = server.get(&format!("/api/tasks/?project={project}")).await;
    for task in list["tasks"].as_array_mut().unwrap() {
        *task = task_without_labelhook_keys(task);
    }
    assert_same_shape(&reference("api/tasks_list.json")["body"], &list);
    assert_eq!(list["total"], 3);
    let paged = server
        .get(&format!("/api/tasks/?project={project}&page=2&page_size=2"))
        .await;
    assert_eq!(paged["tasks"].as_array().unwrap().len(), 1);
    let project_tasks = server.get(&format!("/api/projects/{project}/tasks/")).await;
    assert_eq!(project_tasks.as_array().unwrap().len(), 3);

    let patched = server
        .expect(
            200,
            &format!("PATCH /api/tasks/{id}/"),
            Some(json!({"data": {"text": "changed"}, "meta": {"k": 1}})),
        )
        .await;
    assert_eq!(patched["data"]["text"], "changed");
    assert_eq!(patched["meta"]["k"], 1);

    server.assert_deleted(&format!("/api/tasks/{id}/")).await;

    // Bad input.
    let bad = [
        (json!({"data": {"text": "x"}}), "project"),
        (json!({"project": "one", "data": {}}), "project"),
        (json!({"project": 999, "data": {}}), "project"),
        (json!({"project": project}), "data"),
        (json!({"project": project, "data": "text"}), "data"),
    ];
    for (input, field) in bad {
        server
            .expect_field_error("POST /api/tasks/", Some(input.clone()), field)
            .await;
    }
    server.expect(400, "GET /api/tasks/", None).await;
    let body = server
        .expect(
            400,
            &format!("PATCH /api/tasks/{}/", imported["task_count"]),
            Some(json!({"data": 5})),
        )
        .await;
    assert_eq!(
        body["validation_errors"],
        json!({"data": ["Expected a dictionary of items but got type \"int\"."]})
    );

    // The project's id may be a string of digits; errors inside the task's annotations
    // are nested by index, as Label Studio nests them.
    let by_string = server
        .create(
            "/api/tasks/",
            json!({"project": project.to_string(), "data": {"text": "s"}}),
        )
        .await;
    assert_eq!(by_string["project"], project);
    let body = server.expect(400, "POST /api/tasks/", Some(json!({"project": project, "data": {}, "annotations": [{"result": []}, {"was_cancelled": "no"}]}))).await;
    assert_eq!(
        body["validation_errors"],
        json!({"annotations": {"1": {"was_cancelled": ["Must be a valid boolean."]}}})
    );

    // DELETE all tasks of the project.
    server
        .expect(204, &format!("DELETE /api/projects/{project}/tasks/"), None)
        .await;
    assert_eq!(server.task_number(project).await, 0);
}

#[tokio::test]
async fn import_accepts_label_studio_task_formats() {
    let (server, project) = server_and_project("import").await;
    // One object, data-wrapped items with annotations and predictions.
    let answer = server.import(project, json!({"text": "single"})).await;
    assert_eq!(answer["task_count"], 1);
    let answer = server.import(project, json!([
                {"data": {"text": "x"}, "annotations": [{"result": choice("pos")}], "predictions": [{"result": choice("neg"), "score": 0.5, "model_version": "m1"}]},
                {"data": {"text": "y"}, "meta": {"source": "s"}},
            ]),
        )
        .await;
    assert_eq!(answer["task_count"], 2);
    assert_eq!(answer["annotation_count"], 1);
    assert_eq!(answer["prediction_count"], 1);
    let stats = server.get_project(project).await;
    assert_eq!(stats["task_number"], 3);
    assert_eq!(stats["total_annotations_number"], 1);
    assert_eq!(stats["total_predictions_number"], 1);
    assert_eq!(stats["finished_task_number"], 1);

    for bad in [
        json!("text"),
        json!([1, 2]),
        json!([]),
        json!([{"data": "not an object"}]),
    ] {
        server
            .expect(
                400,
                &format!("POST /api/projects/{project}/import"),
                Some(bad.clone()),
            )
            .await;
    }
    assert_eq!(
        server.task_number(project).await,
        3,
        "failed imports add nothing"
    );
}

/// Uploads `content` as the file `name` to `project`'s import; the status and the answer.
async fn upload(server: &Server, project: i64, name: &str, content: &[u8]) -> (u16, Value) {
    let file = reqwest::multipart::Part::bytes(content.to_vec()).file_name(name.to_string());
    let response = server
        .client
        .post(server.url(&format!("/api/projects/{project}/import")))
        .header("Authorization", format!("Token {TOKEN}"))
        .multipart(reqwest::multipart::Form::new().part("file", file))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn import_accepts_uploaded_files() {
    let (server, project) = server_and_project("files").await;
    let files = [
        (
            "tasks.json",
            r#"[{"text": "j1"}, {"data": {"text": "j2"}}]"#.as_bytes(),
            2,
        ),
        (
            "tasks.jsonl",
            "{\"text\": \"l1\"}\n{\"text\": \"l2\"}\n".as_bytes(),
            2,
        ),
        (
            "tasks.csv",
            "text,score\nc1,1\n\"c2, quoted\",2\n".as_bytes(),
            2,
        ),
        ("tasks.tsv", "text\tscore\nt1\t1\n".as_bytes(), 1),
        (
            "tasks.txt",
            "line one\nline two\n\nline three\n".as_bytes(),
            3,
        ),
    ];
    let mut expected = 0;
    for (name, content, count) in files {
        let (status, body) = upload(&server, project, name, content).await;
        assert_eq!(status, 201, "{name}: {body}");
        assert_eq!(body["task_count"], count, "{name}: {body}");
        expected += count;
    }
    let list = server
        .get(&format!("/api/tasks/?project={project}&page_size=100"))
        .await;
    assert_eq!(list["total"], expected);
    let texts: Vec<&str> = list["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["data"]["text"].as_str())
        .collect();
    assert!(
        texts.contains(&"c2, quoted") && texts.contains(&"line three") && texts.contains(&"j2"),
        "{texts:?}"
    );

    let (status, body) = upload(&server, project, "doc.pdf", b"%PDF").await;
    assert_eq!(status, 400);
    assert!(
        body["validation_errors"]["file"][0]
            .as_str()
            .unwrap()
            .contains("doc.pdf"),
        "{body}"
    );
}

#[tokio::test]
async fn annotations_crud_matches_label_studio() {
    let (server, project) = server_and_project("ann").await;
    let task_id = server.task(project, "c").await["id"].as_i64().unwrap();
    let created = server
        .annotate(task_id, json!({"result": choice("pos"), "lead_time": 2.0}))
        .await;
    assert_same_shape(&reference("api/annotation_create.json")["body"], &created);
    assert_eq!(created["completed_by"], 1);
    let id = created["id"].as_i64().unwrap();

    let got = server.get(&format!("/api/annotations/{id}/")).await;
    assert_same_shape(&reference("api/annotation_get.json")["body"], &got);

    let patched = server
        .expect(
            200,
            &format!("PATCH /api/annotations/{id}/"),
            Some(json!({"result": []})),
        )
        .await;
    assert_same_shape(&reference("api/annotation_patch.json")["body"], &patched);
    assert_eq!(patched["result"], json!([]));
    assert_eq!(patched["lead_time"], 2.0, "PATCH keeps other fields");

    let put = server
        .expect(
            200,
            &format!("PUT /api/annotations/{id}/"),
            Some(json!({"result": choice("neg")})),
        )
        .await;
    assert_eq!(put["result"], choice("neg"));

    let list = server
        .get(&format!("/api/tasks/{task_id}/annotations/"))
        .await;
    assert_same_shape(&reference("api/task_annotations_list.json")["body"], &list);
    assert_eq!(list.as_array().unwrap().len(), 1);

    for (input, field) in [
        (json!({"result": "nope"}), "result"),
        (json!({"result": {"a": 1}}), "result"),
        (json!({"was_cancelled": "yes"}), "was_cancelled"),
        (json!({"lead_time": "slow"}), "lead_time"),
        (json!({"import_id": 1.5}), "import_id"),
        (json!({"parent_prediction": "first"}), "parent_prediction"),
    ] {
        let body = server
            .expect_field_error(
                &format!("POST /api/tasks/{task_id}/annotations/"),
                Some(input.clone()),
                field,
            )
            .await;
        // In Label Studio's words.
        let expected = match field {
            "result" => "Expected a list of result items.",
            "was_cancelled" => "Must be a valid boolean.",
            "lead_time" => "A valid number is required.",
            "import_id" => "A valid integer is required.",
            _ => "Incorrect type. Expected pk value, received str.",
        };
        assert_eq!(
            body["validation_errors"][field][0], expected,
            "{input}: {body}"
        );
    }
    server
        .expect(
            404,
            "POST /api/tasks/999/annotations/",
            Some(json!({"result": []})),
        )
        .await;

    server
        .assert_deleted(&format!("/api/annotations/{id}/"))
        .await;
}

#[tokio::test]
async fn predictions_crud() {
    let (server, project) = server_and_project("pred").await;
    let task_id = server.task(project, "c").await["id"].as_i64().unwrap();
    let created = server
        .create(
            "/api/predictions/",
            json!({"task": task_id, "result": choice("pos"), "score": 0.9, "model_version": "v1"}),
        )
        .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(created["task"], task_id);
    assert_eq!(created["project"], project);
    assert_eq!(created["score"], 0.9);
    assert_eq!(
        server.get_project(project).await["total_predictions_number"],
        1
    );
    assert_eq!(
        server.get(&format!("/api/tasks/{task_id}/")).await["predictions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let list = server
        .get(&format!("/api/predictions/?task={task_id}"))
        .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let patched = server
        .expect(
            200,
            &format!("PATCH /api/predictions/{id}/"),
            Some(json!({"score": 0.1})),
        )
        .await;
    assert_eq!(patched["score"], 0.1);
    assert_eq!(patched["model_version"], "v1");

    for (input, errors) in [
        (
            json!({"result": []}),
            json!({"task": ["This field is required."]}),
        ),
        (
            json!({"task": "x"}),
            json!({"task": ["Incorrect type. Expected pk value, received str."]}),
        ),
        (
            json!({"task": 999}),
            json!({"task": ["Invalid pk \"999\" - object does not exist."]}),
        ),
        (
            json!({"task": task_id, "score": "high"}),
            json!({"score": ["A valid number is required."]}),
        ),
        (
            json!({"task": task_id, "result": {"a": 1}}),
            json!({"result": ["Expected a list of result items."]}),
        ),
    ] {
        server
            .expect_errors("POST /api/predictions/", input, &errors)
            .await;
    }
    // The task's id may be a string of digits, as Label Studio accepts.
    let by_string = server
        .create(
            "/api/predictions/",
            json!({"task": task_id.to_string(), "result": [], "model_version": 2}),
        )
        .await;
    assert_eq!(by_string["task"], task_id);
    assert_eq!(by_string["model_version"], "2");
    server
        .expect(
            204,
            &format!("DELETE /api/predictions/{}/", by_string["id"]),
            None,
        )
        .await;
    server
        .expect(204, &format!("DELETE /api/predictions/{id}/"), None)
        .await;
    assert_eq!(
        server.get_project(project).await["total_predictions_number"],
        0
    );
}

async fn stats(server: &Server, project: i64) -> [i64; 8] {
    let p = server.get_project(project).await;
    [
        "task_number",
        "finished_task_number",
        "total_annotations_number",
        "skipped_annotations_number",
        "useful_annotation_number",
        "num_tasks_with_annotations",
        "ground_truth_number",
        "total_predictions_number",
    ]
    .map(|k| p[k].as_i64().unwrap())
}

/// The statistics of SPEC section 2 through every path that changes them.
#[tokio::test]
async fn statistics_stay_exact_through_every_path() {
    let (server, project) = server_and_project("stats").await;
    server
        .import(
            project,
            json!([{"text": "1"}, {"text": "2"}, {"text": "3"}]),
        )
        .await;
    let tasks = server.get(&format!("/api/tasks/?project={project}")).await;
    let ids = ids_of(&tasks["tasks"]);

    // The recorded example: 3 tasks, one annotated, one skipped.
    let a1 = server
        .annotate(ids[0], json!({"result": choice("pos")}))
        .await;
    let skip = server
        .annotate(ids[1], json!({"result": [], "was_cancelled": true}))
        .await;
    assert_eq!(stats(&server, project).await, [3, 1, 1, 1, 1, 1, 0, 0]);
    let task = server.get(&format!("/api/tasks/{}/", ids[1])).await;
    assert_eq!(
        (
            task["total_annotations"].as_i64(),
            task["cancelled_annotations"].as_i64()
        ),
        (Some(0), Some(1))
    );

    // Ground truth counts as total, not useful.
    let gt = server
        .annotate(
            ids[2],
            json!({"result": choice("neg"), "ground_truth": true}),
        )
        .await;
    assert_eq!(stats(&server, project).await, [3, 2, 2, 1, 1, 1, 1, 0]);

    // Un-skipping through PATCH.
    server
        .expect(
            200,
            &format!("PATCH /api/annotations/{}/", skip["id"]),
            Some(json!({"was_cancelled": false, "result": choice("pos")})),
        )
        .await;
    assert_eq!(stats(&server, project).await, [3, 3, 3, 0, 2, 2, 1, 0]);

    // Delete one annotation.
    server
        .expect(204, &format!("DELETE /api/annotations/{}/", a1["id"]), None)
        .await;
    assert_eq!(stats(&server, project).await, [3, 2, 2, 0, 1, 1, 1, 0]);

    // Overlap 2: nothing is finished with one annotation each.
    server
        .patch_project(project, json!({"maximum_annotations": 2}))
        .await;
    assert_eq!(stats(&server, project).await, [3, 0, 2, 0, 1, 1, 1, 0]);
    server
        .patch_project(project, json!({"maximum_annotations": 1}))
        .await;

    // Predictions, and converting them into annotations.
    server
        .create(
            "/api/predictions/",
            json!({"task": ids[0], "result": choice("pos")}),
        )
        .await;
    assert_eq!(stats(&server, project).await, [3, 2, 2, 0, 1, 1, 1, 1]);
    let body = server
        .dm_action(
            200,
            "predictions_to_annotations",
            project,
            selected(&[ids[0]]),
        )
        .await;
    assert_eq!(body["processed_items"], 1);
    assert_eq!(stats(&server, project).await, [3, 3, 3, 0, 2, 2, 1, 1]);

    // Data manager: delete the annotations of one task, then delete a task.
    server
        .dm_action(
            200,
            "delete_tasks_annotations",
            project,
            selected(&[ids[2]]),
        )
        .await;
    let _ = gt;
    assert_eq!(stats(&server, project).await, [3, 2, 2, 0, 2, 2, 0, 1]);
    server
        .dm_action(200, "delete_tasks", project, selected(&[ids[0]]))
        .await;
    assert_eq!(stats(&server, project).await, [2, 1, 1, 0, 1, 1, 0, 0]);

    // Single task delete, then all.
    server
        .expect(204, &format!("DELETE /api/tasks/{}/", ids[1]), None)
        .await;
    assert_eq!(stats(&server, project).await, [1, 0, 0, 0, 0, 0, 0, 0]);
    server
        .expect(204, &format!("DELETE /api/projects/{project}/tasks/"), None)
        .await;
    assert_eq!(stats(&server, project).await, [0, 0, 0, 0, 0, 0, 0, 0]);
}

#[tokio::test]
async fn ignore_skipped_counts_skips_as_finished() {
    let (server, project) = server_and_project("skips").await;
    server
        .patch_project(project, json!({"skip_queue": "IGNORE_SKIPPED"}))
        .await;
    let task = server.task(project, "c").await;
    server
        .annotate(&task["id"], json!({"was_cancelled": true}))
        .await;
    let p = server.get_project(project).await;
    assert_eq!(p["finished_task_number"], 1);
    assert_eq!(p["skipped_annotations_number"], 1);
    assert_eq!(p["total_annotations_number"], 0);
}

#[tokio::test]
async fn data_manager_actions_validate_and_stay_in_the_project() {
    let (server, p1) = server_and_project("one").await;
    let p2 = server.project("two").await;
    let t2 = server.task(p2, "other").await;
    server
        .import(p1, json!([{"text": "a"}, {"text": "b"}]))
        .await;
    // Selecting a task of another project deletes nothing there.
    let body = server
        .dm_action(200, "delete_tasks", p1, selected(&[&t2["id"]]))
        .await;
    assert_eq!(body["processed_items"], 0);
    assert_eq!(server.task_number(p2).await, 1);
    // all: true with an exclusion.
    let list = server.get(&format!("/api/tasks/?project={p1}")).await;
    let keep = list["tasks"][0]["id"].clone();
    let body = server
        .dm_action(
            200,
            "delete_tasks",
            p1,
            json!({"selectedItems": {"all": true, "excluded": [keep]}}),
        )
        .await;
    assert_eq!(body["processed_items"], 1);
    assert_eq!(server.task_number(p1).await, 1);

    for (path, body) in [
        (
            format!("/api/dm/actions?id=unknown&project={p1}"),
            json!({"selectedItems": {"all": true}}),
        ),
        (
            "/api/dm/actions?id=delete_tasks".to_string(),
            json!({"selectedItems": {"all": true}}),
        ),
        (
            format!("/api/dm/actions?id=delete_tasks&project={p1}"),
            json!({}),
        ),
        (
            format!("/api/dm/actions?id=delete_tasks&project={p1}"),
            json!({"selectedItems": {"all": "yes"}}),
        ),
    ] {
        server
            .expect(400, &format!("POST {path}"), Some(body.clone()))
            .await;
    }
    server
        .expect(
            404,
            "POST /api/dm/actions?id=delete_tasks&project=999",
            Some(json!({"selectedItems": {"all": true}})),
        )
        .await;
}

/// Nothing of one organization is visible to another: 404 for every method.
#[tokio::test]
async fn organizations_are_isolated() {
    let (server, project) = server_and_project("mine").await;
    let task = server.task(project, "c").await;
    let annotation = server.annotate(&task["id"], json!({"result": []})).await;
    let prediction = server
        .create(
            "/api/predictions/",
            json!({"task": task["id"], "result": []}),
        )
        .await;
    let webhook = server
        .webhook(json!({"url": "http://127.0.0.1:9/x", "project": project}))
        .await;
    let other = server.other_organization("other@example.com");

    let paths = [
        format!("/api/projects/{project}/"),
        format!("/api/tasks/{}/", task["id"]),
        format!("/api/annotations/{}/", annotation["id"]),
        format!("/api/predictions/{}/", prediction["id"]),
        format!("/api/webhooks/{}/", webhook["id"]),
    ];
    for path in &paths {
        for method in ["GET", "PATCH", "DELETE"] {
            let body = (method == "PATCH").then(|| json!({}));
            let (status, answer) = server.call_as(&other, method, path, body).await;
            assert_eq!(
                status, 404,
                "{method} {path} by another organization: {answer}"
            );
        }
    }
    for (method, path, body) in [
        (
            "POST",
            format!("/api/tasks/{}/annotations/", task["id"]),
            json!({"result": []}),
        ),
        (
            "POST",
            format!("/api/projects/{project}/import"),
            json!([{"text": "x"}]),
        ),
        ("GET", format!("/api/tasks/?project={project}"), json!(null)),
        (
            "GET",
            format!("/api/tasks/{}/annotations/", task["id"]),
            json!(null),
        ),
        (
            "DELETE",
            format!("/api/projects/{project}/tasks/"),
            json!(null),
        ),
        (
            "POST",
            format!("/api/dm/actions?id=delete_tasks&project={project}"),
            json!({"selectedItems": {"all": true}}),
        ),
    ] {
        server
            .expect_as(&other, 404, &format!("{method} {path}"), Some(body))
            .await;
    }
    server
        .expect_as(
            &other,
            400,
            "POST /api/tasks/",
            Some(json!({"project": project, "data": {}})),
        )
        .await;
    server
        .expect_as(
            &other,
            400,
            "POST /api/predictions/",
            Some(json!({"task": task["id"], "result": []})),
        )
        .await;
    server
        .expect_as(
            &other,
            404,
            "POST /api/webhooks/",
            Some(json!({"url": "http://127.0.0.1:9/x", "project": project})),
        )
        .await;

    let (_, projects) = server.call_as(&other, "GET", "/api/projects/", None).await;
    assert_eq!(projects["count"], 0);
    let (_, hooks) = server.call_as(&other, "GET", "/api/webhooks/", None).await;
    assert_eq!(hooks, json!([]));
    let (_, predictions) = server
        .call_as(&other, "GET", "/api/predictions/", None)
        .await;
    assert_eq!(predictions, json!([]));
    // And the owner still sees everything.
    assert_eq!(server.task_number(project).await, 1);
}

/// Nullable numbers stay right whichever comes first (a NULL first once broke PostgreSQL's
/// cached statement types).
#[tokio::test]
async fn nullable_numbers_round_trip_in_any_order() {
    let (server, project) = server_and_project("numbers").await;
    let task = server.task(project, "x").await;
    let path = format!("/api/tasks/{}/annotations/", task["id"]);
    let none = server.create(&path, json!({"result": []})).await;
    assert!(none["lead_time"].is_null());
    let some = server
        .create(&path, json!({"result": [], "lead_time": 2.5}))
        .await;
    assert_eq!(some["lead_time"], 2.5);
    let (_, patched) = server
        .call(
            "PATCH",
            &format!("/api/annotations/{}/", none["id"]),
            Some(json!({"lead_time": 7})),
        )
        .await;
    assert_eq!(patched["lead_time"], 7.0);
    let (_, cleared) = server
        .call(
            "PATCH",
            &format!("/api/annotations/{}/", some["id"]),
            Some(json!({"lead_time": null})),
        )
        .await;
    assert!(cleared["lead_time"].is_null());
    let first = server
        .create(
            "/api/predictions/",
            json!({"task": task["id"], "result": []}),
        )
        .await;
    assert!(first["score"].is_null());
    let second = server
        .create(
            "/api/predictions/",
            json!({"task": task["id"], "result": [], "score": 0.25}),
        )
        .await;
    assert_eq!(second["score"], 0.25);
    let (_, patched) = server
        .call(
            "PATCH",
            &format!("/api/predictions/{}/", first["id"]),
            Some(json!({"score": 1e-3})),
        )
        .await;
    assert_eq!(patched["score"], 0.001);
}

/// `?query=` as the data manager sends it: JSON, percent-encoded.
fn dm_query(query: Value) -> String {
    query
        .to_string()
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn the_task_table_filters_sorts_and_acts_on_what_it_shows() {
    let (server, project) = server_and_project("table").await;
    server
        .import(
            project,
            json!([{"text": "a"}, {"text": "b"}, {"text": "c"}, {"text": "d"}]),
        )
        .await;
    let all = server.get(&format!("/api/tasks/?project={project}")).await;
    let ids = ids_of(&all["tasks"]);
    let result = json!([{"from_name": "sentiment", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]);
    server.annotate(ids[1], json!({"result": result})).await;
    server
        .annotate(ids[2], json!({"result": [], "was_cancelled": true}))
        .await;

    let page = |query: Value| {
        let server = &server;
        async move {
            let found = server
                .get(&format!(
                    "/api/tasks/?project={project}&query={}",
                    dm_query(query)
                ))
                .await;
            let ids = ids_of(&found["tasks"]);
            (ids, found["total"].as_i64().unwrap())
        }
    };
    let filter = |name: &str, operator: &str, value: Value| json!({"filters": {"conjunction": "and", "items": [{"filter": format!("filter:tasks:{name}"), "operator": operator, "value": value, "type": "Number"}]}});

    // Labeled and not labeled split the project; a skip is a cancelled annotation.
    let (labeled, labeled_total) = page(filter("completed_at", "empty", json!(false))).await;
    let (unlabeled, unlabeled_total) = page(filter("completed_at", "empty", json!(true))).await;
    assert_eq!(labeled_total + unlabeled_total, 4);
    assert!(labeled.contains(&ids[1]), "{labeled:?}");
    assert!(unlabeled.contains(&ids[0]) && unlabeled.contains(&ids[3]));
    assert_eq!(
        page(filter("cancelled_annotations", "greater", json!(0))).await,
        (vec![ids[2]], 1)
    );
    assert_eq!(
        page(filter("total_annotations", "equal", json!("1"))).await,
        (vec![ids[1]], 1)
    );
    // Ordering: the first key, `-` descending, ties by id in the same direction.
    let (order, _) = page(json!({"ordering": ["-tasks:total_annotations"]})).await;
    assert_eq!(order, vec![ids[1], ids[3], ids[2], ids[0]]);
    let (order, _) = page(json!({"ordering": ["-tasks:id"]})).await;
    assert_eq!(order, vec![ids[3], ids[2], ids[1], ids[0]]);

    // What the table cannot do is a 400 naming `query`.
    for bad in [
        "not-json".to_string(),
        dm_query(json!([1])),
        dm_query(json!({"ordering": ["data.text"]})),
        dm_query(filter("annotators", "contains", json!(1))),
        dm_query(filter("total_annotations", "greater", json!("many"))),
        dm_query(json!({"filters": {"conjunction": "xor", "items": []}})),
    ] {
        server
            .expect_field_error(
                &format!("GET /api/tasks/?project={project}&query={bad}"),
                None,
                "query",
            )
            .await;
    }

    // "Select all" of a filtered table acts on the tasks it shows, minus the excluded.
    server
        .dm_action(
            200,
            "delete_tasks",
            project,
            json!({
                "selectedItems": {"all": true, "excluded": [ids[3]]},
                "filters": filter("completed_at", "empty", json!(true))["filters"],
            }),
        )
        .await;
    let (left, total) = page(json!({})).await;
    assert_eq!(total, 4 - (unlabeled_total - 1));
    assert!(left.contains(&ids[1]) && left.contains(&ids[3]), "{left:?}");
    let body = server.dm_action(400, "delete_tasks", project, json!({"selectedItems": {"all": true}, "filters": {"items": [{"filter": "filter:tasks:data.text"}]}})).await;
    assert!(body["validation_errors"]["filters"].is_array(), "{body}");
}
