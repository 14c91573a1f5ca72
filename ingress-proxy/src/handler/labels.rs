//! The metric labels of a request: this project's (`RouteLabels`) and ingress-nginx's
//! (`RequestLabels`), from the route it resolved to.

use super::{Resolved, Shared};
use crate::metrics::{self, RequestLabels, RouteLabels};

impl Shared {
    /// The ingress-nginx metric labels of a request (its status is set when it ends):
    /// `path` and `host` are the matched rule's, as ingress-nginx's, so their values are
    /// bounded by the configuration.
    pub(super) fn nginx_labels(&self, resolved: &Resolved, method: &http::Method) -> RequestLabels {
        let route = self.labels(resolved);
        let rule = resolved.rule.as_ref();
        RequestLabels {
            status: 0,
            method: metrics::method_label(method),
            path: rule.map_or_else(|| self.none.clone(), |rule| rule.path.clone()),
            namespace: route.namespace,
            ingress: route.ingress,
            service: route.service,
            canary: self.empty.clone(),
            host: rule
                .and_then(|rule| rule.host.clone())
                .unwrap_or_else(|| self.none.clone()),
        }
    }

    pub(super) fn labels(&self, resolved: &Resolved) -> RouteLabels {
        let service = resolved.service();
        RouteLabels {
            namespace: resolved
                .rule
                .as_ref()
                .map(|rule| rule.ingress.namespace.clone())
                .or_else(|| service.map(|s| s.namespace.clone()))
                .unwrap_or_else(|| self.none.clone()),
            ingress: resolved
                .rule
                .as_ref()
                .map_or_else(|| self.none.clone(), |rule| rule.ingress.name.clone()),
            service: service.map_or_else(|| self.none.clone(), |s| s.name.clone()),
        }
    }
}
