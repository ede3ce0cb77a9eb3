//! The queue and the ledger in PostgreSQL (tokio-postgres over a deadpool pool).
//!
//! `fleetsim_jobs`: one row per job, leased with `FOR UPDATE SKIP LOCKED`; a job whose lease has
//! expired (its worker died) is claimable again, so it is redelivered. `fleetsim_ledger`: one row
//! per applied side effect. With the idempotency lever on, the row is written with
//! `idempotent = true` and a partial unique index on the key turns a repeat into a no-op, recorded
//! in `fleetsim_ledger_noops`; with it off, a redelivered job appends a second ledger row.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;

pub(crate) type DbError = Box<dyn std::error::Error + Send + Sync>;

pub(crate) const MIGRATIONS: &str = r#"
CREATE TABLE IF NOT EXISTS fleetsim_jobs (
    id              BIGSERIAL PRIMARY KEY,
    idempotency_key TEXT NOT NULL UNIQUE,
    work_ms         INTEGER NOT NULL CHECK (work_ms >= 0),
    state           TEXT NOT NULL DEFAULT 'queued' CHECK (state IN ('queued', 'leased', 'done')),
    lease_owner     TEXT,
    lease_until     TIMESTAMPTZ,
    deliveries      INTEGER NOT NULL DEFAULT 0,
    enqueued_at     TIMESTAMPTZ NOT NULL DEFAULT now(),
    done_at         TIMESTAMPTZ
);
ALTER TABLE fleetsim_jobs ADD COLUMN IF NOT EXISTS effect_ms INTEGER CHECK (effect_ms >= 0 AND effect_ms <= work_ms);
CREATE INDEX IF NOT EXISTS fleetsim_jobs_claimable ON fleetsim_jobs (id) WHERE state <> 'done';
CREATE TABLE IF NOT EXISTS fleetsim_ledger (
    id              BIGSERIAL PRIMARY KEY,
    job_id          BIGINT NOT NULL REFERENCES fleetsim_jobs (id),
    idempotency_key TEXT NOT NULL,
    idempotent      BOOLEAN NOT NULL,
    delivery        INTEGER NOT NULL,
    applied_by      TEXT NOT NULL,
    applied_at      TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX IF NOT EXISTS fleetsim_ledger_once ON fleetsim_ledger (idempotency_key) WHERE idempotent;
CREATE TABLE IF NOT EXISTS fleetsim_ledger_noops (
    id              BIGSERIAL PRIMARY KEY,
    job_id          BIGINT NOT NULL REFERENCES fleetsim_jobs (id),
    idempotency_key TEXT NOT NULL,
    delivery        INTEGER NOT NULL,
    worker          TEXT NOT NULL,
    at              TIMESTAMPTZ NOT NULL DEFAULT now()
);
"#;

pub(crate) fn pool(url: &str, max_size: usize) -> Result<Pool, DbError> {
    let pg: tokio_postgres::Config = url.parse()?;
    let mgr = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Ok(Pool::builder(mgr)
        .max_size(max_size)
        .wait_timeout(Some(Duration::from_secs(5)))
        .create_timeout(Some(Duration::from_secs(5)))
        .runtime(deadpool_postgres::Runtime::Tokio1)
        .build()?)
}

/// Create the schema (idempotent; serialised with an advisory lock so concurrent starts agree).
pub(crate) async fn migrate(pool: &Pool) -> Result<(), DbError> {
    let mut client = pool.get().await?;
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock(7271001)", &[])
        .await?;
    tx.batch_execute(MIGRATIONS).await?;
    tx.commit().await?;
    Ok(())
}

/// Enqueue a job whose side effect is applied `effect` into its `work` (`None`: at the end);
/// the same idempotency key enqueues once and returns the same id.
pub(crate) async fn enqueue(
    pool: &Pool,
    key: &str,
    work: Duration,
    effect: Option<Duration>,
) -> Result<i64, DbError> {
    let client = pool.get().await?;
    let ms = |d: Duration| i32::try_from(d.as_millis()).unwrap_or(i32::MAX);
    let effect_ms = effect.map(ms);
    let row = client
        .query_one(
            "INSERT INTO fleetsim_jobs (idempotency_key, work_ms, effect_ms) VALUES ($1, $2, $3)
             ON CONFLICT (idempotency_key) DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
             RETURNING id",
            &[&key, &ms(work), &effect_ms],
        )
        .await?;
    Ok(row.get(0))
}

#[derive(Debug, Clone)]
pub(crate) struct Claimed {
    pub id: i64,
    pub key: String,
    pub work: Duration,
    /// When the side effect is applied, counted from the start of the work (at most `work`).
    pub effect: Duration,
    pub delivery: i32,
}

/// Lease the oldest claimable job: queued, or leased with an expired lease (redelivery).
pub(crate) async fn claim(
    pool: &Pool,
    owner: &str,
    lease: Duration,
) -> Result<Option<Claimed>, DbError> {
    let client = pool.get().await?;
    let lease_ms = i64::try_from(lease.as_millis()).unwrap_or(i64::MAX);
    let row = client
        .query_opt(
            "WITH next AS (
                 SELECT id FROM fleetsim_jobs
                 WHERE state = 'queued' OR (state = 'leased' AND lease_until < now())
                 ORDER BY id
                 LIMIT 1
                 FOR UPDATE SKIP LOCKED)
             UPDATE fleetsim_jobs j
             SET state = 'leased', lease_owner = $1,
                 lease_until = now() + $2::bigint * interval '1 millisecond',
                 deliveries = j.deliveries + 1
             FROM next WHERE j.id = next.id
             RETURNING j.id, j.idempotency_key, j.work_ms, j.deliveries, j.effect_ms",
            &[&owner, &lease_ms],
        )
        .await?;
    Ok(row.map(|r| {
        let work = Duration::from_millis(r.get::<_, i32>(2) as u64);
        let effect = r
            .get::<_, Option<i32>>(4)
            .map_or(work, |ms| Duration::from_millis(ms as u64).min(work));
        Claimed {
            id: r.get(0),
            key: r.get(1),
            work,
            effect,
            delivery: r.get(3),
        }
    }))
}

/// Apply the side effect. Returns true if it was applied, false if it was a recorded no-op
/// (idempotency lever on and the key was applied before).
pub(crate) async fn apply(
    pool: &Pool,
    job: &Claimed,
    owner: &str,
    idempotent: bool,
) -> Result<bool, DbError> {
    let client = pool.get().await?;
    if !idempotent {
        client
            .execute(
                "INSERT INTO fleetsim_ledger (job_id, idempotency_key, idempotent, delivery, applied_by)
                 VALUES ($1, $2, false, $3, $4)",
                &[&job.id, &job.key, &job.delivery, &owner],
            )
            .await?;
        return Ok(true);
    }
    let inserted = client
        .execute(
            "INSERT INTO fleetsim_ledger (job_id, idempotency_key, idempotent, delivery, applied_by)
             VALUES ($1, $2, true, $3, $4)
             ON CONFLICT (idempotency_key) WHERE idempotent DO NOTHING",
            &[&job.id, &job.key, &job.delivery, &owner],
        )
        .await?;
    if inserted == 1 {
        return Ok(true);
    }
    client
        .execute(
            "INSERT INTO fleetsim_ledger_noops (job_id, idempotency_key, delivery, worker) VALUES ($1, $2, $3, $4)",
            &[&job.id, &job.key, &job.delivery, &owner],
        )
        .await?;
    Ok(false)
}

/// Ack (fenced on the lease: owner and delivery). Returns false if the lease was lost.
pub(crate) async fn ack(pool: &Pool, job: &Claimed, owner: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE fleetsim_jobs SET state = 'done', done_at = now(), lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND state = 'leased' AND lease_owner = $2 AND deliveries = $3",
            &[&job.id, &owner, &job.delivery],
        )
        .await?;
    Ok(n == 1)
}

/// Give a leased job back to the queue at once (fenced like `ack`).
pub(crate) async fn release(pool: &Pool, job: &Claimed, owner: &str) -> Result<bool, DbError> {
    let client = pool.get().await?;
    let n = client
        .execute(
            "UPDATE fleetsim_jobs SET state = 'queued', lease_owner = NULL, lease_until = NULL
             WHERE id = $1 AND state = 'leased' AND lease_owner = $2 AND deliveries = $3",
            &[&job.id, &owner, &job.delivery],
        )
        .await?;
    Ok(n == 1)
}
