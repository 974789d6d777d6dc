//! The HTTP listener: accepts connections and serves them (HTTP/1.1, hyper) so that slow,
//! idle or half-open clients cannot take the server's file descriptors or its attention.
//!
//! - A new connection must send a complete request header within `LABELHOOK_HEADER_TIMEOUT`
//!   (watched here: hyper's own timer only starts once it reads).
//! - After a response, the next request header must be complete within
//!   `LABELHOOK_KEEP_ALIVE_TIMEOUT` (hyper's header-read timer, which starts when the
//!   connection goes idle).
//! - At most `LABELHOOK_MAX_CONNECTIONS` are open. At the cap a new connection still gets
//!   in: the oldest connection that has not completed a request is closed for it (a
//!   half-sent request is what such a connection usually is, and the oldest is the nearest
//!   to its timeout anyway); failing that, the connection idle the longest between two
//!   requests (a client may see a kept-alive connection closed at any time, and reopens
//!   it). A connection in the middle of a request is never closed for another. Only when
//!   every connection is mid-request is the new one refused. So `/health` answers however
//!   many connections a slow client opens.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tower::ServiceExt;

use crate::config::HttpSettings;

/// How long a shutdown waits for requests under way to finish.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// File descriptors kept for everything but client connections: database connections,
/// files, and the deliveries' outgoing connections (added from `max_in_flight`).
const RESERVED_DESCRIPTORS: u64 = 256;

/// Connections the kernel queues for `accept` (`listen`'s backlog; Linux caps it at
/// `net.core.somaxconn`, 4096 by default). Tokio's own `bind` asks for 1024: under a flood
/// of connections a full queue drops new SYNs, and a client whose SYN was dropped (a
/// `/health` probe among them) retries only after a second.
const ACCEPT_BACKLOG: u32 = 4096;

/// Binds `address` for clients, with [`ACCEPT_BACKLOG`].
pub fn bind(address: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match address {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    socket.listen(ACCEPT_BACKLOG)
}

/// Raises this process's open-file limit to its hard limit (the soft one is often 1024,
/// too few for thousands of connections) and returns the cap on client connections that
/// fits under it, leaving room for `outgoing` delivery connections and the database.
pub fn connection_cap(settings: &HttpSettings, outgoing: usize) -> usize {
    let wanted = settings.max_connections as u64;
    let limit = match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => {
            tracing::info!(open_files = limit, "open-file limit");
            limit
        }
        Err(error) => {
            tracing::warn!(%error, "could not read or raise the open-file limit");
            return wanted as usize;
        }
    };
    let room = limit.saturating_sub(RESERVED_DESCRIPTORS + outgoing as u64);
    if room < wanted {
        tracing::warn!(
            max_connections = wanted,
            open_files = limit,
            cap = room,
            "LABELHOOK_MAX_CONNECTIONS does not fit under the open-file limit: capped lower"
        );
    }
    wanted.min(room).max(1) as usize
}

/// Serves `app` on `listener` until `shutdown` resolves, then lets requests under way
/// finish (up to [`SHUTDOWN_GRACE`]).
pub async fn serve<S>(
    listener: TcpListener,
    app: S,
    settings: &HttpSettings,
    cap: usize,
    shutdown: impl Future<Output = ()>,
) where
    S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send,
{
    let connections = Arc::new(Connections::default());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(settings.keep_alive_timeout)
        .keep_alive(true);
    let builder = Arc::new(builder);
    tokio::pin!(shutdown);
    loop {
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors (or another passing error): make room and
                    // go on; never stop accepting for long.
                    tracing::error!(%error, "accept failed");
                    connections.make_room();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        if connections.open() >= cap && !connections.make_room() {
            metrics::counter!("labelhook_http_connections_refused_total").increment(1);
            tracing::debug!(%remote, "every connection is busy: refused");
            continue; // dropped: closed
        }
        let connection = connections.add();
        let task = ConnectionTask {
            connections: connections.clone(),
            connection,
            builder: builder.clone(),
            header_timeout: settings.header_timeout,
            stopping: stopping.clone(),
        };
        tokio::spawn(task.run(stream, remote, app.clone()));
    }
    let _ = stop.send(true);
    let waited = tokio::time::timeout(SHUTDOWN_GRACE, connections.all_closed()).await;
    if waited.is_err() {
        tracing::warn!(
            open = connections.open(),
            "requests still under way at shutdown"
        );
    }
}

/// One open connection, as the accept loop sees it.
struct Connection {
    /// Acceptance order: smaller is older.
    id: u64,
    /// Requests whose header arrived and whose response has not been written yet.
    in_flight: AtomicUsize,
    /// Requests begun on this connection.
    started: AtomicU64,
    /// Requests whose response was written.
    completed: AtomicU64,
    /// Set to close the connection (to make room for a new one).
    close: tokio::sync::Notify,
}

impl Connection {
    fn idle(&self) -> bool {
        self.in_flight.load(Ordering::Acquire) == 0
    }
}

/// The open connections, oldest first.
#[derive(Default)]
struct Connections {
    open: Mutex<BTreeMap<u64, Arc<Connection>>>,
    next_id: AtomicU64,
    closed: tokio::sync::Notify,
}

impl Connections {
    fn open(&self) -> usize {
        self.open.lock().map_or(0, |open| open.len())
    }

    fn add(&self) -> Arc<Connection> {
        let connection = Arc::new(Connection {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            in_flight: AtomicUsize::new(0),
            started: AtomicU64::new(0),
            completed: AtomicU64::new(0),
            close: tokio::sync::Notify::new(),
        });
        if let Ok(mut open) = self.open.lock() {
            open.insert(connection.id, connection.clone());
            metrics::gauge!("labelhook_http_connections").set(open.len() as f64);
        }
        connection
    }

    fn remove(&self, id: u64) {
        if let Ok(mut open) = self.open.lock() {
            open.remove(&id);
            metrics::gauge!("labelhook_http_connections").set(open.len() as f64);
            if open.is_empty() {
                self.closed.notify_waiters();
            }
        }
    }

    /// Closes one connection for a new one: the oldest that has not completed a request,
    /// else the oldest idle between requests. `false` if every one is mid-request.
    fn make_room(&self) -> bool {
        let Ok(mut open) = self.open.lock() else {
            return false;
        };
        let never_answered = open
            .values()
            .find(|c| c.idle() && c.completed.load(Ordering::Acquire) == 0);
        let victim = never_answered
            .or_else(|| open.values().find(|c| c.idle()))
            .map(|c| c.id);
        let Some(id) = victim else {
            return false;
        };
        // Out of the count at once; its task closes the socket when it next runs.
        if let Some(connection) = open.remove(&id) {
            connection.close.notify_one();
        }
        metrics::counter!("labelhook_http_connections_closed_for_room_total").increment(1);
        true
    }

    async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open() == 0 {
                return;
            }
            closed.await;
        }
    }
}

struct ConnectionTask {
    connections: Arc<Connections>,
    connection: Arc<Connection>,
    builder: Arc<hyper::server::conn::http1::Builder>,
    header_timeout: Duration,
    stopping: tokio::sync::watch::Receiver<bool>,
}

impl ConnectionTask {
    async fn run<S>(mut self, stream: tokio::net::TcpStream, remote: SocketAddr, app: S)
    where
        S: tower::Service<Request<Body>, Response = Response<Body>, Error = Infallible>
            + Clone
            + Send
            + 'static,
        S::Future: Send,
    {
        let connection = self.connection.clone();
        let service = hyper::service::service_fn(move |request: Request<Incoming>| {
            let mut request = request.map(Body::new);
            request.extensions_mut().insert(ConnectInfo(remote));
            connection.started.fetch_add(1, Ordering::AcqRel);
            let under_way = UnderWay::new(connection.clone());
            let response = app.clone().oneshot(request);
            async move {
                let response = response.await?;
                // The request counts as under way until its body is written (or dropped).
                Ok::<_, Infallible>(response.map(|body| {
                    Body::new(body.map_frame(move |frame| {
                        let _ = &under_way;
                        frame
                    }))
                }))
            }
        });
        let served = self.builder.serve_connection(TokioIo::new(stream), service);
        tokio::pin!(served);
        let first_header = tokio::time::sleep(self.header_timeout);
        tokio::pin!(first_header);
        let mut first_header_due = true;
        let mut shutting_down = *self.stopping.borrow();
        if shutting_down {
            served.as_mut().graceful_shutdown();
        }
        loop {
            tokio::select! {
                result = served.as_mut() => {
                    if let Err(error) = result {
                        tracing::debug!(%remote, %error, "connection ended");
                    }
                    break;
                }
                () = self.connection.close.notified() => {
                    tracing::debug!(%remote, "closed to make room for a new connection");
                    break;
                }
                () = &mut first_header, if first_header_due => {
                    first_header_due = false;
                    if self.connection.started.load(Ordering::Acquire) == 0 {
                        tracing::debug!(%remote, "no request header in time: closed");
                        metrics::counter!("labelhook_http_header_timeouts_total").increment(1);
                        break;
                    }
                }
                changed = self.stopping.changed(), if !shutting_down => {
                    shutting_down = true;
                    if changed.is_ok() {
                        served.as_mut().graceful_shutdown();
                    }
                }
            }
        }
        self.connections.remove(self.connection.id);
    }
}

/// Counts a request under way on its connection for as long as it lives.
struct UnderWay(Arc<Connection>);

impl UnderWay {
    fn new(connection: Arc<Connection>) -> UnderWay {
        connection.in_flight.fetch_add(1, Ordering::AcqRel);
        UnderWay(connection)
    }
}

impl Drop for UnderWay {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::AcqRel);
        self.0.completed.fetch_add(1, Ordering::AcqRel);
    }
}
