//! OpenSearch: bulk encoding and per-item decisions ([`bulk`]), the index
//! template ([`template`]) and the client adapter ([`opensearch`]).
pub mod bulk;
pub mod opensearch;
pub mod template;
