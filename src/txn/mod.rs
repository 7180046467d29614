//! Transactions: any number of readers, one writer at a time.

mod commit;
mod prefill;

pub(crate) use commit::{history_held, summaries_from};
mod read;
mod write;

pub use read::ReadTxn;
pub(crate) use write::Slot;
pub use write::WriteTxn;
