//! The dashboard: a read-only page on the admin listener that draws the JSON API — routes,
//! backends with passive health, diagnostics, certificates, live traffic and explain — so the
//! page and a script can never disagree.
//!
//! Every asset is embedded in the binary (`include_str!`; no CDN, no front-end build): one
//! HTML page, one style sheet (light and dark by `prefers-color-scheme`, one column on a
//! phone), and a few small scripts, one per view, that poll `/api/…`. Nothing on the page
//! changes configuration; explain only reads. The page is served under a
//! [`CONTENT_SECURITY_POLICY`] that allows only its own scripts and the admin listener.

use bytes::Bytes;

/// Scripts, styles and requests only from the admin listener itself; no inline script.
pub(crate) const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `(path, content type, body)` of every asset.
const ASSETS: [(&str, &str, &str); 10] = [
    (
        "/dashboard",
        "text/html; charset=utf-8",
        include_str!("dashboard/index.html"),
    ),
    (
        "/dashboard/style.css",
        "text/css; charset=utf-8",
        include_str!("dashboard/style.css"),
    ),
    (
        "/dashboard/common.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/common.js"),
    ),
    (
        "/dashboard/chart.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/chart.js"),
    ),
    (
        "/dashboard/routes.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/routes.js"),
    ),
    (
        "/dashboard/diagnostics.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/diagnostics.js"),
    ),
    (
        "/dashboard/certificates.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/certificates.js"),
    ),
    (
        "/dashboard/traffic.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/traffic.js"),
    ),
    (
        "/dashboard/explain.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/explain.js"),
    ),
    (
        "/dashboard/main.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/main.js"),
    ),
];

/// Whether `path` is the dashboard's (the page, or one of its assets).
pub(crate) fn serves(path: &str) -> bool {
    path == "/dashboard" || path == "/dashboard/" || path.starts_with("/dashboard/")
}

/// The asset at `path`: its content type and body.
pub(crate) fn asset(path: &str) -> Option<(&'static str, Bytes)> {
    let path = if path == "/dashboard/" {
        "/dashboard"
    } else {
        path
    };
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, body)| (*content_type, Bytes::from_static(body.as_bytes())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_script_and_style_the_page_names_is_served() {
        let (_, page) = asset("/dashboard").expect("page");
        let page = std::str::from_utf8(&page).expect("utf-8");
        for (path, _, _) in &ASSETS[1..] {
            assert!(page.contains(&format!("\"{path}\"")), "{path} not linked");
        }
        assert!(asset("/dashboard/").is_some());
        assert!(asset("/dashboard/nope.js").is_none());
        assert!(
            !page.contains("http://") && !page.contains("https://"),
            "no external asset"
        );
    }
}
