//! The scheduled evaluation. OWNER: helper "answers".
