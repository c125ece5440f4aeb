//! The dashboard under `/ui/` (DESIGN §12): static HTML, CSS and JavaScript modules embedded in
//! the binary with `include_str!`, so Tally needs no Node toolchain and no CDN. The pages are
//! clients of the public API only (the same endpoints a user could call with curl); this module
//! serves files and knows nothing about keys, users or usage.
//!
//! Files are revalidated on every load ([`crate::static_files`]). The Content-Security-Policy
//! allows scripts, styles and requests from this origin only — no inline script, no `eval`.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;
use crate::resource::resource;
use crate::static_files::{serve, Asset, CSS, HTML, JS, TEXT};

/// The policy sent with every dashboard file.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

macro_rules! asset {
    ($path:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_str!(concat!("../ui/", $path)),
        }
    };
}

/// Every file of the dashboard. uPlot 1.6.32 (MIT, its LICENSE beside it) is vendored from npm.
const ASSETS: &[Asset] = &[
    asset!("index.html", HTML),
    asset!("app.css", CSS),
    asset!("js/api.js", JS),
    asset!("js/app.js", JS),
    asset!("js/dom.js", JS),
    asset!("js/chart.js", JS),
    asset!("js/overview.js", JS),
    asset!("js/keys.js", JS),
    asset!("js/users.js", JS),
    asset!("js/logs.js", JS),
    asset!("js/live.js", JS),
    asset!("js/sites.js", JS),
    asset!("js/orgs.js", JS),
    asset!("vendor/uplot/uPlot.esm.js", JS),
    asset!("vendor/uplot/uPlot.min.css", CSS),
    asset!("vendor/uplot/LICENSE", TEXT),
];

/// Registers `/ui` (a redirect to `/ui/`), `/ui/` and `/ui/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(resource("/ui").route(web::get().to(redirect)))
        .service(resource("/ui/").route(web::get().to(index)))
        .service(resource("/ui/{file:.+}").route(web::get().to(file)));
}

async fn redirect() -> HttpResponse {
    HttpResponse::PermanentRedirect()
        .insert_header((header::LOCATION, "/ui/"))
        .finish()
}

async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, ASSETS, "index.html", CONTENT_SECURITY_POLICY)
}

async fn file(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, ASSETS, &path, CONTENT_SECURITY_POLICY)
}

#[cfg(test)]
mod tests {
    use super::ASSETS;

    #[test]
    fn every_file_of_the_ui_folder_is_embedded_once() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("ui");
        crate::static_files::assert_assets_cover(ASSETS, &root, &["vendor/README.md"]);
    }
}
