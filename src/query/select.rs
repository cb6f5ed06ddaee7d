//! Turns the parsed select list and GROUP BY paths into the query's result shape: it names
//! every column (alias, last path member, or `$1`, `$2`, ... as IoT Hub does) and checks
//! that an aggregated query selects only aggregates and grouped paths.

use super::ast::{AggregateColumn, AggregateValue, Column, Expr, Path, Selection};
use super::error::QueryError;
use super::functions::Aggregate;

/// The select list as written, before names are given and rules checked.
pub(crate) enum SelectList {
    /// `*`, at this character offset.
    Everything {
        position: usize,
    },
    Items(Vec<SelectItem>),
}

/// One comma-separated entry of the select list.
pub(crate) struct SelectItem {
    /// Character offset where the item starts, for messages.
    pub position: usize,
    /// The item as written, for messages.
    pub text: String,
    pub value: SelectValue,
    pub alias: Option<String>,
}

/// What a select item computes.
pub(crate) enum SelectValue {
    Scalar(Expr),
    Aggregate {
        function: Aggregate,
        argument: Option<Expr>,
    },
}

/// Builds the result shape from the select list and the GROUP BY paths (with the
/// character offset of each).
pub(crate) fn build_selection(
    list: SelectList,
    group_by: Vec<(usize, Path)>,
) -> Result<Selection, QueryError> {
    let items = match list {
        SelectList::Everything { position } => {
            if group_by.is_empty() {
                return Ok(Selection::Everything);
            }
            return Err(QueryError::new(
                position,
                "found '*' in a GROUP BY query, expected a select list of grouped paths and \
                 aggregates, for example SELECT tags.city AS city, COUNT() AS n",
            ));
        }
        SelectList::Items(items) => items,
    };
    let names = column_names(&items)?;
    let aggregated = !group_by.is_empty()
        || items
            .iter()
            .any(|item| matches!(item.value, SelectValue::Aggregate { .. }));
    if !aggregated {
        let columns = items
            .into_iter()
            .zip(names)
            .filter_map(|(item, name)| match item.value {
                SelectValue::Scalar(expr) => Some(Column { name, expr }),
                SelectValue::Aggregate { .. } => None,
            })
            .collect();
        return Ok(Selection::Columns(columns));
    }
    let group_by: Vec<Path> = group_by.into_iter().map(|(_, path)| path).collect();
    let mut columns = Vec::with_capacity(items.len());
    for (item, name) in items.into_iter().zip(names) {
        let value = match item.value {
            SelectValue::Aggregate { function, argument } => {
                AggregateValue::Aggregate { function, argument }
            }
            SelectValue::Scalar(expr) => group_key(&expr, &group_by).ok_or_else(|| {
                QueryError::new(
                    item.position,
                    format!(
                        "found '{}' in an aggregate query, expected an aggregate (COUNT, AVG, \
                         SUM, MIN, MAX) or a GROUP BY path: add it to GROUP BY or aggregate it",
                        item.text
                    ),
                )
            })?,
        };
        columns.push(AggregateColumn { name, value });
    }
    Ok(Selection::Aggregated { columns, group_by })
}

fn group_key(expr: &Expr, group_by: &[Path]) -> Option<AggregateValue> {
    let Expr::Path(path) = expr else {
        return None;
    };
    group_by
        .iter()
        .position(|grouped| grouped == path)
        .map(AggregateValue::GroupKey)
}

/// One name per item: the alias, else the last member of a bare path, else `$1`, `$2`,
/// ... numbered over the unnamed items. Two columns with one name are an error.
fn column_names(items: &[SelectItem]) -> Result<Vec<String>, QueryError> {
    let mut names: Vec<String> = Vec::with_capacity(items.len());
    let mut unnamed = 0;
    for item in items {
        let derived = match &item.value {
            SelectValue::Scalar(Expr::Path(path)) => path.column_name().map(str::to_owned),
            _ => None,
        };
        let name = item.alias.clone().or(derived).unwrap_or_else(|| {
            unnamed += 1;
            format!("${unnamed}")
        });
        if names.contains(&name) {
            return Err(QueryError::new(
                item.position,
                format!(
                    "found a second column named '{name}', expected distinct column names: \
                     give this one another name with AS"
                ),
            ));
        }
        names.push(name);
    }
    Ok(names)
}

#[cfg(test)]
mod tests;
