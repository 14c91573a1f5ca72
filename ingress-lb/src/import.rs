//! `ingress-lb import NGINX_CONF [KEEPALIVED_CONF]`: the tutorial's nginx `stream` block and
//! keepalived.conf, read as they are and printed as this balancer's TOML configuration.
//!
//! Translated: `stream { upstream NAME { least_conn; | hash $remote_addr consistent; server
//! IP:PORT [weight=N] [max_fails=N] [fail_timeout=T] [backup] [down]; } server { listen
//! [IP:]PORT; proxy_pass NAME; proxy_connect_timeout T; proxy_timeout T; proxy_protocol on;
//! proxy_next_upstream on|off; proxy_next_upstream_tries N; } }`, and one `vrrp_instance`
//! (`state`, `interface`, `virtual_router_id`, `priority`, `advert_int`, `authentication`,
//! `virtual_ipaddress`, `track_script`, `nopreempt`, `preempt_delay`, `unicast_src_ip`,
//! `unicast_peer`). `vrrp_script`s become `track_balancer = true` where an instance tracks
//! them (the balancer's own health replaces the check script). Noted and left out: the
//! process-level directives outside `stream` (`user`, `worker_processes`, `error_log`, `pid`,
//! `include`, `load_module`, `events`, `http`), `log_format`/`access_log` (ingress-lb logs
//! each connection through `tracing`) and `global_defs`. Anything else is an error naming the
//! file, line and directive; nothing is printed then. The output is checked by the loader
//! before it is printed.

mod keepalived;
mod nginx;
mod syntax;

use std::fmt::Write as _;
use std::path::Path;

pub(crate) use syntax::Directive;

/// What an import produced: the TOML, or every error; notes either way.
#[derive(Debug, Default)]
pub struct Import {
    /// The configuration, when there was no error.
    pub toml: Option<String>,
    /// `FILE:LINE: directive: reason`, one per problem.
    pub errors: Vec<String>,
    /// What was read and deliberately left out.
    pub notes: Vec<String>,
}

/// Collects errors and notes for one file.
pub(crate) struct Report<'a> {
    file: &'a str,
    pub(crate) errors: Vec<String>,
    pub(crate) notes: Vec<String>,
}

impl<'a> Report<'a> {
    fn new(file: &'a str) -> Self {
        Report {
            file,
            errors: Vec::new(),
            notes: Vec::new(),
        }
    }

    pub(crate) fn error(&mut self, directive: &Directive, reason: impl std::fmt::Display) {
        self.errors.push(format!(
            "{}:{}: `{}`: {reason}",
            self.file, directive.line, directive.name
        ));
    }

    pub(crate) fn note(&mut self, directive: &Directive, what: &str) {
        self.notes.push(format!(
            "{}:{}: `{}` {what}",
            self.file, directive.line, directive.name
        ));
    }
}

/// Imports the files' texts (`nginx` required, `keepalived` optional); names are for messages.
pub fn import_texts(nginx: (&str, &str), keepalived: Option<(&str, &str)>) -> Import {
    let mut import = Import::default();
    let mut toml = String::new();
    let mut report = Report::new(nginx.0);
    match syntax::nginx(nginx.1) {
        Ok(tree) => nginx::translate(&tree, &mut report, &mut toml),
        Err(error) => report
            .errors
            .push(format!("{}:{}: {}", nginx.0, error.line, error.reason)),
    }
    import.errors.append(&mut report.errors);
    import.notes.append(&mut report.notes);
    if let Some((name, text)) = keepalived {
        let mut report = Report::new(name);
        match syntax::keepalived(text) {
            Ok(tree) => keepalived::translate(&tree, &mut report, &mut toml),
            Err(error) => report
                .errors
                .push(format!("{name}:{}: {}", error.line, error.reason)),
        }
        import.errors.append(&mut report.errors);
        import.notes.append(&mut report.notes);
    }
    if import.errors.is_empty() {
        match crate::Config::from_toml(&toml) {
            Ok(_) => import.toml = Some(toml),
            Err(error) => import.errors.push(format!(
                "the translated configuration is not accepted: {error}"
            )),
        }
    }
    import
}

/// Imports the files at these paths.
pub fn import_files(nginx: &Path, keepalived: Option<&Path>) -> Import {
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    let nginx_text = match read(nginx) {
        Ok(text) => text,
        Err(error) => {
            return Import {
                errors: vec![error],
                ..Import::default()
            };
        }
    };
    let keepalived_text = match keepalived.map(read).transpose() {
        Ok(text) => text,
        Err(error) => {
            return Import {
                errors: vec![error],
                ..Import::default()
            };
        }
    };
    let nginx_name = nginx.display().to_string();
    let keepalived_name = keepalived.map(|p| p.display().to_string());
    import_texts(
        (&nginx_name, &nginx_text),
        keepalived_name.as_deref().zip(keepalived_text.as_deref()),
    )
}

/// A TOML basic string.
pub(crate) fn quoted(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
