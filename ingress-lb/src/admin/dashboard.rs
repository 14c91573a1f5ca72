//! ingress-lb's dashboard: one read-only page drawing `/api/status` — upstream groups and
//! their servers (weight, state, active connections, failures), listeners, and the VRRP state.
//! Every asset is embedded (`include_str!`). `style.css` and `common.js` are the proxy's own
//! (`ingress-proxy/src/admin/dashboard/`), copied so each crate builds alone; a test keeps the
//! copies identical, so both dashboards look the same.

/// Extra response header lines of the page: only its own scripts, styles and requests.
pub(super) const HTML_HEADERS: &str = "content-security-policy: default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'\r\n";

const ASSETS: [(&str, &str, &str); 4] = [
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
        "/dashboard/lb.js",
        "text/javascript; charset=utf-8",
        include_str!("dashboard/lb.js"),
    ),
];

/// Whether `path` is the dashboard's.
pub(super) fn serves(path: &str) -> bool {
    path == "/dashboard" || path.starts_with("/dashboard/")
}

/// The asset at `path`: content type and body.
pub(super) fn asset(path: &str) -> Option<(&'static str, &'static str)> {
    let path = if path == "/dashboard/" {
        "/dashboard"
    } else {
        path
    };
    ASSETS
        .iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, body)| (*content_type, *body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shared_assets_are_the_proxy_s_own() {
        let proxy = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../ingress-proxy/src/admin/dashboard");
        for name in ["style.css", "common.js"] {
            let theirs = std::fs::read_to_string(proxy.join(name)).expect("the proxy's asset");
            let ours = asset(&format!("/dashboard/{name}")).expect("served").1;
            assert_eq!(
                ours, theirs,
                "{name} differs from the proxy's: copy it again"
            );
        }
    }

    #[test]
    fn every_asset_the_page_names_is_served() {
        let page = asset("/dashboard").expect("page").1;
        for (path, _, _) in &ASSETS[1..] {
            assert!(page.contains(&format!("\"{path}\"")), "{path} not linked");
        }
        assert!(asset("/dashboard/").is_some());
        assert!(asset("/dashboard/x.js").is_none());
    }
}
