//! Tenants' own ports (the old per-CTS `:7100`, `:7300` ...), opened and closed while
//! xgate runs.
//!
//! pingora cannot add listeners to a running server, and tenants come and go on reload.
//! So these listeners live beside pingora's: a pingora background service owns the
//! accept loops, and every accepted connection is handed to pingora's own HTTP/1
//! session code (`Service::handle_event`) with the same `Bridge` as the static
//! listeners. Only accepting is ours; parsing, keep-alive and shutdown are pingora's.
//!
//! Sockets are bound with SO_REUSEPORT so that during a graceful upgrade the new
//! process can bind the same ports while the old one still drains.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pingora::protocols::GetSocketDigest;
use pingora::protocols::SocketDigest;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::server::ShutdownWatch;
use pingora::services::background::BackgroundService;
use pingora::services::listening::Service;
use tokio::sync::mpsc;

use crate::bridge::Bridge;

pub enum PortCommand {
    Open(u16, std::net::TcpListener),
    /// Answered once the listener is closed.
    Close(u16, tokio::sync::oneshot::Sender<()>),
}

/// The reloader's side: binds sockets synchronously (so a port in use is an error at
/// reload time, not later) and tells the service what to accept on.
#[derive(Clone)]
pub struct PortsHandle {
    tx: mpsc::UnboundedSender<PortCommand>,
}

impl PortsHandle {
    pub fn bind(addr: SocketAddr) -> std::io::Result<std::net::TcpListener> {
        use socket2::{Domain, Socket, Type};
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)?;
        socket.set_reuse_address(true)?;
        socket.set_reuse_port(true)?;
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(1024)?;
        Ok(socket.into())
    }

    pub fn open(&self, port: u16, listener: std::net::TcpListener) {
        let _ = self.tx.send(PortCommand::Open(port, listener));
    }

    /// Returns once the port no longer accepts, so a reload that removed a tenant has
    /// really closed its port when it reports success.
    pub async fn close(&self, port: u16) {
        let (done, closed) = tokio::sync::oneshot::channel();
        if self.tx.send(PortCommand::Close(port, done)).is_ok() {
            // Bounded: before pingora has started the service nothing answers.
            let _ = tokio::time::timeout(std::time::Duration::from_secs(2), closed).await;
        }
    }
}

pub struct TenantPorts {
    bridge: Arc<Bridge>,
    rx: Mutex<Option<mpsc::UnboundedReceiver<PortCommand>>>,
}

impl TenantPorts {
    pub fn new(bridge: Arc<Bridge>) -> (TenantPorts, PortsHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            TenantPorts {
                bridge,
                rx: Mutex::new(Some(rx)),
            },
            PortsHandle { tx },
        )
    }
}

#[async_trait]
impl BackgroundService for TenantPorts {
    /// Runs for the life of the server: applies open/close commands, stops accepting on
    /// every tenant port when pingora begins its graceful shutdown.
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let mut accepting: HashMap<u16, tokio::task::JoinHandle<()>> = HashMap::new();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(PortCommand::Open(port, std)) => {
                        match tokio::net::TcpListener::from_std(std) {
                            Ok(listener) => {
                                let task = tokio::spawn(accept_loop(listener, self.bridge.clone(), shutdown.clone()));
                                if let Some(old) = accepting.insert(port, task) {
                                    old.abort();
                                }
                                tracing::info!(port, "tenant port open");
                            }
                            Err(e) => tracing::error!(port, error = %e, "cannot accept on tenant port"),
                        }
                    }
                    Some(PortCommand::Close(port, done)) => {
                        if let Some(task) = accepting.remove(&port) {
                            // Aborting the accept loop drops the listener; connections
                            // already accepted run on their own tasks and finish.
                            task.abort();
                            let _ = task.await;
                            tracing::info!(port, "tenant port closed");
                        }
                        let _ = done.send(());
                    }
                    None => break,
                },
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        for (_, task) in accepting {
            task.abort();
        }
    }
}

async fn accept_loop(
    listener: tokio::net::TcpListener,
    bridge: Arc<Bridge>,
    shutdown: ShutdownWatch,
) {
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // EMFILE and friends: keep the port, let the pressure pass.
                tracing::warn!(error = %e, "accept failed on a tenant port");
                tokio::task::yield_now().await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let mut stream: L4Stream = tcp.into();
        let digest = SocketDigest::from_raw_fd(stream.as_raw_fd());
        let _ = digest.peer_addr.set(Some(peer.into()));
        stream.set_socket_digest(digest);
        let bridge = bridge.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            Service::<Bridge>::handle_event(Box::new(stream), bridge, shutdown).await;
        });
    }
}
