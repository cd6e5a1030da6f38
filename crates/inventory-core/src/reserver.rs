//! Group commit in front of the reservation engine: concurrent
//! createReservationItems calls of this process queue behind the one in
//! flight and go to the engine together.

use crate::error::{Error, Result};
use crate::outcome::Outcome;
use crate::reservation_engine::{reserve_group, Call};
use crate::wire::Taps;
use deadpool_postgres::Pool;
use serde_json::Value;
use std::sync::{Arc, Mutex as StdMutex};
use tokio::sync::oneshot;

/// Runs a group on its own task so that even a panic in it is contained; when
/// the group fails as a whole, every call is retried as a group of one.
async fn run_group(pool: Pool, taps: Taps, calls: Vec<Call>) -> Vec<Result<Outcome>> {
    let n = calls.len();
    let calls = Arc::new(calls);
    let (p, t, c) = (pool.clone(), taps.clone(), calls.clone());
    let whole = tokio::spawn(async move { reserve_group(&p, &t, &c).await }).await;
    match whole {
        Ok(Ok(results)) => results,
        Ok(Err(e)) if n == 1 => vec![Err(e)],
        Err(_) if n == 1 => vec![Err(Error::unexpected(
            "the reservation could not be processed",
        ))],
        _ => {
            let mut out = Vec::with_capacity(n);
            for call in calls.iter() {
                let (p, t, one) = (pool.clone(), taps.clone(), vec![call.clone()]);
                let r = match tokio::spawn(async move { reserve_group(&p, &t, &one).await }).await {
                    Ok(Ok(mut r)) => r.pop().unwrap_or_else(|| {
                        Err(Error::unexpected("the reservation could not be processed"))
                    }),
                    Ok(Err(e)) => Err(e),
                    Err(_) => Err(Error::unexpected("the reservation could not be processed")),
                };
                out.push(r);
            }
            out
        }
    }
}

struct Waiting {
    call: Call,
    reply: oneshot::Sender<Result<Outcome>>,
}

/// Where a queued call's result arrives.
type Reply = oneshot::Receiver<Result<Outcome>>;

#[derive(Default)]
struct Lane {
    busy: bool,
    queue: Vec<Waiting>,
    /// Forced groups drained so far; a late flush timer of an earlier group must
    /// not split the next one.
    groups: u64,
}

/// How createReservationItems calls of this process are grouped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grouping {
    /// Every call is a group of one.
    Off,
    /// Group commit: while a group is in flight, calls that arrive queue up and
    /// then go to Postgres together as the next group.
    Auto,
    /// Test hook: calls wait until this many are queued and then run as one
    /// group (or, after a second, whatever has queued), so grouped behaviour
    /// can be tested deterministically.
    ForceGroupOf(usize),
}

/// Group commit for reservations. An idle process pays one transaction per
/// call; a busy one amortises the row locks and commits over every waiting
/// caller. Grouping only changes which calls share a transaction: the decision
/// for each call is the same engine (`reserve_group`) either way.
#[derive(Clone)]
pub(crate) struct Reserver {
    lane: Arc<StdMutex<Lane>>,
    grouping: Grouping,
    taps: Taps,
}

impl std::fmt::Debug for Reserver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reserver")
            .field("grouping", &self.grouping)
            .finish_non_exhaustive()
    }
}

/// Largest number of calls one group carries.
const MAX_BATCH: usize = 256;

/// Hands the lane to the next group (or marks it idle) however the holder ends,
/// panics included, so a failure can never leave reservations stuck.
struct LaneGuard {
    reserver: Reserver,
    pool: Pool,
}

impl Drop for LaneGuard {
    fn drop(&mut self) {
        self.reserver.hand_off(self.pool.clone());
    }
}

fn send_all(batch: Vec<Waiting>, results: Vec<Result<Outcome>>) {
    let mut results = results.into_iter();
    for w in batch {
        let r = results
            .next()
            .unwrap_or_else(|| Err(Error::unexpected("the reservation could not be processed")));
        let _ = w.reply.send(r);
    }
}

impl Grouping {
    /// `{ forceGroupOf: n }`, 1 <= n <= MAX_BATCH: the test hook.
    pub(crate) fn from_json(o: &serde_json::Map<String, Value>) -> Result<Self> {
        let bad = || {
            Error::invalid(format!(
                "connect option groupReservations must be a boolean or {{ forceGroupOf: 1..{MAX_BATCH} }}"
            ))
        };
        match (o.len(), o.get("forceGroupOf").and_then(Value::as_u64)) {
            (1, Some(n)) if (1..=MAX_BATCH as u64).contains(&n) => {
                Ok(Grouping::ForceGroupOf(n as usize))
            }
            _ => Err(bad()),
        }
    }
}

impl Reserver {
    pub(crate) fn new(grouping: Grouping, taps: Taps) -> Self {
        Reserver {
            lane: Default::default(),
            grouping,
            taps,
        }
    }

    pub(crate) async fn reserve(&self, pool: &Pool, call: Call) -> Result<Outcome> {
        let one = |r: Vec<Result<Outcome>>| {
            r.into_iter()
                .next()
                .unwrap_or_else(|| Err(Error::unexpected("the reservation could not be processed")))
        };
        let queued = match self.grouping {
            Grouping::Off => {
                return one(run_group(pool.clone(), self.taps.clone(), vec![call]).await)
            }
            Grouping::ForceGroupOf(n) => Ok(self.queue_forced(pool, call, n)),
            Grouping::Auto => self.join_or_take(call),
        };
        match queued {
            Ok(rx) => rx.await.unwrap_or_else(|_| {
                Err(Error::unexpected("the reservation could not be processed"))
            }),
            Err(call) => {
                let _guard = LaneGuard {
                    reserver: self.clone(),
                    pool: pool.clone(),
                };
                one(run_group(pool.clone(), self.taps.clone(), vec![call]).await)
            }
        }
    }

    /// [`Grouping::Auto`]: joins the queue (Ok, the reply to wait for) when
    /// the lane is busy, or takes the idle lane (Err gives the call back).
    // The call comes back by value: a lone call (every call when idle) takes
    // this path, and a box would be an allocation per call.
    #[allow(clippy::result_large_err)]
    fn join_or_take(&self, call: Call) -> std::result::Result<Reply, Call> {
        let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
        if lane.busy {
            let (reply, rx) = oneshot::channel();
            lane.queue.push(Waiting { call, reply });
            Ok(rx)
        } else {
            lane.busy = true;
            Err(call)
        }
    }

    /// [`Grouping::ForceGroupOf`]: queues the call; the `n`th call runs the
    /// group, or after a second whatever queued does.
    fn queue_forced(&self, pool: &Pool, call: Call, n: usize) -> Reply {
        let (reply, rx) = oneshot::channel();
        let (full, group) = {
            let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
            lane.queue.push(Waiting { call, reply });
            let group = lane.groups;
            let full = lane.queue.len() >= n;
            if full {
                lane.groups += 1;
            }
            (
                full.then(|| lane.queue.drain(..).collect::<Vec<_>>()),
                group,
            )
        };
        let pool = pool.clone();
        let taps = self.taps.clone();
        match full {
            Some(batch) => {
                tokio::spawn(async move {
                    let calls = batch.iter().map(|w| w.call.clone()).collect();
                    send_all(batch, run_group(pool, taps, calls).await);
                });
            }
            None => {
                let lane = self.lane.clone();
                tokio::spawn(async move {
                    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
                    let batch: Vec<Waiting> = {
                        let mut lane = lane.lock().unwrap_or_else(|p| p.into_inner());
                        if lane.groups != group {
                            return;
                        }
                        lane.groups += 1;
                        lane.queue.drain(..).collect()
                    };
                    if !batch.is_empty() {
                        let calls = batch.iter().map(|w| w.call.clone()).collect();
                        send_all(batch, run_group(pool, taps, calls).await);
                    }
                });
            }
        }
        rx
    }

    fn hand_off(&self, pool: Pool) {
        let batch: Vec<Waiting> = {
            let mut lane = self.lane.lock().unwrap_or_else(|p| p.into_inner());
            if lane.queue.is_empty() {
                lane.busy = false;
                return;
            }
            let n = lane.queue.len().min(MAX_BATCH);
            lane.queue.drain(..n).collect()
        };
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            for w in batch {
                let _ = w
                    .reply
                    .send(Err(Error::unexpected("no async runtime for reservations")));
            }
            self.lane.lock().unwrap_or_else(|p| p.into_inner()).busy = false;
            return;
        };
        let guard = LaneGuard {
            reserver: self.clone(),
            pool,
        };
        let taps = self.taps.clone();
        handle.spawn(async move {
            let pool = guard.pool.clone();
            let calls = batch.iter().map(|w| w.call.clone()).collect();
            send_all(batch, run_group(pool, taps, calls).await);
            drop(guard);
        });
    }
}
