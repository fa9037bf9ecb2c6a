//! The `edgeauth` command line: `serve`, `migrate`, `keys`, `users`, `roles`.

use std::{io::Write as _, path::PathBuf, process::ExitCode, sync::Arc};

use clap::{Parser, Subcommand};

use crate::{
    auth::{admin, tokens},
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
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List signing keys: which one signs, which are retired and until when
    /// they stay published.
    List,
    /// Retire the signing key and create a new one. The old key stays in the
    /// JWKS until every token it signed has expired; running servers pick the
    /// new key up within EDGEAUTH_KEY_RELOAD.
    Rotate,
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
        Command::Keys(KeysCommand::Rotate) => {
            let state = state(&config, &store).await?;
            let kid = state.keys.rotate(&*store, state.now()).await?;
            println!(
                "new signing key {kid}; the previous key stays published until its tokens expire"
            );
            Ok(())
        }
        Command::Keys(KeysCommand::GenerateMasterKey) => Ok(()),
        Command::Users(UsersCommand::Create { email, name, roles }) => {
            users_create(&config, &store, &email, name, &roles).await
        }
        Command::Roles(command) => roles_command(&*store, command).await,
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
                if let Err(e) = state.reload_keys().await {
                    tracing::error!(error = %e, "reloading signing keys failed");
                }
            }
        })
    };
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
    if let Some(metrics) = metrics {
        let _ = metrics.await;
    }
    reloader.abort();
    tracing::info!("edgeauth stopped");
    Ok(())
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
    let keys = tokens::list(
        store,
        tokens::publish_for(config.sessions.access_ttl, config.keys.key_reload),
    )
    .await?;
    let now = SystemClock.now();
    if keys.is_empty() {
        println!("no signing keys yet (`edgeauth serve` or `edgeauth keys rotate` creates one)");
    }
    println!(
        "{:<18} {:<22} {:<22} {:<10}",
        "KID", "CREATED", "RETIRED", "STATE"
    );
    for key in keys {
        let state = if key.signing {
            "signing".to_owned()
        } else {
            match key.published_until {
                Some(until) if now < until => {
                    format!("published until {}", crate::http::rfc3339(until))
                }
                _ => "expired".to_owned(),
            }
        };
        println!(
            "{:<18} {:<22} {:<22} {}",
            key.kid,
            crate::http::rfc3339(key.created_at),
            key.retired_at
                .map(crate::http::rfc3339)
                .unwrap_or_else(|| "-".into()),
            state
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
    let user = admin::create_user(
        &state.accounts,
        &**store,
        email,
        &password,
        name,
        roles,
        state.now(),
    )
    .await?;
    println!("created user {} ({})", user.email, user.id);
    Ok(())
}

async fn roles_command(store: &dyn Store, command: RolesCommand) -> CliResult {
    match command {
        RolesCommand::Grant { email, role } => {
            let (user, new) = admin::grant_role(store, &email, &role).await?;
            println!(
                "{} {role} to {}",
                if new { "granted" } else { "already granted" },
                user.email
            );
        }
        RolesCommand::Revoke { email, role } => {
            let (user, had) = admin::revoke_role(store, &email, &role).await?;
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
            let grants = admin::define_role(store, def, SystemClock.now()).await?;
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
