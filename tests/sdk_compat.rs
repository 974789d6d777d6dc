//! Runs the Python compatibility suite (tests/compat/) against this build: the official
//! `label-studio-sdk` drives the real binary. Needs `python3` with `venv` and access to
//! PyPI on the first run (`.ci/run` makes sure of both).

use std::process::Command;

#[test]
fn label_studio_sdk_suite_passes() {
    let root = env!("CARGO_MANIFEST_DIR");
    let status = Command::new("bash")
        .arg(format!("{root}/tests/compat/run.sh"))
        .env("LABELHOOK_BIN", env!("CARGO_BIN_EXE_labelhook"))
        .status()
        .expect("run tests/compat/run.sh (is bash installed?)");
    assert!(status.success(), "the label-studio-sdk compatibility suite failed (output above)");
}
