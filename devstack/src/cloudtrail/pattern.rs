//! EventBridge event patterns, matched as EventBridge matches them (moto's
//! `TestEventPattern` is not implemented).

use serde_json::{Map, Value};

/// Whether an EventBridge event pattern matches `event`: fields by exact
/// value (any of a list), nested objects, `$or`, and the content filters
/// `prefix`, `suffix`, `anything-but`, `exists`, `equals-ignore-case`,
/// `numeric`. An unknown filter matches nothing.
pub fn pattern_matches(pattern: &Value, event: &Value) -> bool {
    let Some(fields) = pattern.as_object() else {
        return false;
    };
    fields.iter().all(|(key, condition)| {
        if key == "$or" {
            return condition.as_array().is_some_and(|alternatives| {
                alternatives.iter().any(|p| pattern_matches(p, event))
            });
        }
        let value = event.get(key);
        match condition {
            Value::Object(_) => value.is_some_and(|v| pattern_matches(condition, v)),
            Value::Array(allowed) => values_match(allowed, value),
            _ => false,
        }
    })
}

fn values_match(allowed: &[Value], value: Option<&Value>) -> bool {
    let candidates: Vec<&Value> = match value {
        Some(Value::Array(list)) => list.iter().collect(),
        Some(v) => vec![v],
        None => Vec::new(),
    };
    allowed.iter().any(|condition| match condition {
        Value::Object(filter) => {
            if let Some(exists) = filter.get("exists").and_then(Value::as_bool) {
                return exists == value.is_some();
            }
            candidates.iter().any(|v| filter_matches(filter, v))
        }
        literal => candidates.contains(&literal),
    })
}

fn filter_matches(filter: &Map<String, Value>, value: &Value) -> bool {
    let text = value.as_str();
    filter
        .iter()
        .all(|(operator, operand)| match operator.as_str() {
            "prefix" => text
                .zip(operand.as_str())
                .is_some_and(|(t, p)| t.starts_with(p)),
            "suffix" => text
                .zip(operand.as_str())
                .is_some_and(|(t, s)| t.ends_with(s)),
            "equals-ignore-case" => text
                .zip(operand.as_str())
                .is_some_and(|(t, o)| t.eq_ignore_ascii_case(o)),
            "anything-but" => match operand {
                Value::Array(excluded) => !excluded.contains(value),
                Value::Object(inner) => !filter_matches(inner, value),
                single => single != value,
            },
            "numeric" => numeric_matches(operand, value.as_f64()),
            _ => false,
        })
}

fn numeric_matches(operand: &Value, value: Option<f64>) -> bool {
    let (Some(terms), Some(v)) = (operand.as_array(), value) else {
        return false;
    };
    terms.chunks(2).all(
        |pair| match (pair[0].as_str(), pair.get(1).and_then(Value::as_f64)) {
            (Some("="), Some(n)) => v == n,
            (Some("<"), Some(n)) => v < n,
            (Some("<="), Some(n)) => v <= n,
            (Some(">"), Some(n)) => v > n,
            (Some(">="), Some(n)) => v >= n,
            _ => false,
        },
    )
}

#[cfg(test)]
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn patterns_match_like_eventbridge() {
        let event = json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail",
            "detail": {"eventSource": "ec2.amazonaws.com", "eventName": "AuthorizeSecurityGroupIngress",
                       "tags": ["a", "b"], "n": 5}});
        let contract = json!({"source": ["aws.ec2"], "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"eventSource": ["ec2.amazonaws.com"],
                       "eventName": ["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress"]}});
        assert!(pattern_matches(&contract, &event));
        assert!(!pattern_matches(
            &json!({"source": ["fanin.guard"]}),
            &event
        ));
        assert!(pattern_matches(&json!({"detail": {"tags": ["b"]}}), &event));
        assert!(pattern_matches(
            &json!({"detail": {"eventName": [{"prefix": "Authorize"}]}}),
            &event
        ));
        assert!(!pattern_matches(
            &json!({"detail": {"eventName": [{"anything-but": ["AuthorizeSecurityGroupIngress"]}]}}),
            &event
        ));
        assert!(pattern_matches(
            &json!({"detail": {"errorCode": [{"exists": false}]}}),
            &event
        ));
        assert!(!pattern_matches(
            &json!({"detail": {"errorCode": [{"exists": true}]}}),
            &event
        ));
        assert!(pattern_matches(
            &json!({"detail": {"n": [{"numeric": [">", 1, "<=", 5]}]}}),
            &event
        ));
        assert!(pattern_matches(
            &json!({"$or": [{"source": ["x"]}, {"detail": {"n": [5]}}]}),
            &event
        ));
        assert!(!pattern_matches(
            &json!({"detail": {"missing": ["x"]}}),
            &event
        ));
    }
}
