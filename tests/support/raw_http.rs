//! HTTP/1.1 by hand over one TcpStream, for what a client library hides: several
//! requests on one connection, chunked request bodies, a body sent only after the
//! answer to its head. Blocking, with a read timeout, so a missing answer fails the
//! test instead of hanging it.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

pub struct RawConn {
    stream: TcpStream,
    /// Bytes read past the end of the previous answer.
    pending: Vec<u8>,
}

#[derive(Debug)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.text()))
    }
}

impl RawConn {
    pub fn connect(addr: SocketAddr) -> RawConn {
        RawConn::try_connect(addr).unwrap_or_else(|e| panic!("connect {addr}: {e}"))
    }

    pub fn try_connect(addr: SocketAddr) -> Result<RawConn, String> {
        let stream =
            TcpStream::connect_timeout(&addr, Duration::from_secs(5)).map_err(|e| e.to_string())?;
        stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .map_err(|e| e.to_string())?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        Ok(RawConn {
            stream,
            pending: Vec::new(),
        })
    }

    /// How long a read may wait before the answer counts as missing (15 s by default).
    pub fn set_read_timeout(&mut self, timeout: Duration) {
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("read timeout");
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to xgate");
        self.stream.flush().expect("flush");
    }

    /// Reads one whole answer (Content-Length, chunked, or up to EOF).
    pub fn read_response(&mut self) -> RawResponse {
        self.try_read_response()
            .unwrap_or_else(|e| panic!("reading an answer: {e}"))
    }

    pub fn try_read_response(&mut self) -> Result<RawResponse, String> {
        let head_end = loop {
            if let Some(i) = find(&self.pending, b"\r\n\r\n") {
                break i;
            }
            if self.fill()? == 0 {
                return Err(format!(
                    "connection closed before an answer's head ({} bytes: {:?})",
                    self.pending.len(),
                    String::from_utf8_lossy(&self.pending)
                ));
            }
        };
        let head = String::from_utf8_lossy(&self.pending[..head_end]).into_owned();
        self.pending.drain(..head_end + 4);
        let mut lines = head.split("\r\n");
        let status_line = lines.next().unwrap_or_default();
        let status: u16 = status_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {status_line:?}"))?;
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let body = if let Some(len) = get("content-length") {
            let len: usize = len.parse().map_err(|_| format!("bad length {len}"))?;
            self.take(len)?
        } else if get("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            self.chunked()?
        } else if status == 204 || status == 304 || (100..200).contains(&status) {
            Vec::new()
        } else {
            while self.fill()? > 0 {}
            std::mem::take(&mut self.pending)
        };
        Ok(RawResponse {
            status,
            headers,
            body,
        })
    }

    /// Whether the peer has closed the connection (reads EOF within a short wait).
    pub fn is_closed(&mut self) -> bool {
        self.stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("read timeout");
        let closed = matches!(self.fill(), Ok(0) | Err(_));
        self.stream
            .set_read_timeout(Some(Duration::from_secs(15)))
            .expect("read timeout");
        closed
    }

    fn fill(&mut self) -> Result<usize, String> {
        let mut buf = [0u8; 8192];
        let n = self.stream.read(&mut buf).map_err(|e| match e.kind() {
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => {
                "no answer within the read timeout".to_string()
            }
            _ => e.to_string(),
        })?;
        self.pending.extend_from_slice(&buf[..n]);
        Ok(n)
    }

    fn take(&mut self, len: usize) -> Result<Vec<u8>, String> {
        while self.pending.len() < len {
            if self.fill()? == 0 {
                return Err("connection closed inside a body".into());
            }
        }
        Ok(self.pending.drain(..len).collect())
    }

    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(i) = find(&self.pending, b"\r\n") {
                let line = String::from_utf8_lossy(&self.pending[..i]).into_owned();
                self.pending.drain(..i + 2);
                return Ok(line);
            }
            if self.fill()? == 0 {
                return Err("connection closed inside a chunked body".into());
            }
        }
    }

    fn chunked(&mut self) -> Result<Vec<u8>, String> {
        let mut body = Vec::new();
        loop {
            let size_line = self.line()?;
            let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| format!("bad chunk size {size_line:?}"))?;
            if size == 0 {
                // Trailers, up to the empty line.
                while !self.line()?.is_empty() {}
                return Ok(body);
            }
            body.extend(self.take(size)?);
            self.line()?;
        }
    }
}

/// A request with a Content-Length body (none when `body` is empty and the method
/// carries none).
pub fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || matches!(method, "POST" | "PUT") {
        out.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    out.push_str("\r\n");
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(body);
    bytes
}

/// One chunk of a chunked body; `chunk(b"")` is the last one.
pub fn chunk(data: &[u8]) -> Vec<u8> {
    let mut out = format!("{:x}\r\n", data.len()).into_bytes();
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
