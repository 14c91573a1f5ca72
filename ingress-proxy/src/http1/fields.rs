//! Header fields taken out of a received head without copying them: `httparse` borrows the
//! read buffer, [`FieldSpans`] notes where each name and value sit, and once the head is split
//! off the buffer and frozen, [`FieldSpans::header_map`] slices the values out of it.
//!
//! Offsets are `u16`: the head scaffold ([`super::head`]) accepts no head longer than
//! [`MAX_SPANNED_HEAD`], so every offset fits.

use bytes::Bytes;
use http::header::{HeaderMap, HeaderName, HeaderValue};

use super::MAX_FIELDS;

/// Largest head whose offsets [`FieldSpans`] can note: offsets are `u16`.
pub(super) const MAX_SPANNED_HEAD: usize = u16::MAX as usize;

/// Where each field's name and value sit in the head: `(name start, name end, value start,
/// value end)`, as offsets from the head's first byte.
pub(super) struct FieldSpans {
    spans: [(u16, u16, u16, u16); MAX_FIELDS],
    count: usize,
}

/// A field whose name or value is not valid: the name, lossily decoded.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct InvalidField(pub(super) String);

impl FieldSpans {
    /// Notes the spans of `fields`, which borrow from `buf` (whose first byte is the head's).
    /// The head lies within [`MAX_SPANNED_HEAD`] bytes of `buf`'s start (the scaffold checks).
    pub(super) fn new(buf: &[u8], fields: &[httparse::Header<'_>]) -> Self {
        let mut spans = [(0u16, 0u16, 0u16, 0u16); MAX_FIELDS];
        let count = fields.len().min(MAX_FIELDS);
        for (span, field) in spans.iter_mut().zip(fields) {
            *span = (
                offset(buf, field.name.as_bytes().as_ptr_range().start),
                offset(buf, field.name.as_bytes().as_ptr_range().end),
                offset(buf, field.value.as_ptr_range().start),
                offset(buf, field.value.as_ptr_range().end),
            );
        }
        FieldSpans { spans, count }
    }

    /// Builds the header map from the frozen `head`, calling `note` with each field as it is
    /// added (to read framing fields in the same pass).
    pub(super) fn header_map(
        &self,
        head: &Bytes,
        mut note: impl FnMut(&HeaderName, &[u8]),
    ) -> Result<HeaderMap, InvalidField> {
        let mut headers = HeaderMap::with_capacity(self.count);
        for &(name_start, name_end, value_start, value_end) in &self.spans[..self.count] {
            let name_bytes = &head[usize::from(name_start)..usize::from(name_end)];
            let invalid = || InvalidField(String::from_utf8_lossy(name_bytes).into_owned());
            let name = HeaderName::from_bytes(name_bytes).map_err(|_| invalid())?;
            let value = HeaderValue::from_maybe_shared(
                head.slice(usize::from(value_start)..usize::from(value_end)),
            )
            .map_err(|_| invalid())?;
            note(&name, value.as_bytes());
            headers.append(name, value);
        }
        Ok(headers)
    }
}

/// Where `at` (a pointer into `buf`, or one past a slice of it) lies in `buf`. Heads are kept
/// within [`MAX_SPANNED_HEAD`] bytes, so the offset fits; a pointer outside `buf` (which the
/// callers never pass) gives 0 rather than a wrong-but-plausible number.
pub(super) fn offset(buf: &[u8], at: *const u8) -> u16 {
    (at as usize)
        .checked_sub(buf.as_ptr() as usize)
        .and_then(|offset| u16::try_from(offset).ok())
        .unwrap_or(0)
}
