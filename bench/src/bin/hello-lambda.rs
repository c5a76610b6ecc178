//! The plainest `lambda_runtime` hello world: the floor the Lambdas' cold
//! start is compared with (`fanin-bench cold-start --hello`).
use lambda_runtime::{Error, LambdaEvent, service_fn};
use serde_json::Value;

async fn echo(event: LambdaEvent<Value>) -> Result<Value, Error> {
    Ok(event.payload)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(echo)).await
}
