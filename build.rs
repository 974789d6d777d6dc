//! Puts Label Studio's labeling editor into the build.
//!
//! The editor is the embeddable build that Label Studio publishes on the npm registry as
//! `@heartexlabs/label-studio`. Its files are not in the repository: this script fetches the
//! pinned tarball once (cached in cargo's target directory), checks it against the pinned
//! integrity hash, and extracts the two files the labeling page loads into `OUT_DIR`, where
//! `src/web/editor.rs` embeds them. Nothing is fetched when the server runs.
//!
//! Offline builds: `LABELHOOK_EDITOR_TARBALL=/path/to/label-studio-1.4.0.tgz` names a copy
//! of the tarball (it is checked against the same hash). docs/editor.md says how to update
//! the pin.

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use base64::Engine;
use sha2::{Digest, Sha512};

/// The pin: the package version and npm's `integrity` for its tarball (`npm view
/// @heartexlabs/label-studio@<version> dist.integrity`).
const VERSION: &str = "1.4.0";
const INTEGRITY: &str = "sha512-NczF2gDF/Whq7+xI3tYZLrAk8Pq6hacXhYEDmWfHAQIZ0eiieyrMxxHz4KIU7wnagComaGv+QJ2Zc6SBcBmuCg==";
const TARBALL_URL: &str =
    "https://registry.npmjs.org/@heartexlabs/label-studio/-/label-studio-1.4.0.tgz";

/// The files the page needs, by their path in the tarball and the name they get in OUT_DIR.
const FILES: &[(&str, &str)] = &[
    ("package/build/static/js/main.js", "main.js"),
    ("package/build/static/css/main.css", "main.css"),
    (
        "package/build/static/js/main.js.LICENSE.txt",
        "main.js.LICENSE.txt",
    ),
];

const OFFLINE_HINT: &str = "set LABELHOOK_EDITOR_TARBALL to the path of a copy of the tarball \
     (download it where the registry is reachable: `npm pack @heartexlabs/label-studio@1.4.0`)";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=LABELHOOK_EDITOR_TARBALL");
    println!("cargo:rustc-env=LABELHOOK_EDITOR_VERSION={VERSION}");

    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let tarball = match std::env::var_os("LABELHOOK_EDITOR_TARBALL").filter(|v| !v.is_empty()) {
        Some(path) => {
            let path = PathBuf::from(path);
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = fs::read(&path).unwrap_or_else(|e| {
                panic!(
                    "LABELHOOK_EDITOR_TARBALL={}: cannot read it: {e}",
                    path.display()
                )
            });
            verified(bytes, &path.display().to_string())
        }
        None => cached_or_fetched(&cache_dir(&out_dir)),
    };
    extract(&tarball, &out_dir.join("editor"));
}

/// Cargo's target directory (the ancestor of OUT_DIR that holds CACHEDIR.TAG), so that
/// debug and release builds, and `cargo clean -p`, share one download.
fn cache_dir(out_dir: &Path) -> PathBuf {
    let target = out_dir
        .ancestors()
        .find(|dir| dir.join("CACHEDIR.TAG").is_file())
        .unwrap_or(out_dir);
    target.join("labelhook-editor")
}

fn cached_or_fetched(cache: &Path) -> Vec<u8> {
    let file = cache.join(format!("label-studio-{VERSION}.tgz"));
    // A partial or foreign file is fetched again.
    if let Ok(bytes) = fs::read(&file)
        && integrity_of(&bytes) == INTEGRITY
    {
        return bytes;
    }
    let bytes = fetch(TARBALL_URL);
    let bytes = verified(bytes, TARBALL_URL);
    fs::create_dir_all(cache).expect("create the editor cache directory");
    // Write then rename, so a build killed half-way never leaves a truncated cache entry.
    let partial = cache.join(format!("label-studio-{VERSION}.tgz.{}", std::process::id()));
    fs::File::create(&partial)
        .and_then(|mut f| f.write_all(&bytes))
        .and_then(|()| fs::rename(&partial, &file))
        .expect("write the editor cache");
    bytes
}

fn fetch(url: &str) -> Vec<u8> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(std::time::Duration::from_secs(300)))
        // The system's trust store (as curl and npm use it), not a compiled-in list: a
        // machine behind a TLS-inspecting proxy trusts that proxy's CA there.
        .tls_config(
            ureq::tls::TlsConfig::builder()
                .root_certs(ureq::tls::RootCerts::PlatformVerifier)
                .build(),
        )
        .build()
        .into();
    let mut response = agent.get(url).call().unwrap_or_else(|e| {
        panic!("fetching the labeling editor from {url} failed: {e}; {OFFLINE_HINT}")
    });
    response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_vec()
        .unwrap_or_else(|e| {
            panic!("reading the labeling editor from {url} failed: {e}; {OFFLINE_HINT}")
        })
}

fn integrity_of(bytes: &[u8]) -> String {
    let digest = Sha512::digest(bytes);
    format!(
        "sha512-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

fn verified(bytes: Vec<u8>, source: &str) -> Vec<u8> {
    let found = integrity_of(&bytes);
    assert!(
        found == INTEGRITY,
        "the labeling editor tarball from {source} is not the pinned one: its integrity is \
         {found}, the pin is {INTEGRITY} (@heartexlabs/label-studio {VERSION})"
    );
    bytes
}

fn extract(tarball: &[u8], into: &Path) {
    fs::create_dir_all(into).expect("create OUT_DIR/editor");
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(tarball));
    let mut found = vec![false; FILES.len()];
    for entry in archive.entries().expect("read the editor tarball") {
        let mut entry = entry.expect("read an entry of the editor tarball");
        let path = entry
            .path()
            .expect("entry path")
            .to_string_lossy()
            .into_owned();
        let Some(index) = FILES.iter().position(|(name, _)| *name == path) else {
            continue;
        };
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).expect("read an editor file");
        let name = FILES[index].1;
        fs::write(into.join(name), &bytes).expect("write an editor file");
        // Also gzipped once here, so the server sends 2 MB of script as a fraction of it
        // without compressing on every request.
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&bytes).expect("gzip an editor file");
        fs::write(into.join(format!("{name}.gz")), gz.finish().expect("gzip")).expect("write");
        found[index] = true;
    }
    for ((name, _), found) in FILES.iter().zip(found) {
        assert!(found, "the editor tarball has no {name}");
    }
}
