//! Files embedded in the binary, served with revalidation: the dashboard (`ui`) and the API
//! reference page (`openapi`) both serve their HTML, CSS and JavaScript through [`serve`].
//!
//! Every file is revalidated (`Cache-Control: no-cache` with an `ETag` of its content): names
//! are not fingerprinted, so an upgraded binary must never be hidden behind a cached copy, and
//! a revalidation costs a 304.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::resource::resource;

/// One embedded file.
pub struct Asset {
    /// Its path below the page's mount point.
    pub path: &'static str,
    /// Its media type.
    pub content_type: &'static str,
    /// Its content.
    pub body: &'static str,
}

/// An [`Asset`] embedded from `crates/http/<dir>/<path>`.
macro_rules! asset {
    ($dir:literal, $path:literal, $type:expr) => {
        $crate::static_files::Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!("../", $dir, "/", $path)),
        }
    };
}
pub(crate) use asset;

/// A set of embedded files mounted at `prefix` (e.g. `/ui`): `prefix` answers a permanent
/// redirect to `location`, `prefix/` the `index.html`, and `prefix/{file}` the other files,
/// each with `csp`.
pub fn mount(
    cfg: &mut web::ServiceConfig,
    prefix: &'static str,
    location: &'static str,
    assets: &'static [Asset],
    csp: &'static str,
) {
    let redirect = move || async move {
        HttpResponse::PermanentRedirect()
            .insert_header((header::LOCATION, location))
            .finish()
    };
    let index = move |req: HttpRequest| async move { serve(&req, assets, "index.html", csp) };
    let file = move |req: HttpRequest, path: web::Path<String>| async move {
        serve(&req, assets, &path, csp)
    };
    cfg.service(resource(prefix).route(web::get().to(redirect)))
        .service(resource(&format!("{prefix}/")).route(web::get().to(index)))
        .service(resource(&format!("{prefix}/{{file:.+}}")).route(web::get().to(file)));
}

/// `text/html`.
pub const HTML: &str = "text/html; charset=utf-8";
/// `text/javascript`.
pub const JS: &str = "text/javascript; charset=utf-8";
/// `text/css`.
pub const CSS: &str = "text/css; charset=utf-8";
/// `text/plain`.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// Answers `path` from `assets` (404 when it is not one of them) with the given
/// Content-Security-Policy, an `ETag`, and a 304 when the client's copy is current.
///
/// # Errors
/// 404 for a path that is not embedded.
pub fn serve(
    req: &HttpRequest,
    assets: &[Asset],
    path: &str,
    csp: &str,
) -> Result<HttpResponse, ApiError> {
    let asset = assets
        .iter()
        .find(|a| a.path == path)
        .ok_or_else(|| ApiError::NotFound("Not found".to_owned()))?;
    let etag = format!("\"{:016x}\"", fnv1a(asset.body.as_bytes()));
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::ETAG, etag))
        .insert_header((header::CONTENT_SECURITY_POLICY, csp))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
    Ok(if fresh {
        res.finish()
    } else {
        res.content_type(asset.content_type).body(asset.body)
    })
}

/// FNV-1a: a validator that changes with the content (not a security hash).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Asserts (in tests) that `assets` lists each path once, none empty, and every file below
/// `root` except `skip`.
#[cfg(test)]
pub fn assert_assets_cover(assets: &[Asset], root: &std::path::Path, skip: &[&str]) {
    fn walk(dir: &std::path::Path, root: &std::path::Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap().to_string_lossy();
                out.push(rel.replace('\\', "/"));
            }
        }
    }
    for (i, a) in assets.iter().enumerate() {
        assert!(!a.body.is_empty(), "{} is empty", a.path);
        assert!(
            assets[i + 1..].iter().all(|b| b.path != a.path),
            "{} twice",
            a.path
        );
    }
    let mut files = Vec::new();
    walk(root, root, &mut files);
    for f in files.iter().filter(|f| !skip.contains(&f.as_str())) {
        assert!(assets.iter().any(|a| a.path == f), "{f} is not embedded");
    }
}

#[cfg(test)]
mod tests {
    use super::fnv1a;

    #[test]
    fn etags_differ_with_content() {
        assert_ne!(fnv1a(b"a"), fnv1a(b"b"));
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
    }
}
