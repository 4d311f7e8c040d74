-- Example queries over the experiment log, for the sqlite3 shell:
--   sqlite3 -header -column experiments.sqlite < experiments/queries.sql
-- or paste one at the sqlite> prompt. Each statement is separated by a blank line; the README shows
-- them too. Replace the sweep name 'default' with yours (compare sweeps lists them).

-- Which anchor stride gave the best segm AP, averaged over seeds?
SELECT RPN_ANCHOR_STRIDE, COUNT(*) AS runs, AVG(segm_AP) AS mean_segm_AP
FROM runs WHERE sweep = 'default' AND status = 'FINISHED'
GROUP BY RPN_ANCHOR_STRIDE ORDER BY mean_segm_AP DESC;

-- Mean and spread of segm AP50 for every (stride, mini mask) cell.
SELECT RPN_ANCHOR_STRIDE, USE_MINI_MASK, COUNT(*) AS seeds, AVG(segm_AP50) AS mean_AP50,
       MIN(segm_AP50) AS min_AP50, MAX(segm_AP50) AS max_AP50
FROM runs WHERE sweep = 'default' AND status = 'FINISHED'
GROUP BY RPN_ANCHOR_STRIDE, USE_MINI_MASK ORDER BY mean_AP50 DESC;

-- Runs with a coarser anchor grid, best first.
SELECT trial_id, SEED, RPN_ANCHOR_STRIDE, segm_AP, bbox_AP, final_loss
FROM runs WHERE RPN_ANCHOR_STRIDE > 1 ORDER BY segm_AP DESC;

-- Loss curve of one run (its current attempt).
SELECT m.step, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id AND m.attempt = t.attempts
WHERE t.id = 1 AND m.key = 'loss' ORDER BY m.step;

-- Best and last value of every metric of one run, with the step of the best.
SELECT key, goal, best_value, best_step, last_value, last_step FROM metric_last WHERE trial_id = 1;

-- Failed or killed attempts and why.
SELECT trial_id, attempt, status, exit_code, error FROM attempts WHERE status <> 'FINISHED';
