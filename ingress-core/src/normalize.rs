//! Request host and path normalisation (SEMANTICS §1).
//!
//! Both functions borrow their input when it is already normal, which is the common case, so a
//! lookup allocates nothing for well-formed requests.
//!
//! ```
//! use ingress_core::normalize;
//!
//! assert_eq!(normalize::host("Foo.Example.COM.:8443").as_deref(), Some("foo.example.com"));
//! assert_eq!(normalize::host("10.0.0.1:80"), None); // an IP address is not a name
//! assert_eq!(normalize::host("[::1]:443"), None);
//! assert_eq!(normalize::path("/a//b/./c/../d?x=1"), "/a/b/d");
//! assert_eq!(normalize::path("/%7Euser/%2Fx"), "/~user/%2Fx"); // %2F never splits a segment
//! ```

use std::borrow::Cow;
use std::net::IpAddr;

/// Normalises a `Host` header, `:authority` or absolute-form authority: lower-cased, without a
/// `:port` suffix or a trailing dot. Returns `None` when the request names no host: an IP
/// address, an empty value, or something that is not a syntactically valid host name (which
/// could never equal a validated rule host).
pub fn host(authority: &str) -> Option<Cow<'_, str>> {
    let bytes = authority.as_bytes();
    // One pass over the name: where it ends (`:` of a port, or the end), whether it is
    // lower-case already, whether it could be an IPv4 literal (digits and dots only), and
    // whether every label is non-empty.
    let mut end = bytes.len();
    let mut lower = true;
    let mut numeric = true;
    let mut previous = b'.';
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'a'..=b'z' | b'-' | b'_' => numeric = false,
            b'0'..=b'9' => {}
            b'A'..=b'Z' => {
                lower = false;
                numeric = false;
            }
            b'.' if previous == b'.' => return None, // empty label
            b'.' => {}
            b':' => {
                end = i;
                break;
            }
            b'@' => return host_after_userinfo(authority),
            _ => return None, // an IPv6 literal, or not a host name
        }
        previous = b;
    }
    if end < bytes.len() {
        let port = &bytes[end + 1..];
        if !port.iter().all(u8::is_ascii_digit) {
            return host_after_userinfo(authority);
        }
    }
    let mut name = &authority[..end];
    if let Some(stripped) = name.strip_suffix('.') {
        name = stripped;
    }
    if name.is_empty() || name.len() > 253 || (numeric && name.parse::<IpAddr>().is_ok()) {
        return None;
    }
    Some(if lower {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(name.to_ascii_lowercase())
    })
}

/// Absolute-form targets may carry `userinfo@` before the host: it is not part of the host.
fn host_after_userinfo(authority: &str) -> Option<Cow<'_, str>> {
    match authority.rsplit_once('@') {
        Some((_, rest)) if !rest.contains('@') => host(rest),
        _ => None,
    }
}

/// Normalises a request path for matching: the query string dropped, percent-encoded
/// unreserved characters decoded (other escapes kept, with upper-case hex; a `%` that starts
/// no escape becomes `%25`), repeated `/`
/// merged, then dot-segments removed (RFC 3986 §5.2.4). A path not starting with `/` (such as
/// `*`) is matched as if it did.
///
/// Slashes are merged before dot-segments are resolved, so `/a//../b` is `/b`: the same order
/// as nginx's `merge_slashes`, and the one that keeps `..` from climbing into an empty segment.
pub fn path(target: &str) -> Cow<'_, str> {
    let path = target.split_once('?').map_or(target, |(p, _)| p);
    if is_normal(path) {
        return Cow::Borrowed(path);
    }
    let decoded = decode_unreserved(path);
    let mut segments: Vec<&str> = Vec::new();
    let mut trailing_slash = false;
    for segment in decoded.split('/') {
        trailing_slash = false;
        match segment {
            "" => trailing_slash = true,
            "." => trailing_slash = true,
            ".." => {
                segments.pop();
                trailing_slash = true;
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    if trailing_slash || segments.is_empty() {
        out.push('/');
    }
    Cow::Owned(out)
}

/// Fast check: absolute, no `%`, no empty or dot segments.
fn is_normal(path: &str) -> bool {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return false;
    }
    let mut previous = b'/';
    for (i, &b) in bytes.iter().enumerate().skip(1) {
        if b == b'%' || (b == b'/' && previous == b'/') {
            return false;
        }
        if b == b'.' && previous == b'/' {
            let rest = &bytes[i..];
            let segment_end = rest.iter().position(|&c| c == b'/').unwrap_or(rest.len());
            if segment_end == 1 || (segment_end == 2 && rest[1] == b'.') {
                return false;
            }
        }
        previous = b;
    }
    true
}

fn decode_unreserved(path: &str) -> String {
    let bytes = path.as_bytes();
    let mut out = String::with_capacity(path.len() + 1);
    if bytes.first() != Some(&b'/') {
        out.push('/');
    }
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            let c = h * 16 + l;
            if c.is_ascii_alphanumeric() || matches!(c, b'-' | b'.' | b'_' | b'~') {
                out.push(char::from(c));
            } else {
                out.push('%');
                out.push(char::from(bytes[i + 1].to_ascii_uppercase()));
                out.push(char::from(bytes[i + 2].to_ascii_uppercase()));
            }
            i += 3;
            continue;
        }
        if bytes[i] == b'%' {
            // A '%' that starts no escape is data: encode it, so that a later decoded
            // character can never combine with it into a new escape (keeps this idempotent).
            out.push_str("%25");
            i += 1;
            continue;
        }
        // Copy one whole UTF-8 character (input is a &str, so boundaries are valid).
        let len = utf8_len(bytes[i]);
        out.push_str(&path[i..i + len]);
        i += len;
    }
    out
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

fn utf8_len(first: u8) -> usize {
    match first {
        0x00..=0x7f => 1,
        0xc0..=0xdf => 2,
        0xe0..=0xef => 3,
        _ => 4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_strips_port_trailing_dot_and_case() {
        assert_eq!(host("EXAMPLE.com").as_deref(), Some("example.com"));
        assert_eq!(host("example.com.").as_deref(), Some("example.com"));
        assert_eq!(host("example.com:8080").as_deref(), Some("example.com"));
        assert_eq!(host("user@example.com:1").as_deref(), Some("example.com"));
    }

    #[test]
    fn hosts_without_a_name_match_nothing() {
        for h in [
            "",
            ":80",
            "1.2.3.4",
            "1.2.3.4:80",
            "[::1]",
            "[::1]:80",
            "a b.com",
            "a..b",
            ".",
        ] {
            assert_eq!(host(h), None, "{h:?}");
        }
    }

    #[test]
    fn path_removes_dot_segments_and_merges_slashes() {
        let cases = [
            ("/", "/"),
            ("", "/"),
            ("*", "/*"),
            ("/a/b/", "/a/b/"),
            ("//a///b", "/a/b"),
            ("/a/./b", "/a/b"),
            ("/a/../b", "/b"),
            ("/../../a", "/a"),
            ("/a/b/..", "/a/"),
            ("/a/.", "/a/"),
            ("/a//../b", "/b"),
            ("/%61%62c", "/abc"),
            ("/%2e%2e/x", "/x"),
            ("/a%2fb", "/a%2Fb"),
            ("/a%2Fb/../c", "/c"),
            ("/%e4%b8%ad", "/%E4%B8%AD"),
            ("/%zz", "/%25zz"),
            ("/%4", "/%254"),
            ("/%5%65F", "/%255eF"),
            ("/.hidden/..x", "/.hidden/..x"),
            ("/q?a=/../b", "/q"),
        ];
        for (input, expected) in cases {
            assert_eq!(path(input), expected, "{input:?}");
        }
    }

    #[test]
    fn path_is_idempotent_on_examples() {
        for p in [
            "/a/../../b//c/./",
            "/%2e/%2E%2e/x",
            "/x%2f..%2F",
            "relative/../x",
        ] {
            let once = path(p).into_owned();
            assert_eq!(path(&once), once, "{p:?}");
        }
    }

    #[test]
    fn normal_paths_are_borrowed() {
        assert!(matches!(path("/api/v1/users"), Cow::Borrowed(_)));
        assert!(matches!(path("/a.b/.c/..d"), Cow::Borrowed(_)));
    }
}
