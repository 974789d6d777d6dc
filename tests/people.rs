//! People, roles and the organization over the API (issue 15), as Label Studio's SDK calls
//! it: users, memberships, invites, tokens; every route's role, cell by cell.

mod common;

use std::collections::HashMap;

use common::{Server, TOKEN, choice, ids_of, server_and_project};
use reqwest::header::{COOKIE, LOCATION, SET_COOKIE};
use serde_json::{Value, json};

const ROLES: [&str; 5] = ["OW", "AD", "MA", "RE", "AN"];

fn rank(role: &str) -> usize {
    ROLES.iter().position(|r| *r == role).expect("a role")
}

/// The role a route's description states ("Needs the manager role or higher.").
fn needed_role(description: &str) -> Option<&'static str> {
    let names = [
        ("owner", "OW"),
        ("administrator", "AD"),
        ("manager", "MA"),
        ("reviewer", "RE"),
        ("annotator", "AN"),
    ];
    let rest = description.split("Needs the ").nth(1)?;
    names
        .iter()
        .find(|(name, _)| rest.starts_with(&format!("{name} role")))
        .map(|(_, code)| *code)
}

#[tokio::test]
async fn every_route_answers_403_below_its_role_and_not_at_or_above_it() {
    let (server, project) = server_and_project("roles").await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let webhook = server
        .webhook(json!({"url": "http://127.0.0.1:9/hook", "project": project}))
        .await["id"]
        .as_i64()
        .unwrap();
    let bystander = server.member("bystander@example.com", "AN");
    drop(bystander);
    let bystander_id = server
        .get("/api/users/")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "bystander@example.com")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut tokens: HashMap<&str, String> = HashMap::new();
    tokens.insert("OW", TOKEN.to_string());
    for role in &ROLES[1..] {
        tokens.insert(
            role,
            server.member(&format!("{}@example.com", role.to_lowercase()), role),
        );
    }

    let schema = server.get("/api/schema/").await;
    let mut cells = 0;
    for (path, operations) in schema["paths"].as_object().unwrap() {
        for (method, operation) in operations.as_object().unwrap() {
            let description = operation["description"].as_str().unwrap_or_default();
            let Some(needed) = needed_role(description) else {
                assert!(
                    operation.get("security").is_none(),
                    "{method} {path} needs a token but states no role"
                );
                continue;
            };
            assert!(
                operation["responses"].get("403").is_some(),
                "{method} {path}: 403 described"
            );
            // Changing one's own token would lock the sweep out; it has its own test.
            if path.ends_with("/reset-token") && path.contains("current-user") {
                continue;
            }
            let concrete = path
                .replace("/projects/{id}", &format!("/projects/{project}"))
                .replace("/tasks/{id}", &format!("/tasks/{task}"))
                .replace("/webhooks/{id}", &format!("/webhooks/{webhook}"))
                .replace("/users/{id}", &format!("/users/{bystander_id}"))
                .replace("/organizations/{id}", "/organizations/1")
                .replace("{user_pk}", &bystander_id.to_string())
                .replace("{id}", "999999")
                .replace("{export_pk}", "999999")
                .replace("{delivery_id}", "999999");
            // Lowest role first: the refusals are checked before any allowed call changes
            // something.
            for role in ROLES.iter().rev() {
                let (status, body) = server
                    .call_as(&tokens[role], &method.to_uppercase(), &concrete, None)
                    .await;
                if rank(role) > rank(needed) {
                    assert_eq!(
                        status, 403,
                        "{role} {method} {concrete} (needs {needed}): {body}"
                    );
                    let detail = body["detail"].as_str().unwrap_or_default();
                    assert!(detail.contains("role"), "{detail}");
                } else {
                    assert_ne!(
                        status, 403,
                        "{role} {method} {concrete} (needs {needed}): {body}"
                    );
                    assert!(status < 500, "{role} {method} {concrete}: {status} {body}");
                }
                cells += 1;
            }
        }
    }
    assert!(cells > 300, "{cells} cells");
}

const MEMBERSHIPS: &str = "/api/organizations/1/memberships";

/// Gives `user` the `role` as the user with `token`, which must answer `status`; the answer.
async fn set_role(server: &Server, token: &str, status: u16, user: i64, role: &str) -> Value {
    let body = json!({"user_id": user, "role": role});
    let request = format!("PATCH {MEMBERSHIPS}");
    server.expect_as(token, status, &request, Some(body)).await
}

/// Removes `user` from the organization as the user with `token`, which must answer `status`.
async fn remove_member(server: &Server, token: &str, status: u16, user: i64) {
    let request = format!("DELETE {MEMBERSHIPS}/{user}/");
    server.expect_as(token, status, &request, None).await;
}

async fn user_id(server: &Server, email: &str) -> i64 {
    server
        .get("/api/users/")
        .await
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == email)
        .unwrap_or_else(|| panic!("{email}"))["id"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn administrators_manage_people_and_the_rules_hold() {
    let server = Server::start();
    // The first user is the owner.
    let me = server.get("/api/current-user").await;
    assert_eq!(me["organization_membership"]["role"], "OW");
    let whoami = server.get("/api/current-user/whoami").await;
    assert_eq!(whoami["id"], me["id"]);
    assert_eq!(whoami["email"], "admin@example.com");

    // Create (annotator by default), read, list, rename.
    let ann = json!({"email": "ann@example.com", "first_name": "Ann", "password": "ann-pass-123"});
    let ann = server.create("/api/users/", ann).await;
    assert_eq!(ann["organization_membership"]["role"], "AN");
    assert_eq!(ann["username"], "ann@example.com");
    assert_eq!(ann["initials"], "A");
    let ann_id = ann["id"].as_i64().unwrap();
    // Taken, in any case.
    let taken = Some(json!({"email": "ANN@example.com"}));
    server
        .expect_field_error("POST /api/users/", taken, "email")
        .await;
    for bad in [
        json!({"email": "not an email"}),
        json!({"email": "x@y.z", "role": "XX"}),
        json!({"email": "x@y.z", "password": "short"}),
        json!({"first_name": "no email"}),
        json!({"email": 5}),
    ] {
        server.expect(400, "POST /api/users/", Some(bad)).await;
    }
    assert_eq!(
        server.get("/api/users/").await.as_array().unwrap().len(),
        2,
        "nothing else was made"
    );
    let rename = format!("PATCH /api/users/{ann_id}/");
    let renamed = server
        .expect(200, &rename, Some(json!({"last_name": "Lee"})))
        .await;
    assert_eq!(renamed["last_name"], "Lee");
    assert_eq!(renamed["first_name"], "Ann");

    // Memberships: list, change a role, refuse unknown roles, keep the last owner.
    let members = server.get("/api/organizations/1/memberships").await;
    assert_eq!(members["count"], 2);
    assert!(members["results"][0]["user"]["email"].is_string());
    let changed = set_role(&server, TOKEN, 200, ann_id, "RE").await;
    assert_eq!(changed["role"], "RE");
    let body = set_role(&server, TOKEN, 400, ann_id, "BOSS").await;
    assert!(
        body["validation_errors"]["role"][0]
            .as_str()
            .unwrap()
            .contains("BOSS")
    );
    let owner_id = me["id"].as_i64().unwrap();
    // Own role / last owner.
    set_role(&server, TOKEN, 403, owner_id, "AD").await;
    set_role(&server, TOKEN, 404, 999999, "AD").await;
    // Another organization.
    server
        .expect(404, "GET /api/organizations/2/memberships", None)
        .await;

    // An administrator manages people but cannot make owners nor touch the owner.
    let admin = server.member("adm@example.com", "AD");
    let body = set_role(&server, &admin, 403, ann_id, "OW").await;
    assert!(
        body["detail"].as_str().unwrap().contains("owner role"),
        "{body}"
    );
    // The owner stays.
    remove_member(&server, &admin, 403, owner_id).await;
    set_role(&server, &admin, 200, ann_id, "MA").await;
    // Two owners: then one may step down, but not remove themselves.
    set_role(&server, TOKEN, 200, ann_id, "OW").await;
    remove_member(&server, TOKEN, 403, owner_id).await;

    // Removing a member deactivates them: the token stops working, their row stays.
    let leaver = server.member("leaver@example.com", "AN");
    let leaver_id = user_id(&server, "leaver@example.com").await;
    server
        .expect_as(&leaver, 200, "GET /api/projects/", None)
        .await;
    remove_member(&server, TOKEN, 204, leaver_id).await;
    // A removed member's token is dead.
    server
        .expect_as(&leaver, 401, "GET /api/projects/", None)
        .await;
    // Already removed.
    remove_member(&server, TOKEN, 404, leaver_id).await;
    let gone = server.get(&format!("/api/users/{leaver_id}/")).await;
    assert_eq!(gone["organization_membership"]["role"], "DI");
    assert_eq!(gone["organization_membership"]["active"], false);

    // Organizations.
    let orgs = server.get("/api/organizations/").await;
    assert_eq!(orgs.as_array().unwrap().len(), 1);
    let rename = "PATCH /api/organizations/1";
    let org = server
        .expect(200, rename, Some(json!({"title": "Team"})))
        .await;
    assert_eq!(org["title"], "Team");
    server
        .expect(400, rename, Some(json!({"title": " "})))
        .await;
}

#[tokio::test]
async fn tokens_are_not_shown_again_and_a_reset_replaces_the_old_one() {
    let server = Server::start();
    let mine = server.member("me@example.com", "AN");
    let body = server
        .expect_as(&mine, 200, "GET /api/current-user/token", None)
        .await;
    assert!(
        body.get("token").is_none() && body["detail"].as_str().unwrap().contains("reset-token"),
        "{body}"
    );
    let body = server
        .expect_as(&mine, 201, "POST /api/current-user/reset-token/", None)
        .await;
    let fresh = body["token"].as_str().unwrap().to_string();
    assert_eq!(fresh.len(), 40);
    // The old token stops working.
    server
        .expect_as(&mine, 401, "GET /api/current-user/whoami", None)
        .await;
    let me = server
        .expect_as(&fresh, 200, "GET /api/current-user/whoami", None)
        .await;
    assert_eq!(me["email"], "me@example.com");
}

/// A client that shows redirects instead of following them.
fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

#[tokio::test]
async fn an_invite_signs_up_one_person_with_its_role() {
    let server = Server::start();
    let invite = server.expect(200, "GET /api/invite?role=RE", None).await;
    let token = invite["token"].as_str().unwrap().to_string();
    assert_eq!(invite["invite_url"], format!("/user/signup?token={token}"));
    server.expect(400, "GET /api/invite?role=XX", None).await;

    let page = browser()
        .get(server.url(&format!("/user/signup?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let signup = |email: &'static str, password: &'static str, token: String| {
        let server = &server;
        async move {
            browser()
                .post(server.url("/user/signup"))
                .form(&[
                    ("token", token.as_str()),
                    ("email", email),
                    ("password", password),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let weak = signup("rev@example.com", "123", token.clone()).await;
    assert_eq!(
        weak.status(),
        400,
        "weak password; the invite is still good"
    );
    let taken = signup("admin@example.com", "rev-pass-123", token.clone()).await;
    assert_eq!(taken.status(), 400, "taken email");
    let joined = signup("rev@example.com", "rev-pass-123", token.clone()).await;
    assert_eq!(joined.status(), 302);
    assert_eq!(joined.headers()[LOCATION], "/projects");
    let session = joined
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|c| c.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("; ");
    let me = browser()
        .get(server.url("/api/current-user"))
        .header(COOKIE, session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["organization_membership"]["role"], "RE");

    // Used: no second person.
    let reused = signup("second@example.com", "second-pass-1", token.clone()).await;
    assert_eq!(reused.status(), 403);
    // Reset revokes the open links.
    let open = server.get("/api/invite").await["token"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = server
        .expect(201, "POST /api/invite/reset-token", None)
        .await;
    assert_eq!(
        signup("third@example.com", "third-pass-1", open)
            .await
            .status(),
        403,
        "revoked"
    );
    // Expired.
    let expiring = fresh["token"].as_str().unwrap().to_string();
    server.sql("UPDATE invites SET expires_at = 0");
    assert_eq!(
        signup("fourth@example.com", "fourth-pass-1", expiring)
            .await
            .status(),
        403,
        "expired"
    );
    assert_eq!(
        server.get("/api/users/").await.as_array().unwrap().len(),
        2,
        "only the one who joined"
    );
    // Annotators cannot make invites.
    let ann = server.member("ann@example.com", "AN");
    server.expect_as(&ann, 403, "GET /api/invite", None).await;
}

#[tokio::test]
async fn annotators_see_and_change_only_their_own_annotations() {
    let (server, project) = server_and_project("own").await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let result = json!({"result": choice("pos")});
    let ann = server.member("ann@example.com", "AN");
    let bob = server.member("bob@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let path = format!("/api/tasks/{task}/annotations/");
    let mine = server.annotate_as(&ann, task, result.clone()).await;
    let theirs = server.annotate_as(&bob, task, result).await;
    let (mine, theirs) = (mine["id"].as_i64().unwrap(), theirs["id"].as_i64().unwrap());

    let (_, listed) = server.call_as(&ann, "GET", &path, None).await;
    let ids = ids_of(&listed);
    assert_eq!(ids, [mine], "Ann's list");
    let (_, task_view) = server
        .call_as(&ann, "GET", &format!("/api/tasks/{task}/"), None)
        .await;
    let ids = ids_of(&task_view["annotations"]);
    assert_eq!(ids, [mine], "the task as Ann sees it");
    // Bob's annotation, as Ann: not found.
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"lead_time": 1.0}))),
        ("DELETE", None),
    ] {
        let request = format!("{method} /api/annotations/{theirs}/");
        server.expect_as(&ann, 404, &request, body).await;
    }
    // Her own.
    let change_mine = format!("PATCH /api/annotations/{mine}/");
    let lead_time = Some(json!({"lead_time": 2.0}));
    server.expect_as(&ann, 200, &change_mine, lead_time).await;
    // Reviewers and the owner see both.
    for token in [reviewer.as_str(), TOKEN] {
        let (_, listed) = server.call_as(token, "GET", &path, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 2);
    }
    let read_theirs = format!("GET /api/annotations/{theirs}/");
    server.expect_as(&reviewer, 200, &read_theirs, None).await;
}

/// The audit: who made and who last changed each object is kept (as user ids) and shown:
/// a manager makes each object, the owner changes it, and every answer says so.
#[tokio::test]
async fn who_made_and_who_changed_each_object_is_shown() {
    let server = Server::start();
    let manager = server.member("ma@example.com", "MA");
    let annotator = server.member("an@example.com", "AN");
    let manager_id = user_id(&server, "ma@example.com").await;
    let owner_id = server.get("/api/current-user/whoami").await["id"]
        .as_i64()
        .unwrap();
    // Makes an object at `path` as the manager, changes it as the owner; both answers.
    let made_then_changed = async |path: &str, body: Value, change: Value| {
        let made = server
            .expect_as(&manager, 201, &format!("POST {path}"), Some(body))
            .await;
        let patch = format!("PATCH {path}{}/", made["id"]);
        let changed = server.expect(200, &patch, Some(change)).await;
        (made, changed)
    };
    let both = |value: &Value| (value["created_by"].clone(), value["updated_by"].clone());
    let made_by_manager = (json!(manager_id), json!(manager_id));
    let changed_by_owner = (json!(manager_id), json!(owner_id));

    let project = server.project("audited").await;
    let change = format!("PATCH /api/projects/{project}/");
    let description = json!({"description": "changed"});
    let changed = server
        .expect_as(&manager, 200, &change, Some(description))
        .await;
    assert_eq!(changed["created_by"]["id"], owner_id, "Label Studio's key");
    assert_eq!(changed["updated_by"], manager_id);

    let task = json!({"project": project, "data": {"text": "t"}});
    let (task, _) = made_then_changed("/api/tasks/", task, json!({"data": {"text": "u"}})).await;
    let task_id = task["id"].as_i64().unwrap();
    assert_eq!(task["created_by"], manager_id);
    let read = server.get(&format!("/api/tasks/{task_id}/")).await;
    assert_eq!(read["created_by"], manager_id);

    let prediction = json!({"task": task_id, "result": [], "model_version": "m"});
    let version = json!({"model_version": "n"});
    let (made, changed) = made_then_changed("/api/predictions/", prediction, version).await;
    assert_eq!(both(&made), made_by_manager);
    assert_eq!(both(&changed), changed_by_owner);
    let read = server.get(&format!("/api/tasks/{task_id}/")).await;
    assert_eq!(both(&read["predictions"][0]), changed_by_owner);

    let webhook = json!({"url": "http://127.0.0.1:9/hook", "project": project});
    let inactive = json!({"is_active": false});
    let (made, changed) = made_then_changed("/api/webhooks/", webhook, inactive).await;
    assert_eq!(both(&made), made_by_manager);
    assert_eq!(both(&changed), changed_by_owner);

    let backend = json!({"url": "http://127.0.0.1:9/model", "project": project, "title": "m"});
    let renamed = json!({"title": "renamed"});
    let (made, changed) = made_then_changed("/api/ml/", backend, renamed).await;
    assert_eq!(both(&made), made_by_manager);
    assert_eq!(both(&changed), changed_by_owner);

    let annotation = server
        .annotate_as(&annotator, task_id, json!({"result": []}))
        .await;
    let review = json!({"annotation": annotation["id"], "accepted": true});
    let rejected = json!({"accepted": false});
    let (made, changed) = made_then_changed("/api/annotation-reviews/", review, rejected).await;
    assert_eq!(both(&made), made_by_manager);
    assert_eq!(both(&changed), changed_by_owner);

    // An import's tasks and predictions were made by the importing user.
    let import = format!("POST /api/projects/{project}/import");
    let tasks = json!([{"data": {"text": "i"}, "predictions": [{"result": []}]}]);
    server.expect_as(&manager, 201, &import, Some(tasks)).await;
    let listed = server.get(&format!("/api/tasks/?project={project}")).await;
    let imported = listed["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["data"]["text"] == "i")
        .unwrap();
    assert_eq!(imported["created_by"], manager_id);
    let predictions = server
        .get(&format!("/api/predictions/?task={}", imported["id"]))
        .await;
    assert_eq!(both(&predictions[0]), made_by_manager);
}
