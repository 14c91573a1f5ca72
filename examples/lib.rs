//! Shared pieces of the examples: the walkthrough's small "tomcat" pods and its one-request
//! HTTP/HTTPS client.

pub mod client;
pub mod pod;
