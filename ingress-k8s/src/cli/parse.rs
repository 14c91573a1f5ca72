//! Flag value parsers: ingress-nginx's syntaxes for durations, object keys and Service
//! references, and `--access-log`.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ingress_core::{ObjectKey, PortRef, ServiceRef};
use ingress_proxy::AccessLogDestination;

/// `--access-log`: `off`, `stdout`, or a file path.
pub fn parse_access_log(text: &str) -> Result<AccessLogDestination, String> {
    match text {
        "" => Err("expected off, stdout or a file path".to_owned()),
        "off" => Ok(AccessLogDestination::Off),
        "stdout" | "-" => Ok(AccessLogDestination::Stdout),
        path => Ok(AccessLogDestination::File(PathBuf::from(path))),
    }
}

/// A Go-style duration as ingress-nginx's flags take it: `30s`, `1m`, `1m30s`, `1500ms`, `1h`
/// (a bare number is seconds); at least 1 s.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?}: expected a duration such as 30s, 1m or 1500ms");
    if let Ok(seconds) = text.parse::<u64>() {
        return positive(Duration::from_secs(seconds), text);
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let value: u64 = rest[..digits].parse().map_err(|_| invalid())?;
        rest = &rest[digits..];
        let unit = rest.bytes().take_while(u8::is_ascii_alphabetic).count();
        let part = match &rest[..unit] {
            "ms" => Duration::from_millis(value),
            "s" => Duration::from_secs(value),
            "m" => Duration::from_secs(value.checked_mul(60).ok_or_else(invalid)?),
            "h" => Duration::from_secs(value.checked_mul(3600).ok_or_else(invalid)?),
            _ => return Err(invalid()),
        };
        total = total.checked_add(part).ok_or_else(invalid)?;
        rest = &rest[unit..];
    }
    positive(total, text)
}

fn positive(duration: Duration, text: &str) -> Result<Duration, String> {
    match duration >= Duration::from_secs(1) {
        true => Ok(duration),
        false => Err(format!("{text:?}: at least 1s")),
    }
}

/// `NAMESPACE/NAME`.
pub fn parse_object_key(text: &str) -> Result<ObjectKey, String> {
    match text.split_once('/') {
        Some((namespace, name))
            if !namespace.is_empty() && !name.is_empty() && !name.contains('/') =>
        {
            Ok(ObjectKey::new(namespace, name))
        }
        _ => Err(format!("{text:?}: expected NAMESPACE/NAME")),
    }
}

/// `NAMESPACE/NAME:PORT` (a port number or name).
pub fn parse_service_ref(text: &str) -> Result<ServiceRef, String> {
    let (key, port) = text
        .rsplit_once(':')
        .ok_or_else(|| format!("{text:?}: expected NAMESPACE/NAME:PORT"))?;
    let key = parse_object_key(key)?;
    let port = match port.parse::<u16>() {
        Ok(0) => return Err(format!("{text:?}: port 0 is not a port")),
        Ok(number) => PortRef::Number(number),
        Err(_) if !port.is_empty() => PortRef::Name(Arc::from(port)),
        Err(_) => return Err(format!("{text:?}: expected NAMESPACE/NAME:PORT")),
    };
    Ok(ServiceRef {
        namespace: key.namespace,
        name: key.name,
        port,
    })
}

/// ingress-nginx's listen-address syntax: `:8443` (every address) or `HOST:PORT`.
pub fn parse_listen_address(text: &str) -> Result<std::net::SocketAddr, String> {
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_owned(),
    };
    full.parse()
        .map_err(|_| format!("{text:?}: expected :PORT or ADDRESS:PORT"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_go_s_syntax() {
        let ok = [
            ("30", 30_000),
            ("30s", 30_000),
            ("1m", 60_000),
            ("1m30s", 90_000),
            ("1500ms", 1_500),
            ("1h", 3_600_000),
        ];
        for (text, millis) in ok {
            assert_eq!(
                parse_duration(text),
                Ok(Duration::from_millis(millis)),
                "{text}"
            );
        }
        for text in [
            "",
            "s",
            "10x",
            "0",
            "500ms",
            "-1s",
            "1.5s",
            "99999999999999999999h",
        ] {
            assert!(parse_duration(text).is_err(), "{text}");
        }
    }

    #[test]
    fn listen_addresses_take_ingress_nginx_s_short_form() {
        assert_eq!(
            parse_listen_address(":8443"),
            Ok(([0, 0, 0, 0], 8443).into())
        );
        assert_eq!(
            parse_listen_address("127.0.0.1:9"),
            Ok(([127, 0, 0, 1], 9).into())
        );
        assert!(parse_listen_address("8443").is_err());
    }
}
