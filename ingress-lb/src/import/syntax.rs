//! The two configuration grammars, read into one tree of directives with their line numbers:
//! nginx's (`name args…;` or `name args… { … }`, `#` comments, quoted strings) and
//! keepalived's (one directive per line, `name args…` or `name args… {`, `#` and `!`
//! comments).

/// One directive: its name, arguments, line and block (if it opens one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    pub(crate) name: String,
    pub(crate) args: Vec<String>,
    pub(crate) line: usize,
    pub(crate) block: Option<Vec<Directive>>,
}

impl Directive {
    /// A directive without a block.
    fn leaf(name: String, args: Vec<String>, line: usize) -> Self {
        Directive {
            name,
            args,
            line,
            block: None,
        }
    }
}

/// A syntax error at a line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub(crate) line: usize,
    pub(crate) reason: String,
}

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Open,
    Close,
    Semicolon,
    Newline,
}

fn tokens(text: &str, comments: &[char]) -> Result<Vec<(Token, usize)>, SyntaxError> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1;
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                out.push((Token::Newline, line));
                line += 1;
            }
            c if c.is_whitespace() => {}
            c if comments.contains(&c) => {
                while chars.peek().is_some_and(|c| *c != '\n') {
                    chars.next();
                }
            }
            '{' => out.push((Token::Open, line)),
            '}' => out.push((Token::Close, line)),
            ';' => out.push((Token::Semicolon, line)),
            '"' | '\'' => {
                let mut word = String::new();
                loop {
                    match chars.next() {
                        Some(end) if end == c => break,
                        Some('\\') => word.extend(chars.next()),
                        Some('\n') | None => {
                            return Err(SyntaxError {
                                line,
                                reason: "unterminated quoted string".to_owned(),
                            });
                        }
                        Some(other) => word.push(other),
                    }
                }
                out.push((Token::Word(word), line));
            }
            c => {
                let mut word = String::from(c);
                while let Some(&next) = chars.peek() {
                    if next.is_whitespace() || "{};".contains(next) || comments.contains(&next) {
                        break;
                    }
                    word.push(next);
                    chars.next();
                }
                out.push((Token::Word(word), line));
            }
        }
    }
    Ok(out)
}

/// Parses nginx's grammar.
pub(crate) fn nginx(text: &str) -> Result<Vec<Directive>, SyntaxError> {
    let tokens = tokens(text, &['#'])?;
    let mut tokens = tokens
        .into_iter()
        .filter(|(t, _)| *t != Token::Newline)
        .peekable();
    let directives = block(&mut tokens, false, true)?;
    Ok(directives)
}

/// Parses keepalived's grammar.
pub(crate) fn keepalived(text: &str) -> Result<Vec<Directive>, SyntaxError> {
    let tokens = tokens(text, &['#', '!'])?;
    let mut tokens = tokens.into_iter().peekable();
    block(&mut tokens, false, false)
}

fn block<I: Iterator<Item = (Token, usize)>>(
    tokens: &mut std::iter::Peekable<I>,
    nested: bool,
    semicolons: bool,
) -> Result<Vec<Directive>, SyntaxError> {
    let mut directives = Vec::new();
    loop {
        let Some((token, line)) = tokens.next() else {
            return match nested {
                true => Err(SyntaxError {
                    line: 0,
                    reason: "a block is not closed (missing `}`)".to_owned(),
                }),
                false => Ok(directives),
            };
        };
        let name = match token {
            Token::Newline | Token::Semicolon => continue,
            Token::Close if nested => return Ok(directives),
            Token::Close => {
                return Err(SyntaxError {
                    line,
                    reason: "`}` without an open block".to_owned(),
                });
            }
            Token::Open => {
                return Err(SyntaxError {
                    line,
                    reason: "`{` without a directive name".to_owned(),
                });
            }
            Token::Word(name) => name,
        };
        let mut args = Vec::new();
        loop {
            match tokens.next() {
                Some((Token::Word(word), _)) => args.push(word),
                Some((Token::Open, _)) => {
                    let inner = block(tokens, true, semicolons)?;
                    directives.push(Directive {
                        name,
                        args,
                        line,
                        block: Some(inner),
                    });
                    break;
                }
                // nginx ends a directive with `;`, keepalived with the end of the line.
                Some((Token::Semicolon, _)) if semicolons => {
                    directives.push(Directive::leaf(name, args, line));
                    break;
                }
                Some((Token::Newline, _)) if !semicolons => {
                    directives.push(Directive::leaf(name, args, line));
                    break;
                }
                Some((Token::Close, _)) if !semicolons => {
                    // `name args }` on one line: the directive ends the block.
                    directives.push(Directive::leaf(name, args, line));
                    return match nested {
                        true => Ok(directives),
                        false => Err(SyntaxError {
                            line,
                            reason: "`}` without an open block".to_owned(),
                        }),
                    };
                }
                Some((token, at)) => {
                    return Err(SyntaxError {
                        line: at,
                        reason: format!("directive `{name}`: unexpected {token:?}"),
                    });
                }
                None if !semicolons => {
                    directives.push(Directive {
                        name,
                        args,
                        line,
                        block: None,
                    });
                    return match nested {
                        true => Err(SyntaxError {
                            line,
                            reason: "a block is not closed (missing `}`)".to_owned(),
                        }),
                        false => Ok(directives),
                    };
                }
                None => {
                    return Err(SyntaxError {
                        line,
                        reason: format!("directive `{name}` does not end with `;`"),
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nginx_blocks_arguments_comments_and_quotes() {
        let tree = nginx(
            "user nginx;\nstream {\n  log_format main '$remote_addr x'; # c\n  upstream u {\n    server 1.2.3.4:80 weight=5;\n  }\n}\n",
        )
        .unwrap();
        assert_eq!(tree[0].name, "user");
        let stream = tree[1].block.as_ref().unwrap();
        assert_eq!(stream[0].args, ["main", "$remote_addr x"]);
        let upstream = &stream[1];
        assert_eq!((upstream.name.as_str(), upstream.line), ("upstream", 4));
        assert_eq!(
            upstream.block.as_ref().unwrap()[0].args,
            ["1.2.3.4:80", "weight=5"]
        );
        assert!(nginx("stream { server {").is_err());
        assert!(nginx("listen 80").is_err());
    }

    #[test]
    fn keepalived_lines_and_blocks() {
        let tree = keepalived(
            "vrrp_instance VI_1 {\n state MASTER # c\n ! c\n virtual_ipaddress {\n  192.168.10.15/24\n }\n track_script { check_nginx }\n}\n",
        )
        .unwrap();
        let instance = tree[0].block.as_ref().unwrap();
        assert_eq!(instance[0].args, ["MASTER"]);
        assert_eq!(
            instance[1].block.as_ref().unwrap()[0].name,
            "192.168.10.15/24"
        );
        assert_eq!(instance[2].block.as_ref().unwrap()[0].name, "check_nginx");
    }
}
