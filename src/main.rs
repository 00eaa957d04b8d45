use clap::Parser;

// glibc malloc showed up at ~10% of CPU under load; mimalloc is faster for many small
// allocations (JSON, rows).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
