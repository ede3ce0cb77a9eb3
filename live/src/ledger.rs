//! The job ledger in the cluster's PostgreSQL, read with `psql` inside the database pod.

use measure::JobCounts;

use crate::error::{LiveError, Result};
use crate::kube::Kube;

/// How to run SQL in the database pod.
#[derive(Clone, Debug)]
pub(crate) struct Ledger {
    /// How to reach the cluster.
    pub kube: Kube,
    /// `deploy/NAME` or a pod name.
    pub target: String,
    /// The database user.
    pub user: String,
    /// The database.
    pub database: String,
    /// The user's password (passed to psql as `PGPASSWORD` inside the pod).
    pub password: String,
}

/// One row per job: how many times its side effect was applied, and its queue state.
const COUNTS_SQL: &str = "SELECT count(*), \
 count(*) FILTER (WHERE n = 1), \
 count(*) FILTER (WHERE n > 1), \
 count(*) FILTER (WHERE n = 0 AND state = 'done'), \
 count(*) FILTER (WHERE n = 0 AND state <> 'done') \
 FROM (SELECT j.id, j.state, count(l.id) AS n FROM fleetsim_jobs j \
 LEFT JOIN fleetsim_ledger l ON l.job_id = j.id GROUP BY j.id, j.state) t";

impl Ledger {
    /// Runs one SQL statement and returns psql's unaligned output.
    pub(crate) fn sql(&self, sql: &str) -> Result<String> {
        let pw = format!("PGPASSWORD={}", self.password);
        let out = self.kube.run(&[
            "exec",
            &self.target,
            "--",
            "env",
            &pw,
            "psql",
            "-h",
            "127.0.0.1",
            "-U",
            &self.user,
            "-d",
            &self.database,
            "-v",
            "ON_ERROR_STOP=1",
            "-At",
            "-F",
            ",",
            "-c",
            sql,
        ]);
        out.map_err(|e| LiveError::Ledger(format!("SQL in {} failed: {sql}: {e}", self.target)))
    }

    /// Empties the queue and the ledger before a run (the tables exist once a service started).
    pub(crate) fn reset(&self) -> Result<()> {
        // The service creates the tables when it starts; before that there is nothing to empty.
        self.sql(
            "DO $$ BEGIN IF to_regclass('fleetsim_jobs') IS NOT NULL THEN \
             TRUNCATE fleetsim_ledger, fleetsim_ledger_noops, fleetsim_jobs RESTART IDENTITY CASCADE; \
             END IF; END $$",
        )
        .map(|_| ())
    }

    /// Jobs neither done nor given up yet.
    pub(crate) fn unfinished(&self) -> Result<u64> {
        let out = self.sql("SELECT count(*) FROM fleetsim_jobs WHERE state <> 'done'")?;
        out.trim()
            .parse()
            .map_err(|_| LiveError::Ledger(format!("unexpected count {out:?}")))
    }

    /// The ledger's verdict on every published job.
    pub(crate) fn counts(&self) -> Result<JobCounts> {
        parse_counts(&self.sql(COUNTS_SQL)?)
    }
}

fn parse_counts(out: &str) -> Result<JobCounts> {
    let n: Vec<u64> = out
        .trim()
        .split(',')
        .map(|x| x.trim().parse::<u64>())
        .collect::<Result<_, _>>()
        .map_err(|_| LiveError::Ledger(format!("unexpected ledger row {out:?}")))?;
    let [published, applied_once, duplicated, lost, pending] = n[..] else {
        return Err(LiveError::Ledger(format!(
            "expected 5 ledger counts, got {out:?}"
        )));
    };
    Ok(JobCounts {
        published,
        applied_once,
        duplicated,
        lost,
        pending,
        publish_failed: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ledger_row_parses_and_is_conserved() {
        let c = parse_counts("10,7,2,0,1\n").unwrap();
        assert_eq!(c.duplicated, 2);
        assert!(c.is_conserved());
        assert!(parse_counts("1,2").is_err());
        assert!(parse_counts("x,1,1,1,1").is_err());
    }
}
