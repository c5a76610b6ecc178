//! The OCSF 2003 mapping of a record. OWNER: helper "answers".
