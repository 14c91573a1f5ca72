//! The stand-in for oauth2-proxy the external-auth tests ask (see the test file's docs).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::TcpListener;

/// One request the auth service received.
#[derive(Debug, Clone)]
pub(crate) struct Seen {
    pub(crate) method: String,
    pub(crate) target: String,
    pub(crate) headers: HeaderMap,
    pub(crate) body_len: usize,
}

#[derive(Clone)]
pub(crate) struct AuthService {
    pub(crate) address: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl AuthService {
    pub(crate) async fn start() -> AuthService {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind auth");
        let service = AuthService {
            address: listener.local_addr().expect("auth address"),
            seen: Arc::default(),
        };
        let seen = service.seen.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let seen = seen.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(seen.clone(), request));
                    let _ = auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        service
    }

    pub(crate) fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("seen").clone()
    }

    pub(crate) fn asked(&self, path: &str) -> usize {
        self.seen()
            .iter()
            .filter(|seen| seen.target.starts_with(path))
            .count()
    }
}

fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_owned())
}

fn percent_decode(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(Ok(byte)) = value
                .get(i + 1..i + 3)
                .map(|hex| u8::from_str_radix(hex, 16))
        {
            out.push(byte);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

async fn answer(
    seen: Arc<Mutex<Vec<Seen>>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .uri
        .path_and_query()
        .map(|p| p.to_string())
        .unwrap_or_default();
    seen.lock().expect("seen").push(Seen {
        method: parts.method.to_string(),
        target: target.clone(),
        headers: parts.headers.clone(),
        body_len: body.len(),
    });
    let mut response = Response::new(Full::new(Bytes::from_static(b"auth")));
    let path = parts.uri.path();
    if path == "/oauth2/auth" {
        let bearer = parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        if let Some(user) = cookie(&parts.headers, "_oauth2_proxy") {
            *response.status_mut() = StatusCode::ACCEPTED;
            let headers = response.headers_mut();
            headers.insert("x-auth-request-user", user.parse().expect("user"));
            headers.insert(
                "x-auth-request-email",
                format!("{user}@example.com").parse().expect("email"),
            );
        } else if bearer == Some("Bearer forbidden") {
            *response.status_mut() = StatusCode::FORBIDDEN;
        } else if bearer == Some("Bearer good") {
            *response.status_mut() = StatusCode::OK;
            response
                .headers_mut()
                .insert("x-auth-request-user", "token-user".parse().expect("user"));
        } else {
            *response.status_mut() = StatusCode::UNAUTHORIZED;
            response.headers_mut().insert(
                "www-authenticate",
                "Bearer realm=\"test\"".parse().expect("challenge"),
            );
        }
    } else if path == "/oauth2/start" {
        let rd = parts
            .uri
            .query()
            .unwrap_or("")
            .split('&')
            .find_map(|pair| pair.strip_prefix("rd="))
            .map(percent_decode)
            .unwrap_or_else(|| "/".to_owned());
        *response.status_mut() = StatusCode::FOUND;
        let headers = response.headers_mut();
        headers.insert("location", rd.parse().expect("rd"));
        headers.insert(
            "set-cookie",
            "_oauth2_proxy=alice; Path=/".parse().expect("cookie"),
        );
    } else if let Some(status) = path.strip_prefix("/status/") {
        *response.status_mut() = StatusCode::from_u16(status.parse().unwrap_or(500))
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    } else if path == "/refresh" {
        let headers = response.headers_mut();
        headers.insert("set-cookie", "refreshed=1; Path=/".parse().expect("cookie"));
        headers.insert("x-auth-request-user", "refresher".parse().expect("user"));
    }
    Ok(response)
}
