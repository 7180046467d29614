//! Transactions: any number of readers, one writer at a time.

mod changes;
mod commit;
mod prefill;
mod read;
mod readers;
mod write;

pub(crate) use changes::Slot;
pub use read::{OwnedReadTxn, ReadTxn};
pub use readers::ReaderInfo;
pub(crate) use readers::Readers;
pub use write::WriteTxn;
