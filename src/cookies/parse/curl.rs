//! "Copy as cURL" commands: split into words with bash or cmd.exe quoting,
//! then the cookies come from `-H 'Cookie: …'` and `-b`/`--cookie`.

use std::iter::Peekable;
use std::str::Chars;

use zeroize::Zeroizing;

use super::{CookieParseError, JarBuilder, parse_header_value};

/// A word of the command; it may hold cookie values, so it zeroizes on drop.
pub(super) type Word = Zeroizing<String>;

/// The rest of the text after a leading `curl` / `curl.exe` word.
pub(super) fn strip_curl_word(text: &str) -> Option<&str> {
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    let first = &text[..end];
    (first.eq_ignore_ascii_case("curl") || first.eq_ignore_ascii_case("curl.exe"))
        .then(|| &text[end..])
}

/// Reads the cookies out of the command's words.
pub(super) fn parse(words: &[Word], builder: &mut JarBuilder) -> Result<(), CookieParseError> {
    let mut found = false;
    let mut args = words.iter().skip(1).map(|w| w.as_str());
    while let Some(arg) = args.next() {
        let cookies = if arg == "-H" || arg == "--header" {
            args.next().and_then(cookie_header_value)
        } else if let Some(header) = arg.strip_prefix("-H") {
            cookie_header_value(header)
        } else if arg == "-b" || arg == "--cookie" {
            args.next().filter(|v| is_cookie_string(v))
        } else if let Some(value) = arg.strip_prefix("-b") {
            Some(value).filter(|v| is_cookie_string(v))
        } else {
            None
        };
        if let Some(cookies) = cookies {
            found = true;
            parse_header_value(cookies, builder)?;
        }
    }
    if found {
        Ok(())
    } else {
        Err(CookieParseError::CurlWithoutCookies)
    }
}

fn cookie_header_value(header: &str) -> Option<&str> {
    let (name, value) = header.split_once(':')?;
    name.trim()
        .eq_ignore_ascii_case("cookie")
        .then(|| value.trim())
}

/// curl reads `-b` without `=` as a file name, which holds nothing we can use.
fn is_cookie_string(value: &str) -> bool {
    value.contains('=')
}

/// Splits a bash command line: `'…'`, `$'…'` (ANSI-C escapes), `"…"`,
/// backslash escapes, and `\` line continuations.
pub(super) fn bash_words(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut word = Word::default();
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => match chars.next() {
                Some('\n') => {}
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some(next) => {
                    word.push(next);
                    in_word = true;
                }
                None => {}
            },
            '\'' => {
                in_word = true;
                for next in chars.by_ref() {
                    if next == '\'' {
                        break;
                    }
                    word.push(next);
                }
            }
            '$' if chars.peek() == Some(&'\'') => {
                chars.next();
                in_word = true;
                read_ansi_c(&mut chars, &mut word);
            }
            '"' => {
                in_word = true;
                read_double_quoted(&mut chars, &mut word);
            }
            c if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

fn read_double_quoted(chars: &mut Peekable<Chars<'_>>, word: &mut String) {
    while let Some(c) = chars.next() {
        match c {
            '"' => return,
            '\\' => match chars.peek() {
                Some(&e @ ('"' | '\\' | '$' | '`')) => {
                    word.push(e);
                    chars.next();
                }
                Some('\n') => {
                    chars.next();
                }
                _ => word.push('\\'),
            },
            c => word.push(c),
        }
    }
}

/// Bash `$'…'`: Chrome uses it when a value holds `'`, `!` or control
/// characters, writing them as `\'`, `\u0021` and the like.
fn read_ansi_c(chars: &mut Peekable<Chars<'_>>, word: &mut String) {
    while let Some(c) = chars.next() {
        if c == '\'' {
            return;
        }
        if c != '\\' {
            word.push(c);
            continue;
        }
        let Some(e) = chars.next() else { return };
        let decoded = match e {
            'n' => Some('\n'),
            't' => Some('\t'),
            'r' => Some('\r'),
            'a' => Some('\x07'),
            'b' => Some('\x08'),
            'e' | 'E' => Some('\x1b'),
            'f' => Some('\x0c'),
            'v' => Some('\x0b'),
            '\\' | '\'' | '"' | '?' => Some(e),
            'x' => read_hex(chars, 2),
            'u' => read_hex(chars, 4),
            'U' => read_hex(chars, 8),
            '0'..='7' => read_octal(chars, e),
            _ => {
                word.push('\\');
                Some(e)
            }
        };
        if let Some(d) = decoded {
            word.push(d);
        }
    }
}

fn read_hex(chars: &mut Peekable<Chars<'_>>, max: usize) -> Option<char> {
    let mut code = 0u32;
    for _ in 0..max {
        let Some(digit) = chars.peek().and_then(|c| c.to_digit(16)) else {
            break;
        };
        code = code * 16 + digit;
        chars.next();
    }
    char::from_u32(code)
}

fn read_octal(chars: &mut Peekable<Chars<'_>>, first: char) -> Option<char> {
    let mut code = first.to_digit(8).unwrap_or(0);
    for _ in 0..2 {
        let Some(digit) = chars.peek().and_then(|c| c.to_digit(8)) else {
            break;
        };
        code = code * 8 + digit;
        chars.next();
    }
    char::from_u32(code)
}

/// Splits a cmd.exe command line as Chrome's "Copy as cURL (cmd)" writes it.
/// Two layers, as on Windows: cmd.exe removes `^` escapes (outside its own
/// `"` quoting) and joins `^`-continued lines; then the C runtime splits the
/// words on `"` quoting and `\"` escapes.
pub(super) fn cmd_words(text: &str) -> Vec<Word> {
    let unescaped = cmd_unescape(text);
    crt_split(&unescaped)
}

fn cmd_unescape(text: &str) -> Word {
    let mut out = Word::new(String::with_capacity(text.len()));
    let mut cmd_quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '^' if !cmd_quoted => match chars.next() {
                Some('\r') if chars.peek() == Some(&'\n') => {
                    chars.next();
                }
                Some('\n') => {}
                Some(next) => out.push(next),
                None => {}
            },
            '"' => {
                cmd_quoted = !cmd_quoted;
                out.push('"');
            }
            c => out.push(c),
        }
    }
    out
}

fn crt_split(text: &str) -> Vec<Word> {
    let mut words = Vec::new();
    let mut word = Word::default();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                let mut backslashes = 1;
                while chars.peek() == Some(&'\\') {
                    chars.next();
                    backslashes += 1;
                }
                in_word = true;
                if chars.peek() == Some(&'"') {
                    word.extend(std::iter::repeat_n('\\', backslashes / 2));
                    if backslashes % 2 == 1 {
                        chars.next();
                        word.push('"');
                    }
                } else {
                    word.extend(std::iter::repeat_n('\\', backslashes));
                }
            }
            '"' => {
                in_word = true;
                quoted = !quoted;
            }
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strs(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.as_str()).collect()
    }

    #[test]
    fn bash_quoting_forms_are_decoded() {
        let words = bash_words("curl 'a b' \"c \\\"d\\\"\" $'e\\'f\\u0021' g\\ h \\\n  -i");
        assert_eq!(
            strs(&words),
            ["curl", "a b", "c \"d\"", "e'f!", "g h", "-i"]
        );
    }

    #[test]
    fn cmd_carets_and_escaped_quotes_are_decoded() {
        let words = cmd_words(
            "curl ^\"https://x/^?a=1^&b=2^\" ^\n  -H ^\"Cookie: a=^\\^\"q^\\^\"; b=%^1^\"",
        );
        assert_eq!(
            strs(&words),
            ["curl", "https://x/?a=1&b=2", "-H", "Cookie: a=\"q\"; b=%1"]
        );
    }
}
