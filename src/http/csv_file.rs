//! CSV files people open in Excel or LibreOffice: a UTF-8 byte-order mark first (so Yoruba
//! and Igbo names show as written), and cells that a spreadsheet would run as a formula
//! (starting `=`, `+`, `-`, `@`, tab or carriage return; a negative number such as `-5`
//! excepted) neutralised with a leading `'`.
//! Our own import strips that `'` again, so an export round-trips.

use crate::error::{AppError, AppResult};

const BOM: &str = "\u{feff}";

/// Whether a spreadsheet would read `cell` as a formula. A negative number stays as it is;
/// `+2348031234567` does not (a spreadsheet would turn the phone number into 2.34803E+12).
fn risky(cell: &str) -> bool {
    cell.starts_with(['=', '+', '@', '\t', '\r'])
        || (cell.starts_with('-') && cell.parse::<f64>().is_err())
}

/// `cell` as written into a file: a risky cell gets a leading `'`.
pub fn neutralise(cell: &str) -> std::borrow::Cow<'_, str> {
    if risky(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// The cell as it was before `neutralise` (a `'` followed by a risky start).
pub fn restore(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if risky(rest) => rest,
        _ => cell,
    }
}

pub struct CsvFile {
    writer: csv::Writer<Vec<u8>>,
}

impl CsvFile {
    pub fn new<I, S>(header: I) -> AppResult<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut file = Self {
            writer: csv::Writer::from_writer(BOM.as_bytes().to_vec()),
        };
        file.row(header)?;
        Ok(file)
    }

    pub fn row<I, S>(&mut self, cells: I) -> AppResult<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned())
            .collect();
        self.writer
            .write_record(&cells)
            .map_err(|e| AppError::Internal(e.into()))
    }

    pub fn finish(self) -> AppResult<Vec<u8>> {
        self.writer
            .into_inner()
            .map_err(|e| AppError::Internal(anyhow::anyhow!("csv: {e}")))
    }
}
