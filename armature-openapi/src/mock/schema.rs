//! The JSON Schema subset the mock understands (OpenAPI 3.0 and 3.1 flavours): resolving
//! `$ref`s, validating request values, and generating examples.
//!
//! Validated: `$ref`, `type` (one or a list), `nullable`, `enum`, `const`, `properties`,
//! `required` (read-only properties are not required in requests), `additionalProperties`,
//! `items`, `minItems`/`maxItems`, `minLength`/`maxLength`, `minimum`/`maximum` and their
//! exclusive forms (3.0 booleans and 3.1 numbers), `multipleOf`, `allOf`/`anyOf`/`oneOf`,
//! `not`. Not validated: `pattern`, `format`, `uniqueItems`, `dependent*`, `if`/`then`.

use serde_json::{json, Map, Value};

/// How deep `$ref`s and nested schemas are followed before giving up (recursive schemas).
const MAX_DEPTH: usize = 24;

/// Follows `$ref`s (local ones, `#/...`) until a schema that is not a reference. An unresolvable
/// reference resolves to `true` (anything goes), so the mock never refuses for its own gap.
pub(crate) fn resolve<'a>(doc: &'a Value, mut schema: &'a Value) -> &'a Value {
    static ANY: Value = Value::Bool(true);
    for _ in 0..MAX_DEPTH {
        let Some(reference) = schema.get("$ref").and_then(Value::as_str) else {
            return schema;
        };
        match pointer(doc, reference) {
            Some(target) => schema = target,
            None => return &ANY,
        }
    }
    &ANY
}

/// Resolves a local reference `#/a/b` in `doc`.
pub(crate) fn pointer<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
    let pointer = reference.strip_prefix('#')?;
    let decoded = percent_encoding::percent_decode_str(pointer)
        .decode_utf8()
        .ok()?;
    doc.pointer(&decoded)
}

/// A value that does not match its schema: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Violation {
    /// `name`, `category.id`, `tags[0]`; empty for the value itself.
    pub(crate) field: String,
    pub(crate) message: String,
}

pub(crate) fn validate(doc: &Value, schema: &Value, value: &Value) -> Result<(), Violation> {
    let mut field = String::new();
    check(doc, schema, value, &mut field, 0).map_err(|message| Violation {
        field: field.clone(),
        message,
    })
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(n) if n.as_f64().is_some_and(|f| f.fract() == 0.0) => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn matches_type(expected: &str, value: &Value) -> bool {
    let got = type_name(value);
    got == expected || (expected == "number" && got == "integer")
}

/// The schema's allowed types, if it restricts them.
fn types(schema: &Value) -> Option<Vec<&str>> {
    let mut types: Vec<&str> = match schema.get("type")? {
        Value::String(t) => vec![t.as_str()],
        Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
        _ => return None,
    };
    if schema.get("nullable") == Some(&Value::Bool(true)) {
        types.push("null");
    }
    Some(types)
}

/// Checks `value`; on failure `field` holds the path to the failing part.
fn check(
    doc: &Value,
    schema: &Value,
    value: &Value,
    field: &mut String,
    depth: usize,
) -> Result<(), String> {
    if depth > MAX_DEPTH {
        // Refused rather than waved through: the mock does not vouch for what it did not check.
        return Err(format!(
            "nested deeper than the {MAX_DEPTH} levels the mock validates"
        ));
    }
    let schema = resolve(doc, schema);
    let Some(obj) = schema.as_object() else {
        return match schema {
            Value::Bool(false) => Err("no value is allowed here".into()),
            _ => Ok(()),
        };
    };
    if let Some(types) = types(schema) {
        if !types.iter().any(|t| matches_type(t, value)) {
            return Err(format!(
                "expected {}, got {}",
                types.join(" or "),
                type_name(value)
            ));
        }
    }
    if value.is_null() && schema.get("nullable") == Some(&Value::Bool(true)) {
        return Ok(());
    }
    if let Some(options) = obj.get("enum").and_then(Value::as_array) {
        if !options.iter().any(|o| same(o, value)) {
            let list: Vec<String> = options.iter().map(Value::to_string).collect();
            return Err(format!("must be one of {}", list.join(", ")));
        }
    }
    if let Some(constant) = obj.get("const") {
        if !same(constant, value) {
            return Err(format!("must be {constant}"));
        }
    }
    check_number(obj, value)?;
    check_string(obj, value)?;
    check_array(doc, obj, value, field, depth)?;
    check_object(doc, obj, value, field, depth)?;
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        for sub in all {
            check(doc, sub, value, field, depth + 1)?;
        }
    }
    for (key, exactly_one) in [("anyOf", false), ("oneOf", true)] {
        if let Some(list) = obj.get(key).and_then(Value::as_array) {
            let mut first_error = None;
            let mut passed = 0;
            for sub in list {
                let mut sub_field = field.clone();
                match check(doc, sub, value, &mut sub_field, depth + 1) {
                    Ok(()) => passed += 1,
                    Err(err) => {
                        first_error.get_or_insert((sub_field, err));
                    }
                }
            }
            if passed == 0 {
                let (sub_field, err) = first_error.unwrap_or_default();
                *field = sub_field;
                return Err(format!("matches none of `{key}`: {err}"));
            }
            if exactly_one && passed > 1 {
                return Err("matches more than one schema of `oneOf`".into());
            }
        }
    }
    if let Some(not) = obj.get("not") {
        if check(doc, not, value, &mut field.clone(), depth + 1).is_ok() {
            return Err("matches the schema of `not`".into());
        }
    }
    Ok(())
}

/// JSON equality where `1` and `1.0` are the same number.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn check_number(obj: &Map<String, Value>, value: &Value) -> Result<(), String> {
    let Some(n) = value.as_f64() else {
        return Ok(());
    };
    let bound = |key: &str| obj.get(key).and_then(Value::as_f64);
    let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
    if let Some(min) = bound("minimum") {
        if n < min || (flag("exclusiveMinimum") && n == min) {
            return Err(format!(
                "must be at least {min}{}",
                exclusive(flag("exclusiveMinimum"))
            ));
        }
    }
    if let Some(max) = bound("maximum") {
        if n > max || (flag("exclusiveMaximum") && n == max) {
            return Err(format!(
                "must be at most {max}{}",
                exclusive(flag("exclusiveMaximum"))
            ));
        }
    }
    if let Some(min) = bound("exclusiveMinimum") {
        if n <= min {
            return Err(format!("must be greater than {min}"));
        }
    }
    if let Some(max) = bound("exclusiveMaximum") {
        if n >= max {
            return Err(format!("must be less than {max}"));
        }
    }
    if let Some(step) = bound("multipleOf").filter(|s| *s > 0.0) {
        // How far the quotient is from a whole number, not its fraction: 19.99 / 0.01 is
        // 1998.9999999999998 in binary floating point.
        let quotient = n / step;
        if (quotient - quotient.round()).abs() > 1e-9 * quotient.abs().max(1.0) {
            return Err(format!("must be a multiple of {step}"));
        }
    }
    Ok(())
}

fn exclusive(yes: bool) -> &'static str {
    if yes {
        " (exclusive)"
    } else {
        ""
    }
}

fn check_string(obj: &Map<String, Value>, value: &Value) -> Result<(), String> {
    let Some(s) = value.as_str() else {
        return Ok(());
    };
    let len = s.chars().count() as u64;
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
        if len < min {
            return Err(format!("must be at least {min} characters long"));
        }
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
        if len > max {
            return Err(format!("must be at most {max} characters long"));
        }
    }
    Ok(())
}

fn check_array(
    doc: &Value,
    obj: &Map<String, Value>,
    value: &Value,
    field: &mut String,
    depth: usize,
) -> Result<(), String> {
    let Some(items) = value.as_array() else {
        return Ok(());
    };
    if let Some(min) = obj.get("minItems").and_then(Value::as_u64) {
        if (items.len() as u64) < min {
            return Err(format!("must have at least {min} items"));
        }
    }
    if let Some(max) = obj.get("maxItems").and_then(Value::as_u64) {
        if items.len() as u64 > max {
            return Err(format!("must have at most {max} items"));
        }
    }
    if let Some(schema) = obj.get("items") {
        for (i, item) in items.iter().enumerate() {
            let len = field.len();
            field.push_str(&format!("[{i}]"));
            check(doc, schema, item, field, depth + 1)?;
            field.truncate(len);
        }
    }
    Ok(())
}

fn check_object(
    doc: &Value,
    obj: &Map<String, Value>,
    value: &Value,
    field: &mut String,
    depth: usize,
) -> Result<(), String> {
    let Some(map) = value.as_object() else {
        return Ok(());
    };
    let properties = obj.get("properties").and_then(Value::as_object);
    let enter = |field: &mut String, name: &str| {
        let len = field.len();
        if !field.is_empty() {
            field.push('.');
        }
        field.push_str(name);
        len
    };
    if let Some(required) = obj.get("required").and_then(Value::as_array) {
        for name in required.iter().filter_map(Value::as_str) {
            let read_only = properties
                .and_then(|p| p.get(name))
                .map(|s| resolve(doc, s))
                .and_then(|s| s.get("readOnly"))
                == Some(&Value::Bool(true));
            if !map.contains_key(name) && !read_only {
                enter(field, name);
                return Err("is required".into());
            }
        }
    }
    for (name, item) in map {
        let len = enter(field, name);
        match properties.and_then(|p| p.get(name)) {
            Some(schema) => check(doc, schema, item, field, depth + 1)?,
            None => match obj.get("additionalProperties") {
                Some(Value::Bool(false)) => return Err("is not an allowed property".into()),
                Some(schema @ Value::Object(_)) => check(doc, schema, item, field, depth + 1)?,
                _ => {}
            },
        }
        field.truncate(len);
    }
    Ok(())
}

/// Turns a parameter's raw text into the JSON value its schema describes (`"7"` → `7` for an
/// integer), or says why it cannot be.
pub(crate) fn coerce(doc: &Value, schema: &Value, raw: &str) -> Result<Value, String> {
    let schema = resolve(doc, schema);
    let kinds = types(schema).unwrap_or_default();
    let first = kinds.iter().copied().find(|t| *t != "null");
    Ok(match first {
        Some("integer") => raw
            .parse::<i64>()
            .map(Value::from)
            .map_err(|_| format!("expected integer, got {raw:?}"))?,
        Some("number") => raw
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .map(Value::from)
            .ok_or_else(|| format!("expected number, got {raw:?}"))?,
        Some("boolean") => match raw {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(format!("expected boolean, got {raw:?}")),
        },
        _ => Value::String(raw.to_owned()),
    })
}

/// Whether the schema describes an array (for query parameters given several times).
pub(crate) fn is_array(doc: &Value, schema: &Value) -> bool {
    types(resolve(doc, schema)).is_some_and(|t| t.contains(&"array"))
}

/// The item schema of an array schema.
pub(crate) fn items<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    static ANY: Value = Value::Bool(true);
    resolve(doc, schema).get("items").unwrap_or(&ANY)
}

/// An example value for `schema` (a schema of the OpenAPI document `doc`, whose local
/// `$ref`s it follows): the schema's own `example`, first `examples` entry, `default`, first
/// `enum` value or `const`, else one generated from its type and constraints (every property,
/// one array item, the minimum of a range, a value of the string's `format`). Write-only
/// properties are left out, as the mock answers with these.
///
/// ```
/// let doc = serde_json::json!({});
/// let schema = serde_json::json!({"type": "object", "properties": {
///     "id": {"type": "integer", "minimum": 1}, "tags": {"type": "array", "items": {"type": "string"}}}});
/// assert_eq!(armature_openapi::example(&doc, &schema), serde_json::json!({"id": 1, "tags": ["string"]}));
/// ```
pub fn example(doc: &Value, schema: &Value) -> Value {
    generate(doc, schema, 0)
}

fn generate(doc: &Value, schema: &Value, depth: usize) -> Value {
    let schema = resolve(doc, schema);
    let Some(obj) = schema.as_object() else {
        return Value::Null;
    };
    if let Some(example) = obj.get("example") {
        return example.clone();
    }
    if let Some(first) = obj
        .get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(default) = obj.get("default") {
        return default.clone();
    }
    if let Some(first) = obj
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    if let Some(constant) = obj.get("const") {
        return constant.clone();
    }
    if depth > MAX_DEPTH / 3 {
        // A recursive schema: stop at the smallest value of the type.
        return smallest(schema);
    }
    if let Some(all) = obj.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        let mut other = None;
        for sub in all {
            match generate(doc, sub, depth + 1) {
                Value::Object(map) => merged.extend(map),
                value => other = Some(value),
            }
        }
        return match other {
            Some(value) if merged.is_empty() => value,
            _ => Value::Object(merged),
        };
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(first) = obj
            .get(key)
            .and_then(Value::as_array)
            .and_then(|l| l.first())
        {
            return generate(doc, first, depth + 1);
        }
    }
    let kind = types(schema)
        .and_then(|t| t.into_iter().find(|t| *t != "null"))
        .or_else(|| obj.contains_key("properties").then_some("object"))
        .or_else(|| obj.contains_key("items").then_some("array"));
    match kind {
        Some("object") => {
            let mut map = Map::new();
            if let Some(properties) = obj.get("properties").and_then(Value::as_object) {
                for (name, sub) in properties {
                    let write_only = resolve(doc, sub).get("writeOnly") == Some(&Value::Bool(true));
                    if !write_only {
                        map.insert(name.clone(), generate(doc, sub, depth + 1));
                    }
                }
            }
            if let Some(extra @ Value::Object(_)) = obj.get("additionalProperties") {
                if map.is_empty() {
                    map.insert("additionalProp1".into(), generate(doc, extra, depth + 1));
                }
            }
            Value::Object(map)
        }
        Some("array") => {
            let count = obj
                .get("minItems")
                .and_then(Value::as_u64)
                .unwrap_or(1)
                .max(1);
            let item = obj
                .get("items")
                .map_or(Value::Null, |items| generate(doc, items, depth + 1));
            Value::Array(vec![item; count as usize])
        }
        Some("integer") | Some("number") => number(obj, kind == Some("integer")),
        Some("boolean") => Value::Bool(true),
        Some("string") => string(obj),
        Some("null") => Value::Null,
        _ => json!({}),
    }
}

fn smallest(schema: &Value) -> Value {
    match types(schema).and_then(|t| t.first().copied()) {
        Some("array") => json!([]),
        Some("string") => json!(""),
        Some("integer") | Some("number") => json!(0),
        Some("boolean") => json!(false),
        Some("null") => Value::Null,
        _ => json!({}),
    }
}

fn number(obj: &Map<String, Value>, integer: bool) -> Value {
    let get = |key: &str| obj.get(key).and_then(Value::as_f64);
    let flag = |key: &str| obj.get(key).and_then(Value::as_bool).unwrap_or(false);
    let step = if integer { 1.0 } else { 0.5 };
    let mut n = 0.0_f64;
    if let Some(min) = get("minimum") {
        n = if flag("exclusiveMinimum") {
            min + step
        } else {
            min
        };
    }
    if let Some(min) = get("exclusiveMinimum") {
        n = n.max(min + step);
    }
    if let Some(max) = get("maximum") {
        if n > max {
            n = if flag("exclusiveMaximum") {
                max - step
            } else {
                max
            };
        }
    }
    if let Some(multiple) = get("multipleOf").filter(|m| *m > 0.0) {
        n = (n / multiple).ceil() * multiple;
    }
    if integer {
        Value::from(n.round() as i64)
    } else {
        Value::from(n)
    }
}

fn string(obj: &Map<String, Value>) -> Value {
    let mut s = match obj.get("format").and_then(Value::as_str) {
        Some("date-time") => "2024-01-01T00:00:00Z",
        Some("date") => "2024-01-01",
        Some("time") => "00:00:00Z",
        Some("email") => "user@example.com",
        Some("uuid") => "3fa85f64-5717-4562-b3fc-2c963f66afa6",
        Some("uri") | Some("url") => "https://example.com/",
        Some("hostname") => "example.com",
        Some("ipv4") => "192.0.2.1",
        Some("ipv6") => "2001:db8::1",
        Some("byte") => "c3RyaW5n",
        _ => "string",
    }
    .to_owned();
    if let Some(min) = obj.get("minLength").and_then(Value::as_u64) {
        while (s.chars().count() as u64) < min {
            s.push('x');
        }
    }
    if let Some(max) = obj.get("maxLength").and_then(Value::as_u64) {
        s = s.chars().take(max as usize).collect();
    }
    Value::String(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc() -> Value {
        json!({"components": {"schemas": {
            "Pet": {"type": "object", "required": ["name"], "properties": {
                "id": {"type": "integer", "readOnly": true},
                "name": {"type": "string", "minLength": 1},
                "tags": {"type": "array", "items": {"$ref": "#/components/schemas/Tag"}},
                "status": {"type": "string", "enum": ["available", "sold"]}
            }},
            "Tag": {"type": "object", "properties": {"id": {"type": "integer", "minimum": 1}}}
        }}})
    }

    #[test]
    fn violations_name_the_failing_field() {
        let doc = doc();
        let pet = json!({"$ref": "#/components/schemas/Pet"});
        assert_eq!(validate(&doc, &pet, &json!({"name": "rex"})), Ok(()));
        let cases = [
            (json!({}), "name", "is required"),
            (json!({"name": 3}), "name", "expected string, got integer"),
            (
                json!({"name": ""}),
                "name",
                "must be at least 1 characters long",
            ),
            (
                json!({"name": "a", "tags": [{"id": 1}, {"id": 0}]}),
                "tags[1].id",
                "must be at least 1",
            ),
            (
                json!({"name": "a", "status": "lost"}),
                "status",
                "must be one of \"available\", \"sold\"",
            ),
            (json!([]), "", "expected object, got array"),
        ];
        for (value, field, message) in cases {
            let got = validate(&doc, &pet, &value).unwrap_err();
            assert_eq!(
                (got.field.as_str(), got.message.as_str()),
                (field, message),
                "{value}"
            );
        }
    }

    #[test]
    fn multiple_of_a_decimal_step_allows_its_multiples() {
        // 19.99 / 0.01 is 1998.9999999999998 in binary floating point: a multiple all the same.
        let cents = json!({"type": "number", "multipleOf": 0.01});
        for price in [
            json!(19.99),
            json!(0.3),
            json!(1234567.89),
            json!(0),
            json!(-4.05),
        ] {
            assert_eq!(validate(&json!({}), &cents, &price), Ok(()), "{price}");
        }
        let tenths = json!({"type": "number", "multipleOf": 0.1});
        assert_eq!(validate(&json!({}), &tenths, &json!(0.3)), Ok(()));
        for (schema, value) in [(&cents, json!(19.995)), (&tenths, json!(0.35))] {
            let err = validate(&json!({}), schema, &value).unwrap_err();
            assert!(
                err.message.contains("multiple of"),
                "{value}: {}",
                err.message
            );
        }
        let threes = json!({"type": "integer", "multipleOf": 3});
        assert_eq!(validate(&json!({}), &threes, &json!(9)), Ok(()));
        assert!(validate(&json!({}), &threes, &json!(10)).is_err());
    }

    #[test]
    fn values_nested_deeper_than_the_limit_are_refused_not_waved_through() {
        let doc = json!({"components": {"schemas": {"Node": {"type": "object", "properties": {
            "next": {"$ref": "#/components/schemas/Node"}
        }}}}});
        let node = json!({"$ref": "#/components/schemas/Node"});
        let nested = |levels: usize| (0..levels).fold(json!({}), |inner, _| json!({"next": inner}));
        assert_eq!(validate(&doc, &node, &nested(5)), Ok(()));
        let err = validate(&doc, &node, &nested(100)).unwrap_err();
        assert!(err.message.contains("nested deeper"), "{}", err.message);
        assert!(err.field.starts_with("next.next"), "{}", err.field);
    }

    #[test]
    fn generated_examples_are_valid() {
        let doc = doc();
        for schema in [
            json!({"$ref": "#/components/schemas/Pet"}),
            json!({"type": "integer", "minimum": 5, "exclusiveMinimum": true, "maximum": 9}),
            json!({"type": "number", "exclusiveMinimum": 0.5}),
            json!({"type": "string", "minLength": 12}),
            json!({"type": "array", "minItems": 2, "items": {"type": "boolean"}}),
            json!({"type": "object", "additionalProperties": {"type": "integer", "format": "int32"}}),
            json!({"allOf": [{"$ref": "#/components/schemas/Tag"}, {"type": "object", "properties": {"x": {"type": ["string", "null"]}}}]}),
        ] {
            let value = example(&doc, &schema);
            assert_eq!(
                validate(&doc, &schema, &value),
                Ok(()),
                "{schema} -> {value}"
            );
        }
    }

    #[test]
    fn parameters_are_coerced_by_type() {
        let doc = doc();
        assert_eq!(coerce(&doc, &json!({"type": "integer"}), "7"), Ok(json!(7)));
        assert!(coerce(&doc, &json!({"type": "integer"}), "seven").is_err());
        assert_eq!(
            coerce(&doc, &json!({"type": "boolean"}), "true"),
            Ok(json!(true))
        );
        assert_eq!(
            coerce(&doc, &json!({"type": "string"}), "7"),
            Ok(json!("7"))
        );
    }
}
