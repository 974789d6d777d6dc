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
        }
        _ => {
            command.env_remove("LABELHOOK_TEST_DATABASE_URL");
        }
    }
    let status = command
        .status()
        .expect("run tests/compat/run.sh (is bash installed?)");
    assert!(
        status.success(),
        "the label-studio-sdk compatibility suite failed (output above)"
    );
}
