//! htpasswd lines as the tools write them: vectors from `htpasswd` and `openssl passwd`, a
//! differential property test against `openssl passwd` (when installed), and every refusal.

use super::*;
use proptest::prelude::*;

#[test]
fn each_supported_format_verifies_its_password_only() {
    let file = "\
# htpasswd -nbm apr password
apr:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00
# openssl passwd -1 -salt saltsalt password
md5:$1$saltsalt$qjXMvbEw8oaL.CzflDtaK/
# htpasswd -nbs sha password
sha:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=
# htpasswd -nbB -C 5 bcrypt password
bcrypt:$2y$05$bvIG6Nmid91Mu9RcmmWZfO5HJIMCT8riNW0hEp8f6/FuA2/mHZFpe\r
";
    let credentials = Credentials::from_htpasswd(file).expect("parses");
    assert_eq!(credentials.len(), 4);
    for user in ["apr", "md5", "sha", "bcrypt"] {
        assert!(credentials.verify(user, b"password"), "{user}");
        assert!(!credentials.verify(user, b"passwore"), "{user}");
        assert!(!credentials.verify(user, b""), "{user}");
    }
    assert!(credentials.is_costly("bcrypt") && !credentials.is_costly("apr"));
    assert!(!credentials.verify("nobody", b"password"));
}

#[test]
fn unusable_lines_are_refused_with_line_and_reason() {
    for (file, expected) in [
        ("", "no user"),
        ("# only a comment\n", "no user"),
        ("user", "line 1: expected user:hash"),
        (
            "ok:{SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\nplain:secret",
            "line 2 (user \"plain\"): plain text",
        ),
        ("des:abJnggxhB/yWI", "DES crypt is not supported"),
        ("sha512:$6$salt$abc", "SHA-256/512 crypt is not supported"),
        ("short:$2y$05$tooshort", "60 characters"),
        ("apr:$apr1$saltsaltX$eIMz/iKDkbtys/uU7LEK00", "salt up to 8"),
        ("sha:{SHA}not-base64", "20 bytes"),
        (":$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00", "not a user name"),
    ] {
        let error = Credentials::from_htpasswd(file).expect_err(file);
        assert!(error.contains(expected), "{file:?}: {error}");
    }
}

#[test]
fn an_auth_map_lists_one_user_per_key() {
    let credentials = Credentials::from_map([
        ("apr", "$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00"),
        ("sha", " {SHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n"),
    ])
    .expect("parses");
    assert!(credentials.verify("apr", b"password") && credentials.verify("sha", b"password"));
    assert!(
        Credentials::from_map([("x", "plain")])
            .unwrap_err()
            .contains("user \"x\"")
    );
}

/// `openssl passwd -apr1|-1 -salt SALT -stdin`, or `None` when openssl is not installed.
fn openssl_md5_crypt(flag: &str, salt: &str, password: &str) -> Option<String> {
    use std::io::Write as _;
    // The password on standard input: one starting with `-` is not taken for an option.
    let mut child = std::process::Command::new("openssl")
        .args(["passwd", flag, "-salt", salt, "-stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take().expect("piped");
    stdin
        .write_all(format!("{password}\n").as_bytes())
        .expect("write");
    drop(stdin);
    let output = child.wait_with_output().expect("openssl runs");
    assert!(output.status.success(), "openssl passwd failed: {output:?}");
    Some(
        String::from_utf8(output.stdout)
            .expect("ASCII")
            .trim()
            .to_owned(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// The same digest as OpenSSL's implementation for any salt and password (lengths across
    /// the 16-byte blocks the algorithm walks).
    #[test]
    fn md5_crypt_matches_openssl(
        apr1 in any::<bool>(),
        salt in "[./0-9A-Za-z]{1,8}",
        password in "[ -~]{0,40}",
    ) {
        let (flag, magic) = if apr1 { ("-apr1", "$apr1$") } else { ("-1", "$1$") };
        let Some(expected) = openssl_md5_crypt(flag, &salt, &password) else {
            eprintln!("openssl is not installed: the differential test has nothing to compare with");
            return Ok(());
        };
        let ours = format!("{magic}{salt}${}", md5_crypt(password.as_bytes(), salt.as_bytes(), magic));
        prop_assert_eq!(&ours, &expected);
        let credentials = Credentials::from_htpasswd(&format!("u:{expected}")).expect("parses");
        prop_assert!(credentials.verify("u", password.as_bytes()));
    }
}

#[test]
fn the_secret_is_read_as_its_type_says_and_stays_in_the_ingress_s_namespace() {
    let secret = |data: &[(&str, &str)]| crate::model::OpaqueSecret {
        meta: crate::model::ObjectMeta::new("web", "users", Some(1)),
        data: data
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Arc::from(v.as_bytes())))
            .collect(),
    };
    let file = secret(&[("auth", "foo:$apr1$lZL6V/ci$eIMz/iKDkbtys/uU7LEK00\n")]);
    let users = credentials_of(&file, AuthSecretType::AuthFile).expect("auth-file");
    assert!(users.verify("foo", b"password"));
    // The same Secret read as a map: its one key `auth` is a user whose "hash" is a file.
    assert!(credentials_of(&file, AuthSecretType::AuthMap).is_err());
    let error = credentials_of(&secret(&[("users", "x")]), AuthSecretType::AuthFile).unwrap_err();
    assert!(error.contains("no key \"auth\""), "{error}");

    assert_eq!(
        secret_key("web", "users"),
        Ok(ObjectKey::new("web", "users"))
    );
    assert_eq!(
        secret_key("web", "web/users"),
        Ok(ObjectKey::new("web", "users"))
    );
    assert!(
        secret_key("web", "kube-system/users")
            .unwrap_err()
            .contains("kube-system")
    );
}

#[test]
fn the_annotations_parse_into_a_policy_or_an_invalid_value() {
    let parse = |pairs: &[(&str, &str)]| {
        let annotations = pairs
            .iter()
            .map(|(k, v)| {
                (
                    format!("{}{k}", crate::annotations::PREFIX),
                    (*v).to_owned(),
                )
            })
            .collect();
        crate::annotations::RoutePolicy::parse(&annotations)
    };
    let (policy, invalid) = parse(&[
        ("auth-type", "basic"),
        ("auth-secret", "users"),
        ("auth-secret-type", "auth-map"),
        ("auth-realm", "Private"),
    ]);
    assert!(invalid.is_empty(), "{invalid:?}");
    let auth = policy.basic_auth.expect("basic auth");
    assert_eq!(
        (&*auth.realm, &*auth.secret_name, auth.secret_type),
        ("Private", "users", AuthSecretType::AuthMap)
    );
    for pairs in [
        &[("auth-type", "digest"), ("auth-secret", "users")][..],
        &[("auth-type", "basic")][..],
        &[("auth-type", "basic"), ("auth-secret", "Not_A_Name")][..],
        &[
            ("auth-type", "basic"),
            ("auth-secret", "users"),
            ("auth-secret-type", "file"),
        ][..],
    ] {
        let (policy, invalid) = parse(pairs);
        assert!(!invalid.is_empty() && policy.denied.is_some(), "{pairs:?}");
    }
    assert_eq!(
        parse(&[("auth-secret", "users")]).0.basic_auth,
        None,
        "no auth-type"
    );
}
