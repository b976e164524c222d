//! Tenant ports across a graceful upgrade.
//!
//! pingora hands its own listeners to the new process over `upgrade_sock` when the old
//! one gets SIGQUIT. Tenant ports are xgate's (see `ports.rs`), so xgate hands them over
//! the same way, beside it, on `<upgrade_sock>.ports`. The new process then accepts on
//! the very same sockets: a connection still waiting in the accept queue when the old
//! process stops is accepted by the new one. Two SO_REUSEPORT sockets cannot promise
//! that: the kernel resets whatever is queued on the one that closes.
//!
//! Wire format: one message, the listeners' addresses as text (space separated, `-` for
//! none) with their descriptors attached (SCM_RIGHTS), in the same order.

use std::collections::HashMap;
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::socket::{ControlMessage, ControlMessageOwned, MsgFlags, recvmsg, sendmsg};

/// More tenant ports than one process serves in practice; the message must fit one read.
const MAX_PORTS: usize = 4096;
const MAX_TEXT: usize = MAX_PORTS * 48;

pub fn ports_sock(upgrade_sock: &Path) -> PathBuf {
    let mut name = upgrade_sock.as_os_str().to_owned();
    name.push(".ports");
    PathBuf::from(name)
}

/// The new process's end. Listening starts before pingora's own hand-over, so the old
/// process never waits for us; the message is read after it.
pub struct Receiver {
    listener: UnixListener,
    path: PathBuf,
}

impl Receiver {
    pub fn listen(path: &Path) -> io::Result<Receiver> {
        // A socket file left by an earlier upgrade would make bind fail.
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        Ok(Receiver {
            listener,
            path: path.to_path_buf(),
        })
    }

    /// Waits up to `timeout` for the old process (an old xgate that predates this hand-over
    /// never sends: the caller then binds the ports itself).
    pub fn receive(self, timeout: Duration) -> io::Result<HashMap<SocketAddr, TcpListener>> {
        let deadline = Instant::now() + timeout;
        let stream = loop {
            match self.listener.accept() {
                Ok((stream, _)) => break stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if Instant::now() > deadline {
                        return Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "no tenant ports sent",
                        ));
                    }
                    // Polling a non-blocking accept: std has no accept with a timeout.
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(e) => return Err(e),
            }
        };
        stream.set_nonblocking(false)?;
        stream.set_read_timeout(Some(
            deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_millis(100)),
        ))?;
        read_listeners(&stream)
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn read_listeners(stream: &UnixStream) -> io::Result<HashMap<SocketAddr, TcpListener>> {
    let mut text = vec![0u8; MAX_TEXT];
    let mut cmsg = nix::cmsg_space!([RawFd; MAX_PORTS]);
    let mut iov = [IoSliceMut::new(&mut text)];
    let msg = recvmsg::<()>(
        stream.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .map_err(io::Error::from)?;
    let mut fds: Vec<OwnedFd> = Vec::new();
    for c in msg.cmsgs().map_err(io::Error::from)? {
        if let ControlMessageOwned::ScmRights(received) = c {
            // Owned at once, so every descriptor is closed if anything below fails.
            fds.extend(
                received
                    .into_iter()
                    // SAFETY: SCM_RIGHTS installed these descriptors in this process for
                    // this message alone; nothing else owns them.
                    .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
            );
        }
    }
    let len = msg.bytes;
    let text = std::str::from_utf8(&text[..len])
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "tenant ports: not text"))?;
    let addrs: Vec<SocketAddr> = text
        .split_ascii_whitespace()
        .filter(|a| *a != "-")
        .map(|a| {
            a.parse().map_err(|_| {
                io::Error::new(io::ErrorKind::InvalidData, "tenant ports: bad address")
            })
        })
        .collect::<io::Result<_>>()?;
    if addrs.len() != fds.len() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "tenant ports: addresses and sockets differ",
        ));
    }
    Ok(addrs
        .into_iter()
        .zip(fds)
        .map(|(addr, fd)| (addr, TcpListener::from(fd)))
        .collect())
}

/// The old process's end, on SIGQUIT: sends `listeners` (which stay open here until the
/// old process stops accepting). Retries until the new process listens or `timeout`.
pub fn send(path: &Path, listeners: &[(SocketAddr, RawFd)], timeout: Duration) -> io::Result<()> {
    let deadline = Instant::now() + timeout;
    let stream = loop {
        match UnixStream::connect(path) {
            Ok(s) => break s,
            Err(e) if Instant::now() > deadline => return Err(e),
            // Polling for the new process's socket: it appears when that process gets there.
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    };
    let text = if listeners.is_empty() {
        "-".to_string()
    } else {
        listeners
            .iter()
            .map(|(a, _)| a.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let fds: Vec<RawFd> = listeners.iter().map(|(_, fd)| *fd).collect();
    let iov = [IoSlice::new(text.as_bytes())];
    let rights = [ControlMessage::ScmRights(&fds)];
    let cmsgs: &[ControlMessage] = if fds.is_empty() { &[] } else { &rights };
    let sent = sendmsg::<()>(stream.as_raw_fd(), &iov, cmsgs, MsgFlags::empty(), None)
        .map_err(io::Error::from)?;
    if sent != text.len() {
        return Err(io::Error::new(
            io::ErrorKind::WriteZero,
            "tenant ports: short write",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The received socket is the sent one: a connection queued before the hand-over is
    /// accepted on the other side.
    #[test]
    fn listeners_cross_with_their_queue() {
        let dir = tempfile::tempdir().unwrap();
        let path = ports_sock(&dir.path().join("upgrade.sock"));
        let receiver = Receiver::listen(&path).unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let queued = std::net::TcpStream::connect(addr).unwrap();
        send(
            &path,
            &[(addr, listener.as_raw_fd())],
            Duration::from_secs(5),
        )
        .unwrap();
        drop(listener);
        let got = receiver.receive(Duration::from_secs(5)).unwrap();
        let inherited = got.get(&addr).expect("the listener arrived");
        let (accepted, _) = inherited.accept().unwrap();
        assert_eq!(accepted.peer_addr().unwrap(), queued.local_addr().unwrap());
    }

    #[test]
    fn no_ports_is_a_valid_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = ports_sock(&dir.path().join("upgrade.sock"));
        let receiver = Receiver::listen(&path).unwrap();
        send(&path, &[], Duration::from_secs(5)).unwrap();
        assert!(receiver.receive(Duration::from_secs(5)).unwrap().is_empty());
    }

    #[test]
    fn nobody_sending_times_out() {
        let dir = tempfile::tempdir().unwrap();
        let path = ports_sock(&dir.path().join("upgrade.sock"));
        let receiver = Receiver::listen(&path).unwrap();
        let err = receiver.receive(Duration::from_millis(50)).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
