//! Tenants' own ports (the old per-CTS `:7100`, `:7300` ...), opened and closed while
//! xgate runs.
//!
//! pingora cannot add listeners to a running server, and tenants come and go on reload.
//! So these listeners live beside pingora's: a pingora background service owns the
//! accept loops, and every accepted connection is handed to pingora's own HTTP/1
//! session code (`Service::handle_event`) with the same `Bridge` as the static
//! listeners. Only accepting is ours; parsing, keep-alive and shutdown are pingora's.
//!
//! On a graceful upgrade (SIGQUIT) the open tenant ports are handed to the new process
//! (`handover.rs`), so it accepts on the same sockets. Sockets are also bound with
//! SO_REUSEPORT: a new process whose predecessor sent nothing can still bind them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use pingora::protocols::GetSocketDigest;
use pingora::protocols::SocketDigest;
use pingora::protocols::l4::stream::Stream as L4Stream;
use pingora::server::{ExecutionPhase, ShutdownWatch};
use pingora::services::background::BackgroundService;
use pingora::services::listening::Service;
use tokio::sync::{broadcast, mpsc};

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
    /// pingora's phases: SIGQUIT (a new process takes over) is when the ports go over.
    phases: Mutex<Option<broadcast::Receiver<ExecutionPhase>>>,
    /// Where the new process waits for them (`handover::ports_sock`).
    handover_sock: PathBuf,
}

/// An open port: its accept loop, and a duplicate of its socket to hand over on upgrade
/// (dropped with the loop, so a closed port is closed).
struct Open {
    task: tokio::task::JoinHandle<()>,
    socket: std::net::TcpListener,
}

impl TenantPorts {
    pub fn new(
        bridge: Arc<Bridge>,
        phases: broadcast::Receiver<ExecutionPhase>,
        handover_sock: PathBuf,
    ) -> (TenantPorts, PortsHandle) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            TenantPorts {
                bridge,
                rx: Mutex::new(Some(rx)),
                phases: Mutex::new(Some(phases)),
                handover_sock,
            },
            PortsHandle { tx },
        )
    }

    /// Sends duplicates of every open port to the new process, off the runtime (it
    /// blocks until that process listens). These sockets keep accepting here until
    /// pingora's shutdown; both processes share their queues meanwhile.
    fn hand_over(&self, open: &HashMap<u16, Open>) {
        let sockets: Vec<(SocketAddr, std::net::TcpListener)> = open
            .values()
            .filter_map(|o| Some((o.socket.local_addr().ok()?, o.socket.try_clone().ok()?)))
            .collect();
        let path = self.handover_sock.clone();
        tokio::task::spawn_blocking(move || {
            let fds: Vec<(SocketAddr, std::os::fd::RawFd)> =
                sockets.iter().map(|(a, s)| (*a, s.as_raw_fd())).collect();
            match crate::handover::send(&path, &fds, HANDOVER_TIMEOUT) {
                Ok(()) => {
                    tracing::info!(ports = fds.len(), "tenant ports handed to the new process")
                }
                Err(e) => {
                    tracing::error!(error = %e, "cannot hand the tenant ports over; the new process binds its own")
                }
            }
        });
    }
}

/// As long as pingora waits for its own listeners to go over.
pub const HANDOVER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(5);

#[async_trait]
impl BackgroundService for TenantPorts {
    /// Runs for the life of the server: applies open/close commands, stops accepting on
    /// every tenant port when pingora begins its graceful shutdown.
    async fn start(&self, mut shutdown: ShutdownWatch) {
        let Some(mut rx) = self.rx.lock().unwrap_or_else(|p| p.into_inner()).take() else {
            return;
        };
        let mut phases = self.phases.lock().unwrap_or_else(|p| p.into_inner()).take();
        let mut accepting: HashMap<u16, Open> = HashMap::new();
        loop {
            tokio::select! {
                cmd = rx.recv() => match cmd {
                    Some(PortCommand::Open(port, std)) => {
                        let opened = std.try_clone().and_then(|socket| {
                            Ok((socket, tokio::net::TcpListener::from_std(std)?))
                        });
                        match opened {
                            Ok((socket, listener)) => {
                                let task = tokio::spawn(accept_loop(listener, self.bridge.clone(), shutdown.clone()));
                                if let Some(old) = accepting.insert(port, Open { task, socket }) {
                                    old.task.abort();
                                }
                                tracing::info!(port, "tenant port open");
                            }
                            Err(e) => tracing::error!(port, error = %e, "cannot accept on tenant port"),
                        }
                    }
                    Some(PortCommand::Close(port, done)) => {
                        if let Some(open) = accepting.remove(&port) {
                            // Aborting the accept loop drops the listener; connections
                            // already accepted run on their own tasks and finish.
                            open.task.abort();
                            let _ = open.task.await;
                            drop(open.socket);
                            tracing::info!(port, "tenant port closed");
                        }
                        let _ = done.send(());
                    }
                    None => break,
                },
                phase = next_phase(&mut phases) => match phase {
                    Ok(ExecutionPhase::GracefulUpgradeTransferringFds) => self.hand_over(&accepting),
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => phases = None,
                },
                changed = shutdown.changed() => {
                    if changed.is_err() || *shutdown.borrow() {
                        break;
                    }
                }
            }
        }
        for (_, open) in accepting {
            open.task.abort();
        }
    }
}

/// The next phase, or never once there are none to watch.
async fn next_phase(
    phases: &mut Option<broadcast::Receiver<ExecutionPhase>>,
) -> Result<ExecutionPhase, broadcast::error::RecvError> {
    match phases {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
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
