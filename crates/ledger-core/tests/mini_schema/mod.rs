//! A small JSON Schema checker for the keywords schemars emits for the payload types.
//!
//! It refuses any keyword it does not know, so a schema it cannot judge fails loudly instead of
//! passing. It lives in its own folder so that Cargo does not build it as a test target.

use serde_json::Value;

const ANNOTATIONS: &[&str] = &["$schema", "title", "description", "$defs", "default"];

/// The errors of `value` against `root`, empty when it is valid.
pub fn validate(root: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(root, root, value, "", &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        errors.push(format!("{at}: schema is not an object"));
        return;
    };
    for (keyword, rule) in schema {
        match keyword.as_str() {
            k if ANNOTATIONS.contains(&k) => {}
            "$ref" => {
                let name = rule.as_str().and_then(|r| r.strip_prefix("#/$defs/"));
                match name.and_then(|n| root["$defs"].get(n)) {
                    Some(target) => check(root, target, value, at, errors),
                    None => errors.push(format!("{at}: unresolvable $ref {rule}")),
                }
            }
            "type" => {
                let types: Vec<&str> = match rule {
                    Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
                    other => other.as_str().into_iter().collect(),
                };
                if !types.iter().any(|t| has_type(value, t)) {
                    errors.push(format!("{at}: {value} is not of type {rule}"));
                }
            }
            "properties" | "required" | "additionalProperties" => {
                if let Value::Object(members) = value {
                    check_member_rule(root, schema, keyword, rule, members, at, errors);
                }
            }
            "items" => {
                if let Value::Array(items) = value {
                    for (i, item) in items.iter().enumerate() {
                        check(root, rule, item, &format!("{at}/{i}"), errors);
                    }
                }
            }
            "const" if value != rule => errors.push(format!("{at}: {value} is not {rule}")),
            "enum" if !rule.as_array().is_some_and(|a| a.contains(value)) => {
                errors.push(format!("{at}: {value} is not one of {rule}"));
            }
            "const" | "enum" => {}
            "oneOf" | "anyOf" => {
                let branches = rule.as_array().map(Vec::as_slice).unwrap_or_default();
                let passing = branches
                    .iter()
                    .filter(|b| {
                        let mut sub = Vec::new();
                        check(root, b, value, at, &mut sub);
                        sub.is_empty()
                    })
                    .count();
                if passing == 0 || (keyword == "oneOf" && passing > 1) {
                    errors.push(format!("{at}: {passing} branches of {keyword} match"));
                }
            }
            "minimum" | "maximum" => {
                let (Some(bound), Some(number)) = (rule.as_f64(), value.as_f64()) else {
                    continue;
                };
                if (keyword == "minimum" && number < bound)
                    || (keyword == "maximum" && number > bound)
                {
                    errors.push(format!("{at}: {number} breaks {keyword} {bound}"));
                }
            }
            "format" => check_format(rule.as_str().unwrap_or(""), value, at, errors),
            // Regular expressions need a crate this project does not depend on; the
            // types that carry patterns (credit codes, hashes) check them when parsing.
            "pattern" => {}
            other => errors.push(format!("{at}: keyword {other:?} is not supported here")),
        }
    }
}

fn check_member_rule(
    root: &Value,
    schema: &serde_json::Map<String, Value>,
    keyword: &str,
    rule: &Value,
    members: &serde_json::Map<String, Value>,
    at: &str,
    errors: &mut Vec<String>,
) {
    let properties = schema.get("properties").and_then(Value::as_object);
    match keyword {
        "properties" => {
            for (name, sub) in rule.as_object().into_iter().flatten() {
                if let Some(member) = members.get(name) {
                    check(root, sub, member, &format!("{at}/{name}"), errors);
                }
            }
        }
        "required" => {
            for name in rule.as_array().into_iter().flatten().filter_map(Value::as_str) {
                if !members.contains_key(name) {
                    errors.push(format!("{at}: missing required {name}"));
                }
            }
        }
        _ if rule == &Value::Bool(false) => {
            for name in members.keys() {
                if !properties.is_some_and(|p| p.contains_key(name)) {
                    errors.push(format!("{at}: additional property {name}"));
                }
            }
        }
        _ => errors.push(format!("{at}: additionalProperties {rule} is not supported")),
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => value.is_i64() || value.is_u64(),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        _ => false,
    }
}

fn check_format(format: &str, value: &Value, at: &str, errors: &mut Vec<String>) {
    let ok = match (format, value) {
        ("date", Value::String(s)) => chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok(),
        ("uuid", Value::String(s)) => uuid::Uuid::parse_str(s).is_ok(),
        ("uint32", Value::Number(n)) => n.as_u64().is_some_and(|n| n <= u64::from(u32::MAX)),
        ("uint64", Value::Number(n)) => n.is_u64(),
        ("int64", Value::Number(n)) => n.is_i64(),
        ("date-time", Value::String(s)) => chrono::DateTime::parse_from_rfc3339(s).is_ok(),
        (_, Value::Null) => true,
        ("date" | "date-time" | "uuid" | "uint32" | "uint64" | "int64", _) => true,
        _ => {
            errors.push(format!("{at}: format {format:?} is not supported here"));
            return;
        }
    };
    if !ok {
        errors.push(format!("{at}: {value} is not a valid {format}"));
    }
}
