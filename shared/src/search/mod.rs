//! OpenSearch: bulk encoding and per-item decisions ([`bulk`]), reading the
//! cluster's answers ([`answers`]), the index template ([`template`]) and the
//! client adapter ([`opensearch`]).
pub mod answers;
pub mod bulk;
pub mod opensearch;
pub mod template;
