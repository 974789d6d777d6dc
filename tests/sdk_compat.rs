//! Runs the Python compatibility suite (tests/compat/) against this build: the official
//! `label-studio-sdk` drives the real binary. Needs `python3` with `venv` and access to
//! PyPI on the first run (`.ci/run` makes sure of both). With
//! `LABELHOOK_TEST_DATABASE_URL` set, the server runs on a new PostgreSQL database there.

use std::process::Command;

#[test]
fn label_studio_sdk_suite_passes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let mut command = Command::new("bash");
    command
        .arg(format!("{root}/tests/compat/run.sh"))
        .env("LABELHOOK_BIN", env!("CARGO_BIN_EXE_labelhook"));
    // PostgreSQL: (admin URL, database name) of the database made for this run.
    let mut database = None;
    match std::env::var("LABELHOOK_TEST_DATABASE_URL") {
        Ok(admin) if !admin.is_empty() => {
            let name = format!("labelhook_compat_{}", std::process::id());
            let created = Command::new("psql")
                .args([
                    admin.as_str(),
                    "-q",
                    "-c",
                    &format!("CREATE DATABASE {name}"),
                ])
                .status()
                .expect("run psql");
            assert!(
                created.success(),
                "could not create the compatibility test database"
            );
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(base, _)| base);
            command.env("LABELHOOK_TEST_DATABASE_URL", format!("{base}/{name}"));
            database = Some((admin, name));
        }
        _ => {
            command.env_remove("LABELHOOK_TEST_DATABASE_URL");
        }
    }
    let status = command
        .status()
        .expect("run tests/compat/run.sh (is bash installed?)");
    if let Some((admin, name)) = database {
        // The suite's server may still be closing its connections: FORCE ends them.
        let _ = Command::new("psql")
            .args([
                admin.as_str(),
                "-q",
                "-c",
                &format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            ])
            .status();
    }
    assert!(
        status.success(),
        "the label-studio-sdk compatibility suite failed (output above)"
    );
}
