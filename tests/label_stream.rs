//! The label stream (`GET /api/projects/{id}/next/`), its task locks, and ML backends
//! asked to predict a task as it opens. Several annotators are users of one organization,
//! made with `labelhook admin create-user`; model servers are real HTTP servers on
//! loopback.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use common::{Server, eventually, ids_of};
use serde_json::{Value, json};

/// A user of the admin's organization; returns its token.
fn annotator(server: &Server, email: &str) -> String {
    let token = format!("token-{}", email.replace(['@', '.'], "-"));
    server.admin_token(&[
        "create-user",
        "--organization",
        "1",
        "--email",
        email,
        "--token",
        &token,
    ]);
    token
}

async fn project_with_tasks(server: &Server, settings: Value, texts: &[&str]) -> (i64, Vec<i64>) {
    let project = server.project("stream").await;
    if settings.as_object().is_some_and(|s| !s.is_empty()) {
        server.patch_project(project, settings).await;
    }
    let tasks: Vec<Value> = texts.iter().map(|t| json!({"text": t})).collect();
    server
        .create(&format!("/api/projects/{project}/import"), json!(tasks))
        .await;
    let list = server.get(&format!("/api/tasks/?project={project}")).await;
    let mut ids = ids_of(&list["tasks"]);
    ids.sort();
    (project, ids)
}

async fn next(server: &Server, token: &str, project: i64) -> (u16, Value) {
    server
        .call_as(
            token,
            "GET",
            &format!("/api/projects/{project}/next/"),
            None,
        )
        .await
}

async fn next_id(server: &Server, token: &str, project: i64) -> i64 {
    let (status, body) = next(server, token, project).await;
    assert_eq!(status, 200, "{body}");
    body["id"].as_i64().expect("task id")
}

async fn submit(server: &Server, token: &str, task: i64, cancelled: bool) {
    server
        .expect_as(
            token,
            201,
            &format!("POST /api/tasks/{task}/annotations/"),
            Some(json!({"result": [], "was_cancelled": cancelled, "lead_time": 1.5})),
        )
        .await;
}

#[tokio::test]
async fn the_stream_follows_label_studios_rules() {
    let server = Server::start();
    let ann = annotator(&server, "ann@example.com");
    let bob = annotator(&server, "bob@example.com");
    let (project, tasks) = project_with_tasks(&server, json!({}), &["a", "b", "c"]).await;

    // Sequential sampling: the first task, locked for ann; asked again, the same one.
    let (status, first) = next(&server, &ann, project).await;
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["id"], tasks[0]);
    assert_eq!(first["queue"], "Sequence queue");
    assert!(first["unique_lock_id"].is_string(), "{first}");
    assert_eq!(first["annotations"], json!([]));
    assert_eq!(first["data"]["text"], "a");
    let (_, again) = next(&server, &ann, project).await;
    assert_eq!(again["id"], tasks[0]);
    assert_eq!(again["queue"], "Task lock");

    // Overlap 1: bob does not get the task ann is labeling.
    assert_eq!(next_id(&server, &bob, project).await, tasks[1]);

    // A submit releases the lock and moves ann on, past bob's task.
    submit(&server, &ann, tasks[0], false).await;
    assert_eq!(next_id(&server, &ann, project).await, tasks[2]);

    // Bob skips: his skipped task is not his again, the finished one neither, and ann
    // holds the last one: nothing left for him, in Label Studio's words.
    submit(&server, &bob, tasks[1], true).await;
    let (status, body) = next(&server, &bob, project).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["detail"], "There are no tasks for bob@example.com");
    assert_eq!(body["status_code"], 404);

    // Ann leaves the page: the task is bob's at once.
    server
        .expect_as(
            &ann,
            204,
            &format!("DELETE /api/tasks/{}/lock", tasks[2]),
            None,
        )
        .await;
    assert_eq!(next_id(&server, &bob, project).await, tasks[2]);

    // Ann skipped nothing and annotated task 0: task 1 was skipped by bob, and skips go
    // to others (REQUEUE_FOR_OTHERS, the default), so it is ann's now.
    assert_eq!(next_id(&server, &ann, project).await, tasks[1]);

    // Another organization's user sees neither the project nor its locks.
    let stranger = server.other_organization("stranger@example.com");
    let (status, _) = next(&server, &stranger, project).await;
    assert_eq!(status, 404);
    server
        .expect_as(
            &stranger,
            404,
            &format!("DELETE /api/tasks/{}/lock", tasks[1]),
            None,
        )
        .await;
}

#[tokio::test]
async fn started_tasks_come_first_when_tasks_need_several_annotations() {
    let server = Server::start();
    let ann = annotator(&server, "ann@example.com");
    let bob = annotator(&server, "bob@example.com");
    let (project, tasks) =
        project_with_tasks(&server, json!({"maximum_annotations": 2}), &["a", "b", "c"]).await;
    let (_, task) = server
        .call("GET", &format!("/api/tasks/{}/", tasks[2]), None)
        .await;
    assert_eq!(task["overlap"], 2);

    // The admin annotated the last task: breadth first, it is the one to finish.
    submit(&server, common::TOKEN, tasks[2], false).await;
    let (status, body) = next(&server, &ann, project).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tasks[2]);
    assert_eq!(body["queue"], "Breadth first queue");
    // Its second place is ann's now: bob starts the first task.
    assert_eq!(next_id(&server, &bob, project).await, tasks[0]);
}

#[tokio::test]
async fn skipped_tasks_come_back_to_their_annotator_when_the_project_says_so() {
    let server = Server::start();
    let ann = annotator(&server, "ann@example.com");
    let (project, tasks) = project_with_tasks(
        &server,
        json!({"skip_queue": "REQUEUE_FOR_ME"}),
        &["a", "b"],
    )
    .await;
    assert_eq!(next_id(&server, &ann, project).await, tasks[0]);
    submit(&server, &ann, tasks[0], true).await;
    assert_eq!(next_id(&server, &ann, project).await, tasks[1]);
    submit(&server, &ann, tasks[1], false).await;
    let (status, body) = next(&server, &ann, project).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], tasks[0]);
    assert_eq!(body["queue"], "Skipped queue");
}

#[tokio::test]
async fn an_expired_lock_frees_its_task() {
    let server = Server::start_with(&[("TASK_LOCK_TTL", "1")]);
    let ann = annotator(&server, "ann@example.com");
    let bob = annotator(&server, "bob@example.com");
    let (project, tasks) = project_with_tasks(&server, json!({}), &["only"]).await;
    assert_eq!(next_id(&server, &ann, project).await, tasks[0]);
    let (status, _) = next(&server, &bob, project).await;
    assert_eq!(status, 404, "locked by ann");
    let id = eventually(10, "ann's lock to expire", || async {
        let (status, body) = next(&server, &bob, project).await;
        (status == 200).then(|| body["id"].as_i64().unwrap())
    })
    .await;
    assert_eq!(id, tasks[0]);
}

/// Many annotators asking at once: every task goes to at most `overlap` of them, and
/// everyone who could get one does. On PostgreSQL the requests really run in parallel.
#[tokio::test]
async fn concurrent_annotators_never_get_a_task_beyond_its_overlap() {
    let server = Server::start();
    let people: Vec<String> = (0..16)
        .map(|n| annotator(&server, &format!("a{n}@example.com")))
        .collect();
    let (project, tasks) = project_with_tasks(
        &server,
        json!({"maximum_annotations": 2}),
        &["1", "2", "3", "4", "5"],
    )
    .await;
    let server = Arc::new(server);
    let mut asks = Vec::new();
    for token in &people {
        let (server, token) = (server.clone(), token.clone());
        asks.push(tokio::spawn(
            async move { next(&server, &token, project).await },
        ));
    }
    let mut given = Vec::new();
    let mut refused = 0;
    for ask in asks {
        let (status, body) = ask.await.expect("request");
        match status {
            200 => given.push(body["id"].as_i64().unwrap()),
            404 => refused += 1,
            other => panic!("unexpected {other}: {body}"),
        }
    }
    for task in &tasks {
        let holders = given.iter().filter(|id| *id == task).count();
        assert!(holders <= 2, "task {task} went to {holders} annotators");
    }
    assert_eq!(
        given.len(),
        10,
        "5 tasks × overlap 2 places; {refused} refused"
    );
    assert_eq!(refused, 6);
}

/// A model server on loopback: answers `/predict` as told, and records the requests.
#[derive(Clone)]
struct Model {
    got: Arc<Mutex<Vec<Value>>>,
    answer: Arc<Mutex<(u16, Value, u64)>>,
}

impl Model {
    async fn start() -> (Model, String) {
        let model = Model {
            got: Arc::default(),
            answer: Arc::new(Mutex::new((200, json!({}), 0))),
        };
        let app = axum::Router::new()
            .route("/predict", axum::routing::post(predict))
            .with_state(model.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        (model, url)
    }

    fn answer(&self, status: u16, body: Value, delay_ms: u64) {
        *self.answer.lock().unwrap() = (status, body, delay_ms);
    }

    fn requests(&self) -> Vec<Value> {
        self.got.lock().unwrap().clone()
    }
}

async fn predict(State(model): State<Model>, Json(body): Json<Value>) -> (StatusCode, Json<Value>) {
    model.got.lock().unwrap().push(body);
    let (status, answer, delay) = model.answer.lock().unwrap().clone();
    tokio::time::sleep(Duration::from_millis(delay)).await;
    (StatusCode::from_u16(status).unwrap(), Json(answer))
}

async fn raw_next(server: &Server, project: i64) -> (u16, Option<String>, Value) {
    let response = server
        .client
        .get(server.url(&format!("/api/projects/{project}/next/")))
        .header("Authorization", format!("Token {}", common::TOKEN))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let header = response
        .headers()
        .get("labelhook-prediction-error")
        .map(|v| v.to_str().unwrap().to_string());
    (status, header, response.json().await.unwrap())
}

#[tokio::test]
async fn ml_backends_predict_tasks_as_they_open() {
    let server = Server::start_with(&[
        ("SSRF_PROTECTION_ENABLED", "false"),
        ("LABELHOOK_PREDICT_ON_OPEN_TIMEOUT", "1"),
    ]);
    let (model, url) = Model::start().await;
    let (project, tasks) = project_with_tasks(&server, json!({}), &["a", "b", "c", "d"]).await;
    server
        .create(
            "/api/ml/",
            json!({"url": url, "project": project, "title": "model"}),
        )
        .await;
    let choice = json!([{"from_name": "label", "to_name": "text", "type": "choices",
        "value": {"choices": ["pos"]}}]);
    model.answer(
        200,
        json!({"results": [{"result": choice, "score": 0.87, "model_version": "m-1"}]}),
        0,
    );

    // The first task opens with the model's prediction, stored.
    let (status, error, task) = raw_next(&server, project).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(error, None);
    assert_eq!(task["id"], tasks[0]);
    assert_eq!(task["predictions"].as_array().unwrap().len(), 1, "{task}");
    assert_eq!(task["predictions"][0]["model_version"], "m-1");
    assert_eq!(task["predictions"][0]["score"], 0.87);
    assert_eq!(task["predictions"][0]["result"], choice);
    // Made by the request of the user who opened the task.
    let opener = server.get("/api/current-user/whoami").await["id"].clone();
    assert_eq!(task["predictions"][0]["created_by"], opener);
    let stored = server
        .get(&format!("/api/predictions/?task={}", tasks[0]))
        .await;
    assert_eq!(stored.as_array().unwrap().len(), 1, "{stored}");
    // Label Studio's request: the task, the project's id and creation time, the config.
    let sent = model.requests();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0]["tasks"][0]["id"], tasks[0]);
    assert_eq!(sent[0]["tasks"][0]["data"]["text"], "a");
    assert!(
        sent[0]["project"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{project}.")),
        "{}",
        sent[0]["project"]
    );
    assert!(
        sent[0]["label_config"]
            .as_str()
            .unwrap()
            .contains("<Choices")
    );
    assert!(sent[0]["params"].is_object());

    // Opened again (the lock holds it): it has a prediction, the model is not asked.
    let (_, _, again) = raw_next(&server, project).await;
    assert_eq!(again["id"], tasks[0]);
    assert_eq!(model.requests().len(), 1);
    submit(&server, common::TOKEN, tasks[0], false).await;

    // A failing model: the task opens without predictions, and the page is told why.
    model.answer(500, json!({"error": "out of memory"}), 0);
    let (status, error, task) = raw_next(&server, project).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["id"], tasks[1]);
    assert_eq!(task["predictions"], json!([]));
    let error = error.expect("the error header");
    assert!(error.contains("HTTP 500"), "{error}");
    submit(&server, common::TOKEN, tasks[1], false).await;

    // A slow model is given up on after the timeout.
    model.answer(200, json!({"results": [{"result": choice}]}), 5_000);
    let (status, error, task) = raw_next(&server, project).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["predictions"], json!([]));
    let error = error.expect("the error header");
    assert!(error.contains("did not answer within"), "{error}");
    submit(&server, common::TOKEN, tasks[2], false).await;

    // An answer that is not Label Studio's shape is an error too, not a 500.
    model.answer(200, json!({"predictions": []}), 0);
    let (status, error, _) = raw_next(&server, project).await;
    assert_eq!(status, 200);
    assert!(error.expect("header").contains("without a list of results"));

    // Opening one task (`GET /api/tasks/{id}/`) asks the model too, as Label Studio does.
    model.answer(
        200,
        json!({"results": [{"result": choice, "score": 0.5}]}),
        0,
    );
    let task = server.get(&format!("/api/tasks/{}/", tasks[3])).await;
    assert_eq!(task["predictions"].as_array().unwrap().len(), 1, "{task}");
    assert_eq!(task["predictions"][0]["score"], 0.5);
}
