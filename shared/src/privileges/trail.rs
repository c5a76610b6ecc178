//! CloudTrail log objects read record by record. OWNER: helper "trail".
