//! Webhook receivers on loopback: a minimal HTTP/1.1 server (httparse over tokio) so that
//! a receiver costs a few microseconds per request and can misbehave on purpose: stay shut
//! (connection refused), hold answers behind a gate, hang, answer 500 or reset.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::util::now_us;

#[derive(Debug, Clone, Copy)]
pub enum Mode {
    /// 200 at once.
    Ok,
    /// Answers wait until the gate opens (a receiver that is not answering yet).
    Gate,
    /// Never answers: holds the request this long, then closes the connection.
    Hang(Duration),
    /// Fails `ratio` of requests at random, a third each: 500, hang (then close), reset.
    Flaky { ratio: f64, hang: Duration },
}

/// What to keep of each acknowledged delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Keep {
    Count,
    /// Arrival times (drain rates).
    Times,
    /// Arrival times and bodies (latency and loss accounting; parsed after the run).
    Bodies,
}

#[derive(Debug, Clone)]
pub struct Rec {
    pub at_us: i64,
    pub id: Option<Bytes>,
    pub body: Option<Bytes>,
}

#[derive(Default)]
pub struct Counters {
    /// TCP connections accepted (keep-alive reuse shows as few).
    pub connections: AtomicU64,
    pub requests: AtomicU64,
    pub acked: AtomicU64,
    pub answered_500: AtomicU64,
    pub hung: AtomicU64,
    pub reset: AtomicU64,
}

struct Inner {
    mode: Mode,
    keep: Keep,
    counters: Counters,
    log: Mutex<Vec<Rec>>,
    gate: watch::Sender<bool>,
    /// Bumped to drop every open connection (going down).
    epoch: watch::Sender<u64>,
    up: AtomicBool,
    acceptor: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

#[derive(Clone)]
pub struct Receiver {
    pub addr: SocketAddr,
    inner: Arc<Inner>,
}

impl Receiver {
    pub async fn start(mode: Mode, keep: Keep) -> anyhow::Result<Receiver> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let receiver = Receiver {
            addr,
            inner: Arc::new(Inner {
                mode,
                keep,
                counters: Counters::default(),
                log: Mutex::new(Vec::new()),
                gate: watch::channel(false).0,
                epoch: watch::channel(0).0,
                up: AtomicBool::new(false),
                acceptor: Mutex::new(None),
            }),
        };
        receiver.serve(listener);
        Ok(receiver)
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn serve(&self, listener: TcpListener) {
        self.inner.up.store(true, Relaxed);
        let inner = self.inner.clone();
        let handle = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    continue;
                };
                let _ = stream.set_nodelay(true);
                inner.counters.connections.fetch_add(1, Relaxed);
                let inner = inner.clone();
                tokio::spawn(async move {
                    let epoch = inner.epoch.subscribe();
                    serve_conn(inner, stream, epoch).await;
                });
            }
        });
        *self.inner.acceptor.lock().unwrap() = Some(handle);
    }

    /// Stops listening and drops every connection: senders get "connection refused".
    pub fn down(&self) {
        self.inner.up.store(false, Relaxed);
        if let Some(handle) = self.inner.acceptor.lock().unwrap().take() {
            handle.abort();
        }
        self.inner.epoch.send_modify(|e| *e += 1);
    }

    /// Listens again on the same address.
    pub async fn up(&self) -> anyhow::Result<()> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match TcpListener::bind(self.addr).await {
                Ok(listener) => {
                    self.serve(listener);
                    return Ok(());
                }
                Err(e) if Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    pub fn open_gate(&self) {
        self.inner.gate.send_replace(true);
    }

    pub fn counters(&self) -> &Counters {
        &self.inner.counters
    }

    pub fn acked(&self) -> u64 {
        self.inner.counters.acked.load(Relaxed)
    }

    pub fn take_log(&self) -> Vec<Rec> {
        std::mem::take(&mut *self.inner.log.lock().unwrap())
    }

    pub fn connections(&self) -> u64 {
        self.inner.counters.connections.load(Relaxed)
    }

    /// Waits (polling every 5 ms) until `n` deliveries were acknowledged, or the deadline.
    /// Returns whether it got there.
    pub async fn wait_acked(&self, n: u64, within: Duration) -> bool {
        let deadline = Instant::now() + within;
        while self.acked() < n {
            if Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";
const ERR: &[u8] = b"HTTP/1.1 500 Internal Server Error\r\ncontent-length: 0\r\n\r\n";

async fn serve_conn(inner: Arc<Inner>, mut stream: TcpStream, mut epoch: watch::Receiver<u64>) {
    let mut buf = BytesMut::with_capacity(16 * 1024);
    loop {
        // Head.
        let (head_len, body_len, id) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(&buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut len = 0usize;
                    let mut id = None;
                    for h in req.headers.iter() {
                        if h.name.eq_ignore_ascii_case("content-length") {
                            len = std::str::from_utf8(h.value)
                                .ok()
                                .and_then(|v| v.trim().parse().ok())
                                .unwrap_or(0);
                        } else if h.name.eq_ignore_ascii_case("webhook-id")
                            && inner.keep >= Keep::Bodies
                        {
                            id = Some(Bytes::copy_from_slice(h.value));
                        }
                    }
                    break (n, len, id);
                }
                Ok(httparse::Status::Partial) => {
                    tokio::select! {
                        r = stream.read_buf(&mut buf) => match r {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        },
                        _ = epoch.changed() => return,
                    }
                }
                Err(_) => return,
            }
        };
        while buf.len() < head_len + body_len {
            tokio::select! {
                r = stream.read_buf(&mut buf) => match r {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                },
                _ = epoch.changed() => return,
            }
        }
        let request = buf.split_to(head_len + body_len).freeze();
        inner.counters.requests.fetch_add(1, Relaxed);
        let mut fail = None;
        match inner.mode {
            Mode::Ok => {}
            Mode::Gate => {
                let mut gate = inner.gate.subscribe();
                tokio::select! {
                    _ = gate.wait_for(|open| *open) => {},
                    _ = epoch.changed() => return,
                }
            }
            Mode::Hang(d) => fail = Some((1u8, d)),
            Mode::Flaky { ratio, hang } => {
                if rand::random::<f64>() < ratio {
                    fail = Some((rand::random_range(0..3u8), hang));
                }
            }
        }
        match fail {
            None => {}
            Some((0, _)) => {
                inner.counters.answered_500.fetch_add(1, Relaxed);
                if stream.write_all(ERR).await.is_err() {
                    return;
                }
                continue;
            }
            Some((1, d)) => {
                inner.counters.hung.fetch_add(1, Relaxed);
                tokio::select! {
                    _ = tokio::time::sleep(d) => {},
                    _ = epoch.changed() => {},
                }
                return;
            }
            Some(_) => {
                inner.counters.reset.fetch_add(1, Relaxed);
                let _ = socket2::SockRef::from(&stream).set_linger(Some(Duration::ZERO));
                return;
            }
        }
        let at_us = now_us();
        if stream.write_all(OK).await.is_err() {
            return;
        }
        inner.counters.acked.fetch_add(1, Relaxed);
        match inner.keep {
            Keep::Count => {}
            Keep::Times => inner.log.lock().unwrap().push(Rec {
                at_us,
                id: None,
                body: None,
            }),
            Keep::Bodies => inner.log.lock().unwrap().push(Rec {
                at_us,
                id,
                body: Some(Bytes::copy_from_slice(&request[head_len..])),
            }),
        }
    }
}
