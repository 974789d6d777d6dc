//! Export, black-box, against what Label Studio 1.23.2 wrote for the same data.
//!
//! `export_fixtures/scenario.json` describes projects of each kind (text classification,
//! named entities, image boxes and polygons, text area + rating) with multi-annotation,
//! skipped and unannotated tasks and predictions. `record_label_studio.py` built them on a
//! fresh Label Studio and recorded every export under `export_fixtures/label-studio-1.23.2/`;
//! these tests build them on a fresh labelhook (so ids agree) and compare byte for byte,
//! after replacing what differs by nature: times, UUIDs, the hash in file names, and the
//! creation date inside COCO/YOLO files.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::path::PathBuf;

use common::{Server, TOKEN, eventually, ids_of};
use md5::Digest;
use regex::Regex;
use serde_json::{Value, json};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/export_fixtures")
}

/// A recorded answer of Label Studio, as JSON.
fn recorded_json(slug: &str, name: &str) -> Value {
    serde_json::from_slice(&recorded(slug, name)).unwrap()
}

fn recorded(slug: &str, name: &str) -> Vec<u8> {
    let path = fixtures().join("label-studio-1.23.2").join(slug).join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

fn responses() -> Value {
    let text = std::fs::read_to_string(fixtures().join("label-studio-1.23.2/responses.json"))
        .expect("responses.json");
    serde_json::from_str(&text).expect("responses.json is JSON")
}

fn scenario() -> Value {
    let text = std::fs::read_to_string(fixtures().join("scenario.json")).expect("scenario");
    serde_json::from_str(&text).expect("scenario is JSON")
}

/// Builds the scenario's projects as the recorder did on Label Studio; returns each
/// project's slug and id.
async fn build(server: &Server) -> Vec<(String, i64)> {
    let mut built = Vec::new();
    for project in scenario()["projects"].as_array().unwrap() {
        let created = server
            .create(
                "/api/projects/",
                json!({"title": project["title"], "label_config": project["label_config"]}),
            )
            .await;
        let id = created["id"].as_i64().unwrap();
        let tasks = project["tasks"].as_array().unwrap();
        let items: Vec<Value> = tasks.iter().map(|t| json!({"data": t["data"]})).collect();
        server
            .create(&format!("/api/projects/{id}/import"), Value::Array(items))
            .await;
        let listed = server
            .get(&format!("/api/projects/{id}/tasks/?page_size=100"))
            .await;
        let mut task_ids = ids_of(&listed);
        task_ids.sort_unstable();
        for (task_id, task) in task_ids.iter().zip(tasks) {
            for annotation in task["annotations"].as_array().into_iter().flatten() {
                let mut body =
                    json!({"result": annotation["result"], "lead_time": annotation["lead_time"]});
                if annotation["was_cancelled"] == json!(true) {
                    body["was_cancelled"] = json!(true);
                }
                server.annotate(task_id, body).await;
            }
            for prediction in task["predictions"].as_array().into_iter().flatten() {
                let mut body = prediction.clone();
                body["task"] = json!(task_id);
                server.create("/api/predictions/", body).await;
            }
        }
        built.push((project["slug"].as_str().unwrap().to_string(), id));
    }
    built
}

/// What differs by nature between two servers: times, UUIDs, the creation date inside
/// COCO and YOLO files.
fn normalize(text: &str) -> String {
    let times = Regex::new(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z").unwrap();
    let uuids =
        Regex::new(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}").unwrap();
    let created = Regex::new(r#""date_created": "[^"]*""#).unwrap();
    let year = Regex::new(r#""year": \d{4}"#).unwrap();
    let text = times.replace_all(text, "<time>");
    let text = uuids.replace_all(&text, "<uuid>");
    let text = created.replace_all(&text, r#""date_created": "<now>""#);
    year.replace_all(&text, r#""year": <year>"#).into_owned()
}

/// A file name with its time and hash replaced.
fn normalize_name(name: &str) -> String {
    let stamp = Regex::new(r"-at-\d{4}-\d\d-\d\d-\d\d-\d\d-[0-9a-f]{8}").unwrap();
    stamp.replace_all(name, "-at-<time>-<hash>").into_owned()
}

/// Panics with the first differing line of two texts.
fn assert_same_text(what: &str, expected: &str, actual: &str) {
    if expected == actual {
        return;
    }
    let (e, a): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), actual.split('\n').collect());
    let line = e
        .iter()
        .zip(&a)
        .position(|(x, y)| x != y)
        .unwrap_or(e.len().min(a.len()));
    let show =
        |lines: &[&str]| lines[line.saturating_sub(2)..(line + 3).min(lines.len())].join("\n");
    panic!(
        "{what} differs from Label Studio's at line {}:\n--- Label Studio\n{}\n--- labelhook\n{}\n(lengths {} and {})",
        line + 1,
        show(&e),
        show(&a),
        expected.len(),
        actual.len()
    );
}

/// The entries of a zip, name → content.
fn unzip(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).expect("a zip");
    let mut entries = BTreeMap::new();
    for i in 0..archive.len() {
        let mut file = archive.by_index(i).unwrap();
        let mut content = Vec::new();
        file.read_to_end(&mut content).unwrap();
        entries.insert(file.name().expect("entry name").to_string(), content);
    }
    entries
}

/// Compares a file labelhook sent with Label Studio's.
fn assert_same_file(what: &str, expected: &[u8], actual: &[u8]) {
    if expected.starts_with(b"PK") {
        let (expected, actual) = (unzip(expected), unzip(actual));
        assert_eq!(
            expected.keys().collect::<Vec<_>>(),
            actual.keys().collect::<Vec<_>>(),
            "{what}: zip entries"
        );
        for (name, content) in &expected {
            assert_same_text(
                &format!("{what}: {name}"),
                &normalize(&String::from_utf8_lossy(content)),
                &normalize(&String::from_utf8_lossy(&actual[name])),
            );
        }
    } else {
        assert_same_text(
            what,
            &normalize(&String::from_utf8_lossy(expected)),
            &normalize(&String::from_utf8_lossy(actual)),
        );
    }
}

struct Answer {
    status: u16,
    content_type: Option<String>,
    disposition: Option<String>,
    filename: Option<String>,
    body: Vec<u8>,
}

async fn fetch(server: &Server, method: &str, path: &str, body: Option<Value>) -> Answer {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = server
        .client
        .request(method, server.url(path))
        .header("Authorization", format!("Token {TOKEN}"));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("request");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    Answer {
        status: response.status().as_u16(),
        content_type: header("content-type"),
        disposition: header("content-disposition"),
        filename: header("filename"),
        body: response.bytes().await.expect("body").to_vec(),
    }
}

/// Checks one recorded download against labelhook's answer to the same request.
fn check_download(slug: &str, name: &str, recorded_answer: &Value, answer: &Answer) {
    let what = format!("{slug}/{name}");
    assert_eq!(
        answer.status,
        200,
        "{what}: {}",
        String::from_utf8_lossy(&answer.body)
    );
    assert_eq!(
        answer.content_type.as_deref(),
        recorded_answer["content_type"].as_str(),
        "{what}: content type"
    );
    for (header, got) in [
        ("content_disposition", &answer.disposition),
        ("filename", &answer.filename),
    ] {
        assert_eq!(
            got.as_deref().map(normalize_name),
            recorded_answer[header].as_str().map(normalize_name),
            "{what}: {header}"
        );
    }
    assert_same_file(&what, &recorded(slug, name), &answer.body);
}

/// A fresh server whose admin is Label Studio's recording user (`a@b.c`, id 1).
fn start() -> Server {
    Server::start_with(&[("LABELHOOK_ADMIN_EMAIL", "a@b.c")])
}

async fn snapshot_completed(server: &Server, project: i64, id: i64) -> Value {
    eventually(60, "the snapshot to complete", || async {
        let snapshot = server
            .get(&format!("/api/projects/{project}/exports/{id}"))
            .await;
        (snapshot["status"] == "completed").then_some(snapshot)
    })
    .await
}

#[tokio::test]
async fn every_format_and_route_writes_what_label_studio_writes() {
    let server = start();
    let built = build(&server).await;
    let responses = responses();
    for (slug, project) in &built {
        let recorded_answers = responses[slug].as_object().unwrap();

        // The format list: Label Studio's, plus labelhook's reasons for disabled ones.
        let formats = server
            .get(&format!("/api/projects/{project}/export/formats"))
            .await;
        let expected = recorded_json(slug, "formats.json");
        let ours: Vec<Value> = formats
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                let mut f = f.clone();
                f.as_object_mut().unwrap().remove("disabled_reason");
                f
            })
            .collect();
        for format in expected.as_array().unwrap() {
            let name = &format["name"];
            let mine = ours.iter().find(|f| &f["name"] == name).unwrap();
            let implemented = [
                "JSON",
                "JSON_MIN",
                "CSV",
                "TSV",
                "CONLL2003",
                "COCO",
                "YOLO",
            ];
            if implemented.contains(&name.as_str().unwrap()) || format["disabled"] == json!(true) {
                assert_eq!(mine, format, "{slug}: format {name}");
            } else {
                assert_eq!(
                    mine["disabled"],
                    json!(true),
                    "{slug}: {name} is not written"
                );
            }
        }

        // Direct exports: every recorded one, the same request.
        for (name, answer) in recorded_answers {
            if !name.starts_with("export-") {
                continue;
            }
            let request = answer["request"].as_str().unwrap();
            let path = request.strip_prefix("GET ").unwrap();
            let got = fetch(&server, "GET", path, None).await;
            check_download(slug, name, answer, &got);
        }

        // A snapshot: created, built, downloaded as JSON and converted to each format.
        let created = server
            .expect(
                201,
                &format!("POST /api/projects/{project}/exports/"),
                Some(json!({"title": ""})),
            )
            .await;
        // Label Studio (without a job queue) builds before answering; labelhook answers at
        // once with the same keys and builds in the background.
        let expected = recorded_json(slug, "snapshot-create.json");
        let keys = |v: &Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(
            keys(&created),
            keys(&expected),
            "{slug}: the create answer's keys"
        );
        assert!(
            ["created", "in_progress", "completed"].contains(&created["status"].as_str().unwrap())
        );
        let id = created["id"].as_i64().unwrap();
        let snapshot = snapshot_completed(&server, *project, id).await;
        let expected = recorded_json(slug, "snapshot-get.json");
        common::assert_same_shape(&expected, &snapshot);
        // `<title>-at-<Y-m-d-H-M>`, as Label Studio names it.
        let prefix = expected["title"]
            .as_str()
            .unwrap()
            .rsplit_once("-at-")
            .unwrap()
            .0;
        let title = Regex::new(&format!(
            r"^{}-at-\d{{4}}-\d\d-\d\d-\d\d-\d\d$",
            regex::escape(prefix)
        ))
        .unwrap();
        assert!(
            title.is_match(snapshot["title"].as_str().unwrap()),
            "{snapshot}"
        );
        assert_eq!(
            snapshot["counters"], expected["counters"],
            "{slug}: counters"
        );
        let base = format!("/api/projects/{project}/exports/{id}");
        let convert = format!("POST {base}/convert");
        let got = fetch(&server, "GET", &format!("{base}/download"), None).await;
        check_download(
            slug,
            "snapshot-download-JSON.json",
            &recorded_answers["snapshot-download-JSON.json"],
            &got,
        );
        assert_eq!(
            md5::Md5::digest(&got.body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            snapshot["md5"].as_str().unwrap(),
            "{slug}: the snapshot's md5 is its file's"
        );
        let got = fetch(
            &server,
            "GET",
            &format!("{base}/download?exportType=JSON"),
            None,
        )
        .await;
        check_download(
            slug,
            "snapshot-download-exportType-JSON.json",
            &recorded_answers["snapshot-download-exportType-JSON.json"],
            &got,
        );
        for name in recorded_answers.keys() {
            let Some(format) = name
                .strip_prefix("snapshot-convert-")
                .and_then(|rest| rest.strip_suffix(".json"))
                .filter(|f| *f != "again")
            else {
                continue;
            };
            // Downloading converts at once, before any `convert` (as Label Studio does).
            let download = recorded_answers
                .keys()
                .find(|k| k.starts_with(&format!("snapshot-download-{format}.")))
                .unwrap();
            let path = format!("{base}/download?exportType={format}");
            let got = fetch(&server, "GET", &path, None).await;
            check_download(slug, download, &recorded_answers[download], &got);
            // Converted in the background, then served from the database.
            let to_format = Some(json!({"export_type": format}));
            let converted = server.expect(200, &convert, to_format).await;
            assert_eq!(converted["export_type"], format);
            eventually(60, "the conversion", || async {
                let snapshot = server.get(&base).await;
                let done = snapshot["converted_formats"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|c| c["export_type"] == format && c["status"] == "completed");
                done.then_some(())
            })
            .await;
            let got = fetch(&server, "GET", &path, None).await;
            check_download(slug, download, &recorded_answers[download], &got);
        }
        let to_csv = Some(json!({"export_type": "CSV"}));
        let again = server.expect(400, &convert, to_csv).await;
        let expected = recorded_json(slug, "snapshot-convert-again.json");
        assert_eq!(again["validation_errors"], expected["validation_errors"]);
        let listed = server
            .get(&format!("/api/projects/{project}/exports/"))
            .await;
        let expected = recorded_json(slug, "snapshot-list.json");
        common::assert_same_shape(&expected, &listed);

        // Options: annotated tasks only, usual annotations, expanded predictions and users.
        let options = json!({
            "task_filter_options": {"annotated": "only"},
            "annotation_filter_options": {"usual": true, "skipped": false},
            "serialization_options": {
                "predictions": {"only_id": false},
                "annotations__completed_by": {"only_id": false},
            },
        });
        let created = server
            .create(&format!("/api/projects/{project}/exports/"), options)
            .await;
        let id = created["id"].as_i64().unwrap();
        snapshot_completed(&server, *project, id).await;
        let got = fetch(
            &server,
            "GET",
            &format!("/api/projects/{project}/exports/{id}/download"),
            None,
        )
        .await;
        let expected = String::from_utf8(recorded(slug, "snapshot-options-download.json")).unwrap();
        // Predictions say how long ago they were made ("0 minutes"): equal here too.
        assert_same_text(
            &format!("{slug}: snapshot with options"),
            &normalize(&expected),
            &normalize(&String::from_utf8_lossy(&got.body)),
        );
        let snapshot = format!("/api/projects/{project}/exports/{id}");
        server
            .expect(204, &format!("DELETE {snapshot}"), None)
            .await;
        server.expect(404, &format!("GET {snapshot}"), None).await;
    }
}

#[tokio::test]
async fn bad_requests_name_the_field_and_foreign_objects_are_not_found() {
    let server = start();
    let built = build(&server).await;
    let text = built[0].1;
    let image = built[2].1;

    // Formats refused with a message naming what is wrong: an unknown one, with the
    // formats there are (Label Studio answers 500); one that does not fit the config,
    // saying why (Label Studio writes an empty zip); one labelhook does not write.
    for (project, format, words) in [
        (text, "NOPE", &["NOPE", "JSON_MIN", "YOLO"][..]),
        (text, "COCO", &["COCO", "Image"][..]),
        (image, "CONLL2003", &["Labels"][..]),
        (image, "VOC", &["labelhook"][..]),
    ] {
        let request = format!("GET /api/projects/{project}/export?exportType={format}");
        let body = server.expect(400, &request, None).await;
        let message = body["validation_errors"]["exportType"][0].as_str().unwrap();
        assert!(
            words.iter().all(|word| message.contains(word)),
            "{format}: {message}"
        );
    }
    let misspelt = format!("GET /api/projects/{text}/export?export_type=nope");
    server
        .expect_field_error(&misspelt, None, "export_type")
        .await;

    // Wrong parameters.
    for query in [
        "download_all_tasks=maybe",
        "ids[]=abc",
        "ids[]=1&ids[]=x",
        "exportType=",
    ] {
        let request = format!("GET /api/projects/{text}/export?{query}");
        let body = server.expect(400, &request, None).await;
        assert!(body["validation_errors"].is_object(), "{query}: {body}");
    }

    // Snapshot input.
    let base = format!("/api/projects/{text}/exports");
    for (input, field) in [
        (
            json!({"task_filter_options": {"skipped": "sometimes"}}),
            "task_filter_options",
        ),
        (
            json!({"annotation_filter_options": {"usual": "yes please"}}),
            "annotation_filter_options",
        ),
        (
            json!({"serialization_options": {"predictions": {"only_id": 3}}}),
            "serialization_options",
        ),
        (json!({"title": 5}), "title"),
        (json!({"title": "x".repeat(2049)}), "title"),
        (json!({"task_filter_options": "all"}), "task_filter_options"),
    ] {
        server
            .expect_nested_field_error(&format!("POST {base}"), Some(input.clone()), field)
            .await;
    }
    server
        .expect(400, &format!("POST {base}"), Some(json!([1])))
        .await;
    let created = server.create(&base, json!({})).await;
    let id = created["id"].as_i64().unwrap();
    snapshot_completed(&server, text, id).await;
    let convert = format!("POST {base}/{id}/convert");
    for (body, answer) in [
        (json!({}), "error-convert-missing.json"),
        (json!({"export_type": "NOPE"}), "error-convert-unknown.json"),
    ] {
        let expected = recorded_json("text_classification", answer);
        let body = server.expect(400, &convert, Some(body)).await;
        assert_eq!(body["validation_errors"], expected["validation_errors"]);
    }
    let to_coco = Some(json!({"export_type": "COCO"}));
    let body = server.expect(400, &convert, to_coco).await;
    assert!(
        body["validation_errors"]["export_type"][0]
            .as_str()
            .unwrap()
            .contains("Image")
    );
    let not_a_flag = Some(json!({"export_type": "CSV", "download_resources": "x"}));
    server.expect(400, &convert, not_a_flag).await;
    let unconvertible = format!("GET {base}/{id}/download?exportType=YOLO");
    server.expect(400, &unconvertible, None).await;

    // Missing and foreign: 404, the same.
    let other = server.other_organization("someone@example.com");
    let paths = [
        format!("/api/projects/{text}/export"),
        format!("/api/projects/{text}/export/formats"),
        format!("/api/projects/{text}/exports/"),
        format!("/api/projects/{text}/exports/{id}"),
        format!("/api/projects/{text}/exports/{id}/download"),
    ];
    for path in &paths {
        server
            .expect_as(&other, 404, &format!("GET {path}"), None)
            .await;
    }
    for (method, path) in [
        ("POST", format!("/api/projects/{text}/exports/")),
        ("DELETE", format!("/api/projects/{text}/exports/{id}")),
        ("POST", format!("/api/projects/{text}/exports/{id}/convert")),
    ] {
        let request = format!("{method} {path}");
        let to_csv = Some(json!({"export_type": "CSV"}));
        server.expect_as(&other, 404, &request, to_csv).await;
    }
    for path in [
        "/api/projects/999999/export".to_string(),
        format!("/api/projects/{text}/exports/999999"),
        format!("/api/projects/{image}/exports/{id}"),
        format!("/api/projects/{text}/exports/{id}/download?exportType=NOPE&x"),
    ] {
        let (status, _) = server.call("GET", &path, None).await;
        assert!(
            status == 404 || (status == 400 && path.contains("NOPE")),
            "{path}: {status}"
        );
    }
    // The snapshot is still there for its owner.
    server.expect(200, &format!("GET {base}/{id}"), None).await;
}

/// Asks for a snapshot of `project` with the default options; the answer and its id.
async fn new_snapshot(server: &Server, project: i64) -> (Value, i64) {
    let path = format!("/api/projects/{project}/exports/");
    let created = server.create(&path, json!({})).await;
    let id = created["id"].as_i64().unwrap();
    (created, id)
}

#[tokio::test]
async fn snapshots_live_in_the_database_across_restarts_and_processes() {
    let mut server = start();
    let built = build(&server).await;
    let project = built[1].1;
    let (created, id) = new_snapshot(&server, project).await;
    assert!(["created", "in_progress", "completed"].contains(&created["status"].as_str().unwrap()));
    snapshot_completed(&server, project, id).await;
    let path = format!("/api/projects/{project}/exports/{id}/download");
    let before = fetch(&server, "GET", &path, None).await.body;
    assert!(before.len() > 100);

    server.restart();
    let after = fetch(&server, "GET", &path, None).await;
    assert_eq!(after.status, 200);
    assert_eq!(after.body, before, "the same file after a restart");

    if server.is_postgres() {
        // Another process serves it, and builds the snapshots asked of it.
        let other = server.another_process();
        let there = fetch(&other, "GET", &path, None).await;
        assert_eq!(there.body, before);
        let created = other
            .create(&format!("/api/projects/{project}/exports/"), json!({}))
            .await;
        let second = created["id"].as_i64().unwrap();
        snapshot_completed(&server, project, second).await;
        let copy = fetch(
            &server,
            "GET",
            &format!("/api/projects/{project}/exports/{second}/download"),
            None,
        )
        .await;
        assert_eq!(copy.status, 200);
        assert_eq!(
            normalize(&String::from_utf8_lossy(&copy.body)),
            normalize(&String::from_utf8_lossy(&before))
        );
    }
}

/// A process that died while building leaves its snapshot `in_progress` with a lease
/// that runs out, and chunks of its own: another process (or the same after a restart)
/// builds it again from the start, and the dead build's chunks go.
#[tokio::test]
async fn a_snapshot_whose_builder_died_is_built_again() {
    let mut server = start();
    let built = build(&server).await;
    let project = built[0].1;
    let (_, id) = new_snapshot(&server, project).await;
    snapshot_completed(&server, project, id).await;
    let path = format!("/api/projects/{project}/exports/{id}/download");
    let good = fetch(&server, "GET", &path, None).await.body;

    // What a builder that died half-way leaves: the job in progress under its build and
    // lease (expired), and one chunk of its own.
    server.kill();
    server.run_sql(&format!(
        "UPDATE export_snapshots SET status = 'in_progress', build_id = 777, lease_until = 1, md5 = '' WHERE id = {id}; \
         DELETE FROM export_chunks WHERE snapshot_id = {id}; \
         INSERT INTO export_chunks (build_id, seq, snapshot_id, conversion_id, task_count, content) \
         VALUES (777, 0, {id}, 0, 1, {})",
        if server.is_postgres() { "'\\x00'::bytea" } else { "x'00'" }
    ));
    server.restart();
    let snapshot = snapshot_completed(&server, project, id).await;
    assert_eq!(snapshot["counters"]["task_number"], 4);
    let again = fetch(&server, "GET", &path, None).await;
    assert_eq!(again.status, 200);
    assert_eq!(
        normalize(&String::from_utf8_lossy(&again.body)),
        normalize(&String::from_utf8_lossy(&good))
    );
    // The dead build's chunk is gone.
    assert_eq!(
        server.sql_value("SELECT COUNT(*) FROM export_chunks WHERE build_id = 777"),
        "0"
    );
    server
        .expect(
            204,
            &format!("DELETE /api/projects/{project}/exports/{id}"),
            None,
        )
        .await;
}

#[tokio::test]
async fn the_sdk_style_direct_export_reads_export_type_and_ids() {
    let server = start();
    let built = build(&server).await;
    let (_, project) = &built[0];
    // What label-studio-sdk sends: `export_type`, `download_all_tasks=true`, `ids=`.
    let got = fetch(
        &server,
        "GET",
        &format!("/api/projects/{project}/export?export_type=JSON&download_all_tasks=true&download_resources=true&ids=1&ids=3"),
        None,
    )
    .await;
    assert_eq!(got.status, 200);
    let tasks: Value = serde_json::from_slice(&got.body).unwrap();
    let ids = ids_of(&tasks);
    assert_eq!(ids, [1, 3]);
    // An empty selection is an empty list.
    let got = fetch(
        &server,
        "GET",
        &format!("/api/projects/{project}/export?ids[]=999"),
        None,
    )
    .await;
    assert_eq!(got.body, b"[]");
    let got = fetch(
        &server,
        "GET",
        &format!("/api/projects/{project}/export?ids[]=999&exportType=CSV"),
        None,
    )
    .await;
    assert_eq!(
        String::from_utf8_lossy(&got.body),
        "\"annotation_id\",\"annotator\",\"created_at\",\"lead_time\",\"updated_at\"\r\n"
    );
    let got = fetch(
        &server,
        "GET",
        &format!("/api/projects/{project}/export?ids[]=999&exportType=JSON_MIN"),
        None,
    )
    .await;
    assert_eq!(got.body, b"[\n\n]");
}
