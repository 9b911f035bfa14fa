//! A generated TypeScript client, as consumers meet the API: types generated from the committed
//! `docs/openapi.json` with openapi-typescript, the README's walk-through through openapi-fetch
//! (`tests/typescript/consumer.ts`) type-checked by `tsc --strict` without a cast, mistakes a
//! consumer could make (`tests/typescript/rejected.ts`) refused with the errors they name, and the
//! compiled consumer run with node against the real application.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use krafter_test_support::TestApp;
use tokio::process::Command;

/// The npm project, committed: package.json and its lock, the tsconfigs, the TypeScript.
const PROJECT_FILES: &[&str] = &[
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.rejected.json",
    "consumer.ts",
    "rejected.ts",
];

fn project_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/typescript")
}

fn committed_document() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json")
}

/// Runs `program args` in `dir` with `envs`, killed if it outlives `limit`.
async fn run(
    dir: &Path,
    program: &str,
    args: &[&str],
    envs: &[(&str, &str)],
    limit: Duration,
) -> Output {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .envs(envs.iter().copied())
        .env("NO_COLOR", "1")
        .env("npm_config_update_notifier", "false")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = command
        .spawn()
        .unwrap_or_else(|e| panic!("{program} could not start (is it installed?): {e}"));
    let started = Instant::now();
    let output = tokio::time::timeout(limit, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{program} {args:?} did not finish within {limit:?}"))
        .unwrap_or_else(|e| panic!("{program} {args:?}: {e}"));
    eprintln!(
        "{program} {args:?}: {} in {:.1} s",
        output.status,
        started.elapsed().as_secs_f64()
    );
    output
}

fn text(output: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn succeeded(what: &str, output: &Output) {
    assert!(
        output.status.success(),
        "{what}: {}\n{}",
        output.status,
        text(output)
    );
}

/// One diagnostic of `tsc --pretty false`: `file(line,col): error TSnnnn: message`, then the
/// message's elaboration on lines indented by two spaces.
#[derive(Debug)]
struct Diagnostic {
    file: String,
    line: usize,
    code: String,
    message: String,
}

fn diagnostics(stdout: &str) -> Vec<Diagnostic> {
    let mut found: Vec<Diagnostic> = Vec::new();
    for line in stdout.lines() {
        if let Some(more) = line.strip_prefix("  ") {
            let last = found
                .last_mut()
                .unwrap_or_else(|| panic!("an elaboration before any diagnostic: {line}"));
            last.message.push('\n');
            last.message.push_str(more);
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let parse = || -> Option<Diagnostic> {
            let (location, rest) = line.split_once("): error ")?;
            let (file, position) = location.rsplit_once('(')?;
            let line = position.split(',').next()?.parse().ok()?;
            let (code, message) = rest.split_once(": ")?;
            Some(Diagnostic {
                file: file.to_owned(),
                line,
                code: code.to_owned(),
                message: message.to_owned(),
            })
        };
        found.push(parse().unwrap_or_else(|| panic!("not a tsc diagnostic: {line}")));
    }
    found
}

/// The errors `rejected.ts` says it must cause: line → (code, part of the message), read from
/// each `// expect TSnnnn: text` comment, which names the error on the line below it.
fn expected_rejections(source: &str) -> BTreeMap<usize, (String, String)> {
    source
        .lines()
        .enumerate()
        .filter_map(|(index, line)| {
            let rest = line.trim().strip_prefix("// expect ")?;
            let (code, fragment) = rest.split_once(": ").expect("`// expect TSnnnn: text`");
            Some((index + 2, (code.to_owned(), fragment.to_owned())))
        })
        .collect()
}

/// What tsc cannot see: the consumer reaches its values through the generated types alone, with
/// no cast (`as`, `<T>`, `!`), no `any` and no suppressed error.
fn assert_no_casts(source: &str) {
    assert!(
        source.contains("from \"./generated/api.js\""),
        "consumer.ts uses the generated types"
    );
    for (index, line) in source.lines().enumerate() {
        let code = line.trim();
        for banned in [
            "@ts-ignore",
            "@ts-expect-error",
            "@ts-nocheck",
            "eslint-disable",
        ] {
            assert!(
                !code.contains(banned),
                "consumer.ts:{}: {banned}",
                index + 1
            );
        }
        if code.starts_with("//") || code.starts_with('*') || code.starts_with("/*") {
            continue;
        }
        let words: Vec<&str> = code
            .split(|c: char| !(c.is_alphanumeric() || c == '_' || c == '$'))
            .collect();
        for banned in ["as", "any"] {
            assert!(
                !words.contains(&banned),
                "consumer.ts:{}: `{banned}` in {code}",
                index + 1
            );
        }
        for non_null in ["!.", "!)", "!;", "!,", "![", "!]"] {
            assert!(
                !code.contains(non_null),
                "consumer.ts:{}: a non-null assertion in {code}",
                index + 1
            );
        }
    }
}

/// Every tool is pinned to one version (package-lock.json pins what they depend on).
fn assert_exact_versions(package_json: &str) {
    let package: serde_json::Value =
        serde_json::from_str(package_json).expect("package.json parses");
    let pinned = package["devDependencies"]
        .as_object()
        .expect("devDependencies");
    for tool in ["openapi-typescript", "openapi-fetch", "typescript"] {
        let version = pinned[tool]
            .as_str()
            .unwrap_or_else(|| panic!("{tool} in devDependencies"));
        assert!(
            version.split('.').count() == 3
                && version
                    .split('.')
                    .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
            "{tool} is pinned to an exact version, not {version:?}"
        );
    }
    assert_eq!(pinned["openapi-typescript"], "7.13.0");
}

#[tokio::test]
#[ignore = "needs node and npm; .ci/run runs it"]
async fn a_generated_typescript_client_walks_through_the_readme_without_a_cast() {
    let started = Instant::now();
    // A copy of the project, so that node_modules, the generated types and the compiled consumer
    // never land in the clone (npm's cache is wherever npm_config_cache says, ~/.npm by default).
    let work = tempfile::tempdir().expect("a temporary directory");
    for file in PROJECT_FILES {
        std::fs::copy(project_dir().join(file), work.path().join(file))
            .unwrap_or_else(|e| panic!("copy tests/typescript/{file}: {e}"));
    }
    let dir = work.path();
    assert_exact_versions(
        &std::fs::read_to_string(dir.join("package.json")).expect("package.json"),
    );
    let consumer = std::fs::read_to_string(dir.join("consumer.ts")).expect("consumer.ts");
    assert_no_casts(&consumer);

    let npm_ci = run(
        dir,
        "npm",
        &[
            "ci",
            "--no-audit",
            "--no-fund",
            "--ignore-scripts",
            "--prefer-offline",
        ],
        &[],
        Duration::from_secs(300),
    )
    .await;
    succeeded("npm ci", &npm_ci);

    let document = committed_document();
    let generate = run(
        dir,
        "node",
        &[
            "node_modules/openapi-typescript/bin/cli.js",
            document.to_str().expect("a UTF-8 path"),
            "--output",
            "generated/api.d.ts",
        ],
        &[],
        Duration::from_secs(60),
    )
    .await;
    succeeded("openapi-typescript docs/openapi.json", &generate);
    let versions = run(
        dir,
        "node",
        &["node_modules/typescript/bin/tsc", "--version"],
        &[],
        Duration::from_secs(30),
    )
    .await;
    succeeded("tsc --version", &versions);

    // The walk-through type-checks under --strict, and compiles to dist/consumer.js.
    let tsc = [
        "node_modules/typescript/bin/tsc",
        "--pretty",
        "false",
        "--project",
    ];
    let checked = run(
        dir,
        "node",
        &[&tsc[..], &["tsconfig.json"]].concat(),
        &[],
        Duration::from_secs(120),
    )
    .await;
    succeeded("tsc --strict consumer.ts", &checked);
    assert!(
        dir.join("dist/consumer.js").is_file(),
        "tsc wrote dist/consumer.js"
    );

    // The mistakes are refused, each with its error, and nothing else is.
    let rejected = run(
        dir,
        "node",
        &[&tsc[..], &["tsconfig.rejected.json"]].concat(),
        &[],
        Duration::from_secs(120),
    )
    .await;
    assert!(
        !rejected.status.success(),
        "rejected.ts type-checks, and must not:\n{}",
        text(&rejected)
    );
    let source = std::fs::read_to_string(dir.join("rejected.ts")).expect("rejected.ts");
    let expected = expected_rejections(&source);
    assert!(
        expected.len() >= 10,
        "rejected.ts names its errors: {expected:?}"
    );
    let reported = diagnostics(&String::from_utf8_lossy(&rejected.stdout));
    let mut problems = Vec::new();
    for (line, (code, fragment)) in &expected {
        let here: Vec<&Diagnostic> = reported.iter().filter(|d| d.line == *line).collect();
        if !here
            .iter()
            .any(|d| &d.code == code && d.message.contains(fragment.as_str()))
        {
            problems.push(format!(
                "rejected.ts:{line}: expected {code} containing {fragment:?}, tsc reported {here:?}"
            ));
        }
    }
    for d in &reported {
        if d.file != "rejected.ts" || !expected.contains_key(&d.line) {
            problems.push(format!("unexpected: {d:?}"));
        }
    }
    assert!(
        problems.is_empty(),
        "{}\n\n{}",
        problems.join("\n"),
        text(&rejected)
    );

    // The compiled consumer against the real application, with workers that export.
    let app = TestApp::builder().workers(1).spawn().await;
    let tenant = app.tenant("web-shop").await;
    let org = tenant.org.to_string();
    let ran = run(
        dir,
        "node",
        &["dist/consumer.js"],
        &[
            ("KRAFTER_BASE_URL", app.base_url.as_str()),
            ("KRAFTER_ORG", org.as_str()),
            ("KRAFTER_PROJECT", tenant.project.slug.as_str()),
            ("KRAFTER_KEY", tenant.key.as_str()),
        ],
        Duration::from_secs(120),
    )
    .await;
    succeeded("node dist/consumer.js", &ran);
    let stdout = String::from_utf8_lossy(&ran.stdout);
    assert!(stdout.contains("bytes of PDF"), "{}", text(&ran));
    eprintln!(
        "{}{stdout}in {:.1} s",
        String::from_utf8_lossy(&versions.stdout),
        started.elapsed().as_secs_f64()
    );
}
