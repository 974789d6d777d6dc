//! Where an export's bytes go, a piece at a time: an HTTP response body, the database
//! (a snapshot or a converted file), or memory. Formats append to [`Out::buf`] and call
//! [`Out::flush`] between tasks; the consumer behind it decides when to wait (a bounded
//! channel to a slow client holds the writer back, so memory stays bounded).

use std::future::Future;
use std::io::Write;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use tokio::sync::mpsc;

use super::ExportError;

/// Bytes gathered before they are handed on.
const FLUSH_AT: usize = 64 * 1024;

type Consume =
    Box<dyn FnMut(Vec<u8>) -> Pin<Box<dyn Future<Output = Result<(), ExportError>> + Send>> + Send>;

pub struct Out {
    pub buf: Vec<u8>,
    consume: Consume,
    written: u64,
}

impl Out {
    /// Hands every piece to `consume`.
    pub fn new(consume: Consume) -> Out {
        Out {
            buf: Vec::with_capacity(FLUSH_AT * 2),
            consume,
            written: 0,
        }
    }

    /// Sends the pieces into a channel (an HTTP body); a closed channel (the client went
    /// away) stops the export.
    pub fn channel(tx: mpsc::Sender<Result<Bytes, std::io::Error>>) -> Out {
        Out::new(Box::new(move |piece| {
            let tx = tx.clone();
            Box::pin(async move {
                tx.send(Ok(Bytes::from(piece)))
                    .await
                    .map_err(|_| ExportError::Abandoned)
            })
        }))
    }

    /// Hands on what was written if it is more than a piece's worth.
    pub async fn flush(&mut self) -> Result<(), ExportError> {
        if self.buf.len() >= FLUSH_AT {
            self.hand_on().await?;
        }
        Ok(())
    }

    /// Hands on everything written so far and ends the file.
    pub async fn finish(mut self) -> Result<u64, ExportError> {
        if !self.buf.is_empty() {
            self.hand_on().await?;
        }
        Ok(self.written)
    }

    async fn hand_on(&mut self) -> Result<(), ExportError> {
        let piece = std::mem::replace(&mut self.buf, Vec::with_capacity(FLUSH_AT * 2));
        self.written += piece.len() as u64;
        (self.consume)(piece).await
    }
}

/// A `Write` the zip writer writes into; its bytes are moved into an [`Out`] between
/// entries and pieces of entries (the zip crate writes synchronously; the body is async).
#[derive(Clone, Default)]
pub struct ZipBuffer(Arc<Mutex<Vec<u8>>>);

impl ZipBuffer {
    /// Moves what the zip writer wrote so far into `out`.
    pub async fn drain_into(&self, out: &mut Out) -> Result<(), ExportError> {
        if let Ok(mut written) = self.0.lock() {
            out.buf.append(&mut written);
        }
        out.flush().await
    }
}

impl Write for ZipBuffer {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        match self.0.lock() {
            Ok(mut buffer) => {
                buffer.extend_from_slice(data);
                Ok(data.len())
            }
            Err(_) => Err(std::io::Error::other("zip buffer poisoned")),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
