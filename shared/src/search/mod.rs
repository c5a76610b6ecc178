//! OpenSearch: bulk encoding and per-item decisions ([`bulk`]), reading the
//! cluster's answers ([`answers`]), the index templates ([`template`]), installing
//! them with the aliases and the ISM policy ([`install`]), sending bulk
//! operations with retries ([`writer`]), the client adapter
//! ([`opensearch`]) and the HTTP transport under it ([`transport`]).
pub mod answers;
pub mod bulk;
pub mod install;
pub mod opensearch;
pub mod template;
pub mod transport;
pub mod writer;
