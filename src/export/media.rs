//! The names COCO and YOLO give a task's image. Label Studio's converter asks for a local
//! copy of every image (it downloads nothing unless told to) and names it after the
//! first 8 hex digits of the MD5 of its URL and the URL's file name:
//! `https://example.com/a/cat.jpg` → `images/1a2b3c4d__cat.jpg`. Images it cannot resolve
//! without a Label Studio host (uploads, local and cloud storage) keep their URL.

use md5::{Digest, Md5};

/// The image's path in the export (`images/<hash>__<name>`), or the URL itself when Label
/// Studio would keep it.
pub fn image_path(url: &str) -> String {
    if needs_label_studio(url) {
        return url.to_string();
    }
    let digest = Md5::digest(url.as_bytes());
    let hash: String = digest.iter().take(4).map(|b| format!("{b:02x}")).collect();
    format!("images/{hash}__{}", basename(url_path(url)))
}

/// The stem of a path's last component (`images/ab__cat.jpg` → `ab__cat`), as
/// `os.path.splitext(os.path.basename(path))[0]`.
pub fn stem(path: &str) -> &str {
    let name = basename(path);
    match name.rfind('.') {
        // A leading dot is part of the name, not an extension.
        Some(dot) if name[..dot].chars().any(|c| c != '.') => &name[..dot],
        _ => name,
    }
}

/// `os.path.basename`.
fn basename(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Files that Label Studio serves itself (uploads, local storage, its storage proxy) or
/// reads from a cloud bucket: resolving them needs its host, which its export does not
/// have, so their URL is used as is.
fn needs_label_studio(url: &str) -> bool {
    let upload =
        url.starts_with("/data/upload") || url.starts_with("upload") || url.starts_with("/upload");
    let local = url.starts_with("/data/") && url.contains("?d=");
    let cloud = url.starts_with("s3:") || url.starts_with("gs:") || url.starts_with("azure-blob:");
    let path = url_path(url);
    let proxy =
        path.starts_with("/storage-data/uploaded") || path.starts_with("storage-data/uploaded");
    upload || local || cloud || proxy
}

/// The path part of a URL as Python's `urlparse` gives it: without scheme and host,
/// query, fragment, or `;parameters` of the last segment.
fn url_path(url: &str) -> &str {
    let mut rest = url;
    if let Some(colon) = rest.find(':') {
        let scheme = &rest[..colon];
        let valid = !scheme.is_empty()
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
        if valid {
            rest = &rest[colon + 1..];
        }
    }
    if let Some(after) = rest.strip_prefix("//") {
        let end = after.find(['/', '?', '#']).unwrap_or(after.len());
        rest = &after[end..];
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    let path = &rest[..end];
    let last_segment = path.rfind('/').map_or(0, |slash| slash + 1);
    match path[last_segment..].find(';') {
        Some(semicolon) => &path[..last_segment + semicolon],
        None => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_named_after_the_hash_of_their_url() {
        assert_eq!(
            image_path("https://example.com/images/cat-1.jpg"),
            "images/97f3b840__cat-1.jpg"
        );
        assert_eq!(
            image_path("https://example.com/img/nolabel.jpg?size=large"),
            "images/537aca60__nolabel.jpg"
        );
        assert_eq!(
            image_path("/data/upload/1/abc.jpg"),
            "/data/upload/1/abc.jpg"
        );
        assert_eq!(image_path("s3://bucket/a.jpg"), "s3://bucket/a.jpg");
        assert_eq!(stem("images/97f3b840__cat-1.jpg"), "97f3b840__cat-1");
        assert_eq!(stem("/data/local-files?d=dir/1.jpg"), "1");
        assert_eq!(stem(".hidden"), ".hidden");
    }
}
