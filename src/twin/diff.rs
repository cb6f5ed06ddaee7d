//! Structural diff of two JSON documents, for the twin editor's patch preview and for
//! snapshot comparisons. Objects are compared member by member; arrays and primitives
//! are compared whole (an array that changed is one change, as in a merge patch).

use serde_json::{Map, Value};

use super::path::JsonPath;

/// What happened at one path between `before` and `after`.
#[derive(Debug, Clone, PartialEq)]
pub enum ChangeKind {
    /// The path exists only in `after`.
    Added {
        /// The new value.
        value: Value,
    },
    /// The path exists only in `before`.
    Removed {
        /// The value that is gone.
        value: Value,
    },
    /// The path exists in both with different values (not both objects).
    Changed {
        /// The old value.
        from: Value,
        /// The new value.
        to: Value,
    },
}

/// One difference, located by path.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Where the difference is (the root for two differing non-objects).
    pub path: JsonPath,
    /// What the difference is.
    pub kind: ChangeKind,
}

/// Every difference between `before` and `after`.
///
/// Order is deterministic: within each object, members in `after`'s order (recursing
/// into objects present on both sides), then members only `before` has, in its order.
pub fn diff(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    compare(
        &JsonPath::root(),
        before,
        after,
        KeyFilter::Everything,
        &mut changes,
    );
    changes
}

/// Like [`diff`], but blind to system keys (any member whose key starts with `$`, such
/// as `$metadata` and `$version`), at every level and inside reported values. Use it to
/// compare what users wrote rather than the hub's bookkeeping.
pub fn diff_ignoring_system_keys(before: &Value, after: &Value) -> Vec<Change> {
    let mut changes = Vec::new();
    compare(
        &JsonPath::root(),
        before,
        after,
        KeyFilter::UserKeys,
        &mut changes,
    );
    changes
}

/// `value` as [`diff_ignoring_system_keys`] sees it: without system keys (members whose
/// key starts with `$`) at any depth. What a user wrote, without the hub's bookkeeping.
pub fn without_system_keys(value: &Value) -> Value {
    KeyFilter::UserKeys.view(value)
}

#[derive(Clone, Copy)]
enum KeyFilter {
    Everything,
    UserKeys,
}

impl KeyFilter {
    fn keeps(self, key: &str) -> bool {
        match self {
            KeyFilter::Everything => true,
            KeyFilter::UserKeys => !key.starts_with('$'),
        }
    }

    /// The value as this filter sees it (system keys stripped at every depth).
    fn view(self, value: &Value) -> Value {
        match (self, value) {
            (KeyFilter::UserKeys, Value::Object(members)) => Value::Object(self.members(members)),
            (KeyFilter::UserKeys, Value::Array(items)) => {
                Value::Array(items.iter().map(|item| self.view(item)).collect())
            }
            _ => value.clone(),
        }
    }

    fn members(self, members: &Map<String, Value>) -> Map<String, Value> {
        members
            .iter()
            .filter(|(key, _)| self.keeps(key))
            .map(|(key, value)| (key.clone(), self.view(value)))
            .collect()
    }
}

fn compare(
    path: &JsonPath,
    before: &Value,
    after: &Value,
    filter: KeyFilter,
    out: &mut Vec<Change>,
) {
    match (before, after) {
        (Value::Object(old), Value::Object(new)) => compare_members(path, old, new, filter, out),
        _ => {
            let (from, to) = (filter.view(before), filter.view(after));
            if from != to {
                out.push(Change {
                    path: path.clone(),
                    kind: ChangeKind::Changed { from, to },
                });
            }
        }
    }
}

fn compare_members(
    path: &JsonPath,
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    filter: KeyFilter,
    out: &mut Vec<Change>,
) {
    for (key, new_value) in after.iter().filter(|(key, _)| filter.keeps(key)) {
        let member_path = path.child(key);
        match before.get(key) {
            Some(old_value) => compare(&member_path, old_value, new_value, filter, out),
            None => out.push(Change {
                path: member_path,
                kind: ChangeKind::Added {
                    value: filter.view(new_value),
                },
            }),
        }
    }
    for (key, old_value) in before.iter().filter(|(key, _)| filter.keeps(key)) {
        if !after.contains_key(key) {
            out.push(Change {
                path: path.child(key),
                kind: ChangeKind::Removed {
                    value: filter.view(old_value),
                },
            });
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    fn at(path: &str) -> JsonPath {
        path.parse().unwrap()
    }

    #[test]
    fn identical_documents_have_no_changes() {
        let document = json!({"a": {"b": [1, 2]}, "c": "x"});
        assert!(diff(&document, &document).is_empty());
    }

    #[test]
    fn reports_added_removed_and_changed_members() {
        let before = json!({"a": 1, "b": {"c": true, "d": "x"}, "gone": [1]});
        let after = json!({"a": 2, "b": {"c": true, "e": null}, "new": {"n": 1}});
        assert_eq!(
            diff(&before, &after),
            vec![
                Change {
                    path: at("a"),
                    kind: ChangeKind::Changed {
                        from: json!(1),
                        to: json!(2)
                    }
                },
                Change {
                    path: at("b.e"),
                    kind: ChangeKind::Added { value: json!(null) }
                },
                Change {
                    path: at("b.d"),
                    kind: ChangeKind::Removed { value: json!("x") }
                },
                Change {
                    path: at("new"),
                    kind: ChangeKind::Added {
                        value: json!({"n": 1})
                    }
                },
                Change {
                    path: at("gone"),
                    kind: ChangeKind::Removed { value: json!([1]) }
                },
            ]
        );
    }

    #[test]
    fn arrays_compare_whole() {
        let changes = diff(&json!({"list": [1, 2, 3]}), &json!({"list": [1, 2, 4]}));
        assert_eq!(changes.len(), 1);
        assert_eq!(changes[0].path, at("list"));
    }

    #[test]
    fn object_replaced_by_primitive_is_one_change() {
        let changes = diff(&json!({"a": {"b": 1}}), &json!({"a": 5}));
        assert_eq!(
            changes,
            vec![Change {
                path: at("a"),
                kind: ChangeKind::Changed {
                    from: json!({"b": 1}),
                    to: json!(5)
                }
            }]
        );
    }

    #[test]
    fn differing_roots_change_at_the_root() {
        let changes = diff(&json!([1]), &json!("x"));
        assert_eq!(changes.len(), 1);
        assert!(changes[0].path.is_root());
    }

    #[test]
    fn order_follows_after_then_removed_keys() {
        let before = json!({"z": 1, "y": 1, "x": 1});
        let after = json!({"c": 1, "y": 2, "a": 1});
        let paths: Vec<String> = diff(&before, &after)
            .into_iter()
            .map(|change| change.path.to_string())
            .collect();
        assert_eq!(paths, ["c", "y", "a", "z", "x"]);
    }

    #[test]
    fn system_keys_can_be_ignored() {
        let before =
            json!({"desired": {"t": 1, "$metadata": {"$lastUpdated": "a"}, "$version": 1}});
        let after = json!({"desired": {"t": 2, "$metadata": {"$lastUpdated": "b"}, "$version": 2}});
        let changes = diff_ignoring_system_keys(&before, &after);
        assert_eq!(
            changes,
            vec![Change {
                path: at("desired.t"),
                kind: ChangeKind::Changed {
                    from: json!(1),
                    to: json!(2)
                }
            }]
        );
        assert_eq!(diff(&before, &after).len(), 3);
    }

    #[test]
    fn ignored_system_keys_are_stripped_from_reported_values() {
        let after = json!({"desired": {"t": 1, "$version": 1}});
        let changes = diff_ignoring_system_keys(&json!({}), &after);
        assert_eq!(
            changes,
            vec![Change {
                path: at("desired"),
                kind: ChangeKind::Added {
                    value: json!({"t": 1})
                }
            }]
        );
        let only_system = json!({"a": [{"$x": 1}]});
        assert!(diff_ignoring_system_keys(&json!({"a": [{}]}), &only_system).is_empty());
    }
}
