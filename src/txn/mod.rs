//! Transactions: any number of readers, one writer at a time.

mod changes;
mod commit;
mod prefill;
mod read;
mod write;

pub(crate) use changes::Slot;
pub use read::ReadTxn;
pub use write::WriteTxn;
