//! A minimal HTTP/1.1 client for `verify --server`: GET requests with a bearer token.
//!
//! An auditor's check needs a handful of GETs against one server, so this is `hyper`'s
//! connection API over a fresh TCP connection per request, plain `http://` only: put a TLS
//! terminator's address or an SSH tunnel in front for a remote server. It never follows
//! redirects, so a proof cannot be fetched from somewhere else than asked.

use anyhow::{bail, Context as _};
use http_body_util::{BodyExt as _, Empty};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, HOST};
use hyper_util::rt::TokioIo;
use serde::de::DeserializeOwned;

/// The largest answer accepted, in bytes.
pub const RESPONSE_BYTES_MAX: usize = 16 * 1024 * 1024;

/// A server and the token to present.
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    port: u16,
    prefix: String,
    token: Option<String>,
}

impl Client {
    /// A client for `base` (`http://host[:port][/prefix]`).
    pub fn new(base: &str, token: Option<String>) -> anyhow::Result<Self> {
        let Some(rest) = base.strip_prefix("http://") else {
            bail!(
                "server URL {base:?} is not accepted; use http://host:port \
                 (TLS: use a local tunnel)"
            );
        };
        let (authority, prefix) = match rest.split_once('/') {
            Some((authority, path)) => (authority, format!("/{}", path.trim_end_matches('/'))),
            None => (rest, String::new()),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) => {
                (host.to_owned(), port.parse().with_context(|| format!("port of {base:?}"))?)
            }
            None => (authority.to_owned(), 80),
        };
        let prefix = if prefix == "/" { String::new() } else { prefix };
        Ok(Self { host, port, prefix, token })
    }

    /// GETs `path` (with its query); returns the status and the body.
    pub async fn get(&self, path: &str) -> anyhow::Result<(u16, Vec<u8>)> {
        let stream = tokio::net::TcpStream::connect((self.host.as_str(), self.port))
            .await
            .with_context(|| format!("connecting to {}:{}", self.host, self.port))?;
        let (mut sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        let mut request = hyper::Request::get(format!("{}{path}", self.prefix))
            .header(HOST, format!("{}:{}", self.host, self.port));
        if let Some(token) = &self.token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let response = sender.send_request(request.body(Empty::<Bytes>::new())?).await?;
        let status = response.status().as_u16();
        let body = http_body_util::Limited::new(response.into_body(), RESPONSE_BYTES_MAX)
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!("reading the answer to {path}: {e}"))?
            .to_bytes();
        Ok((status, body.to_vec()))
    }

    /// GETs `path` and fails unless the answer is 2xx.
    pub async fn get_ok(&self, path: &str) -> anyhow::Result<Vec<u8>> {
        let (status, body) = self.get(path).await?;
        if !(200..300).contains(&status) {
            let detail = String::from_utf8_lossy(&body);
            bail!("GET {path} answered {status}: {}", detail.chars().take(500).collect::<String>());
        }
        Ok(body)
    }

    /// GETs `path` as text.
    pub async fn get_text(&self, path: &str) -> anyhow::Result<String> {
        String::from_utf8(self.get_ok(path).await?).with_context(|| format!("{path} is not UTF-8"))
    }

    /// GETs `path` as JSON of type `T`.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let body = self.get_ok(path).await?;
        serde_json::from_slice(&body).with_context(|| format!("the answer to {path}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let c = Client::new("http://127.0.0.1:8080", None).unwrap();
        assert_eq!((c.host.as_str(), c.port, c.prefix.as_str()), ("127.0.0.1", 8080, ""));
        let c = Client::new("http://ledger.local/api/", None).unwrap();
        assert_eq!((c.host.as_str(), c.port, c.prefix.as_str()), ("ledger.local", 80, "/api"));
        assert!(Client::new("https://x", None).is_err());
    }
}
