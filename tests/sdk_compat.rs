//! Runs the Python compatibility suite (tests/compat/) against this build: the official
//! `label-studio-sdk` drives the real binary. Needs `python3` with `venv` and access to
//! PyPI on the first run (`.ci/run` makes sure of both). With
//! `LABELHOOK_TEST_DATABASE_URL` set, the server runs on a new PostgreSQL database there.

mod common;

use std::process::Command;

#[test]
fn label_studio_sdk_suite_passes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new("bash");
    command
        .arg(format!("{root}/tests/compat/run.sh"))
        .env("LABELHOOK_BIN", env!("CARGO_BIN_EXE_labelhook"));
    // PostgreSQL: (admin URL, database URL) of the database made for this run.
    let mut database = None;
    match std::env::var("LABELHOOK_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let url = common::fresh_postgres_database(&admin);
            command.env("LABELHOOK_TEST_DATABASE_URL", &url);
            database = Some((admin, url));
        }
        _ => {
            command.env_remove("LABELHOOK_TEST_DATABASE_URL");
        }
    }
    let status = command
        .status()
        .expect("run tests/compat/run.sh (is bash installed?)");
    if let Some((admin, url)) = database {
        common::drop_postgres_database(&admin, &url);
    }
    assert!(
        status.success(),
        "the label-studio-sdk compatibility suite failed (output above)"
    );
}
