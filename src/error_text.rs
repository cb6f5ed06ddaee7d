//! How errors read when people see them: an error with every cause it carries, each
//! once, and the advice for a failure that has the same fix wherever it happens.

/// `error` and its causes on one line, joined by `": "`. A cause is left out when the
/// text so far already quotes it, as most of our errors quote their cause.
pub fn with_causes(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(cause) = next {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        next = cause.source();
    }
    text
}

/// What to do when `failure` (an error's text with its causes) says the hub's TLS
/// certificate was not trusted; `None` for any other failure.
pub fn untrusted_certificate_advice(failure: &str) -> Option<&'static str> {
    failure.contains("certificate").then_some(
        "the hub's TLS certificate is not trusted: for a local hub started with --tls, give \
         its CA file (--ca-cert, or the CA certificate of the connection)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("could not open the store: {source}")]
    struct Quoting {
        source: std::io::Error,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("the hub did not start")]
    struct Silent {
        #[source]
        source: Quoting,
    }

    #[test]
    fn causes_are_written_once() {
        let error = Silent {
            source: Quoting {
                source: std::io::Error::other("disk full"),
            },
        };
        assert_eq!(
            with_causes(&error),
            "the hub did not start: could not open the store: disk full"
        );
        assert_eq!(with_causes(&std::io::Error::other("refused")), "refused");
    }

    #[test]
    fn only_certificate_failures_get_the_ca_advice() {
        let advice = untrusted_certificate_advice("invalid peer certificate: UnknownIssuer");
        assert!(advice.is_some_and(|advice| advice.contains("--ca-cert")));
        assert_eq!(untrusted_certificate_advice("connection reset"), None);
    }
}
