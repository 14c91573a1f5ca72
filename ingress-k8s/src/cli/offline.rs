//! The offline subcommands, `ingress-proxy check` and `ingress-proxy explain`: manifests read
//! from files, directories or standard input, judged with the flags' table configuration, and
//! a report printed to standard output.

use std::path::PathBuf;

use super::{Args, Scheme};
use crate::manifest;

/// What `ingress-proxy explain` was asked.
#[derive(Debug, Clone, Copy)]
pub struct ExplainArgs<'a> {
    /// Manifest files, directories, or `-`.
    pub paths: &'a [PathBuf],
    /// `--host`.
    pub host: Option<&'a str>,
    /// `--path`.
    pub path: &'a str,
    /// `--scheme`.
    pub scheme: Scheme,
    /// `--header NAME:VALUE`, each.
    pub headers: &'a [String],
    /// `--cookie NAME=VALUE`, each.
    pub cookies: &'a [String],
}

/// `ingress-proxy explain …`: prints the explanation to standard output; returns whether every
/// input could be read.
pub fn explain(args: &Args, request: &ExplainArgs<'_>) -> bool {
    let paths = request.paths;
    let (inputs, unreadable) = manifest::read_inputs(paths, read_stdin_if_named(paths).as_deref());
    let split = |values: &'_ [String], separator: char| -> Vec<(String, String)> {
        values
            .iter()
            .filter_map(|value| value.split_once(separator))
            .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
            .collect()
    };
    let headers = split(request.headers, ':');
    let cookies = split(request.cookies, '=');
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (&**n, &**v)).collect();
    let cookies: Vec<(&str, &str)> = cookies.iter().map(|(n, v)| (&**n, &**v)).collect();
    let mut report = manifest::explain(
        &inputs,
        args.table_config(),
        &ingress_core::explain::ExplainRequest {
            host: request.host,
            path: request.path,
            headers: &headers,
            cookies: &cookies,
        },
        request.scheme == Scheme::Https,
    );
    report.errors.splice(0..0, unreadable);
    print_report(&report);
    report.errors.is_empty()
}

/// Writes a report to standard output; a reader that went away (`| head`) is not an error.
fn print_report(report: &dyn std::fmt::Display) {
    use std::io::Write;
    let _ = writeln!(std::io::stdout().lock(), "{report}");
}

/// Standard input's text, when `-` is among `paths`.
fn read_stdin_if_named(paths: &[PathBuf]) -> Option<String> {
    if !paths.iter().any(|path| path.as_os_str() == "-") {
        return None;
    }
    let mut text = String::new();
    if let Err(error) = std::io::Read::read_to_string(&mut std::io::stdin(), &mut text) {
        eprintln!("error: -: cannot read standard input: {error}");
    }
    Some(text)
}

/// `ingress-proxy check PATH…`: prints the report to standard output; returns whether every
/// object would apply.
pub fn check(args: &Args, paths: &[PathBuf]) -> bool {
    let (inputs, unreadable) = manifest::read_inputs(paths, read_stdin_if_named(paths).as_deref());
    let mut report =
        manifest::check_with_configmap(&inputs, args.table_config(), args.configmap.as_ref());
    report.errors.splice(0..0, unreadable);
    print_report(&report);
    report.passed()
}
