//! Shared pieces of the examples: the walkthrough's small "tomcat" pods and its one-request
//! HTTP/HTTPS client.

pub mod client;
pub mod pod;

/// The README's Rust snippets, compiled and run as doctests.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
