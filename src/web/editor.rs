//! Label Studio's labeling editor (`@heartexlabs/label-studio`), served from the binary.
//!
//! `build.rs` fetched the pinned package from the npm registry, checked its integrity and
//! left its files in `OUT_DIR/editor` (each also gzipped); they are embedded here and served
//! at `/editor/<version>/<file>`. The version is in the path, so the files are cached as
//! immutable: a new pin is a new URL. docs/editor.md says how the pin is updated.

use axum::extract::Path;
use axum::http::HeaderMap;
use axum::http::header::{
    ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderName, VARY,
};
use axum::response::{IntoResponse, Response};

use crate::api::error::ApiError;

/// The editor's version, as pinned in build.rs.
pub const VERSION: &str = env!("LABELHOOK_EDITOR_VERSION");

struct File {
    name: &'static str,
    content_type: &'static str,
    plain: &'static [u8],
    gzip: &'static [u8],
}

macro_rules! editor_file {
    ($name:literal, $content_type:literal) => {
        File {
            name: $name,
            content_type: $content_type,
            plain: include_bytes!(concat!(env!("OUT_DIR"), "/editor/", $name)),
            gzip: include_bytes!(concat!(env!("OUT_DIR"), "/editor/", $name, ".gz")),
        }
    };
}

const FILES: &[File] = &[
    editor_file!("main.js", "text/javascript; charset=utf-8"),
    editor_file!("main.css", "text/css; charset=utf-8"),
    editor_file!("main.js.LICENSE.txt", "text/plain; charset=utf-8"),
];

/// `GET /editor/{version}/{file}`.
pub(super) async fn serve(
    Path((version, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let Some(file) = FILES
        .iter()
        .find(|file| version == VERSION && file.name == name)
    else {
        return ApiError::NotFound("No such editor file.".into()).into_response();
    };
    let gzip_ok = headers
        .get_all(ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or("");
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        });
    let common = [
        (CONTENT_TYPE, file.content_type),
        // The version is in the URL: these bytes never change under it.
        (CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (VARY, "Accept-Encoding"),
        (HeaderName::from_static("x-content-type-options"), "nosniff"),
    ];
    if gzip_ok {
        (common, [(CONTENT_ENCODING, "gzip")], file.gzip).into_response()
    } else {
        (common, file.plain).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn the_gzipped_copies_are_the_files() {
        for file in FILES {
            let mut unzipped = Vec::new();
            flate2::read::GzDecoder::new(file.gzip)
                .read_to_end(&mut unzipped)
                .expect("gunzip");
            assert_eq!(unzipped, file.plain, "{}", file.name);
        }
        let script = std::str::from_utf8(FILES[0].plain).expect("utf-8");
        assert!(script.contains("LabelStudio"), "main.js is the editor");
    }
}
