//! Split invariance, checked by the unit tests and the fuzz targets (`fuzz/`): however a
//! peer's bytes are split into reads, the codec reads them the same way.
//!
//! - [`request`]: the server role's request-head reader takes the same requests and hands the
//!   connection to hyper at the same point with exactly the bytes not consumed.
//! - [`response`]: the client role's response reader gives the same head and the same body
//!   bytes, ending the same way.

pub(crate) mod request;
pub(crate) mod response;
