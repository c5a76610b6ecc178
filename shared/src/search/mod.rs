//! OpenSearch: bulk encoding and per-item decisions ([`bulk`]), reading the
//! cluster's answers ([`answers`]), the index templates ([`template`]), installing
//! them with the aliases and the ISM policy ([`install`]), sending bulk
//! operations with retries ([`writer`]) and the client adapter
//! ([`opensearch`]).
pub mod answers;
pub mod bulk;
pub mod install;
pub mod opensearch;
pub mod template;
pub mod writer;
