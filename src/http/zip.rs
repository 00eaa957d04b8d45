//! Zip archives written as a stream: each call returns the bytes ready to send, so a
//! download of any size goes out piece by piece and only the piece at hand is in memory.
//!
//! The writing is the `zip` crate's (its stream mode: every entry carries a data
//! descriptor, so sizes and CRCs need not be known before the data; Zip64 records when
//! the archive outgrows 4 GiB; one entry may hold up to 4 GiB, beyond which writing it
//! fails). What this adds is the hand-over: the writer appends to a buffer that each call
//! empties.
//!
//! Used by report-card batches (a PDF per class, stored) and by a school's data export
//! (CSV deflated as it streams from PostgreSQL, photos and PDFs stored).

use std::{
    io::{self, Write},
    sync::{Arc, Mutex, PoisonError},
};

use chrono::{Datelike, NaiveDateTime, Timelike};
use zip::{
    CompressionMethod,
    write::{SimpleFileOptions, StreamWriter, ZipWriter},
};

/// The bytes written since the last call.
#[derive(Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// How an entry's data is kept: deflated (text) or stored (PDFs, images: already
/// compressed).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Packing {
    Deflated,
    Stored,
}

/// A zip written entry by entry: `start` an entry, `write` its data in pieces (or `entry`
/// for a whole file at once), then `finish` for the central directory. Every call returns
/// what is ready to send.
pub struct ZipStream {
    zip: ZipWriter<StreamWriter<Pending>>,
    out: Pending,
    modified: zip::DateTime,
}

impl ZipStream {
    /// An archive whose entries are dated `at` (local time as the reader will show it).
    pub fn new(at: NaiveDateTime) -> Self {
        let out = Pending::default();
        let modified = zip::DateTime::from_date_and_time(
            u16::try_from(at.year()).unwrap_or(1980),
            u8::try_from(at.month()).unwrap_or(1),
            u8::try_from(at.day()).unwrap_or(1),
            u8::try_from(at.hour()).unwrap_or(0),
            u8::try_from(at.minute()).unwrap_or(0),
            u8::try_from(at.second()).unwrap_or(0),
        )
        .unwrap_or_default();
        Self {
            zip: ZipWriter::new_stream(out.clone()),
            out,
            modified,
        }
    }

    /// Begins an entry (ending the previous one).
    pub fn start(&mut self, name: &str, packing: Packing) -> io::Result<Vec<u8>> {
        let method = match packing {
            Packing::Deflated => CompressionMethod::Deflated,
            Packing::Stored => CompressionMethod::Stored,
        };
        let options = SimpleFileOptions::default()
            .compression_method(method)
            .last_modified_time(self.modified)
            .unix_permissions(0o644);
        self.zip
            .start_file(name, options)
            .map_err(io::Error::other)?;
        Ok(self.out.take())
    }

    /// More data of the current entry.
    pub fn write(&mut self, data: &[u8]) -> io::Result<Vec<u8>> {
        self.zip.write_all(data)?;
        Ok(self.out.take())
    }

    /// A whole file as one entry.
    pub fn entry(&mut self, name: &str, data: &[u8], packing: Packing) -> io::Result<Vec<u8>> {
        let mut out = self.start(name, packing)?;
        out.extend(self.write(data)?);
        Ok(out)
    }

    /// Ends the last entry and writes the central directory.
    pub fn finish(self) -> io::Result<Vec<u8>> {
        let out = self.out.clone();
        self.zip.finish().map_err(io::Error::other)?;
        Ok(out.take())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::io::{Cursor, Read};

    use zip::CompressionMethod;

    use crate::http::zip::{Packing, ZipStream};

    #[test]
    fn a_streamed_zip_reads_back_with_its_crcs() {
        let at = chrono::NaiveDate::from_ymd_opt(2026, 12, 3)
            .unwrap()
            .and_hms_opt(10, 30, 0)
            .unwrap();
        let mut zip = ZipStream::new(at);
        let mut bytes = zip.start("a.csv", Packing::Deflated).unwrap();
        for _ in 0..1000 {
            bytes.extend(zip.write(b"id,name\n1,Ada\n").unwrap());
        }
        bytes.extend(zip.entry("b.pdf", b"%PDF-1.7", Packing::Stored).unwrap());
        bytes.extend(zip.finish().unwrap());

        let mut archive = ::zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        assert_eq!(archive.len(), 2);
        let mut text = String::new();
        archive
            .by_name("a.csv")
            .unwrap()
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "id,name\n1,Ada\n".repeat(1000));
        let mut pdf = Vec::new();
        let mut entry = archive.by_name("b.pdf").unwrap();
        assert_eq!(entry.compression(), CompressionMethod::Stored);
        entry.read_to_end(&mut pdf).unwrap();
        assert_eq!(pdf, b"%PDF-1.7");
    }
}
