//! The dashboard under `/ui/` (DESIGN §12): static HTML, CSS and JavaScript modules embedded in
//! the binary with `include_str!`, so Tally needs no Node toolchain and no CDN. The pages are
//! clients of the public API only (the same endpoints a user could call with curl); this module
//! serves files and knows nothing about keys, users or usage.
//!
//! Files are revalidated on every load ([`crate::static_files`]). The Content-Security-Policy
//! allows scripts, styles and requests from this origin only — no inline script, no `eval`.

use actix_web::web;

use crate::static_files::{asset, mount, Asset, CSS, HTML, JS, TEXT};

/// The policy sent with every dashboard file.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

/// Every file of the dashboard. uPlot 1.6.32 (MIT, its LICENSE beside it) is vendored from npm.
const ASSETS: &[Asset] = &[
    asset!("ui", "index.html", HTML),
    asset!("ui", "app.css", CSS),
    asset!("ui", "js/api.js", JS),
    asset!("ui", "js/app.js", JS),
    asset!("ui", "js/dom.js", JS),
    asset!("ui", "js/chart.js", JS),
    asset!("ui", "js/overview.js", JS),
    asset!("ui", "js/keys.js", JS),
    asset!("ui", "js/users.js", JS),
    asset!("ui", "js/logs.js", JS),
    asset!("ui", "js/live.js", JS),
    asset!("ui", "js/sites.js", JS),
    asset!("ui", "js/orgs.js", JS),
    asset!("ui", "vendor/uplot/uPlot.esm.js", JS),
    asset!("ui", "vendor/uplot/uPlot.min.css", CSS),
    asset!("ui", "vendor/uplot/LICENSE", TEXT),
];

/// Registers `/ui` (a redirect to `/ui/`), `/ui/` and `/ui/{file}`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    mount(cfg, "/ui", "/ui/", ASSETS, CONTENT_SECURITY_POLICY);
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
