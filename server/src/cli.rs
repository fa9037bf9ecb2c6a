//! The `edgeauth` command line: `serve`, `migrate`, `keys`, `users`, `roles`, `audit`.

use std::{io::Write as _, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};

use crate::{
    auth::{
        admin::{self, Credential, NewUser},
        audit::AuditContext,
        tokens,
    },
    clock::{Clock, SystemClock},
    config::{Config, LogFormat, Mode},
    http::app,
    secret::{MasterKey, SecretString},
    state::AppState,
    store::{AnyStore, RoleDef, Store, connect_store},
};

/// The edgeauth issuing server and its administration commands.
///
/// Settings come from EDGEAUTH_* environment variables or a TOML file; see
/// server/README.md. With no configuration at all, `serve` starts a
/// development server on 127.0.0.1:8080 with its database in ./edgeauth.db.
#[derive(Debug, Parser)]
#[command(name = "edgeauth", version)]
struct Cli {
    /// A TOML file of settings (lowercase names without the EDGEAUTH_
    /// prefix); environment variables win. Also EDGEAUTH_CONFIG.
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Migrate the database, create a signing key if there is none, and serve HTTP.
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Signing keys.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// User accounts.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Roles: grants and the role hierarchy.
    #[command(subcommand)]
    Roles(RolesCommand),
    /// The audit log.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Print the OpenAPI 3.1 document of the HTTP API (what GET
    /// /openapi.json serves).
    Openapi,
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Print audit events as JSON lines, oldest first: the last N, then
    /// with --follow every new one as it is written (polled every second).
    Tail {
        /// How many of the latest events to print first.
        #[arg(short = 'n', long, default_value_t = 20)]
        lines: u32,
        /// Keep printing new events.
        #[arg(long)]
        follow: bool,
    },
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys with their state (next, current, retired, gone)
    /// and dates.
    List,
    /// Publish a new signing key now; it signs after EDGEAUTH_KEY_PUBLISH_AHEAD,
    /// when the current key retires. A retired key stays in the JWKS until
    /// every token it signed has expired. With --now (a compromised key) the
    /// new key signs at once and the current key is deleted, so it leaves the
    /// JWKS at once; running servers follow within EDGEAUTH_KEY_RELOAD.
    Rotate {
        /// Replace the current key at once instead of publishing ahead.
        #[arg(long)]
        now: bool,
    },
    /// Print a new random master key (for EDGEAUTH_MASTER_KEY).
    GenerateMasterKey,
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// Create a user. The password is read from the first line of standard
    /// input and must pass the password policy.
    Create {
        /// Email address.
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
        /// A role to grant (repeatable).
        #[arg(long = "role", value_name = "ROLE")]
        roles: Vec<String>,
    },
    /// Import users from a JSON Lines file (`-` for standard input): one
    /// object per line as the body of POST /admin/v1/users, `{email,
    /// name?, password}` or `{email, name?, password_hash}` (a PHC string:
    /// argon2id, argon2i, bcrypt, scrypt, pbkdf2-sha256). Every line is
    /// checked first and reported; the batch is imported only when every
    /// line passes (all or nothing), each user recorded as `user.created`.
    Import {
        /// The JSON Lines file.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum RolesCommand {
    /// Grant ROLE to the user with EMAIL.
    Grant {
        /// The user's email.
        email: String,
        /// The role.
        role: String,
    },
    /// Revoke ROLE from the user with EMAIL.
    Revoke {
        /// The user's email.
        email: String,
        /// The role.
        role: String,
    },
    /// Define (or redefine) ROLE: the roles it inherits and the permissions
    /// it grants. Effective roles and permissions are expanded into every
    /// access token issued afterwards.
    Define {
        /// The role.
        role: String,
        /// A role whose roles and permissions this one includes (repeatable).
        #[arg(long = "inherits", value_name = "ROLE")]
        inherits: Vec<String>,
        /// A permission, `resource.action`, `resource.*` or `*` (repeatable).
        #[arg(long = "perm", value_name = "PERM")]
        perms: Vec<String>,
    },
    /// List defined roles.
    List,
}

type CliResult = Result<(), Box<dyn core::error::Error + Send + Sync>>;

/// Runs the command line; the binary's `main` is just this.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Openapi = cli.command {
        println!("{}", crate::http::openapi_document());
        return ExitCode::SUCCESS;
    }
    if let Command::Keys(KeysCommand::GenerateMasterKey) = cli.command {
        return match MasterKey::generate() {
            Ok(key) => {
                println!("{}", key.to_hex());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("edgeauth: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let config = match Config::from_env(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("edgeauth: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config.server.log, config.telemetry.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edgeauth: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(dispatch(cli.command, config)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("edgeauth: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(level: &str, format: LogFormat) {
    let level = match level {
        "error" => tracing::Level::ERROR,
        "warn" => tracing::Level::WARN,
        "debug" => tracing::Level::DEBUG,
        "trace" => tracing::Level::TRACE,
        _ => tracing::Level::INFO,
    };
    let logs = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_target(false);
    let _ = match format {
        LogFormat::Text => logs.try_init(),
        LogFormat::Json => logs.json().try_init(),
    };
}

async fn open_store(
    config: &Config,
) -> Result<AnyStore, Box<dyn core::error::Error + Send + Sync>> {
    let url = &config.database.url;
    let store = connect_store(
        url,
        config.database.sqlite_synchronous,
        config.database.pool_size,
    )
    .await
    .map_err(|e| format!("EDGEAUTH_DATABASE_URL ({url}): {e}"))?;
    store
        .shared()
        .migrate()
        .await
        .map_err(|e| format!("EDGEAUTH_DATABASE_URL ({url}): migrating: {e}"))?;
    Ok(store)
}

async fn state(
    config: &Config,
    store: &Arc<dyn Store>,
) -> Result<AppState, Box<dyn core::error::Error + Send + Sync>> {
    let master = config.resolve_master_key()?;
    Ok(AppState::new(
        config.clone(),
        Arc::clone(store),
        Arc::new(SystemClock),
        master,
    )
    .await?)
}

async fn dispatch(command: Command, config: Config) -> CliResult {
    let opened = open_store(&config).await?;
    let store = opened.shared();
    let result = match command {
        Command::Serve => serve(config, &store, &opened).await,
        Command::Migrate => {
            println!("migrations applied to {}", config.database.url);
            Ok(())
        }
        Command::Keys(KeysCommand::List) => keys_list(&config, &*store).await,
        Command::Keys(KeysCommand::Rotate { now: true }) => {
            let state = state(&config, &store).await?;
            let kid = state.rotate_keys_now().await?;
            println!(
                "new signing key {kid} signs now; the previous key was deleted and left the JWKS"
            );
            Ok(())
        }
        Command::Keys(KeysCommand::Rotate { now: false }) => {
            let state = state(&config, &store).await?;
            match state.rotate_keys().await? {
                Some(kid) => println!(
                    "new signing key {kid}, published now; it signs from {}, when the current key retires",
                    crate::http::rfc3339(state.now().saturating_add(config.keys.publish_ahead))
                ),
                None => println!(
                    "a key is already waiting to take over (see `edgeauth keys list`); use --now to replace the current key at once"
                ),
            }
            Ok(())
        }
        Command::Keys(KeysCommand::GenerateMasterKey) | Command::Openapi => Ok(()),
        Command::Users(UsersCommand::Create { email, name, roles }) => {
            users_create(&config, &store, &email, name, &roles).await
        }
        Command::Users(UsersCommand::Import { file }) => users_import(&config, &store, &file).await,
        Command::Roles(command) => roles_command(&*store, command).await,
        Command::Audit(AuditCommand::Tail { lines, follow }) => {
            audit_tail(&config, &store, lines, follow).await
        }
    };
    opened.close().await;
    result
}

async fn serve(config: Config, store: &Arc<dyn Store>, opened: &AnyStore) -> CliResult {
    if config.mode != Mode::Production {
        tracing::warn!(mode = ?config.mode, "not in production mode (set EDGEAUTH_MODE=production for real users)");
    }
    let state = state(&config, store).await?;
    let stop = crate::serve::stop_on(shutdown());
    let metrics = crate::metrics::listen(&config, &state, opened, stop.clone()).await?;
    let listener = tokio::net::TcpListener::bind(config.server.bind)
        .await
        .map_err(|e| format!("EDGEAUTH_BIND ({}): {e}", config.server.bind))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        issuer = %config.server.issuer,
        database = %config.database.url,
        key_reload_s = config.keys.key_reload,
        session_cache_s = config.sessions.cache,
        mail = %config.mail.smtp_url.as_ref().map_or_else(
            || format!("files in {}", config.mail.outbox_dir.display()),
            ToString::to_string,
        ),
        "edgeauth listening"
    );
    println!("edgeauth listening on http://{addr}");
    std::io::stdout().flush()?;
    let reloader = {
        let state = state.clone();
        let every = core::time::Duration::from_secs(config.keys.key_reload);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(every);
            ticks.tick().await;
            loop {
                ticks.tick().await;
                match state.rotate_keys_if_due().await {
                    Ok(Some(kid)) => {
                        tracing::info!(%kid, "scheduled key rotation: new key published")
                    }
                    Ok(None) => {}
                    Err(e) => tracing::error!(error = %e, "scheduled key rotation failed"),
                }
                if let Err(e) = state.reload_keys().await {
                    tracing::error!(error = %e, "reloading signing keys failed");
                }
            }
        })
    };
    let purger = tokio::spawn(purge_every_hour(state.clone()));
    let mail_sender = tokio::spawn(state.mail_sender());
    let max = config.connections.max_connections;
    crate::serve::serve(
        listener,
        app(state),
        config.connections,
        max,
        "public",
        stop,
    )
    .await;
    purger.abort();
    mail_sender.abort();
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    reloader.abort();
    tracing::info!("edgeauth stopped");
    Ok(())
}

/// Deletes long-ended sessions, and audit events older than
/// `AUDIT_RETENTION`, at start and then every hour.
async fn purge_every_hour(state: AppState) {
    let mut ticks = tokio::time::interval(core::time::Duration::from_secs(3600));
    loop {
        ticks.tick().await;
        match state.purge_ended_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(sessions = n, "purged ended sessions"),
            Err(e) => tracing::error!(error = %e, "purging ended sessions failed"),
        }
        match state.purge_audit().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(events = n, "purged audit events past AUDIT_RETENTION"),
            Err(e) => tracing::error!(error = %e, "purging audit events failed"),
        }
    }
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}

async fn keys_list(config: &Config, store: &dyn Store) -> CliResult {
    let publish_for = tokens::publish_for(config.sessions.access_ttl, config.keys.key_reload);
    let keys = tokens::list(store, publish_for, SystemClock.now()).await?;
    if keys.is_empty() {
        println!("no signing keys yet (`edgeauth serve` or `edgeauth keys rotate` creates one)");
    }
    let date = |t: Option<u64>| t.map_or_else(|| "-".to_owned(), crate::http::rfc3339);
    println!(
        "{:<18} {:<8} {:<21} {:<21} {:<21} {:<21}",
        "KID", "STATE", "CREATED", "SIGNS FROM", "RETIRES", "PUBLISHED UNTIL"
    );
    for key in keys {
        println!(
            "{:<18} {:<8} {:<21} {:<21} {:<21} {:<21}",
            key.kid,
            key.state.as_str(),
            date(Some(key.created_at)),
            date(Some(key.activates_at)),
            date(key.retired_at),
            date(key.published_until),
        );
    }
    Ok(())
}

async fn users_create(
    config: &Config,
    store: &Arc<dyn Store>,
    email: &str,
    name: Option<String>,
    roles: &[String],
) -> CliResult {
    for role in roles {
        admin::check_role(role)?;
    }
    eprint!("password for {email}: ");
    std::io::stderr().flush()?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line)?;
    let password = SecretString::new(line.trim_end_matches(['\r', '\n']));
    let state = state(config, store).await?;
    let new = NewUser {
        email: email.to_owned(),
        name,
        credential: Credential::Password(password),
        roles: roles.to_vec(),
    };
    let info = admin::create_user(
        &state.accounts,
        &**store,
        new,
        &AuditContext::cli(),
        state.now(),
    )
    .await?;
    println!("created user {} ({})", info.user.email, info.user.id);
    Ok(())
}

/// One line of an import file: the admin API's body.
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct ImportLine {
    email: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    password: Option<SecretString>,
    #[serde(default)]
    password_hash: Option<SecretString>,
}

async fn users_import(
    config: &Config,
    store: &Arc<dyn Store>,
    file: &std::path::Path,
) -> CliResult {
    let text = if file.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(file).map_err(|e| format!("{}: {e}", file.display()))?
    };
    let mut batch = Vec::new();
    let mut lines = Vec::new();
    let mut bad = 0_usize;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        if line.trim().is_empty() {
            continue;
        }
        let parsed: Result<ImportLine, String> =
            serde_json::from_str(line).map_err(|e| format!("not a user object: {e}"));
        let new = parsed.and_then(|l| match (l.password, l.password_hash) {
            (Some(p), None) => Ok((l.email, l.name, Credential::Password(p))),
            (None, Some(h)) => Ok((l.email, l.name, Credential::Hash(h))),
            _ => Err("give exactly one of password and password_hash".to_owned()),
        });
        match new {
            Ok((email, name, credential)) => {
                batch.push(NewUser {
                    email,
                    name,
                    credential,
                    roles: Vec::new(),
                });
                lines.push(number);
            }
            Err(e) => {
                bad += 1;
                println!("line {number}: error: {e}");
            }
        }
    }
    if bad > 0 {
        return Err(format!("{bad} line(s) refused; nothing imported").into());
    }
    let state = state(config, store).await?;
    let emails: Vec<String> = batch.iter().map(|n| n.email.clone()).collect();
    match admin::import_users(
        &state.accounts,
        &**store,
        batch,
        &AuditContext::cli(),
        state.now(),
    )
    .await
    {
        Ok(users) => {
            for (number, user) in lines.iter().zip(&users) {
                println!("line {number}: imported {} ({})", user.email, user.id);
            }
            println!("imported {} user(s)", users.len());
            Ok(())
        }
        Err((index, e)) => {
            let number = lines.get(index).copied().unwrap_or_default();
            let email = emails.get(index).map_or("", String::as_str);
            println!("line {number}: error: {email}: {} ({e})", e.code());
            Err("nothing imported".into())
        }
    }
}

async fn audit_tail(
    config: &Config,
    store: &Arc<dyn Store>,
    lines: u32,
    follow: bool,
) -> CliResult {
    let state = state(config, store).await?;
    let mut cursor: Option<String> = None;
    // The events after the cursor, which moves past them.
    let next = async |cursor: &mut Option<String>| {
        let page = admin::audit_events(
            &**store,
            &state.cursors,
            admin::AuditFilter::default(),
            cursor.as_deref(),
            admin::MAX_LIMIT,
        )
        .await?;
        if page.next_cursor.is_some() {
            cursor.clone_from(&page.next_cursor);
        }
        Ok::<_, admin::AdminError>(page.items)
    };
    // The last `lines` events: read forward to the end, keeping the tail.
    let mut tail = std::collections::VecDeque::new();
    loop {
        let page = next(&mut cursor).await?;
        let full = page.len() == admin::MAX_LIMIT as usize;
        tail.extend(page);
        while tail.len() > lines as usize {
            tail.pop_front();
        }
        if !full {
            break;
        }
    }
    let mut out = std::io::stdout();
    loop {
        for event in tail.drain(..) {
            writeln!(out, "{}", audit_line(&event))?;
        }
        out.flush()?;
        if !follow {
            return Ok(());
        }
        tokio::time::sleep(core::time::Duration::from_secs(1)).await;
        tail.extend(next(&mut cursor).await?);
    }
}

/// An event as one JSON line, as the admin API shows it.
fn audit_line(logged: &crate::store::LoggedEvent) -> String {
    let e = &logged.event;
    let detail: serde_json::Value = serde_json::from_str(&e.detail).unwrap_or_default();
    serde_json::json!({
        "id": e.id,
        "at": crate::http::rfc3339(e.at),
        "type": e.kind,
        "actor": e.actor,
        "target": e.target,
        "ip": e.ip,
        "user_agent": e.user_agent,
        "request_id": e.request_id,
        "detail": detail,
    })
    .to_string()
}

async fn roles_command(store: &dyn Store, command: RolesCommand) -> CliResult {
    let cli = AuditContext::cli();
    match command {
        RolesCommand::Grant { email, role } => {
            let (user, new) =
                admin::grant_role(store, &email, &role, &cli, SystemClock.now()).await?;
            println!(
                "{} {role} to {}",
                if new { "granted" } else { "already granted" },
                user.email
            );
        }
        RolesCommand::Revoke { email, role } => {
            let (user, had) =
                admin::revoke_role(store, &email, &role, &cli, SystemClock.now()).await?;
            println!(
                "{} {role} from {}",
                if had { "revoked" } else { "did not have" },
                user.email
            );
        }
        RolesCommand::Define {
            role,
            inherits,
            perms,
        } => {
            let def = RoleDef {
                name: role,
                inherits,
                perms,
            };
            let name = def.name.clone();
            let grants = admin::define_role(store, def, &cli, SystemClock.now()).await?;
            println!(
                "defined {name}: roles [{}], permissions [{}]",
                grants.roles.join(", "),
                grants.perms.join(", ")
            );
        }
        RolesCommand::List => {
            for def in admin::roles(store).await? {
                println!(
                    "{}: inherits [{}], permissions [{}]",
                    def.name,
                    def.inherits.join(", "),
                    def.perms.join(", ")
                );
            }
        }
    }
    Ok(())
}
