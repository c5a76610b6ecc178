//! `fanin privileges`: the least-privilege report of a principal or an
//! account, and its `process` and `evaluate` subcommands. OWNER: helper
//! "answers".
