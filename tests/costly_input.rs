//! Input that costs the server work in proportion to its shape, not just its size: label
//! configs (limits, parsed once when saved) and wide CSV imports. The costs themselves are
//! measured by the benchmark program (`bench`, scenario `config`); these tests check what a
//! client sees.

mod common;

use common::{Server, server_and_project};
use serde_json::{Value, json};

const TEXT_AND_LABELS: &str = r#"<View><Text name="t" value="$t"/><Labels name="l" toName="t"><Label value="x"/></Labels></View>"#;

/// The first message for `label_config` of a 400 answer.
fn label_config_error(status: u16, body: &Value) -> String {
    assert_eq!(status, 400, "{body}");
    body["validation_errors"]["label_config"][0]
        .as_str()
        .unwrap_or_else(|| panic!("no label_config error in {body}"))
        .to_owned()
}

/// A `<View>` tag with `count` attributes.
fn many_attributes(count: usize) -> String {
    let attributes: String = (0..count).map(|i| format!(" a{i}=\"\"")).collect();
    format!("<View{attributes}></View>")
}

#[tokio::test]
async fn a_config_over_the_limits_gets_a_400_naming_label_config() {
    // One tag with 200,000 attributes took 51 s to accept (and every read after it as long).
    // At 2 MB it is over the default size limit...
    let server = Server::start();
    let attack = json!({"title": "a", "label_config": many_attributes(200_000)});
    let (status, body) = server
        .call("POST", "/api/projects/", Some(attack.clone()))
        .await;
    let message = label_config_error(status, &body);
    assert!(
        message.starts_with("label_config is 2088903 bytes long; at most 1048576 are allowed"),
        "{message}"
    );
    // ...and with room for its size, over the attributes limit.
    let roomy = Server::start_with(&[("LABELHOOK_LABEL_CONFIG_MAX_BYTES", "16777216")]);
    let (status, body) = roomy.call("POST", "/api/projects/", Some(attack)).await;
    assert_eq!(
        label_config_error(status, &body),
        "<View> on line 1 of label_config has more than 100 attributes (LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES)"
    );
    let listed = roomy.get("/api/projects/").await;
    assert_eq!(listed["count"], 0, "nothing was created: {listed}");
}

#[tokio::test]
async fn label_config_limits_are_settings() {
    let server = Server::start_with(&[
        ("LABELHOOK_LABEL_CONFIG_MAX_TAGS", "20"),
        ("LABELHOOK_LABEL_CONFIG_MAX_DEPTH", "5"),
        ("LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES", "3"),
    ]);
    let project = server.project("p").await;
    let cases = [
        (
            format!("<View>{}</View>", "<Header value=\"h\"/>".repeat(20)),
            "label_config has more than 20 tags (LABELHOOK_LABEL_CONFIG_MAX_TAGS)",
        ),
        (
            "<View>\n<View><View><View><View><Header value=\"deep\"/></View></View></View></View></View>"
                .to_owned(),
            "label_config nests tags more than 5 levels deep, on line 2 (LABELHOOK_LABEL_CONFIG_MAX_DEPTH)",
        ),
        (
            r#"<View><Text name="t" value="$t" valueType="text" granularity="word"/></View>"#
                .to_owned(),
            "<Text> on line 1 of label_config has more than 3 attributes (LABELHOOK_LABEL_CONFIG_MAX_ATTRIBUTES)",
        ),
    ];
    for (config, expected) in cases {
        let (status, body) = server
            .call(
                "POST",
                "/api/projects/",
                Some(json!({"label_config": config})),
            )
            .await;
        assert_eq!(label_config_error(status, &body), expected);
        let (status, body) = server
            .call(
                "PATCH",
                &format!("/api/projects/{project}/"),
                Some(json!({"title": "changed", "label_config": config})),
            )
            .await;
        assert_eq!(label_config_error(status, &body), expected);
    }
    // Refused updates changed nothing; 19 tags (20 with the root) are fine.
    let unchanged = server.get_project(project).await;
    assert_eq!(unchanged["title"], "p");
    let config = format!("<View>{}</View>", "<Header value=\"h\"/>".repeat(19));
    server
        .create("/api/projects/", json!({"label_config": config}))
        .await;
}

#[tokio::test]
async fn reads_answer_what_was_derived_when_the_config_was_saved() {
    let server = Server::start();
    // Big but allowed: a taxonomy of 20,000 choices (about 0.6 MB).
    let choices: String = (0..20_000)
        .map(|i| format!("<Choice value=\"class {i}\"/>"))
        .collect();
    let config = format!(
        r#"<View><Text name="t" value="$t"/><Choices name="c" toName="t">{choices}</Choices></View>"#
    );
    let created = server
        .create("/api/projects/", json!({"label_config": config}))
        .await;
    let id = created["id"].as_i64().unwrap();
    assert_eq!(
        created["parsed_label_config"]["c"]["labels"]
            .as_array()
            .map(Vec::len),
        Some(20_000)
    );
    assert_eq!(created["config_suitable_for_bulk_annotation"], true);
    // Swap the stored text behind the server's back for a config that is not suitable for
    // bulk annotation: a read that parsed the config would now say false.
    server.sql(&format!(
        "UPDATE projects SET label_config = '{TEXT_AND_LABELS}' WHERE id = {id}"
    ));
    let read = server.get_project(id).await;
    assert_eq!(read["label_config"], TEXT_AND_LABELS, "the row was read");
    assert_eq!(read["config_suitable_for_bulk_annotation"], true);
    assert_eq!(
        read["parsed_label_config"]["c"]["labels"]
            .as_array()
            .map(Vec::len),
        Some(20_000)
    );
    let listed = server.get("/api/projects/?page_size=100").await;
    assert_eq!(
        listed["results"][0]["config_suitable_for_bulk_annotation"],
        true
    );
    // Saving a config derives again.
    let patched = server
        .patch_project(id, json!({"label_config": TEXT_AND_LABELS}))
        .await;
    assert_eq!(patched["config_suitable_for_bulk_annotation"], false);
    assert_eq!(patched["parsed_label_config"]["l"]["labels"], json!(["x"]));
}

/// The derived documents are written into answers as they are stored, not parsed and
/// serialized again (a `parsed_label_config` may be megabytes): a number stored as `1e2`
/// would come back as `100.0` from a read that parsed it.
#[tokio::test]
async fn reads_copy_the_derived_json_without_parsing_it() {
    let (server, id) = server_and_project("raw").await;
    server.sql(&format!(
        r#"UPDATE projects SET parsed_label_config = '{{"c": {{"type": "Choices", "weight": 1e2}}}}', control_weights = '{{"c": {{"overall": 1E0}}}}' WHERE id = {id}"#
    ));
    for path in [
        format!("/api/projects/{id}/"),
        "/api/projects/?page_size=100".to_string(),
    ] {
        let (_, text) = server.call_text("GET", &path, None).await;
        assert!(
            text.contains(r#""parsed_label_config":{"c": {"type": "Choices", "weight": 1e2}}"#),
            "{path}: {text}"
        );
        assert!(
            text.contains(r#""control_weights":{"c": {"overall": 1E0}}"#),
            "{path}: {text}"
        );
        assert!(
            text.contains(r#""config_has_control_tags":true"#),
            "{path}: {text}"
        );
    }
}

#[tokio::test]
async fn projects_saved_before_the_derived_column_get_it_at_start() {
    let mut server = Server::start();
    let suitable = server.project("choices").await;
    let unsuitable = server
        .create(
            "/api/projects/",
            json!({"title": "labels", "label_config": TEXT_AND_LABELS}),
        )
        .await["id"]
        .as_i64()
        .unwrap();
    // As an older version left them (migration 11 adds the column empty).
    server.sql("UPDATE projects SET config_suitable_for_bulk_annotation = NULL");
    server.restart();
    let read = |id: i64| {
        let server = &server;
        async move { server.get_project(id).await["config_suitable_for_bulk_annotation"].clone() }
    };
    assert_eq!(read(suitable).await, true);
    assert_eq!(read(unsuitable).await, false);
}

#[tokio::test]
async fn a_wide_csv_import_keeps_every_column_in_order() {
    // 200,000 columns took 24 s in the write transaction (columns were collected with a
    // linear search each). What a client can check: every column arrives, in file order.
    let (server, project) = server_and_project("wide").await;
    let columns = 100_000;
    let header: Vec<String> = (0..columns).map(|i| format!("c{i}")).collect();
    let row: Vec<String> = (0..columns).map(|i| i.to_string()).collect();
    let csv = format!(
        "{}\n{}\n{}\n",
        header.join(","),
        row.join(","),
        row.join(",")
    );
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(csv.into_bytes()).file_name("wide.csv"),
    );
    let response = server
        .client
        .post(server.url(&format!("/api/projects/{project}/import")))
        .header("Authorization", format!("Token {}", common::TOKEN))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["task_count"], 2);
    let found = answer["data_columns"].as_array().unwrap();
    assert_eq!(found.len(), columns);
    assert!(
        found.iter().zip(&header).all(|(found, name)| found == name),
        "columns in file order"
    );
    let tasks = server.get(&format!("/api/projects/{project}/tasks/")).await;
    let data = tasks[0]["data"].as_object().unwrap();
    assert_eq!(data.len(), columns);
    assert_eq!(data["c99999"], 99_999);
}
