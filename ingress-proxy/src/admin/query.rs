//! The admin API's query strings: `name=value` pairs joined by `&`, percent-encoded, `+` for
//! a space (HTML forms' `application/x-www-form-urlencoded`). Malformed escapes are kept as
//! written; the admin API only reads what it is asked.

/// Every `(name, value)` pair of `query`, decoded, in order (names may repeat).
pub(crate) fn pairs(query: Option<&str>) -> Vec<(String, String)> {
    query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(name), decode(value))
        })
        .collect()
}

/// The first value of `name`.
pub(crate) fn first<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                if let Some(byte) = hex {
                    out.push(byte);
                    i += 2;
                } else {
                    out.push(b'%');
                }
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_in_order_and_names_may_repeat() {
        let got = pairs(Some(
            "host=a.example&path=%2Fapi%3Fx%3D1&header=X-A%3A+b&header=Y:c&bad=%zz&flag",
        ));
        let want: Vec<(String, String)> = [
            ("host", "a.example"),
            ("path", "/api?x=1"),
            ("header", "X-A: b"),
            ("header", "Y:c"),
            ("bad", "%zz"),
            ("flag", ""),
        ]
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect();
        assert_eq!(got, want);
        assert_eq!(first(&got, "header"), Some("X-A: b"));
        assert_eq!(pairs(None), Vec::new());
    }
}
