//! CloudTrail event names mapped to IAM actions. OWNER: helper "trail".
