//! `PATCH /digitaltwins/{id}`: a JSON Patch on the digital twin, turned into the merge
//! patch of the twin's desired properties that IoT Hub applies for it.
//!
//! | operation | path | desired patch |
//! |---|---|---|
//! | `add` / `replace` | `/prop` | `{"prop": value}` |
//! | `remove` | `/prop` | `{"prop": null}` |
//! | `add` / `replace` | `/comp/prop` | `{"comp": {"__t": "c", "prop": value}}` |
//! | `remove` | `/comp/prop` | `{"comp": {"__t": "c", "prop": null}}` |
//! | `add` / `replace` | `/comp` (value with `"$metadata": {}`) | the given properties, and `null` for the component's other desired ones |
//! | `remove` | `/comp` | `null` for each of the component's desired properties |
//!
//! A path below a property (`/prop/field`, `/comp/prop/field`) writes inside an object
//! value. A first segment that the twin does not know yet starts a new component when
//! the path has two segments, as a device's first component write does.
//!
//! Values follow IoT Hub's rules for digital twin properties ("Manage IoT Plug and Play
//! digital twins", Rules): names of letters, digits and underscores that start with a
//! letter and do not end with an underscore, at most 64 characters; no arrays; objects
//! at most five levels deep.

use serde_json::{Map, Value};

use super::view::PlugAndPlayTwin;
use super::{COMPONENT_MARKER, is_component};
use crate::dtdl::is_valid_name;
use crate::twin::merge_patch_between;

/// The longest digital twin property or field name.
const MAX_NAME_CHARS: usize = 64;
/// How deep an object value may nest.
const MAX_VALUE_DEPTH: usize = 5;
/// The marker of a component value in a digital twin patch.
const DIGITAL_TWIN_COMPONENT_MARKER: &str = "$metadata";

/// Why a digital twin patch cannot be applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigitalTwinPatchError {
    /// The body is not a JSON Patch document.
    #[error(
        "the body must be a JSON Patch array such as [{{\"op\": \"add\", \"path\": \"/thermostat1/targetTemperature\", \"value\": 21}}]: {0}"
    )]
    NotAPatch(String),
    /// An operation other than add, replace and remove.
    #[error("operation {index} is '{op}'; digital twin patches support add, replace and remove")]
    UnsupportedOperation {
        /// The operation's place in the array.
        index: usize,
        /// What it asked for.
        op: String,
    },
    /// A path that names no property.
    #[error(
        "operation {index} has the path '{path}'; it must name a property, as /prop or /component/prop"
    )]
    BadPath {
        /// The operation's place in the array.
        index: usize,
        /// The path given.
        path: String,
    },
    /// A name that digital twins do not allow.
    #[error(
        "'{name}' is not a valid digital twin name: use 1 to 64 letters, digits and underscores, starting with a letter and not ending with an underscore (aka.ms/dtpatch)"
    )]
    BadName {
        /// The name.
        name: String,
    },
    /// A value that digital twins do not allow.
    #[error("the value of '{path}' {reason} (aka.ms/dtpatch)")]
    BadValue {
        /// Where the value goes.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A component written without the `$metadata` marker.
    #[error(
        "'{component}' is a component: a component level operation needs the value to hold an empty \"$metadata\": {{}} marker"
    )]
    MissingComponentMarker {
        /// The component.
        component: String,
    },
}

/// The desired-properties merge patch that applies `operations` to the digital twin of
/// `twin` (the twin in the service shape).
pub fn desired_patch_from_json_patch(
    operations: &Value,
    twin: &Value,
) -> Result<Value, DigitalTwinPatchError> {
    let operations = operations
        .as_array()
        .ok_or_else(|| DigitalTwinPatchError::NotAPatch("it is not an array".into()))?;
    let pnp = PlugAndPlayTwin::from_twin(twin);
    let desired = twin
        .pointer("/properties/desired")
        .cloned()
        .unwrap_or(Value::Object(Map::new()));
    let mut patch = Value::Object(Map::new());
    for (index, operation) in operations.iter().enumerate() {
        let operation = Operation::read(index, operation)?;
        let (target, value) = operation.desired_write(&pnp, &desired)?;
        target.write(&mut patch, value);
    }
    Ok(patch)
}

/// One checked operation.
struct Operation {
    path: String,
    segments: Vec<String>,
    /// The new value; `None` for a removal.
    value: Option<Value>,
}

impl Operation {
    fn read(index: usize, operation: &Value) -> Result<Self, DigitalTwinPatchError> {
        let field = |name: &str| operation.get(name);
        let op = field("op").and_then(Value::as_str).ok_or_else(|| {
            DigitalTwinPatchError::NotAPatch(format!("operation {index} has no \"op\""))
        })?;
        let path = field("path").and_then(Value::as_str).ok_or_else(|| {
            DigitalTwinPatchError::NotAPatch(format!("operation {index} has no \"path\""))
        })?;
        let value = match op {
            "add" | "replace" => Some(field("value").cloned().ok_or_else(|| {
                DigitalTwinPatchError::NotAPatch(format!(
                    "operation {index} ({op}) has no \"value\""
                ))
            })?),
            "remove" => None,
            other => {
                return Err(DigitalTwinPatchError::UnsupportedOperation {
                    index,
                    op: other.to_owned(),
                });
            }
        };
        let bad_path = || DigitalTwinPatchError::BadPath {
            index,
            path: path.to_owned(),
        };
        let segments: Vec<String> = path
            .strip_prefix('/')
            .ok_or_else(bad_path)?
            .split('/')
            .map(|segment| segment.replace("~1", "/").replace("~0", "~"))
            .collect();
        if segments.iter().any(String::is_empty) {
            return Err(bad_path());
        }
        for segment in &segments {
            check_name(segment)?;
        }
        Ok(Self {
            path: path.to_owned(),
            segments,
            value,
        })
    }

    /// Where in the desired patch this operation writes, and what.
    fn desired_write(
        &self,
        pnp: &PlugAndPlayTwin,
        desired: &Value,
    ) -> Result<(Target, Value), DigitalTwinPatchError> {
        let first = &self.segments[0];
        let known_component = pnp.component(Some(first)).is_some();
        let known_property = pnp.root.property(first).is_some();
        let component_value = self
            .value
            .as_ref()
            .and_then(Value::as_object)
            .is_some_and(|object| object.contains_key(DIGITAL_TWIN_COMPONENT_MARKER));
        if self.segments.len() == 1 && (known_component || component_value) {
            return self.component_write(first, desired);
        }
        let in_component = known_component || (!known_property && self.segments.len() == 2);
        let inside_property = if in_component { 2 } else { 1 };
        let current = desired.pointer(&pointer(&self.segments)).cloned();
        let value = match &self.value {
            None => Value::Null,
            Some(value) => {
                check_value(&self.path, value, self.segments.len() - inside_property)?;
                match current {
                    Some(current) => merge_patch_between(&current, value),
                    None => value.clone(),
                }
            }
        };
        let target = Target {
            segments: self.segments.clone(),
            in_component,
        };
        Ok((target, value))
    }

    /// A write of a whole component (`/comp`): the given properties, and `null` for
    /// the component's other desired properties.
    fn component_write(
        &self,
        component: &str,
        desired: &Value,
    ) -> Result<(Target, Value), DigitalTwinPatchError> {
        let mut written = Map::new();
        written.insert(COMPONENT_MARKER.0.into(), COMPONENT_MARKER.1.into());
        let current = desired.get(component).and_then(Value::as_object);
        for name in current.into_iter().flat_map(Map::keys) {
            if name != COMPONENT_MARKER.0 && !name.starts_with('$') {
                written.insert(name.clone(), Value::Null);
            }
        }
        if let Some(value) = &self.value {
            let object = value
                .as_object()
                .filter(|object| object.contains_key(DIGITAL_TWIN_COMPONENT_MARKER))
                .ok_or_else(|| DigitalTwinPatchError::MissingComponentMarker {
                    component: component.to_owned(),
                })?;
            for (name, value) in object {
                if name == DIGITAL_TWIN_COMPONENT_MARKER {
                    continue;
                }
                check_name(name)?;
                let path = format!("{}/{name}", self.path);
                check_value(&path, value, 0)?;
                let current = current.and_then(|current| current.get(name));
                let value = match current {
                    Some(current) => merge_patch_between(current, value),
                    None => value.clone(),
                };
                written.insert(name.clone(), value);
            }
        }
        let target = Target {
            segments: vec![component.to_owned()],
            in_component: false,
        };
        Ok((target, Value::Object(written)))
    }
}

/// Where an operation writes in the desired patch.
struct Target {
    /// The names from the desired section's root down.
    segments: Vec<String>,
    /// Whether the first segment is a component, whose object is marked `"__t": "c"`.
    in_component: bool,
}

impl Target {
    /// Writes `value` here inside `patch`, creating (and marking) objects on the way.
    fn write(&self, patch: &mut Value, value: Value) {
        let mut node = patch;
        for (depth, name) in self.segments.iter().enumerate() {
            if !node.is_object() {
                *node = Value::Object(Map::new());
            }
            let Value::Object(members) = node else {
                return;
            };
            if depth + 1 == self.segments.len() {
                members.insert(name.clone(), value);
                return;
            }
            let child = members
                .entry(name.clone())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if depth == 0
                && self.in_component
                && !is_component(child)
                && let Value::Object(child) = child
            {
                child.insert(COMPONENT_MARKER.0.into(), COMPONENT_MARKER.1.into());
            }
            node = child;
        }
    }
}

/// A JSON Pointer to `segments`.
fn pointer(segments: &[String]) -> String {
    segments
        .iter()
        .map(|segment| format!("/{}", segment.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// Checks a property, field or map-key name.
fn check_name(name: &str) -> Result<(), DigitalTwinPatchError> {
    if is_valid_name(name, MAX_NAME_CHARS) {
        Ok(())
    } else {
        Err(DigitalTwinPatchError::BadName {
            name: name.to_owned(),
        })
    }
}

/// Checks a value written `depth` levels below its property.
fn check_value(path: &str, value: &Value, depth: usize) -> Result<(), DigitalTwinPatchError> {
    let bad = |reason: &str| DigitalTwinPatchError::BadValue {
        path: path.to_owned(),
        reason: reason.to_owned(),
    };
    match value {
        Value::Array(_) => Err(bad(
            "is an array; digital twin properties cannot hold arrays",
        )),
        Value::Object(fields) => {
            if depth >= MAX_VALUE_DEPTH {
                return Err(bad("nests objects more than five levels deep"));
            }
            for (name, field) in fields {
                check_name(name)?;
                check_value(&format!("{path}/{name}"), field, depth + 1)?;
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::twin::plug_and_play::view::tests::controller_twin;
    use serde_json::json;

    fn patch(operations: Value) -> Result<Value, DigitalTwinPatchError> {
        desired_patch_from_json_patch(&operations, &controller_twin())
    }

    #[test]
    fn property_operations_write_root_and_component_properties() {
        assert_eq!(
            patch(json!([{"op": "add", "path": "/thermostat1/targetTemperature", "value": 23}]))
                .unwrap(),
            json!({"thermostat1": {"__t": "c", "targetTemperature": 23}})
        );
        assert_eq!(
            patch(json!([{"op": "replace", "path": "/fanSpeed", "value": 3}])).unwrap(),
            json!({"fanSpeed": 3})
        );
        assert_eq!(
            patch(json!([
                {"op": "remove", "path": "/fanSpeed"},
                {"op": "remove", "path": "/thermostat1/targetTemperature"}
            ]))
            .unwrap(),
            json!({"fanSpeed": null, "thermostat1": {"__t": "c", "targetTemperature": null}})
        );
    }

    #[test]
    fn an_unknown_first_segment_with_a_property_below_starts_a_component() {
        let written = patch(json!([
            {"op": "add", "path": "/thermostat2/targetTemperature", "value": 19},
            {"op": "add", "path": "/thermostat2/hysteresis", "value": 0.5}
        ]))
        .unwrap();
        assert_eq!(
            written,
            json!({"thermostat2": {"__t": "c", "targetTemperature": 19, "hysteresis": 0.5}})
        );
        let keys: Vec<&String> = written["thermostat2"].as_object().unwrap().keys().collect();
        assert_eq!(keys[0], "__t");
    }

    #[test]
    fn component_operations_need_the_marker_and_clear_what_is_not_given() {
        assert_eq!(
            patch(json!([{"op": "replace", "path": "/thermostat1",
                          "value": {"hysteresis": 1, "$metadata": {}}}]))
            .unwrap(),
            json!({"thermostat1": {"__t": "c", "targetTemperature": null, "hysteresis": 1}})
        );
        assert_eq!(
            patch(json!([{"op": "remove", "path": "/thermostat1"}])).unwrap(),
            json!({"thermostat1": {"__t": "c", "targetTemperature": null}})
        );
        assert_eq!(
            patch(
                json!([{"op": "add", "path": "/thermostat1", "value": {"targetTemperature": 20}}])
            ),
            Err(DigitalTwinPatchError::MissingComponentMarker {
                component: "thermostat1".into()
            })
        );
        assert_eq!(
            patch(json!([{"op": "add", "path": "/thermostat3",
                          "value": {"targetTemperature": 20, "$metadata": {}}}]))
            .unwrap(),
            json!({"thermostat3": {"__t": "c", "targetTemperature": 20}})
        );
    }

    #[test]
    fn object_values_are_replaced_not_merged() {
        let twin =
            json!({"properties": {"desired": {"schedule": {"start": "08:00", "end": "18:00"}}}});
        let written = desired_patch_from_json_patch(
            &json!([{"op": "replace", "path": "/schedule", "value": {"start": "09:00"}}]),
            &twin,
        )
        .unwrap();
        assert_eq!(
            written,
            json!({"schedule": {"start": "09:00", "end": null}})
        );
        let nested = desired_patch_from_json_patch(
            &json!([{"op": "replace", "path": "/schedule/end", "value": "17:00"}]),
            &twin,
        )
        .unwrap();
        assert_eq!(nested, json!({"schedule": {"end": "17:00"}}));
    }

    #[test]
    fn bad_patches_are_refused_with_the_reason() {
        assert!(matches!(
            patch(json!({"op": "add"})),
            Err(DigitalTwinPatchError::NotAPatch(_))
        ));
        assert_eq!(
            patch(json!([{"op": "move", "path": "/a", "from": "/b"}])),
            Err(DigitalTwinPatchError::UnsupportedOperation {
                index: 0,
                op: "move".into()
            })
        );
        assert!(matches!(
            patch(json!([{"op": "add", "path": "", "value": 1}])),
            Err(DigitalTwinPatchError::BadPath { .. })
        ));
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/a//b", "value": 1}])),
            Err(DigitalTwinPatchError::BadPath { .. })
        ));
        assert_eq!(
            patch(json!([{"op": "add", "path": "/1st", "value": 1}])),
            Err(DigitalTwinPatchError::BadName { name: "1st".into() })
        );
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/a_", "value": 1}])),
            Err(DigitalTwinPatchError::BadName { .. })
        ));
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/list", "value": [1, 2]}])),
            Err(DigitalTwinPatchError::BadValue { .. })
        ));
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/deep",
                          "value": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}])),
            Err(DigitalTwinPatchError::BadValue { .. })
        ));
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/x", "value": {"bad-name": 1}}])),
            Err(DigitalTwinPatchError::BadName { .. })
        ));
        assert!(matches!(
            patch(json!([{"op": "add", "path": "/x"}])),
            Err(DigitalTwinPatchError::NotAPatch(_))
        ));
    }
}
