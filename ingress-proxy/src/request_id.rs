//! `X-Request-ID`, as ingress-nginx's `$req_id`: the client's own when it sent one, else 32
//! random lowercase hex digits (128 bits) generated here. Either way it is set on the request
//! sent upstream and written to the access log, so one id follows the request through the
//! proxy, the upstream's logs and the client's.

use http::header::{HeaderMap, HeaderName, HeaderValue};

/// The field's name.
pub(crate) const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Makes sure `headers` carry an `X-Request-ID`: an empty or missing one is replaced by a new
/// random id.
pub(crate) fn ensure(headers: &mut HeaderMap) {
    if headers
        .get(&X_REQUEST_ID)
        .is_some_and(|value| !value.is_empty())
    {
        return;
    }
    headers.insert(X_REQUEST_ID, generate());
}

/// 32 lowercase hex digits from the thread's CSPRNG (`rand`'s `ThreadRng`, seeded by the OS):
/// as unpredictable as nginx's `$request_id` (OpenSSL's `RAND_bytes`).
fn generate() -> HeaderValue {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let random: u128 = rand::random();
    let mut digits = [0u8; 32];
    for (index, digit) in digits.iter_mut().enumerate() {
        let shift = 124 - 4 * index;
        *digit = HEX[usize::from((random >> shift) as u8 & 0xf)];
    }
    // Hex digits are visible ASCII, always a valid header value.
    HeaderValue::from_bytes(&digits).unwrap_or_else(|_| HeaderValue::from_static("-"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_id_is_generated_as_32_lowercase_hex_digits() {
        let mut headers = HeaderMap::new();
        ensure(&mut headers);
        let id = headers.get(&X_REQUEST_ID).expect("an id was set");
        let id = id.to_str().expect("ASCII");
        assert_eq!(id.len(), 32, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
            "{id}"
        );
    }

    #[test]
    fn generated_ids_differ() {
        let (mut first, mut second) = (HeaderMap::new(), HeaderMap::new());
        ensure(&mut first);
        ensure(&mut second);
        assert_ne!(first.get(&X_REQUEST_ID), second.get(&X_REQUEST_ID));
    }

    #[test]
    fn the_clients_id_is_kept_and_an_empty_one_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(&X_REQUEST_ID, HeaderValue::from_static("client-chosen"));
        ensure(&mut headers);
        assert_eq!(headers[&X_REQUEST_ID], "client-chosen");

        headers.insert(&X_REQUEST_ID, HeaderValue::from_static(""));
        ensure(&mut headers);
        assert_eq!(headers[&X_REQUEST_ID].len(), 32);
    }
}
