//! Request text that must be JSON text, and names that are safe to put in a path.
//!
//! poem-openapi reads a JSON number or boolean as text where a `String` is expected, so
//! `{"scenario": 5}` named the scenario `"5"`. [`Text`] accepts only JSON strings: a
//! number where a name is expected is a 400 like any other malformed body.

use std::borrow::Cow;

use poem_openapi::registry::{MetaSchema, MetaSchemaRef};
use poem_openapi::types::{ParseError, ParseFromJSON, ParseResult, ToJSON, Type};
use serde_json::Value;

use super::error::ApiError;

/// A JSON string and nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text(pub String);

impl Text {
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::ops::Deref for Text {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Text {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Text {
    fn from(text: &str) -> Self {
        Text(text.to_string())
    }
}

impl Type for Text {
    const IS_REQUIRED: bool = true;

    type RawValueType = Self;

    type RawElementValueType = Self;

    fn name() -> Cow<'static, str> {
        "string".into()
    }

    fn schema_ref() -> MetaSchemaRef {
        MetaSchemaRef::Inline(Box::new(MetaSchema::new("string")))
    }

    fn as_raw_value(&self) -> Option<&Self::RawValueType> {
        Some(self)
    }

    fn raw_element_iter<'a>(
        &'a self,
    ) -> Box<dyn Iterator<Item = &'a Self::RawElementValueType> + 'a> {
        Box::new(self.as_raw_value().into_iter())
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl ParseFromJSON for Text {
    fn parse_from_json(value: Option<Value>) -> ParseResult<Self> {
        match value.unwrap_or_default() {
            Value::String(text) => Ok(Text(text)),
            other => Err(ParseError::custom(format!(
                "expected text (a JSON string), found {other}"
            ))),
        }
    }
}

impl ToJSON for Text {
    fn to_json(&self) -> Option<Value> {
        Some(Value::String(self.0.clone()))
    }
}

/// Checks a name a user gives a scenario or dataset: not blank, at most 200 characters,
/// and no control characters (they cannot stand in a `Location` header or a log line).
pub fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    if name.trim().is_empty() {
        return Err(ApiError::field(field, "the name is empty"));
    }
    if name.chars().count() > 200 {
        return Err(ApiError::field(
            field,
            "the name is longer than 200 characters",
        ));
    }
    if let Some(c) = name.chars().find(|c| c.is_control()) {
        return Err(ApiError::field(
            field,
            format!("the name holds a control character ({:?})", c),
        ));
    }
    Ok(())
}

/// A path segment percent-encoded for a `Location` header (`a b` is `a%20b`).
pub fn path_segment(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, SEGMENT).to_string()
}

/// What may not stand as it is in a path segment: controls, space and the characters
/// RFC 3986 reserves or excludes.
const SEGMENT: &percent_encoding::AsciiSet = &percent_encoding::CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'\\')
    .add(b'^')
    .add(b'|')
    .add(b'[')
    .add(b']');

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_json_strings_are_text() {
        assert_eq!(
            Text::parse_from_json(Some(Value::String("a".into()))).ok(),
            Some(Text::from("a"))
        );
        assert!(Text::parse_from_json(Some(serde_json::json!(5))).is_err());
        assert!(Text::parse_from_json(Some(serde_json::json!(true))).is_err());
    }

    #[test]
    fn names_in_paths_are_encoded_and_controls_refused() {
        assert_eq!(path_segment("a b/c%?é"), "a%20b%2Fc%25%3F%C3%A9");
        assert!(check_name("name", "plan\n2").is_err());
        assert!(check_name("name", "  ").is_err());
        assert!(check_name("name", "faculty plan 2026/27").is_ok());
    }
}
