//! People, roles and the organization over the API (issue 15), as Label Studio's SDK calls
//! it: users, memberships, invites, tokens; every route's role, cell by cell.

mod common;

use std::collections::HashMap;

use common::{Server, TOKEN};
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
    let server = Server::start();
    let project = server.project("roles").await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let webhook = server
        .create(
            "/api/webhooks/",
            json!({"url": "http://127.0.0.1:9/hook", "project": project}),
        )
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
    let (status, ann) = server.call("POST", "/api/users/", Some(json!({"email": "ann@example.com", "first_name": "Ann", "password": "ann-pass-123"}))).await;
    assert_eq!(status, 201, "{ann}");
    assert_eq!(ann["organization_membership"]["role"], "AN");
    assert_eq!(ann["username"], "ann@example.com");
    assert_eq!(ann["initials"], "A");
    let ann_id = ann["id"].as_i64().unwrap();
    let (status, body) = server
        .call(
            "POST",
            "/api/users/",
            Some(json!({"email": "ANN@example.com"})),
        )
        .await;
    assert_eq!(status, 400, "taken, in any case: {body}");
    assert!(body["validation_errors"]["email"].is_array());
    for bad in [
        json!({"email": "not an email"}),
        json!({"email": "x@y.z", "role": "XX"}),
        json!({"email": "x@y.z", "password": "short"}),
        json!({"first_name": "no email"}),
        json!({"email": 5}),
    ] {
        let (status, body) = server.call("POST", "/api/users/", Some(bad.clone())).await;
        assert_eq!(status, 400, "{bad}: {body}");
    }
    assert_eq!(
        server.get("/api/users/").await.as_array().unwrap().len(),
        2,
        "nothing else was made"
    );
    let (status, renamed) = server
        .call(
            "PATCH",
            &format!("/api/users/{ann_id}/"),
            Some(json!({"last_name": "Lee"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(renamed["last_name"], "Lee");
    assert_eq!(renamed["first_name"], "Ann");

    // Memberships: list, change a role, refuse unknown roles, keep the last owner.
    let members = server.get("/api/organizations/1/memberships").await;
    assert_eq!(members["count"], 2);
    assert!(members["results"][0]["user"]["email"].is_string());
    let (status, changed) = server
        .call(
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": ann_id, "role": "RE"})),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["role"], "RE");
    let (status, body) = server
        .call(
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": ann_id, "role": "BOSS"})),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(
        body["validation_errors"]["role"][0]
            .as_str()
            .unwrap()
            .contains("BOSS")
    );
    let owner_id = me["id"].as_i64().unwrap();
    let (status, body) = server
        .call(
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": owner_id, "role": "AD"})),
        )
        .await;
    assert_eq!(status, 403, "own role / last owner: {body}");
    let (status, _) = server
        .call(
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": 999999, "role": "AD"})),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .call("GET", "/api/organizations/2/memberships", None)
        .await;
    assert_eq!(status, 404, "another organization");

    // An administrator manages people but cannot make owners nor touch the owner.
    let admin = server.member("adm@example.com", "AD");
    let (status, body) = server
        .call_as(
            &admin,
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": ann_id, "role": "OW"})),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["detail"].as_str().unwrap().contains("owner role"),
        "{body}"
    );
    let (status, _) = server
        .call_as(
            &admin,
            "DELETE",
            &format!("/api/organizations/1/memberships/{owner_id}/"),
            None,
        )
        .await;
    assert_eq!(status, 403, "the owner stays");
    let (status, _) = server
        .call_as(
            &admin,
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": ann_id, "role": "MA"})),
        )
        .await;
    assert_eq!(status, 200);
    // Two owners: then one may step down.
    let (status, _) = server
        .call(
            "PATCH",
            "/api/organizations/1/memberships",
            Some(json!({"user_id": ann_id, "role": "OW"})),
        )
        .await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/organizations/1/memberships/{owner_id}/"),
            None,
        )
        .await;
    assert_eq!(status, 403, "not yourself");

    // Removing a member deactivates them: the token stops working, their row stays.
    let leaver = server.member("leaver@example.com", "AN");
    let leaver_id = user_id(&server, "leaver@example.com").await;
    let (status, _) = server.call_as(&leaver, "GET", "/api/projects/", None).await;
    assert_eq!(status, 200);
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/organizations/1/memberships/{leaver_id}/"),
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server.call_as(&leaver, "GET", "/api/projects/", None).await;
    assert_eq!(status, 401, "a removed member's token is dead");
    let (status, _) = server
        .call(
            "DELETE",
            &format!("/api/organizations/1/memberships/{leaver_id}/"),
            None,
        )
        .await;
    assert_eq!(status, 404, "already removed");
    let gone = server.get(&format!("/api/users/{leaver_id}/")).await;
    assert_eq!(gone["organization_membership"]["role"], "DI");
    assert_eq!(gone["organization_membership"]["active"], false);

    // Organizations.
    let orgs = server.get("/api/organizations/").await;
    assert_eq!(orgs.as_array().unwrap().len(), 1);
    let (status, org) = server
        .call(
            "PATCH",
            "/api/organizations/1",
            Some(json!({"title": "Team"})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(org["title"], "Team");
    let (status, _) = server
        .call("PATCH", "/api/organizations/1", Some(json!({"title": " "})))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tokens_are_not_shown_again_and_a_reset_replaces_the_old_one() {
    let server = Server::start();
    let mine = server.member("me@example.com", "AN");
    let (status, body) = server
        .call_as(&mine, "GET", "/api/current-user/token", None)
        .await;
    assert_eq!(status, 200);
    assert!(
        body.get("token").is_none() && body["detail"].as_str().unwrap().contains("reset-token"),
        "{body}"
    );
    let (status, body) = server
        .call_as(&mine, "POST", "/api/current-user/reset-token/", None)
        .await;
    assert_eq!(status, 201);
    let fresh = body["token"].as_str().unwrap().to_string();
    assert_eq!(fresh.len(), 40);
    let (status, _) = server
        .call_as(&mine, "GET", "/api/current-user/whoami", None)
        .await;
    assert_eq!(status, 401, "the old token stops working");
    let (status, me) = server
        .call_as(&fresh, "GET", "/api/current-user/whoami", None)
        .await;
    assert_eq!(status, 200);
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
    let (status, invite) = server.call("GET", "/api/invite?role=RE", None).await;
    assert_eq!(status, 200, "{invite}");
    let token = invite["token"].as_str().unwrap().to_string();
    assert_eq!(invite["invite_url"], format!("/user/signup?token={token}"));
    let (status, _) = server.call("GET", "/api/invite?role=XX", None).await;
    assert_eq!(status, 400);

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
    let (status, fresh) = server.call("POST", "/api/invite/reset-token", None).await;
    assert_eq!(status, 201);
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
    let (status, _) = server.call_as(&ann, "GET", "/api/invite", None).await;
    assert_eq!(status, 403);
}

#[tokio::test]
async fn annotators_see_and_change_only_their_own_annotations() {
    let server = Server::start();
    let project = server.project("own").await;
    let task = server.task(project, "t").await["id"].as_i64().unwrap();
    let result = json!([{"from_name": "label", "to_name": "text", "type": "choices", "value": {"choices": ["pos"]}}]);
    let ann = server.member("ann@example.com", "AN");
    let bob = server.member("bob@example.com", "AN");
    let reviewer = server.member("rev@example.com", "RE");
    let path = format!("/api/tasks/{task}/annotations/");
    let (status, mine) = server
        .call_as(&ann, "POST", &path, Some(json!({"result": result})))
        .await;
    assert_eq!(status, 201, "{mine}");
    let (status, theirs) = server
        .call_as(&bob, "POST", &path, Some(json!({"result": result})))
        .await;
    assert_eq!(status, 201);
    let (mine, theirs) = (mine["id"].as_i64().unwrap(), theirs["id"].as_i64().unwrap());

    let (_, listed) = server.call_as(&ann, "GET", &path, None).await;
    let ids: Vec<i64> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine], "Ann's list");
    let (_, task_view) = server
        .call_as(&ann, "GET", &format!("/api/tasks/{task}/"), None)
        .await;
    let ids: Vec<i64> = task_view["annotations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [mine], "the task as Ann sees it");
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"lead_time": 1.0}))),
        ("DELETE", None),
    ] {
        let (status, _) = server
            .call_as(&ann, method, &format!("/api/annotations/{theirs}/"), body)
            .await;
        assert_eq!(status, 404, "{method} Bob's annotation as Ann");
    }
    let (status, _) = server
        .call_as(
            &ann,
            "PATCH",
            &format!("/api/annotations/{mine}/"),
            Some(json!({"lead_time": 2.0})),
        )
        .await;
    assert_eq!(status, 200, "her own");
    // Reviewers and the owner see both.
    for token in [reviewer.as_str(), TOKEN] {
        let (_, listed) = server.call_as(token, "GET", &path, None).await;
        assert_eq!(listed.as_array().unwrap().len(), 2);
    }
    let (status, _) = server
        .call_as(
            &reviewer,
            "GET",
            &format!("/api/annotations/{theirs}/"),
            None,
        )
        .await;
    assert_eq!(status, 200);
}

/// The audit: who made and who last changed each object is kept (as ids of users).
#[tokio::test]
async fn who_made_and_who_changed_each_object_is_kept() {
    let server = Server::start();
    let manager = server.member("ma@example.com", "MA");
    let manager_id = user_id(&server, "ma@example.com").await;
    let owner_id = server.get("/api/current-user/whoami").await["id"]
        .as_i64()
        .unwrap();
    let project = server.project("audited").await;
    let (status, _) = server
        .call_as(
            &manager,
            "PATCH",
            &format!("/api/projects/{project}/"),
            Some(json!({"description": "changed"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, task) = server
        .call_as(
            &manager,
            "POST",
            "/api/tasks/",
            Some(json!({"project": project, "data": {"text": "t"}})),
        )
        .await;
    let task = task["id"].as_i64().unwrap();
    let (_, prediction) = server
        .call_as(
            &manager,
            "POST",
            "/api/predictions/",
            Some(json!({"task": task, "result": [], "model_version": "m"})),
        )
        .await;
    let prediction = prediction["id"].as_i64().unwrap();
    let (status, _) = server
        .call(
            "PATCH",
            &format!("/api/predictions/{prediction}/"),
            Some(json!({"model_version": "n"})),
        )
        .await;
    assert_eq!(status, 200);
    let (_, webhook) = server
        .call_as(
            &manager,
            "POST",
            "/api/webhooks/",
            Some(json!({"url": "http://127.0.0.1:9/hook", "project": project})),
        )
        .await;
    let webhook = webhook["id"].as_i64().unwrap();
    let (status, _) = server
        .call(
            "PATCH",
            &format!("/api/webhooks/{webhook}/"),
            Some(json!({"is_active": false})),
        )
        .await;
    assert_eq!(status, 200);
    let value = |sql: String| server.sql_value(&sql);
    assert_eq!(
        value(format!(
            "SELECT created_by FROM projects WHERE id = {project}"
        )),
        owner_id.to_string()
    );
    assert_eq!(
        value(format!(
            "SELECT updated_by FROM projects WHERE id = {project}"
        )),
        manager_id.to_string()
    );
    assert_eq!(
        value(format!("SELECT created_by FROM tasks WHERE id = {task}")),
        manager_id.to_string()
    );
    assert_eq!(
        value(format!(
            "SELECT created_by || ' ' || updated_by FROM predictions WHERE id = {prediction}"
        )),
        format!("{manager_id} {owner_id}")
    );
    assert_eq!(
        value(format!(
            "SELECT created_by || ' ' || updated_by FROM webhooks WHERE id = {webhook}"
        )),
        format!("{manager_id} {owner_id}")
    );
}
