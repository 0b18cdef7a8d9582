//! Joining an error and its causes into one line, each cause said once: the rule every
//! place that shows an error to the user (the final message, progress lines, cache
//! warnings) follows.

/// `err` and its causes joined with `: `, each said once: a cause whose text is already in
/// the line is left out, and so is a parenthesised part of a cause that repeats what the line
/// already says (an HTTP client's `error sending request for url (URL)` after `GET URL`).
///
/// ```
/// let io = std::io::Error::other("disk full");
/// let err = builder::Error::Io { action: "write", path: "out.tar".into(), source: io };
/// assert_eq!(builder::domain::error_chain(&err), "write out.tar: disk full");
/// ```
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let more = without_repeats(&cause.to_string(), &text);
        if !more.is_empty() && !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// `cause` without the ` (X)` parts whose X is already in `said`.
fn without_repeats(cause: &str, said: &str) -> String {
    let mut out = cause.to_string();
    let mut from = 0;
    while let Some(open) = out[from..].find(" (").map(|i| i + from) {
        let Some(close) = out[open..].find(')').map(|i| i + open) else {
            break;
        };
        let inner = &out[open + 2..close];
        if inner.len() > 8 && said.contains(inner) {
            out.replace_range(open..=close, "");
        } else {
            from = close;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Msg(String, #[source] Option<Box<Msg>>);

    fn msg(chain: &[&str]) -> Msg {
        chain
            .iter()
            .rev()
            .fold(None, |inner, text| {
                Some(Msg(text.to_string(), inner.map(Box::new)))
            })
            .unwrap()
    }

    #[test]
    fn chain_says_each_cause_once() {
        let e = msg(&[
            "COPY failed: unable to find user bob",
            "unable to find user bob",
        ]);
        assert_eq!(error_chain(&e), "COPY failed: unable to find user bob");
        let e = msg(&["write layer", "disk full", "disk full"]);
        assert_eq!(error_chain(&e), "write layer: disk full");
    }

    #[test]
    fn chain_drops_a_repeated_url_in_parentheses() {
        let e = msg(&[
            "GET http://127.0.0.1:1/v2/x/manifests/1",
            "error sending request for url (http://127.0.0.1:1/v2/x/manifests/1)",
            "client error (Connect)",
        ]);
        assert_eq!(
            error_chain(&e),
            "GET http://127.0.0.1:1/v2/x/manifests/1: error sending request for url: client error (Connect)"
        );
    }
}
