//! JSON Merge Patch (RFC 7386), the update format of tags, desired and reported
//! properties: objects merge recursively, `null` deletes a member, everything else
//! (arrays included) replaces. Also computes the patch between two documents, for the
//! editor's "send only what changed". Pure functions on `serde_json::Value`.

use serde_json::{Map, Value};

/// Applies `patch` to `target` as RFC 7386 describes.
///
/// Deleting a missing member creates nothing, and an object patch under a missing or
/// non-object member starts from `{}`, so `{"p1":{"p2":null}}` creates `p1` as `{}` —
/// exactly what IoT Hub does. An object patch never leaves a `null` member behind;
/// arrays and other non-object values are copied as given.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(patch_members) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(members) = target {
        merge_members(members, patch_members);
    }
}

/// [`merge_patch`] for an object target and an object patch, the shape of every twin
/// section. Removal keeps the order of the remaining members.
pub(crate) fn merge_members(target: &mut Map<String, Value>, patch: &Map<String, Value>) {
    for (key, value) in patch {
        if value.is_null() {
            target.shift_remove(key);
        } else {
            merge_patch(target.entry(key.as_str()).or_insert(Value::Null), value);
        }
    }
}

/// The merge patch that turns `before` into `after`: changed and added members as in
/// `after`, removed members as `null`, unchanged members left out.
///
/// `merge_patch(&mut before, &merge_patch_between(&before, &after))` yields `after`
/// whenever `after` has no `null` members (a merge patch cannot express a stored `null`).
pub fn merge_patch_between(before: &Value, after: &Value) -> Value {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => Value::Object(members_patch(old, new)),
        _ => after.clone(),
    }
}

fn members_patch(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let mut patch = Map::new();
    for (key, new_value) in after {
        match before.get(key) {
            Some(old_value) if old_value == new_value => {}
            Some(old_value) => {
                patch.insert(key.clone(), merge_patch_between(old_value, new_value));
            }
            None => {
                patch.insert(key.clone(), new_value.clone());
            }
        }
    }
    for key in before.keys().filter(|key| !after.contains_key(*key)) {
        patch.insert(key.clone(), Value::Null);
    }
    patch
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::twin::diff::{ChangeKind, diff};
    use crate::twin::path::JsonPath;
    use proptest::prelude::*;
    use serde_json::json;

    fn merged(target: Value, patch: Value) -> Value {
        let mut target = target;
        merge_patch(&mut target, &patch);
        target
    }

    #[test]
    fn objects_merge_recursively() {
        let result = merged(
            json!({"a": {"b": 1, "c": 2}, "d": 3}),
            json!({"a": {"b": 10, "e": 5}}),
        );
        assert_eq!(result, json!({"a": {"b": 10, "c": 2, "e": 5}, "d": 3}));
    }

    #[test]
    fn null_deletes_a_member() {
        assert_eq!(
            merged(json!({"a": 1, "b": 2}), json!({"a": null})),
            json!({"b": 2})
        );
    }

    #[test]
    fn deleting_a_missing_member_creates_nothing() {
        assert_eq!(merged(json!({"x": 1}), json!({"p": null})), json!({"x": 1}));
    }

    #[test]
    fn deleting_under_a_missing_member_creates_an_empty_object() {
        assert_eq!(
            merged(json!({}), json!({"p1": {"p2": null}})),
            json!({"p1": {}})
        );
        assert_eq!(
            merged(json!({"p1": 7}), json!({"p1": {"p2": null}})),
            json!({"p1": {}})
        );
    }

    #[test]
    fn arrays_and_primitives_replace() {
        assert_eq!(
            merged(json!({"a": [1, 2, 3]}), json!({"a": [4]})),
            json!({"a": [4]})
        );
        assert_eq!(
            merged(json!({"a": {"b": 1}}), json!({"a": "s"})),
            json!({"a": "s"})
        );
        assert_eq!(
            merged(json!({"a": [1]}), json!({"a": {"b": 1}})),
            json!({"a": {"b": 1}})
        );
        assert_eq!(merged(json!({"a": 1}), json!([1, 2])), json!([1, 2]));
    }

    #[test]
    fn removal_keeps_member_order() {
        let result = merged(json!({"a": 1, "b": 2, "c": 3, "d": 4}), json!({"b": null}));
        let keys: Vec<&String> = result.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "c", "d"]);
    }

    #[test]
    fn rfc_7386_appendix_a_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": "b", "b": "c"}),
                json!({"a": null}),
                json!({"b": "c"}),
            ),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "c"}), json!({"a": ["b"]}), json!({"a": ["b"]})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "b"}), json!(["c"]), json!(["c"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (json!({"a": "foo"}), json!("bar"), json!("bar")),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!([1, 2]),
                json!({"a": "b", "c": null}),
                json!({"a": "b"}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
        ];
        for (target, patch, expected) in cases {
            assert_eq!(
                merged(target.clone(), patch.clone()),
                expected,
                "{target} + {patch}"
            );
        }
    }

    #[test]
    fn patch_between_lists_changes_additions_and_removals() {
        let before = json!({"keep": 1, "change": {"x": 1, "y": 2}, "drop": true});
        let after = json!({"keep": 1, "change": {"x": 1, "y": 3}, "add": [1]});
        assert_eq!(
            merge_patch_between(&before, &after),
            json!({"change": {"y": 3}, "add": [1], "drop": null})
        );
        assert_eq!(merge_patch_between(&before, &before), json!({}));
        assert_eq!(
            merge_patch_between(&json!(1), &json!({"a": 1})),
            json!({"a": 1})
        );
    }

    /// Null-free JSON: what a twin section can hold.
    fn null_free_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            any::<bool>().prop_map(Value::from),
            (-1000i64..1000).prop_map(Value::from),
            (-1.0e6f64..1.0e6).prop_map(Value::from),
            "[a-z]{0,6}".prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map("[a-e]", inner, 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
    }

    fn null_free_object() -> impl Strategy<Value = Value> {
        prop::collection::btree_map("[a-e]", null_free_value(), 0..6)
            .prop_map(|members| Value::Object(members.into_iter().collect()))
    }

    /// Patches: objects whose members may be `null` (delete) at any depth.
    fn patch_object() -> impl Strategy<Value = Value> {
        let member = prop_oneof![
            1 => Just(Value::Null),
            3 => null_free_value(),
        ];
        let member = member.prop_recursive(3, 32, 4, |inner| {
            prop::collection::btree_map("[a-e]", inner, 0..4)
                .prop_map(|members| Value::Object(members.into_iter().collect()))
        });
        prop::collection::btree_map("[a-e]", member, 0..6)
            .prop_map(|members| Value::Object(members.into_iter().collect()))
    }

    fn contains_null(value: &Value) -> bool {
        match value {
            Value::Null => true,
            Value::Array(items) => items.iter().any(contains_null),
            Value::Object(members) => members.values().any(contains_null),
            Value::Bool(_) | Value::Number(_) | Value::String(_) => false,
        }
    }

    /// The paths a merge patch changes, with what it does there, walked against the
    /// document it applies to: a nested object is only descended into where the document
    /// has an object too (elsewhere it replaces whatever is there, whole).
    fn patch_leaves(
        before: &Value,
        patch: &Value,
        at: &JsonPath,
        leaves: &mut Vec<(JsonPath, &'static str)>,
    ) {
        let Value::Object(members) = patch else {
            return;
        };
        for (key, value) in members {
            let path = at.child(key.as_str());
            let old = before.get(key);
            match (old, value) {
                (Some(old @ Value::Object(_)), Value::Object(_)) => {
                    patch_leaves(old, value, &path, leaves);
                }
                (None, _) => leaves.push((path, "added")),
                (Some(_), Value::Null) => leaves.push((path, "removed")),
                (Some(_), _) => leaves.push((path, "changed")),
            }
        }
    }

    fn kind_name(kind: &ChangeKind) -> &'static str {
        match kind {
            ChangeKind::Added { .. } => "added",
            ChangeKind::Removed { .. } => "removed",
            ChangeKind::Changed { .. } => "changed",
        }
    }

    proptest! {
        /// Apply a patch, derive the patch between the document and the result, and
        /// that derived patch takes the document to the same result; the structural
        /// diff of the two documents names exactly the places the derived patch changes.
        #[test]
        fn a_patch_applied_then_the_derived_patch_reproduces_the_target(
            original in null_free_object(),
            patch in patch_object(),
        ) {
            let target = merged(original.clone(), patch);
            let derived = merge_patch_between(&original, &target);
            prop_assert_eq!(&merged(original.clone(), derived.clone()), &target);

            let mut expected = Vec::new();
            patch_leaves(&original, &derived, &JsonPath::root(), &mut expected);
            expected.sort_by_key(|(path, _)| path.to_string());
            let mut changes: Vec<(JsonPath, &'static str)> = diff(&original, &target)
                .into_iter()
                .map(|change| (change.path, kind_name(&change.kind)))
                .collect();
            changes.sort_by_key(|(path, _)| path.to_string());
            prop_assert_eq!(changes, expected);
        }

        #[test]
        fn patch_between_reproduces_the_target(a in null_free_object(), b in null_free_object()) {
            let mut result = a.clone();
            merge_patch(&mut result, &merge_patch_between(&a, &b));
            prop_assert_eq!(result, b);
        }

        #[test]
        fn merging_never_leaves_null(target in null_free_object(), patch in patch_object()) {
            let mut result = target;
            merge_patch(&mut result, &patch);
            prop_assert!(!contains_null(&result), "{}", result);
        }
    }
}
