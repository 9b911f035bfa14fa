//! The one error type of the adapter's transactions: the database failed, a stored row did not
//! read, or the work inside gave the port's own answer (a refusal such as "not found" or a lost
//! lease, which is not a failure). `?` turns diesel's and the rows' errors into it, and it turns
//! into the port's error type at the end of the transaction.

use diesel::result::Error as DieselError;
use krafter_domain::storage::StorageError;

pub(crate) enum TxError<E> {
    Db(DieselError),
    Storage(StorageError),
    Answer(E),
}

impl<E> From<DieselError> for TxError<E> {
    fn from(e: DieselError) -> Self {
        TxError::Db(e)
    }
}

impl<E> From<StorageError> for TxError<E> {
    fn from(e: StorageError) -> Self {
        TxError::Storage(e)
    }
}

/// `From<TxError<E>> for E` for each port error `E` that has a storage case.
macro_rules! port_errors {
    ($($port:ty),+ $(,)?) => {$(
        impl From<TxError<$port>> for $port {
            fn from(e: TxError<$port>) -> Self {
                match e {
                    TxError::Db(e) => <$port>::from(crate::store::storage_error(e)),
                    TxError::Storage(e) => <$port>::from(e),
                    TxError::Answer(e) => e,
                }
            }
        }
    )+};
}

port_errors!(
    krafter_domain::ledger::LedgerRepoError,
    krafter_domain::import::ImportRepoError,
    krafter_domain::export::ExportRepoError,
    krafter_domain::export::JobQueueError,
    krafter_domain::share::ShareRepoError,
);
