//! `peer-axum`: the three benchmark routes on `axum::serve`, nothing else.

#[tokio::main]
async fn main() {
    peer_axum::serve("peer-axum", peer_axum::routes(), false).await;
}
