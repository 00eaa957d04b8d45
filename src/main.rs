use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = schoolyard::cli::Cli::parse();
    match schoolyard::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
