//! Record sink: lines are formatted into an in-memory chunk and handed to a writer thread in
//! fixed-size chunks through a bounded channel, so memory stays flat however long the run is and the
//! async threads never block on file I/O longer than a channel send.

use std::fs::File;
use std::io::{self, Write};
use std::path::Path;
use std::sync::Mutex;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

const CHUNK: usize = 64 * 1024;
const CHUNKS_IN_FLIGHT: usize = 64;

pub(crate) struct Sink {
    buf: Mutex<Vec<u8>>,
    tx: Mutex<Option<SyncSender<Vec<u8>>>>,
    thread: Mutex<Option<JoinHandle<io::Result<u64>>>>,
}

impl Sink {
    pub(crate) fn create(path: &Path) -> io::Result<Sink> {
        let mut file = File::create(path)?;
        let (tx, rx) = sync_channel::<Vec<u8>>(CHUNKS_IN_FLIGHT);
        let thread = std::thread::Builder::new()
            .name("records-writer".into())
            .spawn(move || {
                let mut total = 0u64;
                while let Ok(chunk) = rx.recv() {
                    file.write_all(&chunk)?;
                    total += chunk.len() as u64;
                }
                file.flush()?;
                file.sync_data()?;
                Ok(total)
            })?;
        Ok(Sink {
            buf: Mutex::new(Vec::with_capacity(CHUNK + 4096)),
            tx: Mutex::new(Some(tx)),
            thread: Mutex::new(Some(thread)),
        })
    }

    /// Append one line (the closure writes it, without the newline).
    #[inline]
    pub(crate) fn line(&self, f: impl FnOnce(&mut Vec<u8>)) {
        let full = {
            let mut b = self.buf.lock().unwrap();
            f(&mut b);
            b.push(b'\n');
            if b.len() >= CHUNK {
                Some(std::mem::replace(&mut *b, Vec::with_capacity(CHUNK + 4096)))
            } else {
                None
            }
        };
        if let Some(chunk) = full {
            self.send(chunk);
        }
    }

    /// Write a record line with its type tag (see [`crate::record`]).
    pub(crate) fn tagged<T: serde::Serialize>(&self, t: &'static str, v: &T) {
        self.line(|b| crate::record::write_tagged(b, t, v));
    }

    fn send(&self, chunk: Vec<u8>) {
        if let Some(tx) = self.tx.lock().unwrap().as_ref() {
            let _ = tx.send(chunk);
        }
    }

    /// Hand the partial chunk to the writer (called periodically so a killed run leaves data).
    pub(crate) fn flush(&self) {
        let chunk = {
            let mut b = self.buf.lock().unwrap();
            if b.is_empty() {
                return;
            }
            std::mem::replace(&mut *b, Vec::with_capacity(CHUNK + 4096))
        };
        self.send(chunk);
    }

    /// Flush, stop the writer and wait for it; returns the bytes written.
    pub(crate) fn finish(&self) -> io::Result<u64> {
        self.flush();
        drop(self.tx.lock().unwrap().take());
        match self.thread.lock().unwrap().take() {
            Some(h) => h
                .join()
                .map_err(|_| io::Error::other("record writer panicked"))?,
            None => Ok(0),
        }
    }
}
