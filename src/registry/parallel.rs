//! A small bounded worker pool for blob transfers: `jobs` threads take items in order, the
//! first error wins and stops the others from starting new items.

use std::sync::Mutex;

use super::error::{RegistryError, Result};

/// Run `work` on every item with at most `jobs` at once; the results in item order.
pub fn map<T: Sync, R: Send>(
    items: &[T],
    jobs: usize,
    work: impl Fn(&T) -> Result<R> + Sync,
) -> Result<Vec<R>> {
    let next = Mutex::new(0usize);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    let failed: Mutex<Option<RegistryError>> = Mutex::new(None);
    let workers = jobs.max(1).min(items.len());
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| loop {
                if crate::domain::lock(&failed).is_some() {
                    return;
                }
                let i = {
                    let mut n = crate::domain::lock(&next);
                    let i = *n;
                    *n += 1;
                    i
                };
                let Some(item) = items.get(i) else { return };
                match work(item) {
                    Ok(r) => {
                        if let Some(slot) = crate::domain::lock(&results).get_mut(i) {
                            *slot = Some(r);
                        }
                    }
                    Err(e) => {
                        crate::domain::lock(&failed).get_or_insert(e);
                        return;
                    }
                }
            });
        }
    });
    if let Some(e) = failed.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    Ok(results
        .into_inner()
        .unwrap_or_else(|p| p.into_inner())
        .into_iter()
        .flatten()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn results_keep_item_order_and_concurrency_is_bounded() {
        let running = AtomicUsize::new(0);
        let peak = AtomicUsize::new(0);
        let items: Vec<u32> = (0..20).collect();
        let out = map(&items, 3, |i| {
            let now = running.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(2));
            running.fetch_sub(1, Ordering::SeqCst);
            Ok(i * 2)
        })
        .unwrap();
        assert_eq!(out, items.iter().map(|i| i * 2).collect::<Vec<_>>());
        assert!(peak.load(Ordering::SeqCst) <= 3);
        assert!(map(&[] as &[u32], 3, |_| Ok(())).unwrap().is_empty());
    }

    #[test]
    fn the_first_error_is_returned() {
        let items: Vec<u32> = (0..10).collect();
        let err = map(&items, 2, |i| {
            if *i == 4 {
                Err(RegistryError::Protocol {
                    registry: "r".into(),
                    reason: "boom".into(),
                })
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("boom"));
    }
}
