//! IAM policy documents expanded into actions. OWNER: helper "grants".
