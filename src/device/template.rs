//! Telemetry templates: a JSON text with `{{...}}` placeholders that a simulated device
//! expands into a fresh message body at every tick.
//!
//! # Syntax
//! A placeholder is `{{name arguments...}}`; the name and its arguments are separated by
//! whitespace, and whitespace just inside the braces is ignored. Every placeholder expands to
//! bare text, so string values need quotes around them in the template:
//!
//! | placeholder | expands to |
//! |---|---|
//! | `{{random MIN MAX}}` | a decimal number from MIN to MAX inclusive, two decimals (`23.41`) |
//! | `{{random_int MIN MAX}}` | a whole number from MIN to MAX inclusive (`42`) |
//! | `{{counter}}` | the message number of this device, starting at 1 |
//! | `{{timestamp}}` | the time of sending, ISO-8601 UTC (`2024-05-01T12:00:00.1234567Z`) |
//! | `{{device_id}}` | the sending device's id |
//!
//! Example: `{"temperature": {{random 20.0 30.0}}, "seq": {{counter}}, "at": "{{timestamp}}"}`.
//! `{{` always opens a placeholder: a template cannot contain it as literal text.
//!
//! A template is checked once, when it is parsed: every placeholder must be known and well
//! formed, and the expanded text must be JSON, so a tick can never fail.

use std::fmt::Write as _;

use rand::Rng;

/// Why a telemetry template was refused; every message names the placeholder at fault.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TemplateError {
    /// `{{` without a matching `}}`.
    #[error(
        "the placeholder starting at character {offset} is never closed; end it with `}}}}`, e.g. `{{{{counter}}}}`"
    )]
    Unclosed {
        /// Where the `{{` is, counted in characters from 1.
        offset: usize,
    },
    /// `{{}}` or `{{   }}`.
    #[error(
        "the placeholder at character {offset} is empty; use one of: random, random_int, counter, timestamp, device_id"
    )]
    Empty {
        /// Where the `{{` is.
        offset: usize,
    },
    /// A name this engine does not know.
    #[error(
        "unknown placeholder `{placeholder}` at character {offset}; use one of: random, random_int, counter, timestamp, device_id"
    )]
    Unknown {
        /// The placeholder as written, braces included.
        placeholder: String,
        /// Where it starts.
        offset: usize,
    },
    /// Too few or too many arguments.
    #[error("`{placeholder}` takes {expected}, but {found} were given; write e.g. `{example}`")]
    Arguments {
        /// The placeholder as written.
        placeholder: String,
        /// What it takes, in words.
        expected: &'static str,
        /// How many were given.
        found: usize,
        /// A valid example.
        example: &'static str,
    },
    /// An argument that is not a (finite) number of the right kind.
    #[error("`{placeholder}`: {argument:?} is not {kind}; write e.g. `{example}`")]
    NotANumber {
        /// The placeholder as written.
        placeholder: String,
        /// The argument at fault.
        argument: String,
        /// "a number" or "a whole number".
        kind: &'static str,
        /// A valid example.
        example: &'static str,
    },
    /// MIN is greater than MAX.
    #[error("`{placeholder}`: the minimum is greater than the maximum; swap them")]
    EmptyRange {
        /// The placeholder as written.
        placeholder: String,
    },
    /// The expanded template is not JSON.
    #[error(
        "the template does not expand to JSON ({problem}); expanded with sample values it reads: {sample}"
    )]
    NotJson {
        /// What the JSON parser said.
        problem: String,
        /// The expansion that failed, to show where.
        sample: String,
    },
}

/// One piece of a parsed template.
#[derive(Debug, Clone, PartialEq)]
enum Piece {
    Text(String),
    Random { min: f64, max: f64 },
    RandomInt { min: i64, max: i64 },
    Counter,
    Timestamp,
    DeviceId,
}

/// What a placeholder needs from the device at expansion time.
#[derive(Debug, Clone, Copy)]
pub struct Expansion<'a> {
    /// The sending device.
    pub device_id: &'a str,
    /// The message number, starting at 1.
    pub counter: u64,
    /// The time of sending.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A checked telemetry template, ready to expand at every tick.
#[derive(Debug, Clone, PartialEq)]
pub struct TelemetryTemplate {
    source: String,
    pieces: Vec<Piece>,
}

impl TelemetryTemplate {
    /// Parses and checks `source` (see the module documentation for the syntax).
    pub fn parse(source: &str) -> Result<Self, TemplateError> {
        let mut pieces = Vec::new();
        let mut rest = source;
        let mut consumed_chars = 0;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let offset = consumed_chars + rest[..start].chars().count() + 1;
            let after_open = &rest[start + 2..];
            let end = after_open
                .find("}}")
                .ok_or(TemplateError::Unclosed { offset })?;
            let inner = &after_open[..end];
            pieces.push(parse_placeholder(inner, offset)?);
            let used = start + 2 + end + 2;
            consumed_chars += rest[..used].chars().count();
            rest = &rest[used..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        let template = Self {
            source: source.to_owned(),
            pieces,
        };
        let sample = template.expand(&Expansion {
            device_id: "device",
            counter: 1,
            now: chrono::Utc::now(),
        });
        if let Err(error) = serde_json::from_str::<serde_json::Value>(&sample) {
            return Err(TemplateError::NotJson {
                problem: error.to_string(),
                sample,
            });
        }
        Ok(template)
    }

    /// The template as the user wrote it.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Expands every placeholder; the result is JSON text (checked at parse time).
    pub fn expand(&self, values: &Expansion<'_>) -> String {
        let mut rng = rand::rng();
        let mut body = String::with_capacity(self.source.len());
        for piece in &self.pieces {
            // Writing to a String cannot fail.
            let _ = match piece {
                Piece::Text(text) => body.write_str(text),
                Piece::Random { min, max } => {
                    let value = rng.random_range(*min..=*max);
                    let rounded = (value * 100.0).round() / 100.0;
                    if (*min..=*max).contains(&rounded) {
                        write!(body, "{rounded:.2}")
                    } else {
                        // Bounds finer than two decimals: rounding would leave the range.
                        write!(body, "{value}")
                    }
                }
                Piece::RandomInt { min, max } => write!(body, "{}", rng.random_range(*min..=*max)),
                Piece::Counter => write!(body, "{}", values.counter),
                Piece::Timestamp => body.write_str(&crate::twin::format_timestamp(values.now)),
                Piece::DeviceId => body.write_str(values.device_id),
            };
        }
        body
    }
}

const RANDOM_EXAMPLE: &str = "{{random 20.0 30.0}}";
const RANDOM_INT_EXAMPLE: &str = "{{random_int 1 100}}";

fn parse_placeholder(inner: &str, offset: usize) -> Result<Piece, TemplateError> {
    let placeholder = format!("{{{{{inner}}}}}");
    let mut words = inner.split_whitespace();
    let Some(name) = words.next() else {
        return Err(TemplateError::Empty { offset });
    };
    let arguments: Vec<&str> = words.collect();
    let arity = |expected: &'static str, wanted: usize, example: &'static str| {
        if arguments.len() == wanted {
            Ok(())
        } else {
            Err(TemplateError::Arguments {
                placeholder: placeholder.clone(),
                expected,
                found: arguments.len(),
                example,
            })
        }
    };
    match name {
        "random" => {
            arity("two arguments (MIN MAX)", 2, RANDOM_EXAMPLE)?;
            let [min, max] = numbers(&arguments, |text: &str| {
                text.parse::<f64>().ok().filter(|value| value.is_finite())
            })
            .map_err(|argument| TemplateError::NotANumber {
                placeholder: placeholder.clone(),
                argument,
                kind: "a number",
                example: RANDOM_EXAMPLE,
            })?;
            ordered(&placeholder, min, max)?;
            Ok(Piece::Random { min, max })
        }
        "random_int" => {
            arity("two arguments (MIN MAX)", 2, RANDOM_INT_EXAMPLE)?;
            let [min, max] =
                numbers(&arguments, |text: &str| text.parse::<i64>().ok()).map_err(|argument| {
                    TemplateError::NotANumber {
                        placeholder: placeholder.clone(),
                        argument,
                        kind: "a whole number",
                        example: RANDOM_INT_EXAMPLE,
                    }
                })?;
            ordered(&placeholder, min, max)?;
            Ok(Piece::RandomInt { min, max })
        }
        "counter" => arity("no arguments", 0, "{{counter}}").map(|()| Piece::Counter),
        "timestamp" => arity("no arguments", 0, "{{timestamp}}").map(|()| Piece::Timestamp),
        "device_id" => arity("no arguments", 0, "{{device_id}}").map(|()| Piece::DeviceId),
        _ => Err(TemplateError::Unknown {
            placeholder,
            offset,
        }),
    }
}

/// Parses the two arguments of a range placeholder; the error is the argument at fault.
fn numbers<T: Copy>(
    arguments: &[&str],
    parse: impl Fn(&str) -> Option<T>,
) -> Result<[T; 2], String> {
    let parse_one = |text: &&str| parse(text).ok_or_else(|| (*text).to_owned());
    match arguments {
        [min, max] => Ok([parse_one(min)?, parse_one(max)?]),
        _ => Err(arguments.join(" ")),
    }
}

fn ordered<T: PartialOrd>(placeholder: &str, min: T, max: T) -> Result<(), TemplateError> {
    if min <= max {
        Ok(())
    } else {
        Err(TemplateError::EmptyRange {
            placeholder: placeholder.to_owned(),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
#[path = "template_tests.rs"]
mod tests;
