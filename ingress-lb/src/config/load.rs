//! Reading and checking a configuration file; errors carry the line and column at fault.

use std::fmt;
use std::ops::Range;
use std::path::Path;

use super::Config;

/// Why a configuration was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("{path}: {message}")]
    Read {
        /// The file.
        path: String,
        /// The I/O error.
        message: String,
    },
    /// The text is not valid TOML or does not fit the schema, or a value is invalid.
    #[error("{}", .0)]
    Invalid(Located),
}

/// A message with the 1-based line and column it refers to (when known).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// 1-based line, if the error has a position.
    pub line: Option<usize>,
    /// 1-based column (in characters), if the error has a position.
    pub column: Option<usize>,
    /// What is wrong, naming the field.
    pub message: String,
}

impl Config {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.display().to_string(),
            message: error.to_string(),
        })?;
        Self::from_toml(&text)
    }

    /// Parses and checks a configuration text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Config = toml::from_str(text).map_err(|error| {
            ConfigError::Invalid(Located::at(text, error.span(), error.message().to_string()))
        })?;
        config
            .check()
            .map_err(|(span, message)| ConfigError::Invalid(Located::at(text, span, message)))?;
        Ok(config)
    }

    /// Checks what the schema cannot express: references, non-empty groups, weights.
    fn check(&self) -> Result<(), (Option<Range<usize>>, String)> {
        if self.listeners.is_empty() {
            return Err((
                None,
                "`listeners`: at least one listener is required".to_string(),
            ));
        }
        for (name, upstream) in &self.upstreams {
            if upstream.servers.is_empty() {
                return Err((
                    None,
                    format!("upstreams.{name}.servers: at least one server is required"),
                ));
            }
            for (index, server) in upstream.servers.iter().enumerate() {
                if *server.weight.get_ref() == 0 {
                    return Err((
                        Some(server.weight.span()),
                        format!("upstreams.{name}.servers[{index}].weight: must be at least 1"),
                    ));
                }
            }
            if let Some(check) = &upstream.health_check
                && (check.interval.0.is_zero() || check.rise == 0 || check.fall == 0)
            {
                return Err((
                    None,
                    format!(
                        "upstreams.{name}.health_check: `interval`, `rise` and `fall` must be positive"
                    ),
                ));
            }
        }
        // `[vrrp]`: every field is checked here; the advert source is only known at run time.
        if let Some(vrrp) = &self.vrrp {
            vrrp.router_config(std::net::Ipv4Addr::UNSPECIFIED)
                .map_err(|error| (None, error.to_string()))?;
        }
        for (index, listener) in self.listeners.iter().enumerate() {
            let wanted = std::iter::once(("upstream".to_string(), &listener.upstream)).chain(
                listener
                    .server_names
                    .iter()
                    .map(|(name, group)| (format!("server_names.\"{name}\""), group)),
            );
            for (field, group) in wanted {
                if !self.upstreams.contains_key(group.get_ref()) {
                    return Err((
                        Some(group.span()),
                        format!(
                            "listeners[{index}].{field}: no upstream named `{}`",
                            group.get_ref()
                        ),
                    ));
                }
            }
            if !listener.server_names.is_empty() && !listener.ssl_preread {
                return Err((
                    None,
                    format!("listeners[{index}].server_names: needs `ssl_preread = true`"),
                ));
            }
            if listener.max_connections == Some(0) {
                return Err((
                    None,
                    format!("listeners[{index}].max_connections: must be at least 1"),
                ));
            }
        }
        Ok(())
    }
}

impl Located {
    fn at(text: &str, span: Option<Range<usize>>, message: String) -> Self {
        let position = span
            .filter(|span| span.end > 0 || span.start > 0)
            .map(|span| {
                let before = text.get(..span.start).unwrap_or(text);
                let line = before.matches('\n').count() + 1;
                let line_start = before.rfind('\n').map_or(0, |at| at + 1);
                let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
                (line, column)
            });
        Self {
            line: position.map(|p| p.0),
            column: position.map(|p| p.1),
            message,
        }
    }
}

impl fmt::Display for Located {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(line), Some(column)) => write!(
                f,
                "line {line}, column {column}: {}",
                self.message.trim_end()
            ),
            _ => f.write_str(self.message.trim_end()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TUTORIAL: &str = r#"
[upstreams.k8s-ingress-controller]
servers = [
  { address = "192.168.10.11:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
  { address = "192.168.10.12:80", weight = 5, max_fails = 3, fail_timeout = "30s" },
]

[[listeners]]
address = "0.0.0.0:38999"
upstream = "k8s-ingress-controller"
"#;

    #[test]
    fn tutorial_stream_block_translates() {
        let config = match Config::from_toml(TUTORIAL) {
            Ok(config) => config,
            Err(error) => panic!("{error}"),
        };
        let group = &config.upstreams["k8s-ingress-controller"];
        assert_eq!(group.servers.len(), 2);
        assert_eq!(*group.servers[0].weight.get_ref(), 5);
        assert_eq!(group.servers[1].max_fails, 3);
        assert_eq!(group.servers[1].fail_timeout.0.as_secs(), 30);
        let listener = &config.listeners[0];
        assert_eq!(listener.address.port(), 38999);
        // nginx defaults.
        assert_eq!(listener.connect_timeout.0.as_secs(), 60);
        assert_eq!(listener.timeout.0.as_secs(), 600);
        assert!(listener.next_upstream);
        assert_eq!(listener.proxy_protocol, None);
    }

    #[test]
    fn server_defaults_equal_nginx() {
        let text = "[upstreams.u]\nservers = [{ address = \"127.0.0.1:1\" }]\n[[listeners]]\naddress = \"127.0.0.1:0\"\nupstream = \"u\"\n";
        let config = Config::from_toml(text).map_err(|e| e.to_string());
        let server = config.as_ref().map(|c| c.upstreams["u"].servers[0].clone());
        let server = server.as_ref().ok();
        assert_eq!(server.map(|s| *s.weight.get_ref()), Some(1));
        assert_eq!(server.map(|s| s.max_fails), Some(1));
        assert_eq!(server.map(|s| s.fail_timeout.0.as_secs()), Some(10));
        assert_eq!(server.map(|s| (s.backup, s.down)), Some((false, false)));
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            // (text, line, column, message fragment)
            (
                "[upstreams.u]\nservers = [{ address = \"nope\" }]\n",
                2,
                24,
                "invalid socket address",
            ),
            (
                "[upstreams.u]\nservers = [{ address = \"127.0.0.1:1\", wieght = 2 }]\n[[listeners]]\naddress = \"127.0.0.1:0\"\nupstream = \"u\"\n",
                2,
                39,
                "wieght",
            ),
            (
                "[upstreams.u]\nservers = [{ address = \"127.0.0.1:1\" }]\n[[listeners]]\naddress = \"127.0.0.1:0\"\nupstream = \"v\"\n",
                5,
                12,
                "no upstream named `v`",
            ),
            (
                "[upstreams.u]\nservers = [{ address = \"127.0.0.1:1\", weight = 0 }]\n[[listeners]]\naddress = \"127.0.0.1:0\"\nupstream = \"u\"\n",
                2,
                48,
                "weight: must be at least 1",
            ),
            (
                "[upstreams.u]\nservers = [{ address = \"127.0.0.1:1\", fail_timeout = \"5x\" }]\n",
                2,
                54,
                "unknown unit",
            ),
        ];
        for (text, line, column, fragment) in cases {
            match Config::from_toml(text) {
                Err(ConfigError::Invalid(located)) => {
                    assert_eq!(
                        (located.line, located.column),
                        (Some(line), Some(column)),
                        "{located}"
                    );
                    assert!(located.message.contains(fragment), "{located}");
                }
                other => panic!("expected an invalid config for {text:?}, got {other:?}"),
            }
        }
    }
}
