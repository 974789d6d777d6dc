//! Runs the end-to-end tests of the web pages (tests/browser/) in headless Chromium: a user
//! adds webhooks through the forms, sends a test, follows a failing delivery in the log and
//! redelivers it; people label tasks in Label Studio's editor (label.test.mjs), against this
//! build and real receivers. Needs Node.js, Debian's Chromium
//! and `npm ci` in tests/browser (`.ci/run` sees to all three). With
//! `LABELHOOK_TEST_DATABASE_URL` set, the server runs on a new PostgreSQL database there.

use std::path::Path;
use std::process::{Command, Stdio};

#[test]
fn web_pages_work_in_a_real_browser() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser");
    assert!(
        dir.join("node_modules/playwright-core").is_dir(),
        "tests/browser/node_modules is missing: run `npm ci` in tests/browser \
         (bash .ci/run does it) before `cargo test`"
    );
    // CHROMIUM_PATH if set, else where Debian puts it.
    let candidates: Vec<String> = match std::env::var("CHROMIUM_PATH") {
        Ok(path) if !path.is_empty() => vec![path],
        _ => vec![
            "/usr/bin/chromium".into(),
            "/usr/bin/chromium-browser".into(),
        ],
    };
    let Some(chromium) = candidates.iter().find(|p| Path::new(p).exists()).cloned() else {
        panic!(
            "Chromium not found at {}: install it with `apt-get install -y chromium` \
             (bash .ci/run does it), or set CHROMIUM_PATH",
            candidates.join(" or ")
        );
    };

    let admin = std::env::var("LABELHOOK_TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty());

    // One node run per file, each on a database of its own (PostgreSQL): a file may expect
    // a server without projects, whatever the files before it made.
    let mut failed = Vec::new();
    for (index, file) in [
        "webhooks.test.mjs",
        "events.test.mjs",
        "export.test.mjs",
        "projects.test.mjs",
        "people.test.mjs",
        "review.test.mjs",
        "label.test.mjs",
        "health.test.mjs",
        "journey.test.mjs",
    ]
    .into_iter()
    .enumerate()
    {
        let database = admin
            .as_deref()
            .map(|admin| PostgresDatabase::create(admin, index));
        let mut command = Command::new("node");
        command
            .args(["--test", "--test-reporter=spec", file])
            .current_dir(&dir)
            .env("LABELHOOK_BIN", env!("CARGO_BIN_EXE_labelhook"))
            .env("CHROMIUM_PATH", &chromium)
            .env_remove("LABELHOOK_DB_URL");
        if let Some(database) = &database {
            command.env("LABELHOOK_DB_URL", &database.url);
        }
        let status = command
            .status()
            .expect("run `node` (install Node.js 20 or later: apt-get install -y nodejs npm)");
        if !status.success() {
            failed.push(file);
        }
    }
    assert!(
        failed.is_empty(),
        "the browser tests failed in {failed:?} (output above)"
    );
}

/// A database of its own on the PostgreSQL server the other tests use; dropped afterwards.
struct PostgresDatabase {
    admin: String,
    name: String,
    url: String,
}

impl PostgresDatabase {
    fn create(admin: &str, index: usize) -> PostgresDatabase {
        let name = format!("labelhook_browser_{}_{index}", std::process::id());
        let created = Command::new("psql")
            .args([admin, "-q", "-c", &format!("CREATE DATABASE {name}")])
            .status()
            .expect("run psql");
        assert!(
            created.success(),
            "could not create the browser test database"
        );
        let base = admin.rsplit_once('/').map_or(admin, |(base, _)| base);
        PostgresDatabase {
            admin: admin.to_string(),
            url: format!("{base}/{name}"),
            name,
        }
    }
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let _ = Command::new("psql")
            .args([
                self.admin.as_str(),
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
