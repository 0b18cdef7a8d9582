//! Heredocs: finding the `<<WORD` markers on a RUN, COPY or ADD line, and reading their
//! bodies from the lines that follow.
//!
//! A marker is a word of the line (as [`super::shlex`] splits it) of the form
//! `[digits]<<[-][blanks]WORD` with no further `<`. `WORD` is lexed once more: it must be a
//! single word; the quotes removed give the terminator, and any quoting turns variable
//! expansion of the body off. So `<<EOF`, `<<-EOF`, `<<"EOF"`, `<<'EOF'`, `<<e'o'f` and
//! `<< /path` are heredocs, while `<<`, `<<-`, `<<''` and `cat<<EOF` are not.
//!
//! Bodies are read in the order the markers appear, each up to a line equal to its
//! terminator (with `<<-`, leading tabs are ignored for that comparison and removed from
//! the body lines).

use super::shlex::{process_words, Mode};

/// A heredoc marker found on an instruction line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Marker {
    /// The terminator, quotes removed.
    pub(crate) name: String,
    /// False when any part of the word was quoted.
    pub(crate) expand: bool,
    /// True for `<<-`.
    pub(crate) chomp: bool,
}

const LINE_MODE: Mode = Mode {
    raw_quotes: true,
    raw_escapes: true,
};

/// The heredoc markers on `line`, in order. An error is a user message.
pub(crate) fn markers(line: &str) -> Result<Vec<Marker>, String> {
    let words = process_words(line, LINE_MODE).unwrap_or_default();
    let mut found = Vec::new();
    for word in &words {
        if let Some(marker) = marker_from_word(word)? {
            found.push(marker);
        }
    }
    Ok(found)
}

/// Read one word as a heredoc marker (`None` when it is not one).
pub(crate) fn marker_from_word(word: &str) -> Result<Option<Marker>, String> {
    let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
    let Some(after) = after_fd.strip_prefix("<<") else {
        return Ok(None);
    };
    let (chomp, after) = match after.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, after),
    };
    let rest = after.trim_start_matches(['\t', '\n', '\u{0c}', '\r', ' ']);
    if rest.is_empty() || rest.contains('<') {
        return Ok(None);
    }
    let lex = |raw_quotes| {
        process_words(
            rest,
            Mode {
                raw_quotes,
                raw_escapes: false,
            },
        )
        .map_err(|e| {
            format!(
                "failed to process {}: {e}",
                crate::dockerfile::dump::go_quote(rest)
            )
        })
    };
    let plain = lex(false)?;
    let [name] = plain.as_slice() else {
        return Ok(None);
    };
    let raw = lex(true)?;
    let [raw_name] = raw.as_slice() else {
        return Err(format!(
            "internal lexing of heredoc produced inconsistent results: {rest}"
        ));
    };
    let quotes = |s: &str| s.chars().filter(|&c| c == '\'' || c == '"').count();
    Ok(Some(Marker {
        name: name.clone(),
        expand: quotes(name) == quotes(raw_name),
        chomp,
    }))
}

/// Remove the leading tabs of every line of `body` (for `<<-`).
pub(crate) fn strip_leading_tabs(body: &str) -> String {
    body.split_inclusive('\n')
        .map(|line| line.trim_start_matches('\t'))
        .collect()
}

/// True when `line` (with its line ending) terminates the heredoc `marker`.
pub(crate) fn is_terminator(line: &str, marker: &Marker) -> bool {
    let mut candidate = super::lines::trim_newline(line);
    if marker.chomp {
        candidate = candidate.trim_start_matches('\t');
    }
    candidate == marker.name
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(name: &str, expand: bool, chomp: bool) -> Marker {
        Marker {
            name: name.into(),
            expand,
            chomp,
        }
    }

    #[test]
    fn marker_words() {
        assert_eq!(
            marker_from_word("<<EOF").unwrap(),
            Some(m("EOF", true, false))
        );
        assert_eq!(
            marker_from_word("<<-EOF").unwrap(),
            Some(m("EOF", true, true))
        );
        assert_eq!(
            marker_from_word("<<\"EOF\"").unwrap(),
            Some(m("EOF", false, false))
        );
        assert_eq!(
            marker_from_word("<<'EOF'").unwrap(),
            Some(m("EOF", false, false))
        );
        assert_eq!(
            marker_from_word("3<<EOF").unwrap(),
            Some(m("EOF", true, false))
        );
        assert_eq!(
            marker_from_word("<<e'o'f").unwrap(),
            Some(m("eof", false, false))
        );
        assert_eq!(
            marker_from_word("<<eo\\'f").unwrap(),
            Some(m("eo'f", true, false))
        );
        assert_eq!(
            marker_from_word("<<'e'o\\'f").unwrap(),
            Some(m("eo'f", false, false))
        );
        assert_eq!(
            marker_from_word("<<'one two'").unwrap(),
            Some(m("one two", false, false))
        );
        assert_eq!(
            marker_from_word("<< /no-here").unwrap(),
            Some(m("/no-here", true, false))
        );
        assert_eq!(
            marker_from_word("<<$EOF").unwrap(),
            Some(m("$EOF", true, false))
        );
        for word in [
            "<<", "<<-", "<<''", "<<\"\"", "cat<<EOF", "<<a<b", "EOF", "<<-\r",
        ] {
            assert_eq!(marker_from_word(word).unwrap(), None, "{word}");
        }
    }

    #[test]
    fn markers_on_a_line() {
        let found = markers("COPY <<FILE1 <<-\"FILE2\" /dest").unwrap();
        assert_eq!(
            found,
            vec![m("FILE1", true, false), m("FILE2", false, true)]
        );
        assert!(markers("RUN \"<<NOHEREDOC\"").unwrap().is_empty());
        assert!(markers("RUN <<- /no-here").unwrap().is_empty());
        assert_eq!(
            markers("RUN << /no-here").unwrap(),
            vec![m("/no-here", true, false)]
        );
        // An unterminated quote anywhere makes the line produce no words at all.
        assert!(markers("RUN <<EOF echo \"oops").unwrap().is_empty());
    }

    #[test]
    fn terminators_and_tabs() {
        assert!(is_terminator("EOF\r\n", &m("EOF", true, false)));
        assert!(!is_terminator("\tEOF\n", &m("EOF", true, false)));
        assert!(is_terminator("\t\tEOF\n", &m("EOF", true, true)));
        assert!(!is_terminator(" EOF\n", &m("EOF", true, true)));
        assert_eq!(strip_leading_tabs("\ta\n\t\tb\r\nc\t\n"), "a\nb\r\nc\t\n");
    }
}
